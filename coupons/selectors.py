"""Reads about coupons: a customer's wallet by state, a room's open drops, the console's lists
and the redemption report by store."""

from datetime import datetime

from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from coupons.models import Coupon, CouponDrop, CouponTemplate, Redemption
from guides.models import Guide
from livestream.models import LiveRoom

STATES = ("available", "locked", "used", "expired")


def state_of(coupon: Coupon, now: datetime | None = None) -> str:
    """What the customer sees: the stored status, or ``expired`` for an unused coupon past its window."""
    now = now or timezone.now()
    if coupon.status != Coupon.Status.USED and coupon.valid_until <= now:
        return "expired"
    return coupon.status


def _in_state(coupons: QuerySet, state: str, now: datetime) -> QuerySet:
    if state == "expired":
        return coupons.exclude(status=Coupon.Status.USED).filter(valid_until__lte=now)
    if state == "used":
        return coupons.filter(status=Coupon.Status.USED)
    return coupons.filter(status=state, valid_until__gt=now)


def customer_coupons(customer, state: str | None = None) -> QuerySet:
    """The customer's coupons (of one state), those that end soonest first."""
    coupons = Coupon.objects.filter(customer=customer).select_related("template")
    if state:
        coupons = _in_state(coupons, state, timezone.now())
    return coupons.order_by("valid_until", "pk")


def droppable_templates() -> QuerySet:
    """The templates a live room's drop accepts now (``coupons.services.drop_refusal`` for one
    coupon): active, the brand's own (no store), within a fixed window if it has one, coupons left."""
    now = timezone.now()
    return (
        CouponTemplate.objects.filter(status=CouponTemplate.Status.ACTIVE, store__isnull=True)
        .exclude(validity=CouponTemplate.Validity.FIXED, valid_until__lte=now)
        .filter(Q(total_quantity__isnull=True) | Q(issued__lt=F("total_quantity")))
    )


def claimable_templates() -> QuerySet:
    now = timezone.now()
    return (
        CouponTemplate.objects.filter(claimable=True, status=CouponTemplate.Status.ACTIVE)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=now))
        .filter(Q(total_quantity__isnull=True) | Q(issued__lt=F("total_quantity")))
        .order_by("-created_at", "-pk")
    )


def room_open_drops(room: LiveRoom) -> QuerySet:
    """A live room's drops with coupons left, newest first (what a viewer who joins late sees)."""
    if room.status not in (LiveRoom.Status.LIVE, LiveRoom.Status.PAUSED):
        return CouponDrop.objects.none()
    return (
        CouponDrop.objects.filter(room=room, claimed__lt=F("quantity"))
        .select_related("template")
        .order_by("-created_at", "-pk")
    )


def console_coupons(*, template_id=None, customer_id=None, store_id=None, source=None, state=None) -> QuerySet:
    coupons = Coupon.objects.select_related("template", "redemption")
    if template_id:
        coupons = coupons.filter(template_id=template_id)
    if customer_id:
        coupons = coupons.filter(customer_id=customer_id)
    if store_id:
        coupons = coupons.filter(template__store_id=store_id)
    if source:
        coupons = coupons.filter(source=source)
    if state:
        coupons = _in_state(coupons, state, timezone.now())
    return coupons.order_by("-created_at", "-pk")


def guide_redemptions(guide: Guide) -> QuerySet:
    return Redemption.objects.filter(guide=guide).select_related("coupon__template").order_by("-redeemed_at", "-pk")


def redemption_report(*, since: datetime | None = None, until: datetime | None = None) -> list[dict]:
    """Per store: how many coupons it redeemed, for how many customers, through how many guides."""
    redemptions = Redemption.objects.all()
    if since:
        redemptions = redemptions.filter(redeemed_at__gte=since)
    if until:
        redemptions = redemptions.filter(redeemed_at__lt=until)
    rows = (
        redemptions.values("store_id", "store__code", "store__name")
        .annotate(
            redemptions=Count("pk"),
            customers=Count("coupon__customer", distinct=True),
            guides=Count("guide", distinct=True),
        )
        .order_by("-redemptions", "store_id")
    )
    return [
        {
            "store_id": row["store_id"],
            "store_code": row["store__code"],
            "store_name": row["store__name"],
            "redemptions": row["redemptions"],
            "customers": row["customers"],
            "guides": row["guides"],
        }
        for row in rows
    ]


def room_coupon_figures(*, brand, room_ids) -> dict:
    """Coupons dropped into the rooms, claimed from those drops, and used (on a paid order or in store)."""
    drops = CouponDrop.objects.filter(brand=brand, room_id__in=room_ids).aggregate(
        drops=Count("pk"), dropped=Coalesce(Sum("quantity"), 0), claimed=Coalesce(Sum("claimed"), 0)
    )
    used = Coupon.objects.filter(brand=brand, drop__room_id__in=room_ids, status=Coupon.Status.USED).count()
    return {**drops, "used": used}
