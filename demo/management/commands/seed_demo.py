"""Seed a demo brand (and a second one, to show isolation) with staff, stores, guides, products,
a live room and an upcoming one, and customers. Safe to run again: it only adds what is missing."""

from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from commerce.models import Product
from commerce.services import products as product_services
from demo import guides as guides_demo
from demo.coupons import seed_demo_coupons
from guides.models import Guide, Store
from guides.poster import label_image, media_url
from livestream.models import LiveRoom
from livestream.services import room_products, rooms
from tenants.models import Brand, Customer, Membership
from tenants.scoping import brand_scope

PASSWORD = "siyu-demo-2026"
OLD_PICTURES = "https://picsum.photos/"
PLATFORM_USER = "platform"

BRANDS = [
    {"slug": "demo", "name": "Siyu Demo Fashion", "appid": "wxdemo0000000001"},
    {"slug": "rival", "name": "Rival Tea Co.", "appid": "wxrival000000002"},
]
STORES = [
    ("SH-001", "Shanghai Jing'an flagship", "1601 Nanjing West Rd"),
    ("HZ-002", "Hangzhou West Lake", "88 Hubin Rd"),
]
PRODUCTS = [
    ("Cashmere scarf", "accessories", "fixed", 29900, None, [("SCARF-GREY", "Grey", 29900, 500)]),
    (
        "Wool coat",
        "outerwear",
        "discount",
        199900,
        129900,
        [
            ("COAT-S", "Camel / S", 129900, 80),
            ("COAT-M", "Camel / M", 129900, 120),
            ("COAT-L", "Camel / L", 129900, 60),
        ],
    ),
    (
        "Silk blouse",
        "tops",
        "range",
        39900,
        45900,
        [("BLOUSE-W", "White", 39900, 200), ("BLOUSE-B", "Black", 45900, 150)],
    ),
    ("Leather tote", "bags", "fixed", 89900, None, [("TOTE-BRN", "Brown", 89900, 40)]),
    ("New-member gift socks", "accessories", "fixed", 990, None, [("SOCKS-GIFT", "One size", 990, 5000)]),
]


