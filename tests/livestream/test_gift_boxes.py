"""Gift boxes: opened once per customer after the server-recorded watch time, prizes drawn by
weight among those with stock left, coupons through the coupon service, brands kept apart."""

import asyncio
import time
from collections import Counter

import pytest
from django.test import Client as DjangoClient

from conftest import assert_error
from coupons.models import Coupon
from livestream import realtime
from livestream.models import GiftBox, GiftBoxOpening, GiftBoxPrize, ViewingSession
from livestream.services import gift_boxes
from tenants.models import Membership
from tests.coupons.conftest import make_template
from tests.livestream.conftest import of_type

MP = "/api/v1/mp/rooms"
CONSOLE = "/api/v1/console/rooms"


@pytest.fixture(autouse=True)
def fresh_store():
    realtime.reset_store()
    yield
    realtime.reset_store()


def watched_for(room, customer, seconds):
    """The customer's socket joined ``seconds`` ago and is still sending heartbeats."""
    socket_id = f"s{customer.pk}-{time.monotonic_ns()}"
    realtime.store().watch_start(room.pk, customer.pk, socket_id, time.time() - seconds)
    realtime.store().heartbeat({room.pk: [socket_id]}, time.time())
    return socket_id


@pytest.fixture
def room(brand, make_room):
    return make_room(brand, status="live")


@pytest.fixture
def rival_room(other_brand, make_room):
    return make_room(other_brand, title="Rival show", status="live")


def make_box(brand, room, prizes=None, watch_minutes=5):
    prizes = prizes or [
        {"kind": "item", "name": "Mug", "weight": 1, "stock": 1},
        {"kind": "thanks", "name": "Thanks for watching", "weight": 3},
    ]
    return gift_boxes.gift_box_create(
        brand=brand, room=room, title="Stay box", watch_minutes=watch_minutes, prizes=prizes
    )


def open_box(client, room, box):
    return client.post(f"{MP}/{room.pk}/gift-boxes/{box.pk}/open")


