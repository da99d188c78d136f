"""Persisting the live store: counters (one UPDATE per changed room, totals never lower), comments
and viewing sessions in batches that are safe to retry, the Celery task that runs them, and
online counts from heartbeats that expire (a process that dies leaves nothing behind)."""

import json
import time
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from config.asgi import application
from livestream import hub as hub_module
from livestream import realtime
from livestream.models import Comment, LiveRoom, ViewingSession
from livestream.services import festivals, live
from livestream.tasks import flush_live_state
from tenants.auth import CustomerAccessToken

NOW = 1_800_000_000.0  # a fixed moment: 2027-01-15T08:00:00Z


@pytest.fixture(autouse=True)
def fresh_store(monkeypatch):
    realtime.reset_store()
    monkeypatch.setattr(hub_module, "FLUSH_INTERVAL", 0.02)
    monkeypatch.setattr(hub_module, "LIKES_BROADCAST_MS", 10)
    monkeypatch.setattr(hub_module, "PERSIST_EVERY", 3600)  # the tests flush when they mean to
    yield
    realtime.reset_store()


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


def updates(captured):
    return [q["sql"] for q in captured.captured_queries if q["sql"].lstrip().upper().startswith("UPDATE")]


# --- counters ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_counters_flush_writes_one_update_per_room_that_changed(brand):
    a, b, quiet = live_room(brand), live_room(brand), live_room(brand)
    store = realtime.store()
    store.add_likes({a.pk: 5, b.pk: 3}, NOW)
    store.add_likes({a.pk: 2}, NOW + 60)
    store.record_peak(a.pk, 4)
    with CaptureQueriesContext(connection) as captured:
        assert live.counters_flush() == 2
    assert len(updates(captured)) == 2
    a, b, quiet = (LiveRoom.unscoped.get(pk=r.pk) for r in (a, b, quiet))
    assert (a.like_total, a.peak_online, a.likes_per_minute) == (
        7,
        4,
        {realtime.minute_of(NOW): 5, realtime.minute_of(NOW + 60): 2},
    )
    assert (b.like_total, b.peak_online, b.likes_per_minute) == (3, 0, {realtime.minute_of(NOW): 3})
    assert (quiet.like_total, quiet.likes_per_minute) == (0, {})

    with CaptureQueriesContext(connection) as captured:
        assert live.counters_flush() == 0  # nothing changed since: nothing written
    assert updates(captured) == []


@pytest.mark.django_db
def test_counters_flush_never_lowers_what_the_database_kept(brand):
    """A flush after the live store lost its state (Redis flushed, the embedded process restarted)."""
    room = live_room(brand, like_total=1000, peak_online=50, likes_per_minute={"2027-01-15T07:00": 990})
    store = realtime.store()
    store.add_likes({room.pk: 5}, NOW)
    store.record_peak(room.pk, 3)
    live.counters_flush()
    room.refresh_from_db()
    assert (room.like_total, room.peak_online) == (1000, 50)
    assert room.likes_per_minute == {"2027-01-15T07:00": 990, realtime.minute_of(NOW): 5}


@pytest.mark.django_db
def test_a_lower_peak_does_not_mark_the_room_changed(brand):
    room = live_room(brand)
    store = realtime.store()
    assert store.record_peak(room.pk, 4) == 4
    live.counters_flush()
    assert store.record_peak(room.pk, 2) == 4
    assert live.counters_flush() == 0
    assert LiveRoom.unscoped.get(pk=room.pk).peak_online == 4


# --- comments and viewing sessions --------------------------------------------------------------------


def submit(brand, room, customer, text):
    moderation = live.Moderation.for_room(LiveRoom.unscoped.select_related("brand").get(pk=room.pk))
    return live.comment_submit(brand=brand, room_id=room.pk, customer=customer, text=text, moderation=moderation)


