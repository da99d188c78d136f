"""Room events and the live counters behind them (DESIGN §8).

* ``publish_room_event`` is the one place room events are published: after the transaction
  commits, one already-encoded frame per event, to every process that serves the room (one
  Redis PUBLISH; in the embedded default, straight to this process's hub).
* The live state of a room — like total and per-minute likes, who is online (heartbeats with a
  TTL: one per socket, and one per distinct viewer, which is what the online count counts),
  comment ids and the queue of comments to persist, product clicks per customer, per-customer
  rate limits, rows a flush could not write — lives in Redis, so any number of processes share
  it and a process that dies leaves nothing behind but heartbeats that expire. The embedded
  default keeps the same state in this process.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import defaultdict

from django.conf import settings
from django.db import transaction

from tenants.redis import UNAVAILABLE  # what the live store raises when Redis cannot be reached

logger = logging.getLogger("siyu.live")

ONLINE_TTL_S = settings.LIVE_ONLINE_TTL_S  # a socket not heard of for this long is no longer counted online
RECENT_COMMENTS = 20  # what a joining viewer sees of the conversation so far
WATCH_KEEP_S = 2 * 86400  # how long the live store keeps who watched and liked a room


def encode(event_type: str, data: dict) -> str:
    """The wire format of every server event: ``{"type": ..., "data": ...}``, compact, UTF-8."""
    return json.dumps({"type": event_type, "data": data}, ensure_ascii=False, separators=(",", ":"), default=str)


def publish_room_event(room_id: int, event_type: str, data: dict) -> None:
    event = {"type": event_type, "data": data}
    transaction.on_commit(lambda: _broadcast(room_id, event))


def _broadcast(room_id: int, event: dict) -> None:
    """Runs after the commit: the change stands whether or not viewers hear of it. While Redis
    cannot be reached no socket can be told (each is closed 1013 and joins again from a fresh
    snapshot, which holds the change), so the event is dropped with a warning instead of failing
    the request that made the change (an operator's push or room end answered 503 after it was
    done)."""
    try:
        store().publish(room_id, encode(event["type"], event["data"]))
    except UNAVAILABLE:
        logger.warning("Room %s: %s not published, the live store is unreachable", room_id, event["type"])


def _key(*parts) -> str:
    return ":".join([settings.REDIS_KEY_PREFIX, "live", *map(str, parts)])


def minute_of(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M", time.gmtime(timestamp))


class RedisStore:
    """Production: state in Redis, events over Redis pub/sub."""

    def __init__(self, url: str):
        import redis

        self.url = url
        # Fail fast while Redis is down, instead of each call waiting for the OS's connect timeout.
        self.redis = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)

    def channel(self, room_id: int) -> str:
        return _key("room", room_id, "events")

    def publish(self, room_id: int, text: str) -> None:
        self.redis.publish(self.channel(room_id), text)

    # likes
    def add_likes(self, counts: dict[int, int], now: float, saved=None) -> dict[int, int]:
        """Add batched taps; answers each room's new total. A room whose total Redis does not hold
        (a new room, or Redis lost its state) first starts from ``saved(room_ids)``, the totals the
        database kept, so taps counted meanwhile add to them instead of replacing them."""
        minute = minute_of(now)
        totals = self._add_likes(counts, minute, {})
        missing = [room_id for room_id, total in totals.items() if total < 0]
        if missing:
            seeds = saved(missing) if saved else {}
            totals.update(
                self._add_likes({r: counts[r] for r in missing}, minute, {r: seeds.get(r, 0) for r in missing})
            )
        return totals

    def _add_likes(self, counts, minute, seeds) -> dict[int, int]:
        pipe = self.redis.pipeline(transaction=False)
        for room_id, count in counts.items():
            keys = (_key("room", room_id, "likes"), _key("room", room_id, "likes_per_minute"), _key("rooms", "dirty"))
            pipe.eval(_ADD_LIKES_SCRIPT, 3, *keys, count, minute, seeds.get(room_id, ""), room_id)
        return {room_id: int(total) for room_id, total in zip(counts, pipe.execute(), strict=True)}

    def mark_dirty(self, room_ids) -> None:
        """Rooms a flush took but could not write: taken again by the next one."""
        if room_ids:
            self.redis.sadd(_key("rooms", "dirty"), *room_ids)

    def like_totals(self, room_ids) -> dict[int, int]:
        room_ids = list(room_ids)
        values = self.redis.mget([_key("room", r, "likes") for r in room_ids]) if room_ids else []
        return {r: int(v) for r, v in zip(room_ids, values, strict=True) if v is not None}

    def likes_per_minute(self, room_id: int) -> dict[str, int]:
        return {k.decode(): int(v) for k, v in self.redis.hgetall(_key("room", room_id, "likes_per_minute")).items()}

    def seed_likes(self, room_id: int, total: int) -> None:
        """After Redis lost its state, start again from what the database kept."""
        self.redis.set(_key("room", room_id, "likes"), total, nx=True)

    # once-per-interval broadcasts across processes
    def claim_tick(self, name: str, room_id: int, interval_ms: int) -> bool:
        return bool(self.redis.set(_key("room", room_id, "tick", name), 1, nx=True, px=interval_ms))

    # online: one sorted-set member per socket ("online": whose sockets are alive, for watch
    # time) and one per distinct viewer ("viewers": what the count counts, so a viewer on two
    # sockets or reconnected after a process died is one), each scored by when its heartbeat expires
    def heartbeat(self, members: dict[int, list], now: float) -> None:
        """``members``: per room, socket ids or (socket id, viewer identity) pairs."""
        pipe = self.redis.pipeline(transaction=False)
        expires = now + ONLINE_TTL_S
        for room_id, sockets in members.items():
            if sockets:
                pairs = [_pair(member) for member in sockets]
                pipe.zadd(_key("room", room_id, "online"), {socket: expires for socket, _ in pairs})
                pipe.zadd(_key("room", room_id, "viewers"), {who: expires for _, who in pairs})
        pipe.execute()

    def leave(self, room_id: int, socket_id: str, forget: str | None = None) -> None:
        """A socket closed; ``forget`` is the viewer that is no longer online (default: the socket's
        own, for a socket no identity named; "" when the viewer still has another socket here)."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.zrem(_key("room", room_id, "online"), socket_id)
        forget = socket_id if forget is None else forget
        if forget:
            pipe.zrem(_key("room", room_id, "viewers"), forget)
        pipe.execute()

    def online(self, room_ids, now: float) -> dict[int, int]:
        """Distinct viewers whose heartbeat has not expired."""
        room_ids = list(room_ids)
        pipe = self.redis.pipeline(transaction=False)
        for room_id in room_ids:
            pipe.zremrangebyscore(_key("room", room_id, "online"), "-inf", now)
            pipe.zremrangebyscore(_key("room", room_id, "viewers"), "-inf", now)
            pipe.zcard(_key("room", room_id, "viewers"))
        results = pipe.execute()
        return {room_id: int(results[3 * i + 2]) for i, room_id in enumerate(room_ids)}

    def record_peak(self, room_id: int, online: int) -> int:
        peak = int(self.redis.eval(_MAX_SCRIPT, 1, _key("room", room_id, "peak"), online))
        if peak == online:
            self.redis.sadd(_key("rooms", "dirty"), room_id)
        return peak

    def take_dirty_rooms(self) -> set[int]:
        """Rooms whose counters changed since the last flush (each flush takes them once)."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.smembers(_key("rooms", "dirty"))
        pipe.delete(_key("rooms", "dirty"))
        return {int(member) for member in pipe.execute()[0]}

    def peaks(self, room_ids) -> dict[int, int]:
        room_ids = list(room_ids)
        values = self.redis.mget([_key("room", r, "peak") for r in room_ids]) if room_ids else []
        return {r: int(v) for r, v in zip(room_ids, values, strict=True) if v is not None}

    # comments
    def next_comment_ids(self, count: int, floor) -> range:
        """``count`` new comment ids. When Redis does not hold the last one (first use, or Redis
        lost its state) the ids continue after ``floor()``, the largest the database holds now —
        read then, not once per process, or ids given since would be given again and their
        comments dropped as duplicates by the flush."""
        key = _key("comments", "last_id")
        last = self.redis.eval(_INCR_IF_EXISTS_SCRIPT, 1, key, count)
        if last is None:
            self.redis.set(key, floor(), nx=True)
            last = self.redis.incrby(key, count)
        last = int(last)
        return range(last - count + 1, last + 1)

    def queue_comments(self, payloads: list[str]) -> None:
        if payloads:
            self.redis.rpush(_key("comments", "pending"), *payloads)

    def remember_comment(self, room_id: int, text: str) -> None:
        pipe = self.redis.pipeline(transaction=False)
        pipe.lpush(_key("room", room_id, "recent"), text)
        pipe.ltrim(_key("room", room_id, "recent"), 0, RECENT_COMMENTS - 1)
        pipe.execute()

    def recent_comments(self, room_id: int) -> list[str]:
        return [v.decode() for v in reversed(self.redis.lrange(_key("room", room_id, "recent"), 0, -1))]

    def forget_comment(self, room_id: int, comment_id: int) -> None:
        key = _key("room", room_id, "recent")
        for value in self.redis.lrange(key, 0, -1):
            if json.loads(value)["data"]["id"] == comment_id:
                self.redis.lrem(key, 0, value)

    def take_comments(self, limit: int) -> list[str]:
        values = self.redis.lpop(_key("comments", "pending"), limit)
        return [v.decode() for v in values or []]

    # who watched and liked: the server's own record, for lotteries and gift boxes
    def watch_start(self, room_id: int, customer_id: int, socket_id: str, at: float) -> None:
        key = _key("room", room_id, "watching", customer_id)
        pipe = self.redis.pipeline(transaction=False)
        pipe.hset(key, socket_id, at)
        pipe.expire(key, WATCH_KEEP_S)
        pipe.execute()

    def watch_end(self, room_id: int, customer_id: int, socket_id: str, at: float) -> None:
        key = _key("room", room_id, "watching", customer_id)
        started = self.redis.hget(key, socket_id)
        if started is None or not self.redis.hdel(key, socket_id):
            return  # another call closed this socket already: count its time once
        watched = _key("room", room_id, "watched")
        pipe = self.redis.pipeline(transaction=False)
        pipe.hincrbyfloat(watched, customer_id, max(at - float(started), 0.0))
        pipe.expire(watched, WATCH_KEEP_S)
        pipe.execute()

    def watched_seconds(self, room_id: int, customer_id: int, now: float) -> tuple[float, float]:
        """(seconds of closed sockets, seconds of sockets still alive by their heartbeats)."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hget(_key("room", room_id, "watched"), customer_id)
        pipe.hgetall(_key("room", room_id, "watching", customer_id))
        closed, sockets = pipe.execute()
        open_seconds = 0.0
        for socket_id, started in sockets.items():
            expires = self.redis.zscore(_key("room", room_id, "online"), socket_id)
            if expires is not None and expires > now:
                open_seconds += max(now - float(started), 0.0)
        return float(closed or 0), open_seconds

    def mark_liked(self, room_id: int, customer_id: int) -> None:
        key = _key("room", room_id, "likers")
        pipe = self.redis.pipeline(transaction=False)
        pipe.sadd(key, customer_id)
        pipe.expire(key, WATCH_KEEP_S)
        pipe.execute()

    def has_liked(self, room_id: int, customer_id: int) -> bool:
        return bool(self.redis.sismember(_key("room", room_id, "likers"), customer_id))

    # viewing sessions closed by a leave, waiting to be persisted
    def queue_sessions(self, payloads: list[str]) -> None:
        if payloads:
            self.redis.rpush(_key("sessions", "pending"), *payloads)

    def take_sessions(self, limit: int) -> list[str]:
        values = self.redis.lpop(_key("sessions", "pending"), limit)
        return [v.decode() for v in values or []]

    # viewing sessions not yet in the database, per room: socket -> its payload, "left" null while
    # the socket is open (the report counts them at once; the flush writes them as they stand)
    def session_open(self, room_id: int, socket_id: str, payload: str, customer_id=None, at: float = 0.0) -> None:
        """A socket of the audience joined: its session is open (and, for a customer, its watch time runs)."""
        key = _key("room", room_id, "sessions")
        pipe = self.redis.pipeline(transaction=False)
        pipe.hset(key, socket_id, payload)
        pipe.expire(key, WATCH_KEEP_S)
        pipe.sadd(_key("rooms", "sessions"), room_id)
        if customer_id is not None:
            watching = _key("room", room_id, "watching", customer_id)
            pipe.hset(watching, socket_id, at)
            pipe.expire(watching, WATCH_KEEP_S)
        pipe.execute()

    def session_close(self, room_id: int, socket_id: str, payload: str) -> None:
        """The socket left: its session as it ended, kept until the flush has written it."""
        key = _key("room", room_id, "sessions")
        pipe = self.redis.pipeline(transaction=False)
        pipe.hset(key, socket_id, payload)
        pipe.expire(key, WATCH_KEEP_S)
        pipe.sadd(_key("rooms", "sessions"), room_id)
        pipe.execute()

    def session_rooms(self) -> list[int]:
        """The rooms whose sessions the database may not hold as they stand."""
        return sorted(int(member) for member in self.redis.smembers(_key("rooms", "sessions")))

    def unsaved_sessions(self, room_ids, now: float) -> dict[int, list[tuple[str, str, bool]]]:
        """Per room: (socket id, payload, alive) of its sessions the database may not hold as
        they stand; ``alive``: an open socket whose heartbeat has not expired. ``room_ids`` None:
        every room that has any."""
        room_ids = self.session_rooms() if room_ids is None else list(room_ids)
        pipe = self.redis.pipeline(transaction=False)
        for room_id in room_ids:
            pipe.hgetall(_key("room", room_id, "sessions"))
            pipe.zrangebyscore(_key("room", room_id, "online"), now, "+inf")
        results = pipe.execute()
        unsaved = {}
        for index, room_id in enumerate(room_ids):
            entries, alive = results[2 * index], {member.decode() for member in results[2 * index + 1]}
            if entries:
                unsaved[room_id] = [
                    (socket.decode(), payload.decode(), socket.decode() in alive) for socket, payload in entries.items()
                ]
        return unsaved

    def forget_sessions(self, sockets: dict[int, list[tuple[str, str]]]) -> None:
        """Sessions written for good: dropped, each only if it is still as written (a socket's
        entry that changed meanwhile stays for the next flush)."""
        pipe = self.redis.pipeline(transaction=False)
        for room_id, entries in sockets.items():
            for socket_id, payload in entries:
                pipe.eval(_HDEL_IF_SCRIPT, 2, _key("room", room_id, "sessions"), _key("rooms", "sessions"),
                          socket_id, payload, room_id)  # fmt: skip
        pipe.execute()

    # product clicks: a running count per (room, product, customer), and which counts changed
    def add_product_click(self, brand_id: int, room_id: int, product_id: int, customer_id: int) -> None:
        key = _key("room", room_id, "clicks")
        pipe = self.redis.pipeline(transaction=False)
        pipe.hincrby(key, f"{product_id}:{customer_id}", 1)
        pipe.expire(key, WATCH_KEEP_S)
        # Marked after the count: a flush that takes the mark reads a count that includes this click.
        pipe.sadd(_key("clicks", "dirty"), f"{brand_id}:{room_id}:{product_id}:{customer_id}")
        pipe.execute()

    def take_product_clicks(self, limit: int) -> list[tuple[int, int, int, int, int]]:
        """Up to ``limit`` counts that changed since they were last taken, each taken once:
        (brand, room, product, customer, clicks so far)."""
        members = self.redis.spop(_key("clicks", "dirty"), limit)
        if not members:
            return []
        keys = [tuple(int(part) for part in member.decode().split(":")) for member in members]
        pipe = self.redis.pipeline(transaction=False)
        for _, room_id, product_id, customer_id in keys:
            pipe.hget(_key("room", room_id, "clicks"), f"{product_id}:{customer_id}")
        return [(*key, int(value)) for key, value in zip(keys, pipe.execute(), strict=True) if value is not None]

    def requeue_product_clicks(self, keys: list[tuple[int, int, int, int]]) -> None:
        """Counts taken by a flush that could not write them: taken again by the next one."""
        if keys:
            self.redis.sadd(_key("clicks", "dirty"), *(":".join(map(str, key)) for key in keys))

    # rows a flush could not write, kept for an operator (manage.py live_dead_letters)
    def dead_letter(self, kind: str, payload: str, error: str) -> None:
        entry = json.dumps({"kind": kind, "payload": payload, "error": error, "at": time.time()})
        self.redis.rpush(_key("dead"), entry)

    def dead_letters(self) -> list[dict]:
        return [json.loads(entry) for entry in self.redis.lrange(_key("dead"), 0, -1)]

    def take_dead_letters(self) -> list[dict]:
        pipe = self.redis.pipeline(transaction=True)
        pipe.lrange(_key("dead"), 0, -1)
        pipe.delete(_key("dead"))
        return [json.loads(entry) for entry in pipe.execute()[0]]


