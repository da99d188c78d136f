"""What a socket may send, and what happens when it may not: each comment rejection with its code
(to the sender only, never broadcast), blocked words masked or rejected, rate limits, mutes,
anonymous viewers, malformed and oversized frames, like counts, floods. After each, the server
keeps serving the room's other sockets."""

import asyncio
import json
import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
import pytest_asyncio
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from config.asgi import application
from livestream import consumers, realtime
from livestream import hub as hub_module
from livestream.models import LiveRoom, Mute
from livestream.services import live
from tenants.auth import CustomerAccessToken

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@pytest.fixture(autouse=True)
def fast_hub(monkeypatch):
    realtime.reset_store()
    monkeypatch.setattr(hub_module, "FLUSH_INTERVAL", 0.02)
    monkeypatch.setattr(hub_module, "LIKES_BROADCAST_MS", 10)
    monkeypatch.setattr(hub_module, "PERSIST_EVERY", 3600)
    yield
    realtime.reset_store()


def s(func):
    """``func`` in asgiref's worker thread, its database connection closed after it (as consumers do)."""
    return database_sync_to_async(func)


def live_room(brand, **fields):
    start = timezone.now() - timedelta(minutes=5)
    return LiveRoom.objects.create(
        brand=brand,
        title="On air now",
        anchor_name="Lin",
        status="live",
        scheduled_start=start,
        scheduled_end=start + timedelta(hours=2),
        **fields,
    )


def update(obj, **fields):
    model = type(obj)
    getattr(model, "unscoped", model.objects).filter(pk=obj.pk).update(**fields)


async def join(room, customer=None, appid=None):
    query = f"token={CustomerAccessToken.for_customer(customer)}" if customer else f"appid={appid}"
    ws = WebsocketCommunicator(application, f"/ws/rooms/{room.pk}/?{query}")
    assert (await ws.connect())[0]
    assert (await ws.receive_json_from())["type"] == "snapshot"
    await settled(ws)
    return ws


async def settled(ws):
    """Once a socket's ping is answered, the consumer has handled everything sent before it."""
    await ws.send_json_to({"type": "ping", "data": {"t": 1}})
    await next_of(ws, "pong")


async def next_of(ws, kind, timeout=3):
    """The next frame of this kind (counters broadcast on their own may come before it)."""
    async with asyncio.timeout(timeout):
        while True:
            message = await ws.receive_json_from(timeout=timeout)
            if message["type"] == kind:
                return message


async def comments_seen(ws, timeout=0.2):
    """The comments that reach a socket within a short while."""
    texts, deadline = [], time.monotonic() + 2
    while time.monotonic() < deadline and not await ws.receive_nothing(timeout=timeout):
        message = await ws.receive_json_from()
        if message["type"] == "comment":
            texts.append(message["data"]["text"])
    return texts


async def rejected(ws, text, code):
    await ws.send_json_to({"type": "comment", "data": {"text": text}})
    error = (await next_of(ws, "error"))["data"]
    assert error["code"] == code and error["message"]
    return error


async def still_serving(room, sender, bystander, text="still here"):
    """The room goes on: a comment from the bystander reaches both, the rejected one reached nobody."""
    await bystander.send_json_to({"type": "comment", "data": {"text": text}})
    for ws in (sender, bystander):
        assert (await next_of(ws, "comment"))["data"]["text"] == text


async def closed_with(ws, code):
    while True:
        message = await ws.receive_output(timeout=3)
        if message["type"] == "websocket.close":
            assert message.get("code") == code, message
            return


@pytest.fixture
def room(brand):
    return live_room(brand)


@pytest.fixture
def people(brand, make_customer):
    return make_customer(brand, nickname="Alice"), make_customer(brand, nickname="Bob")


@pytest_asyncio.fixture
async def sockets(room, people):
    alice, bob = await join(room, people[0]), await join(room, people[1])
    yield alice, bob
    for ws in (alice, bob):
        await ws.disconnect()


# --- comment rejections -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, code",
    [
        ("   ", "comment_empty"),
        ("", "comment_empty"),
        (None, "comment_empty"),
        (42, "comment_empty"),
        (["hi"], "comment_empty"),
        ("x" * 201, "comment_too_long"),
    ],
)
async def test_an_empty_or_too_long_comment_is_rejected_to_its_sender_only(room, sockets, text, code):
    alice, bob = sockets
    await rejected(alice, text, code)
    await still_serving(room, alice, bob)


async def test_the_length_limit_counts_characters_after_collapsing_spaces(room, sockets):
    alice, bob = sockets
    await alice.send_json_to({"type": "comment", "data": {"text": "好" * 99 + " " * 50 + "好" * 100}})
    assert (await next_of(bob, "comment"))["data"]["text"] == "好" * 99 + " " + "好" * 100  # 200: the limit
    await rejected(alice, "好" * 201, "comment_too_long")
    await still_serving(room, alice, bob)