def test_console_puts_a_box_in_the_room_and_viewers_are_told(room, console, events, django_capture_on_commit_callbacks):
    template_id = make_template(room.brand).pk
    body = {
        "title": "Stay box",
        "watch_minutes": 5,
        "prizes": [
            {"kind": "coupon", "name": "10 off", "weight": 2, "stock": 10, "coupon_template_id": template_id},
            {"kind": "points", "name": "50 points", "weight": 3, "stock": None, "points": 50},
            {"kind": "thanks", "name": "Thanks", "weight": 5},
        ],
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = console.post(f"{CONSOLE}/{room.pk}/gift-boxes", body)
    assert response.status_code == 201, response.content
    assert [p["remaining"] for p in response.json()["prizes"]] == [10, None, None]
    [(room_id, data)] = of_type(events, "gift_box.open")
    assert (room_id, data["id"], data["watch_minutes"]) == (room.pk, response.json()["id"], 5)


@pytest.mark.parametrize(
    "prize, field",
    [
        ({"kind": "coupon", "name": "x", "weight": 1, "stock": 1}, "prizes[0].coupon_template_id"),
        ({"kind": "item", "name": "x", "weight": 1}, "prizes[0].stock"),
        ({"kind": "points", "name": "x", "weight": 1, "points": 0}, "prizes[0].points"),
    ],
)
def test_a_bad_prize_is_refused_and_nothing_written(room, console, prize, field):
    body = {"title": "Box", "watch_minutes": 1, "prizes": [prize]}
    error = assert_error(console.post(f"{CONSOLE}/{room.pk}/gift-boxes", body), 400, "invalid")
    assert field in error["fields"]
    assert not GiftBox.unscoped.exists() and not GiftBoxPrize.unscoped.exists()


def test_a_box_goes_in_a_live_room_only(brand, make_room, console):
    room = make_room(brand)
    body = {"title": "Box", "watch_minutes": 1, "prizes": [{"kind": "thanks", "name": "x", "weight": 1}]}
    assert_error(console.post(f"{CONSOLE}/{room.pk}/gift-boxes", body), 409, "room_not_live")


def test_the_box_opens_after_the_server_recorded_watch_time_and_only_once(brand, room, make_customer, customer_client):
    box = make_box(brand, room)
    viewer = make_customer(brand)
    client = customer_client(viewer)
    error = assert_error(open_box(client, room, box), 409, "gift_box_not_yet")
    assert error["fields"]["required_seconds"] == 300
    socket_id = watched_for(room, viewer, 200)
    assert_error(open_box(client, room, box), 409, "gift_box_not_yet")
    realtime.store().watch_end(room.pk, viewer.pk, socket_id, time.time())  # 200 s kept after leaving
    watched_for(room, viewer, 120)
    listed = client.get(f"{MP}/{room.pk}/gift-boxes").json()[0]
    assert listed["watched_seconds"] >= 320 and listed["opening"] is None
    first = open_box(client, room, box)
    assert first.status_code == 201, first.content
    again = open_box(client, room, box)
    assert again.status_code == 200 and again.json() == first.json()
    assert GiftBoxOpening.unscoped.filter(box=box, customer=viewer).count() == 1
    assert client.get(f"{MP}/{room.pk}/gift-boxes").json()[0]["opening"] == first.json()


def test_a_dead_socket_without_heartbeats_does_not_count(brand, room, make_customer, customer_client):
    box = make_box(brand, room, watch_minutes=1)
    viewer = make_customer(brand)
    realtime.store().watch_start(room.pk, viewer.pk, "gone", time.time() - 3600)  # never heartbeat
    assert_error(open_box(customer_client(viewer), room, box), 409, "gift_box_not_yet")


def test_persisted_viewing_sessions_count_when_the_live_store_lost_them(brand, room, make_customer, customer_client):
    from django.utils import timezone

    box = make_box(brand, room, watch_minutes=1)
    viewer = make_customer(brand)
    now = timezone.now()
    ViewingSession.objects.create(
        brand=brand, room=room, customer=viewer, socket_id="old", joined_at=now, left_at=now, seconds=90
    )
    assert open_box(customer_client(viewer), room, box).status_code == 201


def test_stock_runs_out_then_the_pool_has_the_rest(brand, room, make_customer, customer_client):
    template = make_template(brand)
    box = make_box(
        brand,
        room,
        watch_minutes=0,
        prizes=[
            {"kind": "item", "name": "Mug", "weight": 1000, "stock": 2},
            {"kind": "coupon", "name": "10 off", "weight": 1, "stock": 1, "coupon_template_id": template.pk},
        ],
    )
    results = []
    for _ in range(5):
        viewer = make_customer(brand)
        watched_for(room, viewer, 1)
        response = open_box(customer_client(viewer), room, box)
        assert response.status_code == 201
        results.append(response.json())
    kinds = Counter(r["prize"]["kind"] if r["prize"] else None for r in results)
    assert kinds == {"item": 2, "coupon": 1, None: 2}
    assert dict(GiftBoxPrize.unscoped.filter(box=box).values_list("kind", "remaining")) == {"item": 0, "coupon": 0}
    [coupon_result] = [r for r in results if r["prize"] and r["prize"]["kind"] == "coupon"]
    assert Coupon.unscoped.get(pk=coupon_result["coupon_id"]).source == "reward"


def test_weights_shape_the_draw(brand, room, make_customer):
    box = make_box(
        brand,
        room,
        watch_minutes=0,
        prizes=[
            {"kind": "thanks", "name": "rare", "weight": 1},
            {"kind": "points", "name": "common", "weight": 9, "points": 5},
        ],
    )
    names = Counter()
    for _ in range(200):
        viewer = make_customer(brand)
        watched_for(room, viewer, 1)
        opening, _ = gift_boxes.gift_box_open(brand=brand, box=box, customer=viewer)
        names[opening.prize.name] += 1
    assert 150 < names["common"] < 200 and names["rare"] > 0


def test_a_stopped_box_does_not_open_and_opening_is_rate_limited(brand, room, console, make_customer, customer_client):
    box = make_box(brand, room)
    viewer = make_customer(brand)
    client = customer_client(viewer)
    for _ in range(gift_boxes.OPENS_PER_MINUTE):
        assert_error(open_box(client, room, box), 409, "gift_box_not_yet")
    assert_error(open_box(client, room, box), 429, "gift_box_rate_limited")
    assert console.post(f"{CONSOLE}/{room.pk}/gift-boxes/{box.pk}/stop").json()["status"] == "stopped"
    assert_error(console.post(f"{CONSOLE}/{room.pk}/gift-boxes/{box.pk}/stop"), 409, "gift_box_stopped")
    other = make_customer(brand)
    watched_for(room, other, 600)
    assert_error(open_box(customer_client(other), room, box), 409, "gift_box_stopped")


def test_another_brands_room_and_box_are_not_found(
    brand, other_brand, room, rival_room, console, rival_console, make_customer, customer_client
):
    box = make_box(brand, room, watch_minutes=0)
    rival_box = make_box(other_brand, rival_room, watch_minutes=0)
    rival = make_customer(other_brand)
    watched_for(room, rival, 600)
    client = customer_client(rival)
    assert_error(open_box(client, room, box), 404, "room_not_found")
    assert_error(client.post(f"{MP}/{rival_room.pk}/gift-boxes/{box.pk}/open"), 404, "gift_box_not_found")
    assert_error(client.get(f"{MP}/{room.pk}/gift-boxes"), 404, "room_not_found")
    assert_error(rival_console.get(f"{CONSOLE}/{room.pk}/gift-boxes"), 404, "room_not_found")
    assert_error(rival_console.post(f"{CONSOLE}/{room.pk}/gift-boxes/{box.pk}/stop"), 404, "room_not_found")
    stop_mine_from_theirs = rival_console.post(f"{CONSOLE}/{rival_room.pk}/gift-boxes/{box.pk}/stop")
    assert_error(stop_mine_from_theirs, 404, "gift_box_not_found")
    body = {"title": "x", "watch_minutes": 0, "prizes": [{"kind": "thanks", "name": "x", "weight": 1}]}
    assert_error(rival_console.post(f"{CONSOLE}/{room.pk}/gift-boxes", body), 404, "room_not_found")
    assert GiftBox.unscoped.get(pk=box.pk).status == "open" and not GiftBoxOpening.unscoped.exists()
    assert [b["id"] for b in rival_console.get(f"{CONSOLE}/{rival_room.pk}/gift-boxes").json()] == [rival_box.pk]
    assert [b["id"] for b in console.get(f"{CONSOLE}/{room.pk}/gift-boxes").json()] == [box.pk]


def test_a_coupon_prize_of_another_brand_is_refused(other_brand, room, console):
    template = make_template(other_brand)
    prize = {"kind": "coupon", "name": "x", "weight": 1, "stock": 1, "coupon_template_id": template.pk}
    body = {"title": "Box", "watch_minutes": 1, "prizes": [prize]}
    assert_error(console.post(f"{CONSOLE}/{room.pk}/gift-boxes", body), 400, "invalid")


@pytest.fixture
def admin(brand, make_staff):
    client = DjangoClient()
    client.force_login(make_staff(brand, Membership.Role.OPERATOR))
    return client


def test_the_admin_shows_and_stops_only_the_brands_boxes(admin, brand, other_brand, room, rival_room, make_customer):
    mine, theirs = make_box(brand, room, watch_minutes=0), make_box(other_brand, rival_room, watch_minutes=0)
    viewer, rival = make_customer(brand), make_customer(other_brand)
    for customer, box, box_room in ((viewer, mine, room), (rival, theirs, rival_room)):
        watched_for(box_room, customer, 1)
        gift_boxes.gift_box_open(brand=box.brand, box=box, customer=customer)
    assert {o.pk for o in admin.get("/admin/livestream/giftbox/").context["cl"].result_list} == {mine.pk}
    openings = admin.get("/admin/livestream/giftboxopening/").context["cl"].result_list
    assert {o.customer_id for o in openings} == {viewer.pk}
    assert admin.get(f"/admin/livestream/giftbox/{mine.pk}/change/").status_code == 200
    assert admin.get(f"/admin/livestream/giftbox/{theirs.pk}/change/").status_code == 302
    admin.post("/admin/livestream/giftbox/", {"action": "stop", "_selected_action": [mine.pk, theirs.pk]})
    assert dict(GiftBox.unscoped.values_list("pk", "status")) == {mine.pk: "stopped", theirs.pk: "open"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_the_room_socket_records_watch_time_and_likes_for_the_server(brand, make_customer):
    from asgiref.sync import sync_to_async
    from channels.testing import WebsocketCommunicator

    from config.asgi import application
    from livestream.services.lotteries import watched_seconds
    from tenants.auth import CustomerAccessToken

    room = await sync_to_async(lambda: make_room_live(brand))()
    viewer = await sync_to_async(make_customer)(brand)
    ws = WebsocketCommunicator(application, f"/ws/rooms/{room.pk}/?token={CustomerAccessToken.for_customer(viewer)}")
    assert (await ws.connect())[0]
    assert (await ws.receive_json_from())["type"] == "snapshot"
    await ws.send_json_to({"type": "like", "data": {"count": 3}})
    await ws.send_json_to({"type": "ping", "data": {}})
    assert (await ws.receive_json_from(timeout=3))["type"] in ("pong", "likes")
    store = realtime.store()
    assert store.has_liked(room.pk, viewer.pk)
    closed, open_seconds = store.watched_seconds(room.pk, viewer.pk, time.time() + 1)
    assert closed == 0 and open_seconds > 0  # an open socket, alive by its heartbeat
    await ws.disconnect()
    await asyncio.sleep(0.05)
    closed, open_seconds = store.watched_seconds(room.pk, viewer.pk, time.time())
    assert closed > 0 and open_seconds == 0
    assert await sync_to_async(watched_seconds)(room_id=room.pk, customer_id=viewer.pk) == int(closed)


def make_room_live(brand):
    from datetime import timedelta

    from django.utils import timezone

    from livestream.models import LiveRoom

    start = timezone.now() - timedelta(minutes=5)
    return LiveRoom.objects.create(
        brand=brand,
        title="On air now",
        anchor_name="Lin",
        status="live",
        scheduled_start=start,
        scheduled_end=start + timedelta(hours=2),
    )
