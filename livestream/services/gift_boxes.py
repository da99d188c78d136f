"""Gift boxes (拆礼盒): a viewer who has watched the room long enough opens a box, once.

Watch time is the server's (livestream.services.lotteries.watched_seconds, from the sockets'
heartbeats), never the client's word. The opening row is written first, under a unique
(box, customer) constraint, so a second open — also a parallel one — answers the first prize.
The prize is then drawn by weight among the prizes with stock left, and its stock taken by a
conditional UPDATE (``remaining > 0``): a prize emptied meanwhile is dropped from the pool and
the draw repeated, so no stock ever goes negative.
"""

import secrets

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from livestream.models import GiftBox, GiftBoxOpening, GiftBoxPrize, LiveRoom
from livestream.realtime import publish_room_event
from livestream.room_state import rooms_changed_on_commit
from livestream.services.lotteries import OPEN_ROOMS, watched_seconds
from tenants import ratelimit
from tenants.errors import Conflict, InvalidInput, NotFound
from tenants.models import Brand, Customer
from tenants.scoping import brand_scope

OPENS_PER_MINUTE = 10
MAX_PRIZES = 20
MAX_WATCH_MINUTES = 24 * 60

_random = secrets.SystemRandom()


def get_box(*, room: LiveRoom, box_id) -> GiftBox:
    box = GiftBox.objects.filter(pk=box_id, room=room).first()
    if box is None:
        raise NotFound("gift_box_not_found", "No such gift box in this room.")
    return box


def box_event_data(box: GiftBox) -> dict:
    return {"id": box.pk, "room_id": box.room_id, "title": box.title, "watch_minutes": box.watch_minutes}


def _clean_prize(raw, index: int):
    from coupons.models import CouponTemplate  # coupons depends on livestream: read it here

    if not isinstance(raw, dict):
        raise InvalidInput("invalid", "Each prize is an object.", fields={f"prizes[{index}]": ["An object."]})
    kind, name = raw.get("kind"), (raw.get("name") or "").strip()
    weight, stock, points = raw.get("weight"), raw.get("stock"), raw.get("points") or 0
    errors = {}
    if kind not in GiftBoxPrize.Kind.values:
        errors["kind"] = [f"One of {', '.join(GiftBoxPrize.Kind.values)}."]
    if not name or len(name) > 60:
        errors["name"] = ["1 to 60 characters."]
    if not isinstance(weight, int) or isinstance(weight, bool) or not 1 <= weight <= 1_000_000:
        errors["weight"] = ["1 to 1,000,000."]
    if stock is not None and (not isinstance(stock, int) or isinstance(stock, bool) or not 0 <= stock <= 10_000_000):
        errors["stock"] = ["Empty (unlimited) or 0 to 10,000,000."]
    if kind in (GiftBoxPrize.Kind.COUPON, GiftBoxPrize.Kind.ITEM) and stock is None:
        errors["stock"] = ["A coupon or item prize has a stock."]
    template = None
    if kind == GiftBoxPrize.Kind.COUPON:
        template = CouponTemplate.objects.filter(pk=raw.get("coupon_template_id") or 0).first()
        if template is None or template.status != CouponTemplate.Status.ACTIVE:
            errors["coupon_template_id"] = ["An active coupon template of the brand."]
    if kind == GiftBoxPrize.Kind.POINTS and (not isinstance(points, int) or not 1 <= points <= 1_000_000):
        errors["points"] = ["1 to 1,000,000."]
    if errors:
        fields = {f"prizes[{index}].{k}": v for k, v in errors.items()}
        raise InvalidInput("invalid", next(iter(fields.values()))[0], fields=fields)
    return {
        "kind": kind,
        "name": name,
        "weight": weight,
        "stock": stock,
        "remaining": stock,
        "coupon_template": template,
        "points": points if kind == GiftBoxPrize.Kind.POINTS else 0,
    }


