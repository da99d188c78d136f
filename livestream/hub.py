"""The per-process room hub: the broadcast path of live rooms (DESIGN §8).

Each ASGI process keeps the sockets of every room it serves and **one** Redis pub/sub
subscription per room (all on one connection). A published frame arrives already encoded and
is written straight to the local sockets of its room: no per-consumer channel-layer queue, no
thread hop, no encoding per viewer. Each socket has a bounded send buffer, so a slow viewer
misses frames instead of stalling the room; control frames (pong, errors, the snapshot) do not
wait behind a burst, they are sent directly by the consumer.

A room can be switched to *ticks* (``LiveRoom.fanout_mode``): events are coalesced into at most
one frame per tick per viewer — all status events, the latest like total and online count, and
a sample of comments — so a viewer's frame rate stays bounded whatever the comment rate.

Every ``FLUSH_INTERVAL`` the hub adds the taps it collected to the room totals, refreshes the
heartbeats of its open sockets (a closed one is never refreshed again), and (for one process per
room and interval) broadcasts the like total (at most once a second) and the online count, which
counts distinct viewers (``Viewer.who``), not sockets.

When Redis cannot be reached, the hub keeps what it was given — like taps, and the viewing
sessions of sockets that closed — and hands it over once Redis is back; every socket it serves
gets an ``error`` frame ``realtime_unavailable`` and is closed with 1013 ("try again later"), since
events published meanwhile cannot reach it: the client reconnects and starts from a new snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import sys
import time
import uuid
from collections import defaultdict

try:  # uvicorn[standard] brings websockets; without it the hub uses the ASGI send only
    from websockets.frames import Frame as WireFrame
    from websockets.frames import Opcode
    from websockets.protocol import State
except ImportError:  # pragma: no cover
    WireFrame = None

from django.conf import settings

from livestream import realtime

logger = logging.getLogger("siyu.hub")

SEND_BUFFER = 256  # frames waiting behind a blocked send to one socket before new ones are dropped
FLUSH_INTERVAL = 0.2
LIKES_BROADCAST_MS = 1000
VIEWERS_BROADCAST_MS = 2000
HEARTBEAT_EVERY = settings.LIVE_HEARTBEAT_S  # well inside realtime.ONLINE_TTL_S
TICK_SECONDS = 0.15
TICK_COMMENTS = 10  # comments a viewer sees per tick in tick mode
PERSIST_EVERY = 5.0  # embedded default: how often this process writes its live state to the database


def _saved_like_totals(room_ids):
    from django.db import close_old_connections

    from livestream.services.live import saved_like_totals

    close_old_connections()
    try:
        return saved_like_totals(room_ids)
    finally:
        close_old_connections()


def _persist_live_state():
    from django.db import close_old_connections

    from livestream.services.live import live_flush

    close_old_connections()
    try:
        live_flush()
    finally:
        close_old_connections()


class _Resume:
    """Awaiting this finishes a coroutine that was started by hand and suspended on ``blocker``
    (what it yielded): the awaiting task waits for ``blocker`` and resumes the coroutine, exactly
    as if it had run the coroutine from the start (results, exceptions and cancellation pass)."""

    __slots__ = ("coro", "blocker")

    def __init__(self, coro, blocker):
        self.coro, self.blocker = coro, blocker

    def __await__(self):
        coro, blocker = self.coro, self.blocker
        while True:
            try:
                value = yield blocker
            except BaseException as exc:  # thrown in by the task (a cancellation): pass it on
                try:
                    blocker = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    blocker = coro.send(value)
                except StopIteration as stop:
                    return stop.value


class Outgoing:
    """One broadcast frame, prepared once for a whole room: the ASGI ``websocket.send`` message,
    and the bytes of the websocket frame for the sockets the hub writes to directly."""

    __slots__ = ("message", "wire")

    def __init__(self, text: str):
        self.message = {"type": "websocket.send", "text": text}
        self.wire = WireFrame(Opcode.TEXT, text.encode()).serialize(mask=False) if WireFrame else None  # unmasked


def _direct_protocol(send):
    """The socket's ``websockets`` protocol when ``send`` is uvicorn's ``--ws websockets`` (the
    production server, DESIGN §11) and no extension was negotiated; otherwise None."""
    legacy = sys.modules.get("websockets.legacy.protocol")  # imported by uvicorn when it serves with it
    protocol = getattr(send, "__self__", None)
    if WireFrame is None or legacy is None or not isinstance(protocol, legacy.WebSocketCommonProtocol):
        return None
    return None if protocol.extensions else protocol  # permessage-deflate: frames differ per socket


class Viewer:
    """One socket's place in the hub.

    A frame is written at once, in the fastest way the server allows, with no task, no queue and
    no event-loop round trip per delivery:

    * on uvicorn's ``websockets`` protocol, the frame's bytes (serialized once per room) go
      straight to the socket's transport, as ``websockets.broadcast`` does, while the socket is
      open and its write buffer under the high-water mark;
    * on any other server (and while that buffer is full), the ASGI send is stepped by hand and
      completes without suspending while the socket takes data.

    Only when a send has to wait for the socket does a task (``writer``) finish it; frames offered
    meanwhile wait in a bounded queue behind it, in order, and once the queue is full new ones are
    dropped (counted in ``dropped``): one slow viewer misses frames instead of stalling the room.
    """

    __slots__ = ("send", "protocol", "queue", "writer", "dropped", "id", "closed", "who", "counted")

    def __init__(self, send, who: str | None = None, counted: bool = True):
        self.send = send
        self.who = who  # the viewer (customer, device) this socket is; None: the socket alone
        self.counted = counted  # False: served the room's frames, never counted online (staff)
        self.protocol = _direct_protocol(send)
        self.queue: asyncio.Queue[Outgoing] = asyncio.Queue(SEND_BUFFER)  # frames waiting behind a blocked send
        self.writer: asyncio.Task | None = None  # finishes a blocked send, then the queue
        self.dropped = 0
        self.id = uuid.uuid4().hex
        self.closed = False

    def offer(self, text: str) -> None:
        self.push(Outgoing(text))

    def push(self, frame: Outgoing) -> None:
        """Send a frame (the hub shares one ``Outgoing`` among a room's viewers)."""
        if self.writer is not None:
            try:
                self.queue.put_nowait(frame)
            except asyncio.QueueFull:
                self.dropped += 1
            return
        if self.closed:
            return
        protocol = self.protocol
        if (
            protocol is not None
            and frame.wire is not None
            and protocol.state is State.OPEN
            and not protocol._paused
            and protocol._fragmented_message_waiter is None
        ):
            try:
                protocol.transport.write(frame.wire)
            except Exception:  # the socket went away: the consumer's disconnect cleans up
                self.closed = True
            return
        coro = self.send(frame.message)
        try:
            blocker = coro.send(None)
        except StopIteration:
            return  # written
        except Exception:  # the socket went away: the consumer's disconnect cleans up
            self.closed = True
            return
        self.writer = asyncio.get_running_loop().create_task(self._finish(coro, blocker))

    async def _finish(self, coro, blocker) -> None:
        queue, send = self.queue, self.send
        try:
            await _Resume(coro, blocker)
            while not queue.empty():
                await send(queue.get_nowait().message)
        except asyncio.CancelledError:
            raise
        except Exception:  # the socket went away mid-send: the consumer's disconnect cleans up
            self.closed = True
        self.writer = None

    def stop(self) -> None:
        self.closed = True
        if self.writer is not None:
            self.writer.cancel()


class Room:
    __slots__ = ("viewers", "ticks", "pending", "latest", "comments", "ticker")

    def __init__(self):
        self.viewers: set[Viewer] = set()
        self.ticks = False
        self.pending: list[str] = []  # tick mode: status events of this tick
        self.latest: dict[str, str] = {}  # tick mode: the last likes / viewers frame
        self.comments: list[str] = []  # tick mode: this tick's comments
        self.ticker: asyncio.Task | None = None


class Hub:
    def __init__(self, store):
        self.store = store
        self.loop = asyncio.get_running_loop()
        self.rooms: dict[int, Room] = {}
        self.likes: dict[int, int] = defaultdict(int)
        self.unannounced: set[int] = set()  # rooms whose like total changed since this process announced it
        self.subscriber = _Subscriber(self) if isinstance(store, realtime.RedisStore) else None
        self.last_heartbeat = 0.0
        self.last_persist = time.monotonic()
        self.flusher = self.loop.create_task(self._flush_forever())
        self.delivered = 0
        self.backlog: list[str] = []  # viewing sessions waiting for the live store to come back
        self.outage = False

    # --- sockets ------------------------------------------------------------------------------
    async def join(
        self, room_id: int, send, *, ticks: bool = False, who: str | None = None, counted: bool = True
    ) -> Viewer:
        """Raises ``realtime.UNAVAILABLE`` (and serves nothing) when Redis cannot be reached.
        ``counted=False``: a socket that gets the room's frames but has no heartbeat, so it is never
        counted online (the live console's)."""
        viewer = Viewer(send, who, counted)
        room = self.rooms.get(room_id)
        if room is None:
            room = self.rooms[room_id] = Room()
            if self.subscriber is not None:
                try:
                    await self.subscriber.subscribe(room_id)
                except BaseException:
                    if self.rooms.get(room_id) is room and not room.viewers:
                        del self.rooms[room_id]
                    raise
        room.viewers.add(viewer)
        self.set_ticks(room_id, ticks)
        try:
            if counted:
                await asyncio.to_thread(self.store.heartbeat, {room_id: [(viewer.id, who)]}, time.time())
        except BaseException:
            await self.leave(room_id, viewer)
            raise
        return viewer

    async def leave(self, room_id: int, viewer: Viewer, session: dict | None = None) -> None:
        """The socket stops being served and counted; its viewing session (if any) is queued, or
        kept here while Redis cannot be reached."""
        viewer.stop()
        room = self.rooms.get(room_id)
        if room is None:
            return
        room.viewers.discard(viewer)
        who = viewer.who
        forget = None if who is None else ("" if any(v.who == who and v.counted for v in room.viewers) else who)
        if viewer.counted or session is not None:
            try:
                await asyncio.to_thread(self._left, room_id, viewer, forget, session)
            except realtime.UNAVAILABLE:
                if session is not None:
                    self.backlog.append(_session_payload(session))
        # Another leave of this room may have run during the thread hop (and removed the room).
        if not room.viewers and self.rooms.get(room_id) is room:
            del self.rooms[room_id]
            if room.ticker:
                room.ticker.cancel()
            if self.subscriber is not None:
                with contextlib.suppress(realtime.UNAVAILABLE):  # the subscription went with the connection
                    await self.subscriber.unsubscribe(room_id)

    def _left(self, room_id: int, viewer: Viewer, forget: str | None, session: dict | None) -> None:
        if session is None:
            return self.store.leave(room_id, viewer.id, forget)
        payload = _session_payload(session)
        # Closed before the heartbeat goes: an open session with no heartbeat is a socket whose
        # process died, never one that is leaving.
        self.store.session_close(room_id, viewer.id, payload)
        self.store.leave(room_id, viewer.id, forget)
        if session["customer_id"] is not None:
            self.store.watch_end(room_id, session["customer_id"], viewer.id, session["left_at"])
        self.store.queue_sessions([payload])

    def close_all(self, code: str, message: str, close_code: int) -> None:
        """Every socket of this process: an error frame, then closed with ``close_code``."""
        frame = realtime.encode("error", {"code": code, "message": message})
        for room in list(self.rooms.values()):
            for viewer in list(room.viewers):
                viewer.push(Outgoing(frame))
                viewer.push(_Close(close_code))

    def set_ticks(self, room_id: int, ticks: bool) -> None:
        room = self.rooms.get(room_id)
        if room is None or room.ticks == ticks:
            return
        room.ticks = ticks
        if ticks:
            room.ticker = self.loop.create_task(self._tick_forever(room_id, room))
        elif room.ticker:
            room.ticker.cancel()
            room.ticker = None

    # --- the broadcast path -------------------------------------------------------------------
    def deliver(self, room_id: int, text: str) -> None:
        room = self.rooms.get(room_id)
        if room is None:
            return
        if room.ticks:
            self._hold(room, text)
            return
        frame = Outgoing(text)  # prepared once for the whole room
        for viewer in room.viewers:
            viewer.push(frame)
        self.delivered += len(room.viewers)

    def deliver_threadsafe(self, room_id: int, text: str) -> None:
        self.loop.call_soon_threadsafe(self.deliver, room_id, text)

    @staticmethod
    def _hold(room: Room, text: str) -> None:
        kind = text[9 : text.find('"', 9)]  # frames start with {"type":"<kind>"
        if kind == "comment":
            room.comments.append(text)
        elif kind in ("likes", "viewers"):
            room.latest[kind] = text
        else:
            room.pending.append(text)

    async def _tick_forever(self, room_id: int, room: Room) -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            comments = room.comments
            if len(comments) > TICK_COMMENTS:
                comments = sorted(random.sample(range(len(comments)), TICK_COMMENTS))
                comments = [room.comments[i] for i in comments]
            events = room.pending + list(room.latest.values()) + comments
            room.pending, room.latest, room.comments = [], {}, []
            if events:
                frame = '{"type":"tick","data":{"events":[' + ",".join(events) + "]}}"
                outgoing = Outgoing(frame)
                for viewer in room.viewers:
                    viewer.push(outgoing)
                self.delivered += len(room.viewers)

    # --- likes, heartbeats, counters ------------------------------------------------------------
    def add_likes(self, room_id: int, count: int) -> None:
        self.likes[room_id] += count

    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_INTERVAL)
            # Take the snapshot on the loop (nothing else mutates these there); do the I/O in a thread.
            likes, self.likes = self.likes, defaultdict(int)
            now = time.time()
            beats = None
            if now - self.last_heartbeat >= HEARTBEAT_EVERY:
                self.last_heartbeat = now
                beats = {
                    room_id: [(v.id, v.who) for v in room.viewers if v.counted and not v.closed]
                    for room_id, room in self.rooms.items()
                }
            backlog, self.backlog = self.backlog, []
            try:
                await asyncio.to_thread(self._flush, likes, beats, list(self.rooms), now, backlog)
            except Exception as exc:  # Redis hiccup: keep the taps and sessions for the next interval
                if not self.outage:
                    logger.warning("Hub flush failed", exc_info=True)
                self.outage = isinstance(exc, realtime.UNAVAILABLE)
                if beats is not None:
                    self.last_heartbeat = 0.0  # beat again as soon as Redis is back
                for room_id, count in likes.items():
                    self.likes[room_id] += count
                self.backlog[:0] = backlog
            else:
                if self.outage:
                    logger.warning("Hub flush works again")
                self.outage = False
            if self.subscriber is None and time.monotonic() - self.last_persist >= PERSIST_EVERY:
                # The embedded default keeps the live store in this process, so this process
                # persists it too (with Redis, the Celery task does, for every process).
                self.last_persist = time.monotonic()
                try:
                    await asyncio.to_thread(_persist_live_state)
                except Exception:
                    logger.warning("Persisting the live state failed", exc_info=True)

    def _flush(self, likes: dict[int, int], beats: dict | None, room_ids: list[int], now: float, backlog=()) -> None:
        """Runs in a worker thread: the store's calls block."""
        if backlog:
            self.store.queue_sessions(list(backlog))
            backlog.clear()  # queued: a failure after this point must not queue them twice
        if likes:
            totals = self.store.add_likes(dict(likes), now, saved=_saved_like_totals)
            likes.clear()  # added: a failure after this point must not add them twice
            self.unannounced.update(totals)
        # A total that changed inside another broadcast's interval is announced once the interval
        # is over (read again then: another process may have added taps since).
        due = [r for r in self.unannounced if self.store.claim_tick("likes", r, LIKES_BROADCAST_MS)]
        if due:
            self.unannounced.difference_update(due)
            for room_id, total in self.store.like_totals(due).items():
                self.store.publish(room_id, realtime.encode("likes", {"room_id": room_id, "total": total}))
        if beats:
            self.store.heartbeat(beats, now)
        announce = [r for r in room_ids if self.store.claim_tick("viewers", r, VIEWERS_BROADCAST_MS)]
        if announce:
            for room_id, online in self.store.online(announce, now).items():
                peak = self.store.record_peak(room_id, online)
                data = {"room_id": room_id, "online": online, "peak": peak}
                self.store.publish(room_id, realtime.encode("viewers", data))