@pytest.mark.django_db
def test_comments_flush_writes_each_comment_once_even_if_queued_twice(brand, make_customer):
    room, alice = live_room(brand), make_customer(brand)
    first, second = submit(brand, room, alice, "hello"), submit(brand, room, alice, "again")
    store = realtime.store()
    store.queue_comments([json.dumps({"brand": brand.pk, **first, "customer": alice.pk})])  # a retried batch
    assert live.comments_flush() == 3
    assert list(Comment.unscoped.order_by("id").values_list("id", "text", "room_id", "customer_id", "brand_id")) == [
        (first["id"], "hello", room.pk, alice.pk, brand.pk),
        (second["id"], "again", room.pk, alice.pk, brand.pk),
    ]
    assert live.comments_flush() == 0  # the queue is empty: a second run writes nothing


@pytest.mark.django_db
def test_a_comment_batch_the_database_could_not_take_is_written_by_the_next_run(brand, make_customer, monkeypatch):
    room, alice = live_room(brand), make_customer(brand)
    accepted = submit(brand, room, alice, "keep me")
    original = Comment.objects.bulk_create

    def database_down(*args, **kwargs):
        raise OperationalError("connection lost")

    monkeypatch.setattr(Comment.objects, "bulk_create", database_down)
    with pytest.raises(OperationalError):
        live.comments_flush()
    monkeypatch.setattr(Comment.objects, "bulk_create", original)
    assert live.comments_flush() == 1
    assert list(Comment.unscoped.values_list("id", "text")) == [(accepted["id"], "keep me")]


def record(brand, room, customer, socket_id, joined, left, source=None):
    live.session_record(
        brand_id=brand.pk,
        room_id=room.pk,
        customer_id=customer.pk if customer else None,
        socket_id=socket_id,
        source=source or {"kind": "direct"},
        joined_at=joined,
        left_at=left,
    )


@pytest.mark.django_db
def test_sessions_flush_writes_each_socket_once_even_if_queued_twice(brand, make_customer):
    room, alice = live_room(brand), make_customer(brand)
    record(brand, room, alice, "s1", NOW, NOW + 95.7)
    record(brand, room, None, "s2", NOW, NOW + 3)
    record(brand, room, alice, "s1", NOW, NOW + 95.7)  # a retried batch
    assert live.sessions_flush() == 3
    rows = ViewingSession.unscoped.order_by("socket_id")
    assert [(s.socket_id, s.customer_id, s.seconds, s.source_kind) for s in rows] == [
        ("s1", alice.pk, 95, "direct"),
        ("s2", None, 3, "direct"),
    ]
    assert live.sessions_flush() == 0


@pytest.mark.django_db
def test_a_session_batch_the_database_could_not_take_is_written_by_the_next_run(brand, monkeypatch):
    room = live_room(brand)
    record(brand, room, None, "s1", NOW, NOW + 10)
    original = live._session_rows

    def database_down(*args, **kwargs):
        raise OperationalError("connection lost")

    monkeypatch.setattr(live, "_session_rows", database_down)
    with pytest.raises(OperationalError):
        live.sessions_flush()
    monkeypatch.setattr(live, "_session_rows", original)
    assert live.sessions_flush() == 1
    assert ViewingSession.unscoped.get().socket_id == "s1"


@pytest.mark.django_db
def test_the_periodic_task_persists_everything_and_is_safe_to_run_twice(brand, make_customer):
    room, alice = live_room(brand), make_customer(brand)
    store = realtime.store()
    store.add_likes({room.pk: 9}, NOW)
    submit(brand, room, alice, "saved by the task")
    record(brand, room, alice, "s1", NOW, NOW + 30)
    first = {"rooms": 1, "comments": 1, "sessions": 1, "open_sessions": 0, "clicks": 0}
    assert flush_live_state.delay().get() == first
    assert flush_live_state.delay().get() == dict.fromkeys(first, 0)
    assert LiveRoom.unscoped.get(pk=room.pk).like_total == 9
    assert Comment.unscoped.get().text == "saved by the task"
    assert ViewingSession.unscoped.get().seconds == 30


# --- online viewers ------------------------------------------------------------------------------------


