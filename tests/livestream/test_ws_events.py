"""What viewers' sockets receive: the snapshot on connect, every room event the live-room services
publish (status, push, sale, co-stream, hidden and pinned comments), likes and viewers counts, tick
mode, and rooms that are over. Services run through ``database_sync_to_async`` outside any transaction of
the test, so their on-commit publications fire as in production."""

import asyncio
import time
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from config.asgi import application
from livestream import hub as hub_module
from livestream import realtime
from livestream.models import Comment, CoStream, LiveRoom
from livestream.services import costreams, live, room_products, rooms
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


async def connect(room, customer, query=""):
    ws = WebsocketCommunicator(
        application, f"/ws/rooms/{room.pk}/?token={CustomerAccessToken.for_customer(customer)}{query}"
    )
    assert (await ws.connect())[0]
    snapshot = await ws.receive_json_from()
    assert snapshot["type"] == "snapshot"
    return ws, snapshot["data"]


async def settled(ws):
    """The consumer handles a socket's frames one at a time: once it answers a ping, it has finished
    with everything sent before (connecting included)."""
    await ws.send_json_to({"type": "ping"})
    assert (await next_of(ws, "pong"))["type"] == "pong"


async def join(room, customer):
    """A socket in the room: the snapshot read and the hub joined."""
    ws, snapshot = await connect(room, customer)
    await settled(ws)
    return ws, snapshot


async def next_of(ws, kind, timeout=3):
    """The next frame of this kind (counters broadcast on their own may come before it)."""
    async with asyncio.timeout(timeout):
        while True:
            message = await ws.receive_json_from(timeout=timeout)
            if message["type"] == kind:
                return message


async def none_of(ws, kinds, timeout=0.2):
    """No frame of these kinds arrives for a while (counters may: they are broadcast on their own)."""
    seen, deadline = [], time.monotonic() + 2
    while time.monotonic() < deadline and not await ws.receive_nothing(timeout=timeout):
        seen.append((await ws.receive_json_from())["type"])
    assert not set(seen) & set(kinds), seen
    return True


async def closed_with(ws, code):
    message = await ws.receive_output(timeout=3)
    assert message == {"type": "websocket.close", "code": code}


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


def submitted(room_id, text):
    """A comment the flush has persisted (and so an operator can act on)."""
    live.comments_flush()
    return Comment.unscoped.get(room_id=room_id, text=text)


# --- the snapshot ---------------------------------------------------------------------------------------


async def test_the_snapshot_has_the_room_product_counters_and_the_conversation(brand, make_customer, make_product):
    room = await s(live_room)(brand, like_total=7)
    product = await s(make_product)(brand, name="Silk scarf", price=9900)
    await s(room_products.room_products_add)(brand=brand, room=room, product_ids=[product.pk])
    await s(room_products.room_product_push)(brand=brand, room=room, product_id=product.pk)
    alice = await s(make_customer)(brand, nickname="Alice")
    a, _ = await join(room, alice)
    await a.send_json_to({"type": "like", "data": {"count": 3}})
    assert (await next_of(a, "likes"))["data"]["total"] == 10  # on from the saved 7
    await a.send_json_to({"type": "comment", "data": {"text": "first!"}})
    first = (await next_of(a, "comment"))["data"]
    await settled(a)  # queued for the flush
    pinned = await s(submitted)(room.pk, "first!")
    await s(live.comment_pin)(brand=brand, comment=pinned)
    assert (await next_of(a, "comment.pinned"))["data"]["comment"]["id"] == first["id"]
    await a.send_json_to({"type": "comment", "data": {"text": "second"}})
    second = (await next_of(a, "comment"))["data"]
    await settled(a)  # remembered for the snapshots of those who join later

    b, snapshot = await join(room, await s(make_customer)(brand, nickname="Bob"))
    assert snapshot["room"]["id"] == room.pk and snapshot["room"]["status"] == "live"
    assert snapshot["room"]["comments_enabled"] and snapshot["room"]["fanout_mode"] == "each"
    assert snapshot["pushed_product"]["id"] == product.pk and snapshot["pushed_product"]["name"] == "Silk scarf"
    assert (snapshot["likes"], snapshot["online"]) == (10, 1)  # Alice is in; Bob joins after his snapshot
    assert snapshot["comments"] == [{"type": "comment", "data": first}, {"type": "comment", "data": second}]
    assert (snapshot["pinned_comment"]["id"], snapshot["pinned_comment"]["text"]) == (first["id"], "first!")
    assert snapshot["pinned_comment"]["customer"]["nickname"] == "Alice"
    await a.disconnect()
    await b.disconnect()