def _session_payload(session: dict) -> str:
    from livestream.services.live import session_payload

    return session_payload(**session)


class _Close:
    """A close queued behind a viewer's frames: ``Viewer.push`` sends it like one."""

    __slots__ = ("message", "wire")

    def __init__(self, code: int):
        self.message = {"type": "websocket.close", "code": code}
        self.wire = None


class _Subscriber:
    """One Redis pub/sub connection per process; one channel subscription per served room."""

    def __init__(self, hub: Hub):
        import redis.asyncio as aioredis

        self.hub = hub
        self.client = aioredis.Redis.from_url(hub.store.url)
        self.pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        self.prefix = hub.store.channel(0)[: -len("0:events")]
        self.reader: asyncio.Task | None = None

    async def subscribe(self, room_id: int) -> None:
        await self.pubsub.subscribe(self.hub.store.channel(room_id))
        if self.reader is None:
            self.reader = self.hub.loop.create_task(self._read_forever())

    async def unsubscribe(self, room_id: int) -> None:
        await self.pubsub.unsubscribe(self.hub.store.channel(room_id))

    async def _read_forever(self) -> None:
        deliver, prefix = self.hub.deliver, self.prefix
        while True:
            try:
                message = await self.pubsub.get_message(timeout=1.0)
            except Exception:
                logger.warning("Room subscription lost; closing this process's sockets (1013) and resubscribing")
                # Events published from now on cannot reach these sockets: their clients reconnect
                # and start again from a snapshot.
                self.hub.close_all(
                    "realtime_unavailable", "Live updates are unavailable for a moment; reconnect shortly.", 1013
                )
                await asyncio.sleep(0.5)
                await self._resubscribe()
                continue
            if message is None or message["type"] != "message":
                continue
            channel = message["channel"].decode()
            room_id = int(channel[len(prefix) :].split(":", 1)[0])
            deliver(room_id, message["data"].decode())

    async def _resubscribe(self) -> None:
        try:
            await self.pubsub.aclose()
            self.pubsub = self.client.pubsub(ignore_subscribe_messages=True)
            channels = [self.hub.store.channel(r) for r in self.hub.rooms]
            if channels:
                await self.pubsub.subscribe(*channels)
        except Exception:
            logger.warning("Resubscribe failed", exc_info=True)


_hubs: dict[int, Hub] = {}


def hub() -> Hub:
    """The hub of the running event loop (one per ASGI process; tests may run several loops)."""
    loop = asyncio.get_running_loop()
    current = _hubs.get(id(loop))
    if current is None or current.loop is not loop:
        store = realtime.store()
        current = _hubs[id(loop)] = Hub(store)
        if isinstance(store, realtime.LocalStore):
            store.hub = current
    return current
