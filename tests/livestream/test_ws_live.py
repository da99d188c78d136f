"""Comments and likes through the websocket and the room hub (embedded default)."""

import asyncio
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from config.asgi import application
from livestream import hub as hub_module
from livestream import realtime
from livestream.models import Comment, LiveRoom
from livestream.services import live
from tenants.auth import CustomerAccessToken

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@pytest.fixture(autouse=True)
def fast_hub(monkeypatch):
    realtime.reset_store()
    monkeypatch.setattr(hub_module, "FLUSH_INTERVAL", 0.02)
    monkeypatch.setattr(hub_module, "LIKES_BROADCAST_MS", 10)
    yield
    realtime.reset_store()


def live_room(brand):
    start = timezone.now() - timedelta(minutes=5)
    return LiveRoom.objects.create(
        brand=brand,
        title="On air now",
        anchor_name="Lin",
        status="live",
        scheduled_start=start,
        scheduled_end=start + timedelta(hours=2),
    )


async def join(room, customer):
    path = f"/ws/rooms/{room.pk}/?token={CustomerAccessToken.for_customer(customer)}"
    ws = WebsocketCommunicator(application, path)
    assert (await ws.connect())[0]
    assert (await ws.receive_json_from())["type"] == "snapshot"
    return ws


async def next_of(ws, kind, timeout=3):
    while True:
        message = await ws.receive_json_from(timeout=timeout)
        if message["type"] == kind:
            return message


async def test_a_comment_reaches_every_viewer_and_is_persisted_in_a_batch(brand, make_customer):
    room = await sync_to_async(live_room)(brand)
    alice = await sync_to_async(make_customer)(brand, nickname="Alice")
    bob = await sync_to_async(make_customer)(brand, nickname="Bob")
    a, b = await join(room, alice), await join(room, bob)
    await a.send_json_to({"type": "comment", "data": {"text": "  hello   there "}})
    for ws in (a, b):
        event = await next_of(ws, "comment")
        assert event["data"]["text"] == "hello there" and event["data"]["customer"]["nickname"] == "Alice"
    assert await sync_to_async(Comment.unscoped.count)() == 0  # nothing written on the hot path
    assert await sync_to_async(live.comments_flush)() == 1
    assert await sync_to_async(Comment.unscoped.get)(room=room, customer=alice)
    await a.disconnect()
    await b.disconnect()


async def test_likes_add_up_and_the_total_is_broadcast(brand, make_customer):
    room = await sync_to_async(live_room)(brand)
    viewer = await join(room, await sync_to_async(make_customer)(brand))
    for _ in range(3):
        await viewer.send_json_to({"type": "like", "data": {"count": 5}})
    seen = 0
    while seen < 15:
        seen = (await next_of(viewer, "likes"))["data"]["total"]
    assert seen == 15
    await sync_to_async(live.counters_flush)()
    await sync_to_async(room.refresh_from_db)()
    assert room.like_total == 15 and sum(room.likes_per_minute.values()) == 15
    await viewer.disconnect()


async def test_bad_frames_get_errors_and_the_socket_keeps_serving(brand, make_customer):
    room = await sync_to_async(live_room)(brand)
    viewer = await join(room, await sync_to_async(make_customer)(brand))
    await viewer.send_to(text_data="{not json")
    assert (await next_of(viewer, "error"))["data"]["code"] == "malformed_json"
    await viewer.send_json_to({"type": "dance"})
    assert (await next_of(viewer, "error"))["data"]["code"] == "unknown_event"
    await viewer.send_json_to({"type": "like", "data": {"count": 1000}})
    assert (await next_of(viewer, "error"))["data"]["code"] == "invalid_like_count"
    await viewer.send_json_to({"type": "ping", "data": {"t": 7}})
    assert (await next_of(viewer, "pong"))["data"]["t"] == 7
    await viewer.disconnect()


async def test_anonymous_viewers_watch_but_cannot_comment(brand):
    room = await sync_to_async(live_room)(brand)
    ws = WebsocketCommunicator(application, f"/ws/rooms/{room.pk}/?appid={brand.appid}")
    assert (await ws.connect())[0]
    assert (await ws.receive_json_from())["type"] == "snapshot"
    await ws.send_json_to({"type": "comment", "data": {"text": "hi"}})
    assert (await next_of(ws, "error"))["data"]["code"] == "login_required"
    await ws.disconnect()
    await asyncio.sleep(0)