async def test_comments_are_refused_while_the_room_has_them_off(brand, people, monkeypatch):
    room = await s(live_room)(brand, comments_enabled=False)
    alice, bob = await join(room, people[0]), await join(room, people[1])
    await rejected(alice, "hello?", "comments_disabled")
    assert await comments_seen(bob) == []
    await s(update)(room, comments_enabled=True)  # the operator turns them back on
    monkeypatch.setattr(consumers, "MODERATION_TTL", 0)
    await still_serving(room, alice, bob)
    await alice.disconnect()
    await bob.disconnect()


async def test_blocked_words_are_masked_when_the_brand_masks_them(brand, people):
    await s(update)(brand, blocked_words="spam\n  Cheap Pills \n\n", blocked_word_action="mask")
    room = await s(live_room)(brand)
    alice, bob = await join(room, people[0]), await join(room, people[1])
    await alice.send_json_to({"type": "comment", "data": {"text": "buy SPAM and cheap pills here"}})
    for ws in (alice, bob):
        assert (await next_of(ws, "comment"))["data"]["text"] == "buy **** and *********** here"
    await alice.disconnect()
    await bob.disconnect()


async def test_blocked_words_reject_the_comment_when_the_brand_rejects_them(brand, people):
    await s(update)(brand, blocked_words="spam", blocked_word_action="reject")
    room = await s(live_room)(brand)
    alice, bob = await join(room, people[0]), await join(room, people[1])
    await rejected(alice, "buy Spam now", "comment_blocked")
    assert await comments_seen(bob) == []
    await still_serving(room, alice, bob)
    await alice.disconnect()
    await bob.disconnect()


async def test_another_brands_blocked_words_do_not_apply(brand, other_brand, people):
    await s(update)(other_brand, blocked_words="hello", blocked_word_action="reject")
    room = await s(live_room)(brand)
    alice, bob = await join(room, people[0]), await join(room, people[1])
    await still_serving(room, alice, bob, text="hello")
    await alice.disconnect()
    await bob.disconnect()


async def test_a_customer_over_the_brands_comment_rate_is_refused(brand, people, monkeypatch):
    now = time.time()  # the rate window is a clock minute: keep the live store's clock still
    monkeypatch.setattr(
        realtime,
        "time",
        SimpleNamespace(time=lambda: now, monotonic=time.monotonic, strftime=time.strftime, gmtime=time.gmtime),
    )
    await s(update)(brand, comments_per_minute=2)
    room = await s(live_room)(brand)
    alice, bob = await join(room, people[0]), await join(room, people[1])
    for text in ("one", "two"):
        await alice.send_json_to({"type": "comment", "data": {"text": text}})
        assert (await next_of(bob, "comment"))["data"]["text"] == text
    await rejected(alice, "three", "comment_rate_limited")
    assert "three" not in await comments_seen(bob)
    await still_serving(room, alice, bob)  # Bob has a rate of his own
    await alice.disconnect()
    await bob.disconnect()


async def test_a_muted_customer_is_refused_and_may_comment_again_once_unmuted(
    brand, room, sockets, people, monkeypatch
):
    monkeypatch.setattr(consumers, "MODERATION_TTL", 0)  # sockets re-read their mute at once
    alice, bob = sockets
    mute = await s(live.mute_create)(brand=brand, customer=people[0], room=room)
    await rejected(alice, "let me talk", "muted")
    assert "let me talk" not in await comments_seen(bob)
    await still_serving(room, alice, bob)
    await s(live.mute_lift)(brand=brand, mute=mute)
    await alice.send_json_to({"type": "comment", "data": {"text": "thanks"}})
    assert (await next_of(bob, "comment"))["data"]["text"] == "thanks"


async def test_a_customer_muted_before_joining_is_refused_at_once(brand, room, people):
    await s(Mute.unscoped.create)(brand=brand, customer=people[0])  # every room of the brand
    alice, bob = await join(room, people[0]), await join(room, people[1])
    await rejected(alice, "hi", "muted")
    await still_serving(room, alice, bob)
    await alice.disconnect()
    await bob.disconnect()


async def test_an_expired_mute_no_longer_applies(brand, room, people):
    await s(Mute.unscoped.create)(
        brand=brand, customer=people[0], room=room, until=timezone.now() - timedelta(minutes=1)
    )
    alice, bob = await join(room, people[0]), await join(room, people[1])
    await still_serving(room, bob, alice, text="I am back")
    await alice.disconnect()
    await bob.disconnect()


async def test_a_mute_in_another_room_does_not_apply(brand, room, people):
    elsewhere = await s(live_room)(brand)
    await s(Mute.unscoped.create)(brand=brand, customer=people[0], room=elsewhere)
    alice, bob = await join(room, people[0]), await join(room, people[1])
    await still_serving(room, bob, alice, text="fine here")
    await alice.disconnect()
    await bob.disconnect()


async def test_anonymous_viewers_are_told_to_log_in(brand, room, people):
    anonymous, bob = await join(room, appid=brand.appid), await join(room, people[1])
    await rejected(anonymous, "hi", "login_required")
    assert await comments_seen(bob) == []
    await still_serving(room, anonymous, bob)
    await anonymous.disconnect()
    await bob.disconnect()


