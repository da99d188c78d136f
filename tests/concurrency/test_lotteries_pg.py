"""Lottery joins racing the draw (PostgreSQL only): every entry that stands is in the frozen
entrant list the proof shows, and a join that meets the draw is refused, never half-written."""

import pytest
from django.db import connection
from django.utils import timezone

from livestream.models import Lottery, LotteryEntry
from livestream.services import lotteries, rooms
from tenants.models import Customer
from tests.concurrency.test_orders_pg import run_in_parallel

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs real parallel connections"),
    pytest.mark.django_db(transaction=True),
]


def test_joins_racing_the_draw_are_either_drawn_from_or_refused(brand):
    start = timezone.now() + timezone.timedelta(hours=1)
    room = rooms.room_create(
        brand=brand,
        title="Race to the draw",
        anchor_name="Anchor Lin",
        scheduled_start=start,
        scheduled_end=start + timezone.timedelta(hours=2),
    )
    room = rooms.room_start(brand=brand, room=room)
    lottery = lotteries.lottery_open(
        brand=brand,
        room=room,
        title="Race draw",
        prize_kind="physical",
        prize_name="Tea set",
        winner_count=3,
        rule="new_customers",
    )
    customers = [Customer.objects.create(brand=brand, openid=f"racer{i}") for i in range(30)]
    calls = [lambda c=c: lotteries.lottery_join(brand=brand, lottery=lottery, customer=c) for c in customers]
    calls.insert(15, lambda: lotteries.lottery_draw(brand=brand, lottery=lottery))
    results, conflicts = run_in_parallel(calls)
    assert set(conflicts) <= {"lottery_not_open"}
    lottery = Lottery.unscoped.get(pk=lottery.pk)
    standing = sorted(LotteryEntry.unscoped.filter(lottery=lottery).values_list("customer_id", flat=True))
    assert lottery.status == "drawn"
    assert lottery.entrant_ids == standing and lottery.entrant_count == len(standing)
    assert len(standing) + len(conflicts) == 30
    assert lottery.winner_ids == lotteries.pick_winners(lottery.seed, standing, 3)
