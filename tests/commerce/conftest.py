"""Fixtures of the commerce tests: products made through the services, as the app makes them; shops,
rooms, customers and helpers that place, pay and ship orders."""

from datetime import timedelta

import pytest
from django.utils import timezone

from commerce.models import FlashSale, FlashSalePurchase, Order, OrderEvent, OrderLine, Payment, Product, Refund, Sku
from commerce.payments import payment_provider
from commerce.services import products as services
from commerce.services.flash_sales import flash_sale_create
from commerce.services.orders import LineRequest, order_place, order_ship
from commerce.services.payments import order_pay, payment_notification_received
from livestream.models import LiveRoom, RoomProduct
from tenants.models import Customer, Membership
from tenants.scoping import brand_scope, platform_scope


@pytest.fixture
def make_product(db):
    def make(brand, *, approved=False, on_shelf=False, **fields):
        values = {"name": "Silk scarf", "price_type": "fixed", "price": 9900, **fields}
        with brand_scope(brand):
            product = services.product_create(brand=brand, **values)
            if approved:
                product = services.product_audit(brand=brand, product=product, approve=True)
            if on_shelf:
                product = services.product_set_shelf(brand=brand, product=product, on_shelf=True)
        return product

    return make


@pytest.fixture
def in_brand(brand):
    """Run the test body as ``brand``, like a view or task does."""
    with brand_scope(brand):
        yield brand


@pytest.fixture
def snapshot(db):
    """Every product and SKU of every brand, to show that a refused request changed nothing."""

    def take():
        with platform_scope():
            return list(Product.objects.order_by("pk").values()), list(Sku.objects.order_by("pk").values())

    return take


# --- orders, payments, refunds, flash sales ----------------------------------------------------
# Plain helpers (importable from tests.commerce.conftest, also by tests/concurrency) and the
# fixtures built on them. Set-up goes through the services wherever a service exists.

ORDERS = "/api/v1/mp/orders"
NOTIFY = "/api/v1/payments/notify/wechatpay"
ADDRESS = {
    "name": "Lin",
    "phone": "13800000000",
    "province": "Shanghai",
    "city": "Shanghai",
    "district": "Jing'an",
    "detail": "1601 Nanjing West Rd",
}

_counter = iter(range(1, 10**9))


def create_sku(
    brand,
    *,
    price=10000,
    stock=10,
    code=None,
    name=None,
    product=None,
    spec="M",
    is_active=True,
    product_status="on_shelf",
    audit_status="approved",
):
    """A SKU of an approved, on-shelf product (set-up only: the product tests cover the rules)."""
    n = next(_counter)
    with brand_scope(brand):
        if product is None:
            product = Product.objects.create(
                brand=brand, name=name or f"Coat {n}", price=price, audit_status=audit_status, status=product_status
            )
        return Sku.objects.create(
            brand=brand,
            product=product,
            code=code or f"SKU-{n}",
            spec=spec,
            price=price,
            stock=stock,
            is_active=is_active,
        )


def create_room(brand, *, products=(), status="live", on_sale=True, **fields):
    """A live room (by default) listing ``products`` on sale."""
    start = timezone.now() - timedelta(minutes=5)
    with brand_scope(brand):
        room = LiveRoom.objects.create(
            brand=brand,
            title=fields.pop("title", "Live now"),
            anchor_name="Lin",
            status=status,
            scheduled_start=start,
            scheduled_end=start + timedelta(hours=2),
            **fields,
        )
        for position, product in enumerate(products):
            RoomProduct.objects.create(brand=brand, room=room, product=product, position=position, on_sale=on_sale)
    return room


def line_requests(lines):
    """``[(sku, quantity)]`` or ``[(sku, quantity, flash_sale)]`` as the service's LineRequests."""
    return [LineRequest(line[0].pk, line[1], line[2].pk if len(line) > 2 and line[2] else None) for line in lines]


