"""A follow-up sent by several task runs at once (PostgreSQL only): each customer gets it once."""

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.db import connection
from django.utils import timezone

from coupons.models import Coupon
from livestream.models import FollowUp, FollowUpRecipient, LiveRoom, ViewingSession
from livestream.services import follow_ups
from tenants.scoping import brand_scope
from tenants.wechat.sandbox import SandboxMiniProgramClient
from tests.concurrency.test_orders_pg import run_in_parallel
from tests.coupons.conftest import make_template

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs real parallel connections"),
    pytest.mark.django_db(transaction=True),
]


def test_parallel_runs_give_each_customer_one_coupon_and_one_message(brand, make_customer, monkeypatch):
    # The parallel runs below are the task's runs: the one queued on commit is not run.
    monkeypatch.setattr("livestream.tasks.send_follow_up", SimpleNamespace(apply_async=lambda args, **options: None))
    customers = [make_customer(brand) for _ in range(60)]
    now = timezone.now()
    with brand_scope(brand):
        room = LiveRoom.objects.create(
            brand=brand,
            title="Show",
            anchor_name="Lin",
            scheduled_start=now - timedelta(hours=2),
            scheduled_end=now - timedelta(hours=1),
            started_at=now - timedelta(hours=2),
            ended_at=now - timedelta(hours=1),
            status="ended",
        )
        ViewingSession.objects.bulk_create(
            [
                ViewingSession(
                    brand=brand, room=room, customer=customer, socket_id=f"s{n}", joined_at=now, left_at=now, seconds=0
                )
                for n, customer in enumerate(customers)
            ]
        )
    template = make_template(brand)
    SandboxMiniProgramClient.reset()
    follow_up = follow_ups.follow_up_create(
        brand=brand, room=room, segment="watched_not_bought", coupon_template_id=template.pk, message_text="回放"
    )
    assert follow_up.recipient_count == 60
    assert FollowUpRecipient.unscoped.filter(follow_up=follow_up, status="pending").count() == 60
    results, errors = run_in_parallel(
        [lambda: follow_ups.follow_up_send(follow_up_id=follow_up.pk, batch_size=7) for _ in range(4)]
    )
    assert errors == []
    assert sum(result["done"] for result in results) == 60
    with brand_scope(brand):
        given = list(Coupon.objects.filter(source="follow_up").values_list("customer_id", flat=True))
        assert sorted(given) == sorted(c.pk for c in customers)
        assert FollowUpRecipient.objects.filter(status="done", message_sent=True).count() == 60
        assert FollowUp.objects.get().status == "done"
    assert sorted(m.openid for m in SandboxMiniProgramClient.outbox) == sorted(c.openid for c in customers)
