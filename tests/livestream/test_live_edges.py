"""The live room's edges (issue 21): text PostgreSQL cannot store, a flush that fails on one row,
sockets that close without a goodbye, and viewers counted once however many sockets they open.

Frames are checked by property: whatever JSON text a client sends gets an answer in the protocol
(``pong``, ``error``, a broadcast), every frame the server sends encodes as UTF-8, and the
consumer never raises."""

import asyncio
import json
import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from livestream import consumers, realtime
from livestream import hub as hub_module
from livestream.models import Comment, LiveRoom, ViewingSession
from livestream.services import live
from tests.livestream.test_ws_moderation import join, next_of, s, still_serving

NOW = 1_800_000_000.0


@pytest.fixture(autouse=True)
def fresh_store(monkeypatch):
    realtime.reset_store()
    monkeypatch.setattr(hub_module, "FLUSH_INTERVAL", 0.02)
    monkeypatch.setattr(hub_module, "LIKES_BROADCAST_MS", 10)
    monkeypatch.setattr(hub_module, "PERSIST_EVERY", 3600)
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


# --- frames: any JSON text gets an answer in the protocol ------------------------------------------

any_char = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, categories=None)  # surrogates and NUL too
any_text = st.text(any_char, max_size=40)
json_value = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | any_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=10,
)
frame_data = st.fixed_dictionaries({}, optional={"text": json_value, "count": json_value, "t": json_value})
envelope = st.fixed_dictionaries(
    {"type": st.sampled_from(["comment", "like", "ping"]) | any_text}, optional={"data": frame_data | json_value}
)
frames = (
    envelope.map(lambda m: json.dumps(m, ensure_ascii=True))  # lone surrogates written as \ud800 escapes
    | json_value.map(lambda v: json.dumps(v, ensure_ascii=True))
    | st.text(any_char, max_size=60)  # mostly not JSON at all
)


class Probe(consumers.RoomConsumer):
    """A joined consumer with no socket behind it: what it sends is collected."""

    def __init__(self, room, customer):
        super().__init__()
        self.room, self.customer, self.brand = room, customer, SimpleNamespace(pk=room.brand_id)
        self.scope = {}  # as a socket without ?lang= has: English messages
        self.viewer = SimpleNamespace(id="probe")
        self.allowance, self.allowance_at = 1e9, time.monotonic()
        self.moderation = live.Moderation(True, None, "mask", 10**9)
        self.muted, self.checked_at = False, time.monotonic()
        self.sent: list[str] = []

    async def send(self, text_data=None, bytes_data=None, close=False):
        self.sent.append(text_data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frame=frames, binary=st.booleans())
def test_any_frame_is_answered_in_the_protocol(frame, binary):
    realtime._store = local = realtime.LocalStore()  # the consumer's rules, not Redis's: no server behind the probe
    local.last_comment_id = 1  # and no database
    room = SimpleNamespace(pk=1, brand_id=1, likes_enabled=True, fanout_mode=LiveRoom.FanoutMode.EACH)
    customer = SimpleNamespace(pk=7, nickname="Ann", avatar_url="")
    probe = Probe(room, customer)

    async def send():
        if binary:
            await probe.receive(bytes_data=frame.encode("utf-8", "surrogatepass"))
        else:
            await probe.receive(text_data=frame)

    asyncio.run(send())
    for sent in probe.sent:
        message = json.loads(sent.encode("utf-8").decode())  # every frame is valid UTF-8 JSON
        assert message["type"] in {"pong", "error", "comment"} and isinstance(message["data"], dict)
    for payload in local.comments:  # whatever was queued, PostgreSQL can store
        assert "\x00" not in payload and payload.encode()
    realtime.reset_store()


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
@pytest.mark.parametrize("text", ["\\u0000", "bad \\ud800 half", "\\udfff", "fine \\ud83d"])
async def test_a_comment_postgresql_cannot_store_is_refused_and_the_socket_goes_on(brand, make_customer, text):
    """Before: the NUL comment was broadcast, then broke its whole flush batch; the surrogate ended
    the socket with 1006 (UnicodeEncodeError on publish)."""
    room = await s(live_room)(brand)
    alice, bob = await s(make_customer)(brand), await s(make_customer)(brand)
    a, b = await join(room, alice), await join(room, bob)
    await a.send_to(text_data='{"type": "comment", "data": {"text": "' + text + '"}}')
    error = (await next_of(a, "error"))["data"]
    assert error["code"] == "invalid_text" and "text" in error["message"]
    await a.send_to(text_data='{"type": "ping", "data": {"t": "\\ud800"}}')  # any field, not just comments
    assert (await next_of(a, "error"))["data"]["code"] == "invalid_text"
    await a.send_to(bytes_data=b'{"type": "ping", "data": {"t": "\xff"}}')  # a binary frame that is not UTF-8
    assert (await next_of(a, "error"))["data"]["code"] == "invalid_text"
    await still_serving(room, a, b)
    assert all("\x00" not in p and "\ud800" not in p for p in realtime.store().take_comments(100))
    await a.disconnect()
    await b.disconnect()


# --- flushes keep what they cannot write -------------------------------------------------------------