@transaction.atomic
def gift_box_create(*, brand: Brand, room: LiveRoom, title: str, watch_minutes: int, prizes: list) -> GiftBox:
    """Put a gift box in a live room with its pool of prizes; ``gift_box.open`` tells viewers."""
    with brand_scope(brand):
        room = LiveRoom.objects.select_for_update().get(pk=room.pk)
        if room.status not in OPEN_ROOMS:
            raise Conflict("room_not_live", "A gift box is put in a live room.", fields={"status": room.status})
        title = (title or "").strip()
        if not title or len(title) > 60:
            raise InvalidInput("invalid", "Name the box (1 to 60 characters).", fields={"title": ["1 to 60."]})
        if not isinstance(watch_minutes, int) or not 0 <= watch_minutes <= MAX_WATCH_MINUTES:
            raise InvalidInput("invalid", "0 to 1,440 minutes.", fields={"watch_minutes": ["0 to 1440."]})
        if not isinstance(prizes, list) or not 1 <= len(prizes) <= MAX_PRIZES:
            raise InvalidInput("invalid", f"1 to {MAX_PRIZES} prizes.", fields={"prizes": [f"1 to {MAX_PRIZES}."]})
        cleaned = [_clean_prize(raw, i) for i, raw in enumerate(prizes)]
        box = GiftBox.objects.create(brand=brand, room=room, title=title, watch_minutes=watch_minutes)
        GiftBoxPrize.objects.bulk_create([GiftBoxPrize(brand=brand, box=box, **prize) for prize in cleaned])
        rooms_changed_on_commit(brand_id=brand.pk, room_ids=[room.pk])
        publish_room_event(room.pk, "gift_box.open", box_event_data(box))
        return box


@transaction.atomic
def gift_box_stop(*, brand: Brand, box: GiftBox) -> GiftBox:
    with brand_scope(brand):
        if not GiftBox.objects.filter(pk=box.pk, status=GiftBox.Status.OPEN).update(
            status=GiftBox.Status.STOPPED, stopped_at=timezone.now()
        ):
            raise Conflict("gift_box_stopped", "This gift box is already stopped.")
        box.refresh_from_db()
        rooms_changed_on_commit(brand_id=brand.pk, room_ids=[box.room_id])
        publish_room_event(box.room_id, "gift_box.stopped", {"id": box.pk, "room_id": box.room_id})
        return box


def _draw_prize(box: GiftBox) -> GiftBoxPrize | None:
    """A prize by weight among those with stock left, its stock taken; None when all are gone."""
    pool = list(GiftBoxPrize.objects.filter(box=box).exclude(remaining=0).order_by("pk"))
    while pool:
        prize = _random.choices(pool, weights=[p.weight for p in pool])[0]
        if prize.remaining is None:
            return prize
        if GiftBoxPrize.objects.filter(pk=prize.pk, remaining__gt=0).update(remaining=F("remaining") - 1):
            return prize
        pool.remove(prize)  # emptied by a parallel open since it was read
    return None


@transaction.atomic
def gift_box_open(*, brand: Brand, box: GiftBox, customer: Customer) -> tuple[GiftBoxOpening, bool]:
    """Open the box for the customer: answers (opening, created). A second open answers the first."""
    with brand_scope(brand):
        earlier = GiftBoxOpening.objects.filter(box=box, customer=customer).select_related("prize").first()
        if earlier is not None:
            return earlier, False
        ratelimit.limit(
            "gift_box_open",
            customer.pk,
            per_window=OPENS_PER_MINUTE,
            code="gift_box_rate_limited",
            message="Too many tries; wait a moment.",
        )
        box.refresh_from_db(fields=["status"])
        if box.status != GiftBox.Status.OPEN:
            raise Conflict("gift_box_stopped", "This gift box is closed.")
        watched = watched_seconds(room_id=box.room_id, customer_id=customer.pk)
        if watched < box.watch_minutes * 60:
            raise Conflict(
                "gift_box_not_yet",
                f"Watch the room for {box.watch_minutes} minutes to open this box.",
                fields={"watched_seconds": watched, "required_seconds": box.watch_minutes * 60},
            )
        opening = GiftBoxOpening(brand=brand, box=box, customer=customer, watched_seconds=watched)
        try:
            with transaction.atomic():
                opening.save()
        except IntegrityError:  # a parallel open of the same customer got there first
            return GiftBoxOpening.objects.select_related("prize").get(box=box, customer=customer), False
        prize = _draw_prize(box)
        opening.prize = prize
        if prize is not None and prize.kind == GiftBoxPrize.Kind.COUPON:
            from coupons.services import coupon_issue_as_prize  # coupons depends on livestream

            opening.coupon = coupon_issue_as_prize(brand=brand, customer=customer, template_id=prize.coupon_template_id)
        opening.points = prize.points if prize is not None else 0
        opening.save(update_fields=["prize", "coupon", "points"])
        return opening, True


def opening_data(opening: GiftBoxOpening) -> dict:
    prize = opening.prize
    return {
        "box_id": opening.box_id,
        "prize": None
        if prize is None
        else {"id": prize.pk, "kind": prize.kind, "name": prize.name, "points": prize.points},
        "coupon_id": opening.coupon_id,
        "opened_at": opening.created_at,
    }
