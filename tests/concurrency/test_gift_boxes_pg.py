"""Gift boxes under real parallel connections (PostgreSQL only): stock never goes negative and
a box opened many times at once by one customer gives one prize."""

import time

import pytest
from django.db import connection

from livestream import realtime
from livestream.models import GiftBoxOpening, GiftBoxPrize
from livestream.services import gift_boxes, rooms
from tenants.models import Customer
from tests.concurrency.test_orders_pg import run_in_parallel

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs real parallel connections"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def room(brand):
    from django.utils import timezone

    start = timezone.now() + timezone.timedelta(hours=1)
    room = rooms.room_create(
        brand=brand,
        title="Race to the box",
        anchor_name="Anchor Lin",
        scheduled_start=start,
        scheduled_end=start + timezone.timedelta(hours=2),
    )
    return rooms.room_start(brand=brand, room=room)


def watched(room, customer):
    socket_id = f"s{customer.pk}"
    realtime.store().watch_start(room.pk, customer.pk, socket_id, time.time() - 60)
    realtime.store().heartbeat({room.pk: [socket_id]}, time.time())


def test_parallel_opens_never_take_more_than_the_stock(brand, room):
    box = gift_boxes.gift_box_create(
        brand=brand,
        room=room,
        title="Race box",
        watch_minutes=0,
        prizes=[
            {"kind": "item", "name": "Mug", "weight": 5, "stock": 3},
            {"kind": "item", "name": "Cap", "weight": 5, "stock": 2},
        ],
    )
    customers = [Customer.objects.create(brand=brand, openid=f"race{i}") for i in range(40)]
    for customer in customers:
        watched(room, customer)
    results, conflicts = run_in_parallel(
        [lambda c=c: gift_boxes.gift_box_open(brand=brand, box=box, customer=c) for c in customers]
    )
    assert conflicts == []
    won = [opening.prize_id for opening, created in results if opening.prize_id]
    assert len(won) == 5 and len(results) == 40
    assert list(GiftBoxPrize.unscoped.filter(box=box).values_list("remaining", flat=True)) == [0, 0]
    assert GiftBoxOpening.unscoped.filter(box=box).count() == 40


def test_one_customer_opening_many_times_at_once_gets_one_prize(brand, room):
    box = gift_boxes.gift_box_create(
        brand=brand,
        room=room,
        title="Once box",
        watch_minutes=0,
        prizes=[{"kind": "item", "name": "Mug", "weight": 1, "stock": 100}],
    )
    customer = Customer.objects.create(brand=brand, openid="eager")
    watched(room, customer)
    results, conflicts = run_in_parallel(
        [lambda: gift_boxes.gift_box_open(brand=brand, box=box, customer=customer) for _ in range(8)]
    )
    assert conflicts == []
    assert len({opening.pk for opening, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert GiftBoxPrize.unscoped.get(box=box).remaining == 99