async def test_the_snapshot_keeps_only_the_last_comments(brand, make_customer, monkeypatch):
    monkeypatch.setattr(realtime, "RECENT_COMMENTS", 3)
    room = await s(live_room)(brand)
    store = realtime.store()
    for i in range(5):
        store.remember_comment(room.pk, realtime.encode("comment", {"id": i, "room_id": room.pk, "text": f"c{i}"}))
    ws, snapshot = await connect(room, await s(make_customer)(brand))
    assert [c["data"]["text"] for c in snapshot["comments"]] == ["c2", "c3", "c4"]
    assert snapshot["pinned_comment"] is None and snapshot["pushed_product"] is None
    await ws.disconnect()


# --- room events from the services -----------------------------------------------------------------------


async def test_viewers_follow_the_show_starting_pausing_resuming_and_ending(brand, make_room, make_customer):
    room = await s(make_room)(brand)
    ws, snapshot = await join(room, await s(make_customer)(brand))
    assert snapshot["room"]["status"] == "scheduled"
    for action, status in (
        (rooms.room_start, "live"),
        (rooms.room_pause, "paused"),
        (rooms.room_resume, "live"),
        (rooms.room_end, "ended"),
    ):
        await s(action)(brand=brand, room=room)
        event = (await next_of(ws, "room.status"))["data"]
        assert (event["room_id"], event["status"]) == (room.pk, status)
    assert event["started_at"] and event["ended_at"]
    await ws.disconnect()


async def test_viewers_see_products_pushed_and_put_on_and_off_sale(brand, make_room, make_product, make_customer):
    room = await s(make_room)(brand, status="live")
    scarf, hat = await s(make_product)(brand, name="Scarf"), await s(make_product)(brand, name="Hat")
    await s(room_products.room_products_add)(brand=brand, room=room, product_ids=[scarf.pk, hat.pk])
    ws, _ = await join(room, await s(make_customer)(brand))

    await s(room_products.room_product_push)(brand=brand, room=room, product_id=scarf.pk)
    pushed = (await next_of(ws, "product.push"))["data"]
    assert (pushed["room_id"], pushed["product"]["id"], pushed["product"]["name"]) == (room.pk, scarf.pk, "Scarf")

    await s(room_products.room_product_set_sale)(brand=brand, room=room, product_id=scarf.pk, on_sale=False)
    assert (await next_of(ws, "product.push"))["data"] == {"room_id": room.pk, "product": None}  # no longer shown
    assert (await next_of(ws, "product.sale"))["data"] == {"room_id": room.pk, "product_id": scarf.pk, "on_sale": False}
    await s(room_products.room_product_set_sale)(brand=brand, room=room, product_id=scarf.pk, on_sale=True)
    assert (await next_of(ws, "product.sale"))["data"] == {"room_id": room.pk, "product_id": scarf.pk, "on_sale": True}
    await s(room_products.room_product_remove)(brand=brand, room=room, product_id=hat.pk)
    assert (await next_of(ws, "product.sale"))["data"] == {"room_id": room.pk, "product_id": hat.pk, "on_sale": False}
    await ws.disconnect()


async def test_a_refused_push_publishes_nothing(brand, make_room, make_product, make_customer):
    room = await s(make_room)(brand, status="live")
    scarf = await s(make_product)(brand)
    await s(room_products.room_products_add)(brand=brand, room=room, product_ids=[scarf.pk])
    await s(room_products.room_product_set_sale)(brand=brand, room=room, product_id=scarf.pk, on_sale=False)
    ws, _ = await join(room, await s(make_customer)(brand))
    with pytest.raises(Exception, match="on sale"):
        await s(room_products.room_product_push)(brand=brand, room=room, product_id=scarf.pk)
    assert await none_of(ws, ["product.push", "product.sale"])
    await ws.disconnect()