def test_online_counts_sockets_whose_heartbeat_has_not_expired(live_store):
    room, other = 424242, 434343
    ttl = realtime.ONLINE_TTL_S
    live_store.heartbeat({room: ["s1", "s2"], other: ["s3"]}, NOW)
    assert live_store.online([room, other], NOW + ttl - 1) == {room: 2, other: 1}
    live_store.heartbeat({room: ["s1"]}, NOW + 20)  # s1 is still connected; s2's process died
    assert live_store.online([room], NOW + ttl + 1) == {room: 1}
    assert live_store.online([room, other], NOW + 20 + ttl + 1) == {room: 0, other: 0}


def test_a_leave_counts_at_once_and_the_peak_is_kept(live_store):
    room = 424242
    live_store.heartbeat({room: ["s1", "s2", "s3"]}, NOW)
    assert live_store.record_peak(room, live_store.online([room], NOW)[room]) == 3
    live_store.leave(room, "s2")
    online = live_store.online([room], NOW + 1)[room]
    assert online == 2
    assert live_store.record_peak(room, online) == 3
    assert live_store.peaks([room]) == {room: 3}


# --- viewing sessions from the socket ------------------------------------------------------------------


@pytest.fixture
def festival_room(brand, make_room):
    room = make_room(brand, status="live")
    now = timezone.now()
    festival = festivals.festival_create(
        name="618", starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=1)
    )
    venue = festivals.festival_invite(festival=festival, brand=brand)
    festivals.venue_join(brand=brand, venue=venue, room=room)
    festival = festivals.festival_set_main_room(festival=festival, room_id=room.pk)
    festivals.festival_publish(festival=festival)
    return room, festival


async def watch(room, customer, query=""):
    path = f"/ws/rooms/{room.pk}/?token={CustomerAccessToken.for_customer(customer)}{query}"
    ws = WebsocketCommunicator(application, path)
    assert (await ws.connect())[0]
    assert (await ws.receive_json_from())["type"] == "snapshot"
    await ws.send_json_to({"type": "ping"})
    while (await ws.receive_json_from())["type"] != "pong":  # once answered, connect has finished
        pass
    return ws


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_each_socket_leaves_one_viewing_session_with_its_source(brand, festival_room, make_customer):
    room, festival = festival_room
    alice = await database_sync_to_async(make_customer)(brand)
    started = time.time()
    for query in (f"&source=festival:{festival.pk}", "", "&source=festival:999999"):
        ws = await watch(room, alice, query)
        await ws.disconnect()
    assert await database_sync_to_async(live.sessions_flush)() == 3
    sessions = await database_sync_to_async(list)(ViewingSession.unscoped.order_by("joined_at", "pk"))
    assert [(s.source_kind, s.festival_id, s.referring_room_id) for s in sessions] == [
        ("festival", festival.pk, room.pk),
        ("direct", None, None),
        ("unknown", None, None),
    ]
    assert len({s.socket_id for s in sessions}) == 3
    for session in sessions:
        assert (session.room_id, session.customer_id, session.brand_id) == (room.pk, alice.pk, brand.pk)
        assert started - 1 <= session.joined_at.timestamp() <= session.left_at.timestamp() <= time.time() + 1


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_likes_continue_from_the_persisted_total_after_the_live_store_lost_it(brand, make_customer):
    """The embedded process restarted (or Redis was flushed): the room's total must not drop."""
    room = await database_sync_to_async(live_room)(brand, like_total=1000)
    ws = await watch(room, await database_sync_to_async(make_customer)(brand))
    await ws.send_json_to({"type": "like", "data": {"count": 5}})
    while True:
        message = await ws.receive_json_from(timeout=3)
        if message["type"] == "likes":
            break
    assert message["data"]["total"] == 1005
    await database_sync_to_async(live.counters_flush)()
    assert (await database_sync_to_async(LiveRoom.unscoped.get)(pk=room.pk)).like_total == 1005
    await ws.disconnect()