# --- bad frames -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "frame, code",
    [
        ("{not json", "malformed_json"),
        ("   ", "malformed_json"),
        ("[1, 2]", "invalid_event"),
        ('"comment"', "invalid_event"),
        ('{"type": "comment", "data": "hi"}', "invalid_event"),
        ('{"type": "dance"}', "unknown_event"),
        ("{}", "unknown_event"),
        ('{"type": "like", "data": {"count": 0}}', "invalid_like_count"),
        ('{"type": "like", "data": {"count": 101}}', "invalid_like_count"),
        ('{"type": "like", "data": {"count": -5}}', "invalid_like_count"),
        ('{"type": "like", "data": {"count": 2.5}}', "invalid_like_count"),
        ('{"type": "like", "data": {"count": "7"}}', "invalid_like_count"),
        ('{"type": "like", "data": {"count": true}}', "invalid_like_count"),
        ('{"type": "like", "data": {"count": null}}', "invalid_like_count"),
    ],
)
async def test_a_bad_frame_gets_an_error_and_the_socket_keeps_serving(room, sockets, frame, code):
    alice, bob = sockets
    await alice.send_to(text_data=frame)
    assert (await next_of(alice, "error"))["data"]["code"] == code
    await alice.send_json_to({"type": "like", "data": {"count": 100}})  # the bounds themselves are fine
    await alice.send_json_to({"type": "like"})  # one tap
    total = 0
    while total < 101:
        total = (await next_of(bob, "likes"))["data"]["total"]
    assert total == 101  # the bad frame added nothing
    await still_serving(room, alice, bob)


async def test_likes_are_refused_where_the_room_has_them_off(brand, people):
    room = await s(live_room)(brand, likes_enabled=False)
    alice, bob = await join(room, people[0]), await join(room, people[1])
    await alice.send_json_to({"type": "like", "data": {"count": 3}})
    assert (await next_of(alice, "error"))["data"]["code"] == "likes_disabled"
    await still_serving(room, alice, bob)
    assert realtime.store().like_totals([room.pk]) == {}
    await alice.disconnect()
    await bob.disconnect()


@pytest.mark.parametrize("text", ["x" * (consumers.MAX_FRAME + 1), "好" * 2000], ids=["ascii", "cjk-6000-bytes"])
async def test_an_oversized_frame_closes_the_socket_with_1009(room, sockets, text):
    alice, bob = sockets
    await alice.send_to(text_data=json.dumps({"type": "comment", "data": {"text": text}}, ensure_ascii=False))
    assert (await next_of(alice, "error"))["data"]["code"] == "frame_too_large"
    await closed_with(alice, 1009)
    await settled(bob)
    assert await comments_seen(bob) == []


async def test_an_oversized_binary_frame_closes_the_socket_with_1009(room, sockets):
    alice, bob = sockets
    await alice.send_to(bytes_data=b'{"type":"ping"}' + b" " * consumers.MAX_FRAME)
    assert (await next_of(alice, "error"))["data"]["code"] == "frame_too_large"
    await closed_with(alice, 1009)
    await settled(bob)


async def test_a_frame_at_the_limit_is_served(room, sockets):
    alice, bob = sockets
    frame = '{"type":"ping","data":{"t":1}}'
    await alice.send_to(text_data=frame + " " * (consumers.MAX_FRAME - len(frame)))
    assert (await next_of(alice, "pong"))["data"] == {"t": 1}


async def test_a_flooding_socket_gets_an_error_then_is_closed_and_the_room_goes_on(room, sockets):
    alice, bob = sockets
    for _ in range(consumers.FLOOD_BURST * 3):
        await alice.send_json_to({"type": "like", "data": {"count": 1}})
    assert (await next_of(alice, "error"))["data"]["code"] == "flooding"
    await closed_with(alice, 4429)
    await bob.send_json_to({"type": "comment", "data": {"text": "still here"}})
    assert (await next_of(bob, "comment"))["data"]["text"] == "still here"
    await asyncio.sleep(0.1)  # a few hub flushes
    counted = realtime.store().like_totals([room.pk])[room.pk]
    # The taps within the allowance count (less the join's ping, plus what refilled meanwhile); the rest do not.
    assert consumers.FLOOD_BURST - 5 <= counted <= consumers.FLOOD_BURST + 10


async def test_a_client_within_the_rate_is_never_cut_off(room, people, monkeypatch):
    monkeypatch.setattr(consumers, "FLOOD_RATE", 200)  # a fast refill, so the test need not wait
    monkeypatch.setattr(consumers, "FLOOD_BURST", 5)
    ws = await join(room, people[0])
    for i in range(30):  # six times the burst, at half the rate
        await ws.send_json_to({"type": "ping", "data": {"t": i}})
        assert (await next_of(ws, "pong"))["data"] == {"t": i}
        await asyncio.sleep(0.01)
    await ws.disconnect()
