"""Demo coupons for seed_demo: a claimable coupon, a live-room coupon, a store coupon and the
referral reward. Safe to run again: it only adds what is missing."""

from datetime import timedelta

from django.utils import timezone

from coupons import services
from coupons.models import CouponTemplate
from guides.models import Store


def seed_demo_coupons(brand) -> None:
    """Run in ``brand``'s scope (seed_demo does)."""
    now = timezone.now()
    window = {"validity": "fixed", "valid_from": now - timedelta(days=1), "valid_until": now + timedelta(days=60)}
    store = Store.objects.order_by("code").first()
    templates = [
        {
            "name": "New-season 30 off 299",
            "kind": "threshold",
            "amount_off": 3000,
            "min_spend": 29900,
            "claimable": True,
            "total_quantity": 1000,
            **window,
        },
        {
            "name": "Live-room 10% off",
            "kind": "percent_off",
            "percent_off": 10,
            "max_discount": 5000,
            "validity": "days_after_claim",
            "valid_days": 7,
            "channel": "online",
            "total_quantity": 500,
        },
        {
            "name": "Invite a friend: 20 off",
            "kind": "amount_off",
            "amount_off": 2000,
            "validity": "days_after_claim",
            "valid_days": 30,
        },
    ]
    if store is not None:
        templates.append(
            {
                "name": f"{store.name}: 50 off in store",
                "kind": "threshold",
                "amount_off": 5000,
                "min_spend": 50000,
                "channel": "in_store",
                "store_id": store.pk,
                **window,
            }
        )
    for fields in templates:
        if not CouponTemplate.objects.filter(name=fields["name"]).exists():
            services.coupon_template_create(brand=brand, **fields)
    reward = CouponTemplate.objects.get(name="Invite a friend: 20 off")
    services.referral_program_set(brand=brand, is_active=True, reward_template_id=reward.pk)
