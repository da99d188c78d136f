"""Bargains (砍价): a customer's friends cut a SKU's price down to a floor; the customer buys once,
at the price reached, within the time limit.

The cuts are drawn when the bargain starts (``draw_cuts``): ``helpers_needed`` amounts, largest
first, summing exactly to the gap between the price and the floor. Each help takes the next cut
under a lock on the bargain's row, so parallel helps take distinct cuts and the total never passes
the floor (a CHECK holds it too). Unique keys hold "one help per bargain per helper" and "at most
K helps a day per helper" (``daily_slot`` 1…K).
"""

import secrets
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from commerce.models import Bargain, BargainHelp, BargainOffer, Order, Sku
from commerce.services import orders
from livestream.models import LiveRoom
from livestream.realtime import publish_room_event
from tenants import ratelimit
from tenants.errors import Conflict, InvalidInput, NotFound
from tenants.models import Brand, Customer
from tenants.scoping import brand_scope

HELPS_PER_MINUTE = 10
_random = secrets.SystemRandom()


def get_offer(offer_id) -> BargainOffer:
    offer = BargainOffer.objects.filter(pk=offer_id).select_related("sku__product").first()
    if offer is None:
        raise NotFound("bargain_offer_not_found", "No such bargain offer.")
    return offer


def get_bargain(bargain_id) -> Bargain:
    bargain = Bargain.objects.filter(pk=bargain_id).select_related("offer__sku__product", "customer").first()
    if bargain is None:
        raise NotFound("bargain_not_found", "No such bargain.")
    return bargain