class Command(BaseCommand):
    help = "Seed demo data (idempotent) and print the logins and URLs."

    def handle(self, *args, **options):
        with transaction.atomic():
            self.platform_user()
            for spec in BRANDS:
                brand = self.brand(spec)
                with brand_scope(brand):
                    self.staff(brand)
                    self.stores_and_guides(brand)
                    self.catalogue(brand)
                    self.rooms(brand)
                    self.customers(brand)
                    seed_demo_coupons(brand)
                    guides_demo.seed(brand)
        self.report()

    def user(self, username, **flags):
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User.objects.create_user(username=username, password=PASSWORD, **flags)
        return user

    def platform_user(self):
        self.user(PLATFORM_USER, is_superuser=True, is_staff=True)

    def brand(self, spec):
        brand, _ = Brand.objects.get_or_create(slug=spec["slug"], defaults=spec)
        return brand

    def staff(self, brand):
        for suffix, role in (("owner", "owner"), ("operator", "operator"), ("manager", "store_manager")):
            user = self.user(f"{brand.slug}-{suffix}", is_staff=role != "store_manager")
            Membership.objects.get_or_create(brand=brand, user=user, defaults={"role": role})

    def stores_and_guides(self, brand):
        manager = get_user_model().objects.get(username=f"{brand.slug}-manager")
        for code, name, address in STORES:
            store, _ = Store.objects.get_or_create(
                brand=brand, code=code, defaults={"name": name, "address": address, "manager": manager}
            )
            for n in (1, 2):
                user = self.user(f"{brand.slug}-guide-{code.lower()}-{n}")
                Membership.objects.get_or_create(brand=brand, user=user, defaults={"role": "guide"})
                Guide.objects.get_or_create(
                    brand=brand, user=user, defaults={"name": f"{name} guide {n}", "store": store}
                )

    def picture(self, brand, name, width, height) -> str:
        """A picture of ``name`` drawn into MEDIA_ROOT (once), and its URL: the demo runs offline."""
        relative = Path("demo") / f"{brand.slug}-{slugify(name)}-{width}x{height}.png"
        path = Path(settings.MEDIA_ROOT) / relative
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(label_image(name, width, height))
        return media_url(relative.as_posix())

    def catalogue(self, brand):
        for name, category, price_type, price, price2, skus in PRODUCTS:
            existing = Product.objects.filter(name=name).first()
            if existing is not None:
                if any(url.startswith(OLD_PICTURES) for url in existing.images):  # seeded before pictures were drawn
                    Product.objects.filter(pk=existing.pk).update(images=[self.picture(brand, name, 600, 600)])
                continue
            product = product_services.product_create(
                brand=brand,
                name=name,
                category=category,
                price_type=price_type,
                price=price,
                price2=price2,
                images=[self.picture(brand, name, 600, 600)],
                skus=[
                    {"code": f"{brand.slug.upper()}-{code}", "spec": spec, "price": p, "stock": stock}
                    for code, spec, p, stock in skus
                ],
            )
            product_services.product_audit(brand=brand, product=product, approve=True)
            product_services.product_set_shelf(brand=brand, product=product, on_shelf=True)

    def rooms(self, brand):
        product_ids = list(Product.objects.order_by("pk").values_list("pk", flat=True))
        soon = timezone.now() + timedelta(minutes=15)
        LiveRoom.objects.filter(title="Autumn new arrivals", cover_image_url__startswith=OLD_PICTURES).update(
            cover_image_url=self.picture(brand, "Autumn new arrivals", 750, 1000)
        )
        if not LiveRoom.objects.filter(title="Autumn new arrivals").exists():
            live = rooms.room_create(
                brand=brand,
                title="Autumn new arrivals",
                anchor_name="Lin Xiao",
                scheduled_start=soon,
                scheduled_end=soon + timedelta(hours=3),
                cover_image_url=self.picture(brand, "Autumn new arrivals", 750, 1000),
            )
            room_products.room_products_add(brand=brand, room=live, product_ids=product_ids)
            rooms.room_start(brand=brand, room=live)
            room_products.room_product_push(brand=brand, room=live, product_id=product_ids[1])
        if not LiveRoom.objects.filter(title="Winter preview night").exists():
            tomorrow = timezone.now() + timedelta(days=1)
            upcoming = rooms.room_create(
                brand=brand,
                title="Winter preview night",
                anchor_name="Chen Yu",
                scheduled_start=tomorrow,
                scheduled_end=tomorrow + timedelta(hours=2),
            )
            room_products.room_products_add(brand=brand, room=upcoming, product_ids=product_ids[:3])

    def customers(self, brand):
        for n, nickname in enumerate(["Amy", "Bo", "Chao", "Dan", "Ella"], start=1):
            Customer.objects.get_or_create(
                brand=brand, openid=f"demo-{brand.slug}-{n}", defaults={"nickname": nickname}
            )

    def report(self):
        demo = Brand.objects.get(slug="demo")
        with brand_scope(demo):
            live = LiveRoom.objects.get(title="Autumn new arrivals")
        base = settings.SITE_URL
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        self.stdout.write(f"""
  Web admin        {base}/admin/          platform / {PASSWORD}   (all brands)
                                          demo-owner / {PASSWORD}  demo-operator / {PASSWORD}
  API docs         {base}/api/docs/
  Health           {base}/healthz?format=json
  Staff login      POST {base}/api/v1/staff/login  {{"username": "demo-operator", "password": "{PASSWORD}"}}
                   then send  Authorization: Bearer <access>  and  X-Brand: demo
  Guide login      demo-guide-sh-001-1 / {PASSWORD}
  Mini-program     POST {base}/api/v1/mp/login  {{"appid": "{demo.appid}", "code": "any-code"}}
  Live room        GET  {base}/api/v1/mp/rooms/{live.pk}
  Websocket        ws://127.0.0.1:8000/ws/rooms/{live.pk}/?token=<customer token>
""")