def place_order(customer, lines, *, room=None, key="", delivery="ship", address=None, **fields):
    """An order placed through the service, as the mini-program places it."""
    if delivery == "ship" and address is None:
        address = ADDRESS
    order, _ = order_place(
        brand=customer.brand,
        customer=customer,
        lines=line_requests(lines),
        room_id=room.pk if room else None,
        delivery=delivery,
        address=address,
        idempotency_key=key,
        **fields,
    )
    return Order.unscoped.get(pk=order.pk)


def notify_paid(order, payment=None, **overrides):
    """The signed ``TRANSACTION.SUCCESS`` notification of ``payment`` (default: the order's newest)."""
    payment = payment or Payment.unscoped.filter(order_id=order.pk).latest("pk")
    values = {"amount": payment.amount, "payer_openid": order.customer.openid, "appid": order.brand.appid}
    return payment_provider().payment_notification(payment.out_trade_no, **{**values, **overrides})


def start_payment(order):
    """The customer starts paying (a Payment at the provider); answers it."""
    order_pay(brand=order.brand, order=order, customer=order.customer)
    return Payment.unscoped.filter(order_id=order.pk).latest("pk")


def pay_order(order):
    """Start paying and deliver the provider's notification through the notification code."""
    start_payment(order)
    payment_notification_received(*notify_paid(order))
    order = Order.unscoped.get(pk=order.pk)
    assert order.status == "paid", order.status
    return order


def ship_order(order, staff=None, tracking_number="SF1000"):
    return order_ship(brand=order.brand, order=order, carrier="SF", tracking_number=tracking_number, staff=staff)


def create_flash_sale(sku, *, price=None, quantity=10, per_customer_limit=1, starts_in=None, lasts=None, **fields):
    """A flash sale running now (by default) through the service."""
    starts_at = timezone.now() + (starts_in if starts_in is not None else timedelta(minutes=-10))
    return flash_sale_create(
        brand=sku.brand,
        sku=sku,
        price=price if price is not None else sku.price // 2,
        quantity=quantity,
        starts_at=starts_at,
        ends_at=starts_at + (lasts or timedelta(hours=1)),
        per_customer_limit=per_customer_limit,
        **fields,
    )


def reload(obj):
    return type(obj).unscoped.get(pk=obj.pk)


def commerce_rows():
    """Every order-side row of every brand (and every SKU's stock), to show nothing was written."""
    with platform_scope():
        rows = {
            model.__name__: list(model.objects.order_by("pk").values())
            for model in (Order, OrderLine, OrderEvent, Payment, Refund, FlashSale, FlashSalePurchase)
        }
        rows["stock"] = list(Sku.objects.order_by("pk").values_list("pk", "stock"))
        rows["first_paid"] = list(Customer.objects.order_by("pk").values_list("pk", "first_paid_at"))
    return rows


@pytest.fixture
def sku(brand):
    """10 coats at 100.00 yuan."""
    return create_sku(brand, price=10000, stock=10, code="COAT-M", name="Coat")


@pytest.fixture
def room(brand, sku):
    """A live room selling ``sku``'s product."""
    return create_room(brand, products=[sku.product])


@pytest.fixture
def customer(brand, make_customer):
    return make_customer(brand, nickname="Mei")


@pytest.fixture
def mp(customer, customer_client):
    """``customer`` on the mini-program API."""
    return customer_client(customer)


@pytest.fixture
def rival_customer(other_brand, make_customer):
    return make_customer(other_brand, nickname="Rival")


@pytest.fixture
def rival_mp(rival_customer, customer_client):
    return customer_client(rival_customer)


@pytest.fixture
def operator(brand, make_staff):
    """A console operator of ``brand`` (the user, for the actor of events)."""
    return make_staff(brand, Membership.Role.OPERATOR)


@pytest.fixture
def ops(operator, brand, staff_client):
    """``operator`` on the console API."""
    return staff_client(operator, brand)