def queued_comment(brand, room, customer, comment_id, text):
    data = live.comment_event(comment_id=comment_id, room_id=room.pk, customer=customer, text=text, at=NOW)
    return json.dumps({"brand": brand.pk, **data, "customer": customer.pk})


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite stores NUL; PostgreSQL refuses it")
@pytest.mark.django_db
def test_a_comment_the_database_refuses_is_kept_and_the_rest_of_its_batch_saved(brand, make_customer, capsys):
    """Before: one NUL comment in a batch of four raised in bulk_create and all four were lost."""
    room, alice = live_room(brand), make_customer(brand)
    store = realtime.store()
    texts = ["one", "two \x00 nul", "three", "four"]
    store.queue_comments([queued_comment(brand, room, alice, 9000 + n, text) for n, text in enumerate(texts)])
    assert live.comments_flush() == 3
    assert sorted(Comment.unscoped.values_list("text", flat=True)) == ["four", "one", "three"]
    dead = store.dead_letters()
    assert [(d["kind"], json.loads(d["payload"])["text"]) for d in dead] == [("comments", "two \x00 nul")]
    assert dead[0]["error"]

    call_command("live_dead_letters")
    assert "1 dead letter(s) kept." in capsys.readouterr().out
    call_command("live_dead_letters", "--retry")  # queued again: refused again, kept again
    assert live.comments_flush() == 0 and len(store.dead_letters()) == 1
    call_command("live_dead_letters", "--drop")
    assert store.dead_letters() == []


@pytest.mark.django_db(transaction=True)
def test_a_viewing_session_of_a_deleted_room_is_kept_and_the_others_saved(brand):
    room, gone = live_room(brand), live_room(brand)
    gone_id = gone.pk
    LiveRoom.unscoped.filter(pk=gone_id).delete()
    for n, room_id in enumerate([room.pk, gone_id, room.pk]):
        live.session_record(
            brand_id=brand.pk,
            room_id=room_id,
            customer_id=None,
            socket_id=f"s{n}",
            source={},
            joined_at=NOW,
            left_at=NOW + 60,
        )
    assert live.sessions_flush() == 2
    assert sorted(ViewingSession.unscoped.values_list("socket_id", flat=True)) == ["s0", "s2"]
    assert [json.loads(d["payload"])["socket"] for d in realtime.store().dead_letters()] == ["s1"]


@pytest.mark.django_db
def test_counters_taken_by_a_flush_the_database_refused_are_taken_again(brand, monkeypatch):
    from django.db import OperationalError

    room = live_room(brand)
    realtime.store().add_likes({room.pk: 5}, NOW, saved=live.saved_like_totals)

    def database_down(*args, **kwargs):
        raise OperationalError("connection lost")

    monkeypatch.setattr(live, "_update_room", database_down)
    with pytest.raises(OperationalError):
        live.counters_flush()
    monkeypatch.undo()
    assert live.counters_flush() == 1
    assert LiveRoom.unscoped.get(pk=room.pk).like_total == 5


# --- presence: distinct viewers; a closed socket is never beaten again -------------------------------


def test_a_viewer_on_two_sockets_is_one_viewer(live_store):
    live_store.heartbeat({1: [("s1", "c7"), ("s2", "c7"), ("s3", "c8"), "s4"]}, NOW)
    assert live_store.online([1], NOW + 1) == {1: 3}  # c7, c8 and an anonymous socket
    live_store.leave(1, "s1", "")  # c7 still has s2
    assert live_store.online([1], NOW + 1) == {1: 3}
    live_store.leave(1, "s2", "c7")
    live_store.leave(1, "s4")
    assert live_store.online([1], NOW + 1) == {1: 1}


def test_a_process_that_died_stops_being_counted_within_the_ttl_and_its_viewers_are_not_doubled(live_store):
    """Before: 151 viewers reconnected from a killed process to another were counted 251 (both
    processes' heartbeats) until the TTL, and that was recorded as the peak."""
    ttl = realtime.ONLINE_TTL_S
    live_store.heartbeat({1: [(f"dead{n}", f"c{n}") for n in range(100)]}, NOW)  # the process then dies
    live_store.heartbeat({1: [(f"new{n}", f"c{n}") for n in range(100)] + [("x", "c500")]}, NOW + 2)
    online = live_store.online([1], NOW + 3)[1]
    assert online == 101 and live_store.record_peak(1, online) == 101
    assert live_store.online([1], NOW + 2 + ttl + 1) == {1: 0}  # nobody beat since: none online


@pytest.mark.asyncio
async def test_the_hub_never_beats_a_closed_socket(monkeypatch):
    realtime.reset_store()
    monkeypatch.setattr(hub_module, "HEARTBEAT_EVERY", 0.01)
    hub = hub_module.hub()

    async def send(message):
        pass

    open_one = await hub.join(5, send, who="c1")
    closed_one = await hub.join(5, send, who="c2")
    closed_one.closed = True  # its send found the client gone; its consumer has not left yet
    beats = []
    monkeypatch.setattr(hub.store, "heartbeat", lambda members, now: beats.append(members))
    await asyncio.sleep(0.1)
    assert beats and all(members == {5: [(open_one.id, "c1")]} for members in beats)
    await hub.leave(5, open_one)
    await hub.leave(5, closed_one)


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_consumer_whose_send_finds_the_client_gone_leaves_the_hub(brand, make_customer, monkeypatch):
    """Before: a socket that pinged and closed made the pong's send raise, the consumer died without
    its disconnect, and the hub went on beating the socket forever."""
    room = await s(live_room)(brand)
    ws = await join(room, await s(make_customer)(brand))
    hub = hub_module.hub()
    assert len(hub.rooms[room.pk].viewers) == 1
    original = consumers.RoomConsumer.send

    async def gone(self, *args, **kwargs):
        raise OSError("client disconnected")

    monkeypatch.setattr(consumers.RoomConsumer, "send", gone)
    await ws.send_json_to({"type": "ping"})
    with pytest.raises(OSError):
        await ws.wait(timeout=2)
    monkeypatch.setattr(consumers.RoomConsumer, "send", original)
    assert room.pk not in hub.rooms
    assert realtime.store().online([room.pk], time.time()) == {room.pk: 0}
    assert [json.loads(p)["room"] for p in realtime.store().take_sessions(10)] == [room.pk]  # its session kept