async def test_a_costream_reaches_both_rooms_and_so_does_each_rooms_push(
    brand, other_brand, make_room, make_product, make_customer
):
    ours, theirs = await s(make_room)(brand, status="live"), await s(make_room)(other_brand, status="live")
    scarf, hat = await s(make_product)(brand, name="Scarf"), await s(make_product)(other_brand, name="Hat")
    await s(room_products.room_products_add)(brand=brand, room=ours, product_ids=[scarf.pk])
    await s(room_products.room_products_add)(brand=other_brand, room=theirs, product_ids=[hat.pk])
    a, _ = await join(ours, await s(make_customer)(brand))
    b, _ = await join(theirs, await s(make_customer)(other_brand))

    costream = await s(costreams.costream_invite)(brand=brand, room=ours, room_code=theirs.costream_code)
    for ws, partner in ((a, theirs), (b, ours)):
        event = (await next_of(ws, "costream"))["data"]
        assert (event["costream_id"], event["status"], event["partner"]["room_id"]) == (
            costream.pk,
            "invited",
            partner.pk,
        )
    await s(costreams.costream_accept)(brand=other_brand, costream=costream)
    for ws in (a, b):
        assert (await next_of(ws, "costream"))["data"]["status"] == "accepted"

    await s(room_products.room_product_push)(brand=brand, room=ours, product_id=scarf.pk)
    await s(room_products.room_product_push)(brand=other_brand, room=theirs, product_id=hat.pk)
    for ws in (a, b):
        seen = [(await next_of(ws, "product.push"))["data"] for _ in range(2)]
        assert {(d["room_id"], d["product"]["name"]) for d in seen} == {(ours.pk, "Scarf"), (theirs.pk, "Hat")}

    await s(costreams.costream_end)(brand=brand, costream=await s(CoStream.unscoped.get)(pk=costream.pk))
    for ws in (a, b):
        assert (await next_of(ws, "costream"))["data"]["status"] == "ended"
    await s(room_products.room_product_push)(brand=brand, room=ours, product_id=None)
    assert (await next_of(a, "product.push"))["data"] == {"room_id": ours.pk, "product": None}
    assert await none_of(b, ["product.push"])  # linked no more: the other room is left alone
    await a.disconnect()
    await b.disconnect()


async def test_a_hidden_comment_is_withdrawn_from_screens_and_stays_out_of_snapshots(brand, make_customer):
    room = await s(live_room)(brand)
    alice, bob = await s(make_customer)(brand), await s(make_customer)(brand)
    a, _ = await join(room, alice)
    b, _ = await join(room, bob)
    await a.send_json_to({"type": "comment", "data": {"text": "rude words"}})
    comment_id = (await next_of(b, "comment"))["data"]["id"]
    await settled(a)
    await s(live.comment_hide)(brand=brand, comment=await s(submitted)(room.pk, "rude words"))
    for ws in (a, b):
        assert (await next_of(ws, "comment.hidden"))["data"] == {"room_id": room.pk, "id": comment_id}
    c, snapshot = await connect(room, await s(make_customer)(brand))
    assert snapshot["comments"] == []
    for ws in (a, b, c):
        await ws.disconnect()


async def test_a_mute_reaches_the_room_as_an_event(brand, make_customer):
    room = await s(live_room)(brand)
    alice = await s(make_customer)(brand)
    ws, _ = await join(room, alice)
    await s(live.mute_create)(brand=brand, customer=alice, room=room)
    assert (await next_of(ws, "customer.muted"))["data"] == {"room_id": room.pk, "customer_id": alice.pk}
    await ws.disconnect()


# --- likes and viewers --------------------------------------------------------------------------------------


async def test_the_like_total_is_broadcast_at_most_once_an_interval_and_the_last_one_arrives(
    brand, make_customer, monkeypatch
):
    monkeypatch.setattr(hub_module, "LIKES_BROADCAST_MS", 250)
    room = await s(live_room)(brand)
    tapper, _ = await join(room, await s(make_customer)(brand))
    watcher, _ = await join(room, await s(make_customer)(brand))
    started = time.monotonic()
    for _ in range(10):  # half a second of taps, in batches
        await tapper.send_json_to({"type": "like", "data": {"count": 2}})
        await asyncio.sleep(0.05)
    totals = []
    while not totals or totals[-1] < 20:
        totals.append((await next_of(watcher, "likes", timeout=2))["data"]["total"])
    elapsed = time.monotonic() - started
    assert totals == sorted(totals) and totals[-1] == 20  # the last taps are announced too
    assert len(totals) <= elapsed / 0.25 + 1
    await tapper.disconnect()
    await watcher.disconnect()


