"""Demo data of guides for seed_demo: commission rates, each guide's share of the live room, a campaign."""

from datetime import timedelta

from django.utils import timezone

from guides.models import Campaign, Guide
from guides.services import commission, leaderboard, shares
from livestream.models import LiveRoom
from tenants.models import Brand


def seed(brand: Brand) -> None:
    """Idempotent: adds only what is missing (run inside the brand's scope)."""
    commission.policy_set(brand=brand, default_rate_bp=500, leader_rate_bp=100)
    guides = list(Guide.objects.order_by("pk"))
    for guide in guides:
        if not guide.openid:
            guide.openid = f"o_demo_{guide.pk}"
            guide.save(update_fields=["openid"])
    room = LiveRoom.objects.filter(title="Autumn new arrivals").first()
    if room is not None:
        for guide in guides:
            shares.share_create(brand=brand, guide=guide, target="room", target_id=room.pk)
    if not Campaign.objects.exists():
        start = leaderboard.hour_floor(timezone.now())
        leaderboard.campaign_create(
            brand=brand,
            name="超级带单王",
            starts_at=start,
            ends_at=start + timedelta(days=3),
            rewards=[20000, 10000, 5000],
            room_ids=[room.pk] if room else [],
        )