def _pair(member) -> tuple[str, str]:
    """(socket id, viewer identity) of a heartbeat member; a bare socket id is its own viewer."""
    if isinstance(member, str):
        return member, member
    socket, who = member
    return socket, who or socket


_INCR_IF_EXISTS_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
return redis.call('INCRBY', KEYS[1], ARGV[1])
"""

# KEYS: total, per-minute hash, dirty rooms; ARGV: count, minute, seed ('' = none), room id.
# -1: Redis holds no total for the room and no seed was given (nothing added).
_ADD_LIKES_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  if ARGV[3] == '' then return -1 end
  redis.call('SET', KEYS[1], ARGV[3], 'NX')
end
redis.call('HINCRBY', KEYS[2], ARGV[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[4])
return redis.call('INCRBY', KEYS[1], ARGV[1])
"""

# KEYS: a room's sessions hash, the set of rooms with sessions; ARGV: socket, payload, room id.
_HDEL_IF_SCRIPT = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]) end
if redis.call('HLEN', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], ARGV[3]) end
return 1
"""

_MAX_SCRIPT = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local value = tonumber(ARGV[1])
if value > current then redis.call('SET', KEYS[1], value) return value end
return current
"""


class LocalStore:
    """The embedded default: the same state in this process (one ASGI process serves everything)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.likes: dict[int, int] = defaultdict(int)
        self.likes_minutes: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.ticks: dict[tuple, float] = {}
        self.sockets: dict[int, dict[str, float]] = defaultdict(dict)
        self.viewers: dict[int, dict[str, float]] = defaultdict(dict)
        self.peak: dict[int, int] = {}
        self.last_comment_id = 0
        self.comments: list[str] = []
        self.sessions: list[str] = []
        self.open_sessions: dict[int, dict[str, str]] = defaultdict(dict)
        self.dirty: set[int] = set()
        self.recent: dict[int, list[str]] = {}
        self.watching: dict[tuple, dict[str, float]] = defaultdict(dict)
        self.watched: dict[tuple, float] = defaultdict(float)
        self.likers: dict[int, set] = defaultdict(set)
        self.clicks: dict[tuple[int, int, int], int] = defaultdict(int)
        self.dirty_clicks: set[tuple[int, int, int, int]] = set()
        self.dead: list[dict] = []
        self.hub = None  # the hub of this process's event loop, when it serves websockets

    def publish(self, room_id: int, text: str) -> None:
        hub = self.hub
        if hub is not None:
            hub.deliver_threadsafe(room_id, text)

    def add_likes(self, counts, now, saved=None):
        minute = minute_of(now)
        with self.lock:
            for room_id, count in counts.items():
                self.likes[room_id] += count
                self.likes_minutes[room_id][minute] += count
            self.dirty.update(counts)
            return {room_id: self.likes[room_id] for room_id in counts}

    def like_totals(self, room_ids):
        return {r: self.likes[r] for r in room_ids if r in self.likes}

    def mark_dirty(self, room_ids):
        with self.lock:
            self.dirty.update(room_ids)

    def likes_per_minute(self, room_id):
        return dict(self.likes_minutes.get(room_id, {}))

    def seed_likes(self, room_id, total):
        with self.lock:
            self.likes.setdefault(room_id, total)

    def claim_tick(self, name, room_id, interval_ms):
        now = time.monotonic()
        with self.lock:
            if self.ticks.get((name, room_id), 0) > now:
                return False
            self.ticks[(name, room_id)] = now + interval_ms / 1000
            return True

    def heartbeat(self, members, now):
        with self.lock:
            for room_id, sockets in members.items():
                for member in sockets:
                    socket_id, who = _pair(member)
                    self.sockets[room_id][socket_id] = now + ONLINE_TTL_S
                    self.viewers[room_id][who] = now + ONLINE_TTL_S

    def leave(self, room_id, socket_id, forget=None):
        with self.lock:
            self.sockets[room_id].pop(socket_id, None)
            forget = socket_id if forget is None else forget
            if forget:
                self.viewers[room_id].pop(forget, None)

    def online(self, room_ids, now):
        with self.lock:
            result = {}
            for room_id in room_ids:
                self.sockets[room_id] = {s: t for s, t in self.sockets.get(room_id, {}).items() if t > now}
                alive = {s: t for s, t in self.viewers.get(room_id, {}).items() if t > now}
                self.viewers[room_id] = alive
                result[room_id] = len(alive)
            return result

    def record_peak(self, room_id, online):
        with self.lock:
            if online > self.peak.get(room_id, 0):
                self.peak[room_id] = online
                self.dirty.add(room_id)
            return self.peak.get(room_id, 0)

    def take_dirty_rooms(self):
        with self.lock:
            dirty, self.dirty = self.dirty, set()
            return dirty

    def peaks(self, room_ids):
        return {r: self.peak[r] for r in room_ids if r in self.peak}

    def next_comment_ids(self, count, floor):
        with self.lock:
            if not self.last_comment_id:
                self.last_comment_id = floor()
            self.last_comment_id += count
            return range(self.last_comment_id - count + 1, self.last_comment_id + 1)

    def queue_comments(self, payloads):
        with self.lock:
            self.comments.extend(payloads)

    def remember_comment(self, room_id, text):
        with self.lock:
            self.recent[room_id] = [*self.recent.get(room_id, []), text][-RECENT_COMMENTS:]

    def recent_comments(self, room_id):
        return list(self.recent.get(room_id, []))

    def forget_comment(self, room_id, comment_id):
        with self.lock:
            kept = [t for t in self.recent.get(room_id, []) if json.loads(t)["data"]["id"] != comment_id]
            self.recent[room_id] = kept

    def take_comments(self, limit):
        with self.lock:
            taken, self.comments = self.comments[:limit], self.comments[limit:]
            return taken

    def watch_start(self, room_id, customer_id, socket_id, at):
        with self.lock:
            self.watching[(room_id, customer_id)][socket_id] = at

    def watch_end(self, room_id, customer_id, socket_id, at):
        with self.lock:
            started = self.watching[(room_id, customer_id)].pop(socket_id, None)
            if started is not None:
                self.watched[(room_id, customer_id)] += max(at - started, 0.0)

    def watched_seconds(self, room_id, customer_id, now):
        with self.lock:
            alive = self.sockets.get(room_id, {})
            open_seconds = sum(
                max(now - started, 0.0)
                for socket_id, started in self.watching.get((room_id, customer_id), {}).items()
                if alive.get(socket_id, 0) > now
            )
            return self.watched.get((room_id, customer_id), 0.0), open_seconds

    def mark_liked(self, room_id, customer_id):
        with self.lock:
            self.likers[room_id].add(customer_id)

    def has_liked(self, room_id, customer_id):
        return customer_id in self.likers.get(room_id, ())

    def queue_sessions(self, payloads):
        with self.lock:
            self.sessions.extend(payloads)

    def take_sessions(self, limit):
        with self.lock:
            taken, self.sessions = self.sessions[:limit], self.sessions[limit:]
            return taken

    def session_open(self, room_id, socket_id, payload, customer_id=None, at=0.0):
        with self.lock:
            self.open_sessions[room_id][socket_id] = payload
            if customer_id is not None:
                self.watching[(room_id, customer_id)][socket_id] = at

    def session_close(self, room_id, socket_id, payload):
        with self.lock:
            self.open_sessions[room_id][socket_id] = payload

    def session_rooms(self):
        with self.lock:
            return sorted(room for room, entries in self.open_sessions.items() if entries)

    def unsaved_sessions(self, room_ids, now):
        with self.lock:
            if room_ids is None:
                room_ids = sorted(room for room, entries in self.open_sessions.items() if entries)
            unsaved = {}
            for room_id in room_ids:
                entries = self.open_sessions.get(room_id)
                if entries:
                    alive = self.sockets.get(room_id, {})
                    unsaved[room_id] = [
                        (socket, payload, alive.get(socket, 0) > now) for socket, payload in entries.items()
                    ]
            return unsaved

    def forget_sessions(self, sockets):
        with self.lock:
            for room_id, entries in sockets.items():
                held = self.open_sessions.get(room_id, {})
                for socket_id, payload in entries:
                    if held.get(socket_id) == payload:
                        del held[socket_id]
                if not held:
                    self.open_sessions.pop(room_id, None)

    def add_product_click(self, brand_id, room_id, product_id, customer_id):
        with self.lock:
            self.clicks[(room_id, product_id, customer_id)] += 1
            self.dirty_clicks.add((brand_id, room_id, product_id, customer_id))

    def take_product_clicks(self, limit):
        with self.lock:
            keys = [self.dirty_clicks.pop() for _ in range(min(limit, len(self.dirty_clicks)))]
            return [(*key, self.clicks[key[1:]]) for key in keys]

    def requeue_product_clicks(self, keys):
        with self.lock:
            self.dirty_clicks.update(tuple(key) for key in keys)

    def dead_letter(self, kind, payload, error):
        with self.lock:
            self.dead.append({"kind": kind, "payload": payload, "error": error, "at": time.time()})

    def dead_letters(self):
        return list(self.dead)

    def take_dead_letters(self):
        with self.lock:
            taken, self.dead = self.dead, []
            return taken


_store = None
_store_lock = threading.Lock()


def store() -> RedisStore | LocalStore:
    """This process's store, built once from settings (REDIS_URL set → Redis)."""
    global _store
    if _store is None:
        with _store_lock:
            if _store is None:
                _store = RedisStore(settings.REDIS_URL) if settings.REDIS_URL else LocalStore()
    return _store


def reset_store() -> None:
    """Tests: forget this process's store (the next call builds it again from settings)."""
    global _store
    _store = None


def live_counters(rooms) -> dict[int, dict]:
    """Like totals and online counts of rooms from the live store (one round trip each)."""
    rooms = list(rooms)
    ids = [room.pk for room in rooms]
    current = store()
    likes = current.like_totals(ids)
    online = current.online(ids, time.time()) if ids else {}
    return {
        room.pk: {"likes": max(likes.get(room.pk, 0), room.like_total), "online": online.get(room.pk, 0)}
        for room in rooms
    }