def draw_cuts(gap: int, helpers: int, rng=_random) -> list[int]:
    """``helpers`` cuts of at least 1 fen, largest first, summing exactly to ``gap``. Earlier helpers
    weigh more (the first friend's cut feels generous; the last ones are small)."""
    if helpers < 1 or gap < helpers:
        raise ValueError("need at least one fen per helper")
    weights = sorted((rng.randint(60, 140) * (helpers - i) for i in range(helpers)), reverse=True)
    spare, total = gap - helpers, sum(weights)
    shares = [spare * weight // total for weight in weights]
    for i in range(spare - sum(shares)):  # fewer than ``helpers`` fen left: to the largest cuts
        shares[i] += 1
    return [1 + share for share in shares]


# --- the brand's offers --------------------------------------------------------------------------


@transaction.atomic
def bargain_offer_create(
    *,
    brand: Brand,
    sku: Sku,
    floor_price: int,
    helpers_needed: int,
    starts_at: datetime,
    ends_at: datetime,
    time_limit_minutes: int = 24 * 60,
    helps_per_day: int = 3,
    new_customer_boost: bool = False,
    room: LiveRoom | None = None,
    title: str = "",
) -> BargainOffer:
    with brand_scope(brand):
        if ends_at <= starts_at:
            raise InvalidInput(
                "invalid", "A bargain offer ends after it starts.", fields={"ends_at": ["After starts_at."]}
            )
        if floor_price >= sku.price:
            raise InvalidInput(
                "invalid", "The floor must be below the SKU's price.", fields={"floor_price": [f"Below {sku.price}."]}
            )
        if sku.price - floor_price < helpers_needed:
            raise InvalidInput(
                "invalid",
                "Every helper cuts at least 1 fen: the gap must cover the helpers.",
                fields={"helpers_needed": [f"At most {sku.price - floor_price}."]},
            )
        offer = BargainOffer(
            brand=brand,
            sku=sku,
            room=room,
            title=title,
            floor_price=floor_price,
            helpers_needed=helpers_needed,
            time_limit_minutes=time_limit_minutes,
            helps_per_day=helps_per_day,
            new_customer_boost=new_customer_boost,
            starts_at=starts_at,
            ends_at=ends_at,
        )
        offer.full_clean()
        offer.save()
        return offer


@transaction.atomic
def bargain_offer_stop(*, brand: Brand, offer: BargainOffer) -> BargainOffer:
    """No new bargains; running ones may still be helped and bought within their time."""
    with brand_scope(brand):
        BargainOffer.objects.filter(pk=offer.pk).update(is_active=False)
        offer.refresh_from_db()
        return offer


# --- customers -----------------------------------------------------------------------------------


def bargain_start(*, brand: Brand, customer: Customer, offer: BargainOffer) -> Bargain:
    with brand_scope(brand):
        now = timezone.now()
        if not offer.is_active:
            raise Conflict("bargain_offer_stopped", "This bargain offer was stopped.")
        if not offer.starts_at <= now < offer.ends_at:
            raise Conflict("bargain_offer_closed", "This bargain offer is not running.")
        if not offer.sku.is_active or not offer.sku.product.is_sellable:
            raise Conflict("product_unavailable", "This product is not for sale.")
        price = offer.sku.price
        if price <= offer.floor_price or price - offer.floor_price < offer.helpers_needed:
            raise Conflict("bargain_offer_closed", "The product's price no longer leaves room to bargain.")
        try:
            with transaction.atomic():
                return Bargain.objects.create(
                    brand=brand,
                    offer=offer,
                    customer=customer,
                    start_price=price,
                    floor_price=offer.floor_price,
                    plan=draw_cuts(price - offer.floor_price, offer.helpers_needed),
                    expires_at=min(now + timedelta(minutes=offer.time_limit_minutes), offer.ends_at),
                )
        except IntegrityError:
            raise Conflict("bargain_already_started", "You already have a bargain for this offer.") from None


def bargain_help(*, brand: Brand, helper: Customer, bargain: Bargain) -> BargainHelp:
    """A friend cuts the bargain once: the next drawn cut (two with the new-customer boost)."""
    with brand_scope(brand):
        ratelimit.limit(
            "bargain_help",
            helper.pk,
            per_window=HELPS_PER_MINUTE,
            code="bargain_help_rate_limited",
            message="Too many helps; wait a minute.",
        )
        now = timezone.now()
        day = timezone.localdate(now, ZoneInfo(brand.timezone))
        with transaction.atomic():
            locked = Bargain.objects.select_for_update().select_related("offer").get(pk=bargain.pk)
            if locked.customer_id == helper.pk:
                raise Conflict("bargain_own", "Share it with friends: you cannot cut your own bargain.")
            if locked.status != Bargain.Status.ACTIVE or locked.expires_at <= now:
                raise Conflict("bargain_closed", "This bargain is over.", fields={"status": _status(locked, now)})
            if BargainHelp.objects.filter(bargain=locked, helper=helper).exists():
                raise Conflict("bargain_already_helped", "You already helped this bargain.")
            slots_left = len(locked.plan) - locked.slots_used
            if slots_left == 0:
                raise Conflict("bargain_at_floor", "This bargain has reached its floor price.")
            slots = min(2 if locked.offer.new_customer_boost and helper.is_new else 1, slots_left)
            amount = sum(locked.plan[locked.slots_used : locked.slots_used + slots])
            help_ = _take_daily_slot(brand, locked, helper, amount, day)
            Bargain.objects.filter(pk=locked.pk).update(
                slots_used=F("slots_used") + slots, cut_total=F("cut_total") + amount
            )
            locked.refresh_from_db()
            if locked.offer.room_id is not None:
                publish_room_event(locked.offer.room_id, "bargain.progress", bargain_progress(locked))
            return help_


def _take_daily_slot(brand, bargain, helper, amount, day) -> BargainHelp:
    """Record the help in the helper's next slot of the day. Parallel helps of one helper (on other
    bargains) race for the same slot: the loser's insert waits for the winner and fails, and it
    counts again, so the limit holds and no help is refused while a slot is free."""
    limit = bargain.offer.helps_per_day
    for _ in range(limit):
        helped_today = BargainHelp.objects.filter(helper=helper, day=day).count()
        if helped_today >= limit:
            break
        try:
            with transaction.atomic():
                return BargainHelp.objects.create(
                    brand=brand, bargain=bargain, helper=helper, amount=amount, day=day, daily_slot=helped_today + 1
                )
        except IntegrityError:
            continue
    raise Conflict("bargain_daily_limit", f"You can help {limit} bargains a day.", fields={"limit": limit})


def bargain_buy(
    *,
    brand: Brand,
    customer: Customer,
    bargain: Bargain,
    delivery: str = Order.Delivery.SHIP,
    address: dict | None = None,
    pickup_store_id: int | None = None,
    note: str = "",
    source: str = "",
    idempotency_key: str = "",
) -> Order:
    """The starter orders the SKU at the price reached, once. The bargain's row stays locked until
    the order is placed, so no help lands between reading the price and ordering."""
    with brand_scope(brand), transaction.atomic():
        locked = Bargain.objects.select_for_update().select_related("offer").get(pk=bargain.pk)
        if locked.customer_id != customer.pk:
            raise NotFound("bargain_not_found", "No such bargain.")
        now = timezone.now()
        if idempotency_key and locked.order_id is not None:
            earlier = Order.objects.filter(pk=locked.order_id, idempotency_key=idempotency_key).first()
            if earlier is not None:
                return earlier  # a retry of the request that placed it
        if locked.status != Bargain.Status.ACTIVE or locked.expires_at <= now:
            raise Conflict("bargain_closed", "This bargain is over.", fields={"status": _status(locked, now)})
        price = locked.current_price

        def hold(order, now):
            Bargain.objects.filter(pk=locked.pk).update(status=Bargain.Status.ORDERED, order=order)

        order, _ = orders.order_place(
            brand=brand,
            customer=customer,
            lines=[orders.LineRequest(locked.offer.sku_id, 1)],
            room_id=locked.offer.room_id,
            source=source,
            delivery=delivery,
            address=address,
            pickup_store_id=pickup_store_id,
            note=note,
            idempotency_key=idempotency_key,
            offer=orders.OfferPrice(
                sku_id=locked.offer.sku_id, unit_price=price, key=f"bargain:{locked.pk}:{price}", hold=hold
            ),
        )
        return order


def _status(bargain: Bargain, now) -> str:
    if bargain.status == Bargain.Status.ACTIVE and bargain.expires_at <= now:
        return Bargain.Status.EXPIRED
    return bargain.status


def bargain_progress(bargain: Bargain) -> dict:
    return {
        "bargain_id": bargain.pk,
        "offer_id": bargain.offer_id,
        "status": _status(bargain, timezone.now()),
        "start_price": bargain.start_price,
        "floor_price": bargain.floor_price,
        "current_price": bargain.current_price,
        "cut_total": bargain.cut_total,
        "helpers_needed": len(bargain.plan),
        "slots_used": bargain.slots_used,
        "expires_at": bargain.expires_at.isoformat(),
    }


# --- what the order's state machine tells -----------------------------------------------------


def order_payable(order: Order) -> bool:
    return True  # a bargain's order is payable like any other, within its payment window


def order_paid(order: Order, paid_at) -> None:
    Bargain.objects.filter(order_id=order.pk, status=Bargain.Status.ORDERED).update(status=Bargain.Status.PURCHASED)


def order_cancelled(order: Order) -> None:
    """The order was not paid: the starter may order again while the bargain runs."""
    Bargain.objects.filter(order_id=order.pk, status=Bargain.Status.ORDERED).update(
        status=Bargain.Status.ACTIVE, order=None
    )
