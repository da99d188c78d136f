"""The hourly guide leaderboard (超级带单王): campaigns, the live ranking, and freezing each hour once.

An hour's GMV of a guide is what their attributed orders paid in that hour (in the campaign's
rooms, if it names any), minus what was refunded of those orders before the hour ended. A frozen
hour is written once (a unique row per campaign and hour); its rewards go into the commission
ledger as payable ``adjust`` entries, one per leaderboard place.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from commerce.models import Order, Refund
from guides.models import Campaign, CommissionEntry, Guide, LeaderboardEntry, LeaderboardHour
from livestream.models import LiveRoom
from tenants.errors import InvalidInput, NotFound
from tenants.models import Brand
from tenants.scoping import brand_scope, platform_scope

HOUR = timedelta(hours=1)
MAX_TOP_N = 100
MAX_REWARD = 100_000_00  # fen per place and hour
CATCH_UP = timedelta(days=7)  # hours of campaigns that ended longer ago are not frozen late


def hour_floor(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class Place:
    rank: int
    guide_id: int
    gmv: int
    orders: int
    reward: int


@transaction.atomic
def campaign_create(
    *, brand: Brand, name: str, starts_at: datetime, ends_at: datetime, rewards: list[int], room_ids=()
) -> Campaign:
    errors = {}
    if ends_at <= starts_at:
        errors["ends_at"] = ["After the start."]
    if not rewards or len(rewards) > MAX_TOP_N:
        errors["rewards"] = [f"1 to {MAX_TOP_N} rewards, one per place."]
    elif any(not isinstance(r, int) or isinstance(r, bool) or not 0 <= r <= MAX_REWARD for r in rewards):
        errors["rewards"] = [f"Each reward is 0 to {MAX_REWARD} fen."]
    rooms = list(LiveRoom.objects.filter(pk__in=set(room_ids)))
    if len(rooms) != len(set(room_ids)):
        raise NotFound("room_not_found", "No such live room.", fields={"room_ids": ["No such room."]})
    if errors:
        raise InvalidInput("invalid", "The campaign is not valid.", fields=errors)
    campaign = Campaign(brand=brand, name=name.strip(), starts_at=starts_at, ends_at=ends_at, rewards=rewards)
    try:
        campaign.full_clean(exclude=["brand"])
    except ValidationError as exc:
        raise InvalidInput("invalid", "The campaign is not valid.", fields=exc.message_dict) from exc
    campaign.save()
    campaign.rooms.set(rooms)
    return campaign


def ranking(*, campaign: Campaign, hour_start: datetime) -> list[Place]:
    """The live ranking of one hour of the campaign, with the rewards its places would earn."""
    start = max(hour_start, campaign.starts_at)
    end = min(hour_start + HOUR, campaign.ends_at)
    orders = Order.objects.filter(guide__isnull=False, paid_at__gte=start, paid_at__lt=end)
    room_ids = [room.pk for room in campaign.rooms.all()]
    if room_ids:
        orders = orders.filter(room_id__in=room_ids)
    paid = {
        row["guide"]: (row["gmv"], row["orders"])
        for row in orders.values("guide").annotate(gmv=Sum("payable"), orders=Count("pk"))
    }
    refunded = {
        row["order__guide"]: row["refunded"]
        for row in Refund.objects.filter(
            Q(order__in=orders), status=Refund.Status.SUCCEEDED, succeeded_at__lt=hour_start + HOUR
        )
        .values("order__guide")
        .annotate(refunded=Sum("amount"))
    }
    rows = [(gmv - refunded.get(guide_id, 0), count, guide_id) for guide_id, (gmv, count) in paid.items()]
    rows = sorted((row for row in rows if row[0] > 0), key=lambda row: (-row[0], -row[1], row[2]))
    rewards = campaign.rewards
    return [
        Place(rank, guide_id, gmv, count, rewards[rank - 1] if rank <= len(rewards) else 0)
        for rank, (gmv, count, guide_id) in enumerate(rows, start=1)
    ]


def hour_freeze(*, campaign: Campaign, hour_start: datetime) -> LeaderboardHour | None:
    """Freeze one ended hour and record its rewards; None when it was frozen already."""
    places = ranking(campaign=campaign, hour_start=hour_start)
    try:
        with transaction.atomic():
            hour = LeaderboardHour.objects.create(brand_id=campaign.brand_id, campaign=campaign, hour_start=hour_start)
            entries = LeaderboardEntry.objects.bulk_create(
                [
                    LeaderboardEntry(
                        brand_id=campaign.brand_id,
                        hour=hour,
                        guide_id=place.guide_id,
                        rank=place.rank,
                        gmv=place.gmv,
                        orders=place.orders,
                        reward=place.reward,
                    )
                    for place in places
                ]
            )
            local = timezone.localtime(hour_start, campaign.brand.tz)
            CommissionEntry.objects.bulk_create(
                [
                    CommissionEntry(
                        brand_id=campaign.brand_id,
                        guide_id=entry.guide_id,
                        kind=CommissionEntry.Kind.ADJUST,
                        amount=entry.reward,
                        leaderboard_entry=entry,
                        note=f"{campaign.name[:120]} · {local:%m-%d %H:00} · No. {entry.rank}",
                    )
                    for entry in entries
                    if entry.reward > 0
                ]
            )
            return hour
    except IntegrityError:  # another run froze this hour first
        return None


def leaderboards_freeze(*, now=None) -> int:
    """The periodic job: freeze every ended hour of every campaign not frozen yet. Answers how many."""
    now = now or timezone.now()
    with platform_scope():
        campaigns = list(
            Campaign.objects.filter(starts_at__lt=now, ends_at__gt=now - CATCH_UP, brand__status=Brand.Status.ACTIVE)
            .select_related("brand")
            .order_by("pk")
        )
    frozen = 0
    for campaign in campaigns:
        with brand_scope(campaign.brand):
            done = set(LeaderboardHour.objects.filter(campaign=campaign).values_list("hour_start", flat=True))
            hour_start = hour_floor(campaign.starts_at)
            while hour_start + HOUR <= now and hour_start < campaign.ends_at:
                if hour_start not in done:
                    frozen += hour_freeze(campaign=campaign, hour_start=hour_start) is not None
                hour_start += HOUR
    return frozen


def current_campaign() -> Campaign | None:
    """The brand's campaign running now, else the one that started last."""
    now = timezone.now()
    running = Campaign.objects.filter(starts_at__lte=now, ends_at__gt=now).order_by("-starts_at").first()
    return running or Campaign.objects.filter(starts_at__lte=now).order_by("-starts_at").first()


def guide_names(guide_ids) -> dict[int, str]:
    return dict(Guide.objects.filter(pk__in=guide_ids).values_list("pk", "name"))
