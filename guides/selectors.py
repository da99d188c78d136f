"""Reads about stores, guides, their customers, orders, commission and ranking."""

from datetime import datetime

from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from commerce.models import Order
from guides.models import Binding, CommissionEntry, Guide, Settlement, ShareCode, Store
from guides.services import leaderboard
from guides.services.settlement import payable_q
from tenants.errors import NotFound
from tenants.models import Brand, Customer

Kind = CommissionEntry.Kind
ATTRIBUTED_PAID = ~Q(status__in=[Order.Status.PENDING_PAYMENT, Order.Status.CANCELLED])


def bound_guide(customer: Customer) -> Guide | None:
    """The active guide the customer is bound to, if any (in the customer's brand scope)."""
    binding = Binding.objects.filter(customer=customer).select_related("guide").first()
    if binding is None or binding.guide is None or binding.guide.status != Guide.Status.ACTIVE:
        return None
    return binding.guide


def guide_of(user) -> Guide:
    """The guide profile of a staff user in the brand in scope; a store manager may have none."""
    guide = Guide.objects.filter(user=user).select_related("store", "leader").first()
    if guide is None:
        raise NotFound("guide_not_found", "You are not a guide of this brand.")
    return guide


def managed_store_ids(user) -> list[int]:
    return list(Store.objects.filter(manager=user).values_list("pk", flat=True))


def commission_balances(*, brand: Brand, guide_ids, now=None) -> dict[int, dict]:
    """Per guide: ``pending`` (not payable yet), ``payable``, ``in_settlement`` (on its way) and
    ``settled`` (paid out), each a sum of ledger entries."""
    now = now or timezone.now()
    unsettled = Q(settlement__isnull=True) & ~Q(kind=Kind.SETTLE)
    payable = payable_q(brand, now)
    rows = (
        CommissionEntry.objects.filter(guide_id__in=list(guide_ids))
        .values("guide")
        .annotate(
            payable=Sum("amount", filter=payable, default=0),
            unsettled=Sum("amount", filter=unsettled, default=0),
            in_settlement=Sum(
                "amount", filter=Q(settlement__status=Settlement.Status.PROCESSING) & ~Q(kind=Kind.SETTLE), default=0
            ),
            settled=Sum("amount", filter=Q(kind=Kind.SETTLE), default=0),
        )
    )
    empty = {"pending": 0, "payable": 0, "in_settlement": 0, "settled": 0}
    balances = {guide_id: dict(empty) for guide_id in guide_ids}
    for row in rows:
        balances[row["guide"]] = {
            "pending": row["unsettled"] - row["payable"],
            "payable": row["payable"],
            "in_settlement": row["in_settlement"],
            "settled": -row["settled"],
        }
    return balances


def _sales(orders: QuerySet, since: datetime) -> dict:
    row = orders.filter(ATTRIBUTED_PAID, paid_at__gte=since).aggregate(
        orders=Count("pk"), gmv=Sum(F("payable") - F("refunded_total"), default=0)
    )
    return {"orders": row["orders"], "gmv": row["gmv"]}


def guide_dashboard(*, brand: Brand, guide: Guide) -> dict:
    now = timezone.now()
    today = timezone.localtime(now, brand.tz).replace(hour=0, minute=0, second=0, microsecond=0)
    orders = Order.objects.filter(guide=guide)
    campaign = leaderboard.current_campaign()
    rank = None
    if campaign is not None and campaign.starts_at <= now < campaign.ends_at:
        places = leaderboard.ranking(campaign=campaign, hour_start=leaderboard.hour_floor(now))
        mine = next((place for place in places if place.guide_id == guide.pk), None)
        rank = {"campaign_id": campaign.pk, "rank": mine.rank if mine else None, "ranked": len(places)}
    return {
        "guide": guide,
        "today": _sales(orders, today),
        "this_hour": _sales(orders, leaderboard.hour_floor(now)),
        "commission": commission_balances(brand=brand, guide_ids=[guide.pk], now=now)[guide.pk],
        "bound_customers": Binding.objects.filter(guide=guide).count(),
        "rank": rank,
    }