async def test_viewers_are_told_how_many_are_online_and_the_peak(brand, make_customer, monkeypatch):
    monkeypatch.setattr(hub_module, "VIEWERS_BROADCAST_MS", 10)
    room = await s(live_room)(brand)
    a, _ = await join(room, await s(make_customer)(brand))
    b, _ = await join(room, await s(make_customer)(brand))
    event = await next_of(a, "viewers")
    while event["data"]["online"] < 2:
        event = await next_of(a, "viewers")
    assert event["data"] == {"room_id": room.pk, "online": 2, "peak": 2}
    await b.disconnect()
    event = await next_of(a, "viewers")
    while event["data"]["online"] > 1:
        event = await next_of(a, "viewers")
    assert event["data"] == {"room_id": room.pk, "online": 1, "peak": 2}
    await a.disconnect()


# --- tick mode --------------------------------------------------------------------------------------------


def burst(room_id):
    """Twenty comments, two like totals and a status change, published as fast as they come."""
    store = realtime.store()
    for i in range(20):
        store.publish(room_id, realtime.encode("comment", {"id": 1000 + i, "room_id": room_id, "text": f"c{i}"}))
    store.publish(room_id, realtime.encode("likes", {"room_id": room_id, "total": 5}))
    store.publish(room_id, realtime.encode("room.status", {"room_id": room_id, "status": "paused"}))
    store.publish(room_id, realtime.encode("likes", {"room_id": room_id, "total": 9}))


async def test_tick_mode_coalesces_events_into_bounded_frames(brand, make_customer, monkeypatch):
    monkeypatch.setattr(hub_module, "TICK_SECONDS", 0.05)
    monkeypatch.setattr(hub_module, "TICK_COMMENTS", 3)
    room = await s(live_room)(brand, fanout_mode="ticks")
    ws, snapshot = await join(room, await s(make_customer)(brand))
    assert snapshot["room"]["fanout_mode"] == "ticks"
    await s(burst)(room.pk)
    ticks = []
    while not ticks or not any(e["type"] == "likes" and e["data"]["total"] == 9 for e in ticks[-1]):
        frame = await ws.receive_json_from(timeout=2)
        assert frame["type"] == "tick"  # nothing reaches the socket one by one
        ticks.append(frame["data"]["events"])
    for events in ticks:
        assert sum(e["type"] == "comment" for e in events) <= 3
        assert sum(e["type"] == "likes" for e in events) <= 1  # only the latest total of a tick
    comments = [e["data"]["text"] for events in ticks for e in events if e["type"] == "comment"]
    assert 3 <= len(comments) <= 3 * len(ticks) < 20 and len(set(comments)) == len(comments)
    statuses = [e["data"] for events in ticks for e in events if e["type"] == "room.status"]
    assert statuses == [{"room_id": room.pk, "status": "paused"}]  # status events are never dropped
    await ws.disconnect()


async def test_in_tick_mode_the_author_sees_their_own_comment_at_once(brand, make_customer, monkeypatch):
    monkeypatch.setattr(hub_module, "TICK_SECONDS", 0.05)
    room = await s(live_room)(brand, fanout_mode="ticks")
    author, _ = await join(room, await s(make_customer)(brand, nickname="Alice"))
    watcher, _ = await join(room, await s(make_customer)(brand))
    await author.send_json_to({"type": "comment", "data": {"text": "look at me"}})
    own = await next_of(author, "comment", timeout=2)  # a frame of its own, not (only) in a tick
    assert own["data"]["text"] == "look at me"
    seen = []
    while not seen:
        events = (await next_of(watcher, "tick"))["data"]["events"]
        seen = [e["data"]["text"] for e in events if e["type"] == "comment"]
    assert seen == ["look at me"]
    await author.disconnect()
    await watcher.disconnect()


# --- rooms that are over -----------------------------------------------------------------------------------


def ban(room):
    return rooms.room_ban(room=room, reason="Broke the rules")


@pytest.mark.parametrize("status", ["ended", "cancelled", "banned"])
async def test_a_room_that_is_over_sends_its_final_state_and_closes(brand, make_room, make_customer, status):
    room = await s(make_room)(brand, status="live" if status == "banned" else status)
    if status == "banned":
        room = await s(ban)(room)
    ws, snapshot = await connect(room, await s(make_customer)(brand))
    assert snapshot["room"]["status"] == status and snapshot["room"]["id"] == room.pk
    await closed_with(ws, 4409)
    assert realtime.store().online([room.pk], time.time()) == {room.pk: 0}  # never counted as watching
