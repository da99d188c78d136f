"""Share codes, visits, the customer–guide binding, and the one decision of an order's attribution."""

import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from commerce.models import Product
from guides import poster
from guides.models import Binding, Guide, ShareCode, Store, Visit
from livestream.models import LiveRoom
from tenants.errors import Conflict, InvalidInput, NotFound
from tenants.models import Brand, Customer
from tenants.sql import select
from tenants.wechat import UnlimitedCode, mini_program_client

SCENE_ALPHABET = string.ascii_letters + string.digits
SCENE_LENGTH = 16  # 95 bits: unguessable, and well inside WeChat's 32 characters


@dataclass(frozen=True)
class Attribution:
    """The guide, their store and their team leader credited with an order (ids)."""

    guide_id: int | None = None
    store_id: int | None = None
    leader_id: int | None = None


NOBODY = Attribution()

# The share of the order's scene and the customer's binding, each with its guide and the guide's
# leader, in one statement: every order asks (inside its first round trip, see attribution_for).
_CANDIDATES = """
    SELECT 0, g.id, g.status, g.store_id, g.leader_id, l.status, s.store_id
    FROM guides_sharecode s
    LEFT JOIN guides_guide g ON g.id = s.guide_id LEFT JOIN guides_guide l ON l.id = g.leader_id
    WHERE s.brand_id = %s AND s.scene = %s
    UNION ALL
    SELECT 1, g.id, g.status, g.store_id, g.leader_id, l.status, b.store_id
    FROM guides_binding b
    LEFT JOIN guides_guide g ON g.id = b.guide_id LEFT JOIN guides_guide l ON l.id = g.leader_id
    WHERE b.brand_id = %s AND b.customer_id = %s
"""
SHARE, BINDING = 0, 1


def attribute_order(*, brand: Brand, customer: Customer, scene: str = "") -> Attribution:
    """The one function that decides an order's attribution, at placement, once.

    The active guide of the share the order came through; else the customer's binding (their
    guide while active, else the store the binding fell back to); else the store of a brand's
    store share; else nobody. The guide's leader is credited too while active.
    """
    return attribution_for(brand=brand, customer=customer, scene=scene)()


def attribution_for(*, brand: Brand, customer: Customer, scene: str = "") -> Callable[[], Attribution]:
    """``attribute_order``, asked at once (with the order's other reads, inside ``tenants.sql.batch``);
    call the answer for the attribution."""
    rows = select(_CANDIDATES, [brand.pk, scene, brand.pk, customer.pk])

    def decide() -> Attribution:
        found = {row[0]: row[1:] for row in rows()}
        share, binding = found.get(SHARE), found.get(BINDING)
        for candidate in (share, binding):
            guide_id, status, store_id, leader_id, leader_status, _ = candidate or (None,) * 6
            if guide_id is not None and status == Guide.Status.ACTIVE:
                active_leader = leader_status == Guide.Status.ACTIVE and leader_id != guide_id
                return Attribution(guide_id, store_id, leader_id if active_leader else None)
            if candidate is binding and binding is not None and binding[5] is not None:
                return Attribution(store_id=binding[5])
        if share is not None and share[5] is not None:
            return Attribution(store_id=share[5])
        return NOBODY

    return decide


# --- shares --------------------------------------------------------------------------------------


def _target(target: str, target_id: int):
    """The brand's room, product or store named, with its title, subtitle, image and page."""
    if target == ShareCode.Target.ROOM:
        room = LiveRoom.objects.filter(pk=target_id).first()
        if room is None:
            raise NotFound("room_not_found", "No such live room.", fields={"target_id": ["No such room."]})
        return {"room": room}, room.title, room.anchor_name, room.cover_image_url, settings.MP_ROOM_PAGE
    if target == ShareCode.Target.PRODUCT:
        product = Product.objects.filter(pk=target_id).first()
        if product is None or product.status == Product.Status.ARCHIVED:
            raise NotFound("product_not_found", "No such product.", fields={"target_id": ["No such product."]})
        price = f"¥{(product.price2 or product.price) / 100:.2f}"
        return {"product": product}, product.name, price, product.cover_url, settings.MP_PRODUCT_PAGE
    if target == ShareCode.Target.STORE:
        store = Store.objects.filter(pk=target_id, status=Store.Status.OPEN).first()
        if store is None:
            raise NotFound("store_not_found", "No such open store.", fields={"target_id": ["No such store."]})
        return {"store": store}, store.name, store.address, "", settings.MP_STORE_PAGE
    raise InvalidInput("invalid", "target is room, product or store.", fields={"target": ["room, product or store."]})