def guide_shares(guide: Guide) -> QuerySet:
    return ShareCode.objects.filter(guide=guide).defer("code_png", "poster_png")


def guide_customers(guide: Guide) -> QuerySet:
    return Binding.objects.filter(guide=guide).select_related("customer").order_by("-bound_at", "-pk")


def guide_orders(guide: Guide) -> QuerySet:
    return Order.objects.filter(guide=guide).exclude(status=Order.Status.PENDING_PAYMENT).order_by("-created_at", "-pk")


def guide_ledger(guide: Guide) -> QuerySet:
    return CommissionEntry.objects.filter(guide=guide).select_related("order", "settlement")


def team_guides(*, user, guide: Guide | None) -> QuerySet:
    """The guides a store manager sees (their stores' guides) and a leader sees (their team)."""
    condition = Q(store_id__in=managed_store_ids(user))
    if guide is not None:
        condition |= Q(leader=guide)
    return Guide.objects.filter(condition).select_related("store", "user").order_by("store__code", "name", "pk")


def team_stats(*, brand: Brand, guides: list[Guide]) -> dict[int, dict]:
    now = timezone.now()
    today = timezone.localtime(now, brand.tz).replace(hour=0, minute=0, second=0, microsecond=0)
    ids = [guide.pk for guide in guides]
    rows = (
        Order.objects.filter(ATTRIBUTED_PAID, guide_id__in=ids, paid_at__gte=today)
        .values("guide")
        .annotate(orders=Count("pk"), gmv=Sum(F("payable") - F("refunded_total"), default=0))
    )
    stats = {guide_id: {"orders": 0, "gmv": 0} for guide_id in ids}
    for row in rows:
        stats[row["guide"]] = {"orders": row["orders"], "gmv": row["gmv"]}
    customers = dict(
        Binding.objects.filter(guide_id__in=ids).values("guide").annotate(n=Count("pk")).values_list("guide", "n")
    )
    balances = commission_balances(brand=brand, guide_ids=ids, now=now)
    return {
        guide_id: {"today": stats[guide_id], "bound_customers": customers.get(guide_id, 0), **balances[guide_id]}
        for guide_id in ids
    }


# --- post-show report -----------------------------------------------------------------------------


def share_owners(*, brand: Brand, scenes) -> dict[str, tuple[int | None, int | None]]:
    """The guide and the store behind each share ``scene`` (a guide's share counts for their
    store too): a viewer or an order that came in through it is theirs in the report."""
    rows = (
        ShareCode.objects.filter(brand=brand, scene__in=scenes)
        .annotate(owner_store=Coalesce("store_id", "guide__store_id"))
        .values_list("scene", "guide_id", "owner_store")
    )
    return {scene: (guide_id, store_id) for scene, guide_id, store_id in rows}


def room_commission_by_guide(*, brand: Brand, room_ids) -> dict[int, int]:
    """Commission (fen) earned on the rooms' orders, net of reversals, per guide (leaders included)."""
    rows = (
        CommissionEntry.objects.filter(brand=brand, order__room_id__in=room_ids, kind__in=[Kind.ACCRUE, Kind.REVERSE])
        .values("guide_id")
        .annotate(total=Sum("amount"))
    )
    return {row["guide_id"]: row["total"] for row in rows}


def guide_and_store_names(*, brand: Brand, guide_ids, store_ids) -> tuple[dict[int, str], dict[int, str]]:
    guides = dict(Guide.objects.filter(brand=brand, pk__in=guide_ids).values_list("pk", "name"))
    stores = dict(Store.objects.filter(brand=brand, pk__in=store_ids).values_list("pk", "name"))
    return guides, stores