def new_scene() -> str:
    return "".join(secrets.choice(SCENE_ALPHABET) for _ in range(SCENE_LENGTH))


def share_create(*, brand: Brand, guide: Guide | None, target: str, target_id: int) -> tuple[ShareCode, bool]:
    """A share of a room, product or store by ``guide`` (None: the brand's own share); answers
    ``(share, created)``. Sharing the same target again answers the share made before.

    The code and the poster are made before the transaction: WeChat and the image host are slow.
    """
    if guide is not None and guide.status != Guide.Status.ACTIVE:
        raise Conflict("guide_inactive", "A guide who left cannot share.")
    target_fields, title, subtitle, image_url, page = _target(target, target_id)
    earlier = ShareCode.objects.filter(guide=guide, target=target, **target_fields).first()
    if earlier is not None:
        return earlier, False
    scene = new_scene()
    code_png = mini_program_client(brand).get_unlimited_code(
        UnlimitedCode(scene=scene, page=page, check_path=settings.WECHAT_BACKEND == "wechat")
    )
    by = f"{guide.name} · {guide.store.name}" if guide is not None and guide.store else (guide.name if guide else "")
    poster_png = poster.compose_poster(
        title=title,
        subtitle=" · ".join(part for part in (subtitle, by) if part),
        code_png=code_png,
        image=poster.fetch_image(image_url),
    )
    with transaction.atomic():
        share = ShareCode.objects.create(
            brand=brand,
            scene=scene,
            guide=guide,
            target=target,
            title=title[:100],
            page=page,
            code_png=code_png,
            poster_png=poster_png,
            **target_fields,
        )
    return share, True


# --- visits and the binding rule ----------------------------------------------------------------


@dataclass(frozen=True)
class VisitOutcome:
    share: ShareCode
    binding: Binding | None
    bound: bool  # this visit bound (or re-bound) the customer


def visit_record(*, brand: Brand, customer: Customer, scene: str, source: str = "") -> VisitOutcome:
    """A customer opened a share: record the visit and apply the brand's binding rule.

    With no binding, the share's guide (or the store of a brand's store share) binds the customer.
    An existing binding gives way when the brand's mode is ``latest``, when its protection has
    expired, or when its guide has left; the same guide sharing again renews the protection.
    """
    share = ShareCode.objects.filter(scene=scene).select_related("guide__store").first()
    if share is None:
        raise NotFound("share_not_found", "No such share.", fields={"scene": ["Unknown scene."]})
    guide = share.guide if share.guide is not None and share.guide.status == Guide.Status.ACTIVE else None
    store = guide.store if guide is not None else share.store
    now = timezone.now()
    for attempt in range(2):
        try:
            with transaction.atomic():
                ShareCode.objects.filter(pk=share.pk).update(visits=F("visits") + 1)
                binding, bound = _bind(brand, customer, share, guide, store, now)
                Visit.objects.create(
                    brand=brand,
                    customer=customer,
                    share=share,
                    guide=share.guide,
                    scene=scene,
                    source=source[:64],
                    bound=bound,
                )
                return VisitOutcome(share=share, binding=binding, bound=bound)
        except IntegrityError:  # two first visits of one customer at once: the other one bound
            if attempt:
                raise
    raise AssertionError("unreachable")


def _bind(brand, customer, share, guide, store, now) -> tuple[Binding | None, bool]:
    binding = Binding.objects.select_for_update(of=("self",)).filter(customer=customer).select_related("guide").first()
    if guide is None and store is None:  # a brand's share of a room or product binds nobody
        return binding, False
    protected_until = now + timedelta(days=brand.binding_protection_days)
    if binding is None:
        binding = Binding.objects.create(
            brand=brand,
            customer=customer,
            guide=guide,
            store=store,
            share=share,
            bound_at=now,
            protected_until=protected_until,
        )
        return binding, True
    if guide is not None and binding.guide_id == guide.pk:
        binding.protected_until = protected_until
        binding.save(update_fields=["protected_until"])
        return binding, False
    gives_way = (
        brand.binding_mode == "latest"
        or binding.protected_until <= now
        or (binding.guide is not None and binding.guide.status != Guide.Status.ACTIVE)
    )
    if not gives_way:
        return binding, False
    binding.guide, binding.store, binding.share = guide, store, share
    binding.bound_at, binding.protected_until = now, protected_until
    binding.save(update_fields=["guide", "store", "share", "bound_at", "protected_until"])
    return binding, True
