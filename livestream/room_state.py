"""The room as every viewer sees it, built once per change and served as ready bytes (DESIGN §10).

What ``GET /api/v1/mp/rooms/{id}`` shows alike to every viewer of a room (the room and its
status, its products with prices and stock state, the pushed product, co-stream, festivals and
open games) is encoded once per **room version** and kept in the Django cache (Redis in
production, the local cache in the embedded default). Every change bumps the version after its
transaction commits, through ``rooms_changed_on_commit``; a body is served only under the version
that is current, so a viewer who asks once a change's commit has returned never gets the state
before it.

Keys, each led by the brand, so that one brand's key never answers another brand's customer:

* ``room:<brand>:<room>:v`` — the version, an integer bumped by one per change. When it is missing
  (Redis restarted, the key was evicted) it starts again from the clock in microseconds, a value
  that no earlier version of the room had, so an old body is never taken for a new one.
* ``room:<brand>:<room>:body`` — ``Entry(version, head, meta)``: the shared JSON object without its
  closing brace, and what the per-request tail needs. Kept ``BODY_TTL``, so that a bump lost while
  Redis was unreachable heals within that time.
* ``room:<brand>:<room>:live`` — the counters ``(likes, online)`` read from the live store at most
  ``LIVE_TTL`` ago (see below).
* ``room:<brand>:<room>:lock`` — held by the one request that builds a missing body. The others
  poll for it, or take the lock when it is free, for up to ``WAIT_S``, then build it themselves:
  they wait, and never get a version older than the current one.

**Counters.** Likes and the online count change every second, so they are not part of the version:
the tail of every answer splices in the counters as the live store had them at most ``LIVE_TTL``
ago (one key read with the body, in the same round trip; the live store is read again by whichever
request finds that key expired). The ``ETag`` covers the version only, and is therefore weak
(``W/``): a ``304`` tells the mini-program that its copy is still the room's state, with counters
that may lag; the room's websocket snapshot, sent on connect, brings the live ones.

**Degrade.** When Redis is unreachable, every cache call here fails soft: the body is built from
the database for that request (one builder cannot be elected, so none is), and versions that could
not be bumped heal within ``BODY_TTL``.
"""

from __future__ import annotations

import logging
import struct
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.core.cache import cache
from django.db import transaction

logger = logging.getLogger(__name__)

BODY_TTL = 60  # seconds a body is kept; also how long a bump lost in a Redis outage can last
LIVE_TTL = 1  # seconds the spliced counters may lag behind the live store
LOCK_TTL = 5  # seconds a builder holds the lock at most (a builder that died frees it then)
WAIT_S = 0.5  # how long a request waits for another's build before building itself
POLL_S = 0.005

try:  # the errors of an unreachable cache (redis-py raises its own; a socket may raise OSError)
    from redis.exceptions import RedisError

    CACHE_ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError)
except ImportError:  # pragma: no cover - redis is in requirements.txt
    CACHE_ERRORS = (OSError,)


@dataclass(frozen=True)
class Entry:
    """A room's shared part under one version. ``head`` is the JSON object without its closing
    brace; ``meta`` holds what the tail needs: ``like_total`` (persisted, a floor for the live
    total), ``likes``/``online`` at build time, ``festivals`` ({festival id: main room id}) and
    ``costream`` ((id, partner room id) or None), which the ``source`` of a request may name.
    ``deflated`` is ``head`` compressed once (raw deflate, flushed to a byte boundary), and
    ``crc`` its CRC-32: ``gzipped`` appends a request's tail without compressing ``head`` again."""

    version: int
    head: bytes
    meta: dict = field(default_factory=dict)
    deflated: bytes = b""
    crc: int = 0

    @classmethod
    def encode(cls, version: int, head: bytes, meta: dict) -> Entry:
        compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
        deflated = compressor.compress(head) + compressor.flush(zlib.Z_SYNC_FLUSH)
        return cls(version, head, meta, deflated, zlib.crc32(head))

    def gzipped(self, tail: bytes) -> bytes:
        """``head + tail`` as one gzip member: the head's deflate stream, then the tail as a final
        stored block (RFC 1951 §3.2.4; a tail is far below its 65,535-byte limit), then the
        trailer (the CRC-32 and length of the whole)."""
        stored = b"\x01" + struct.pack("<HH", len(tail), len(tail) ^ 0xFFFF) + tail
        trailer = struct.pack("<II", zlib.crc32(tail, self.crc), (len(self.head) + len(tail)) & 0xFFFFFFFF)
        return _GZIP_HEADER + self.deflated + stored + trailer


_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # deflate, no name, no time, unknown OS

# This process's last entry of each room it served, so that a hit reads only the version (a few
# bytes) from the cache, not the body; checked against the current version on every request.
_MEMO: OrderedDict = OrderedDict()
MEMO_ROOMS = 256
_MEMO_LOCK = threading.Lock()


def _key(brand_id: int, room_id: int, part: str) -> str:
    return f"room:{brand_id}:{room_id}:{part}"


def version_key(brand_id: int, room_id: int) -> str:
    return _key(brand_id, room_id, "v")


def body_key(brand_id: int, room_id: int) -> str:
    return _key(brand_id, room_id, "body")


def live_key(brand_id: int, room_id: int) -> str:
    return _key(brand_id, room_id, "live")


def _lock_key(brand_id: int, room_id: int) -> str:
    return _key(brand_id, room_id, "lock")


def _fresh_version() -> int:
    return time.time_ns() // 1000


def etag(room_id: int, version: int) -> str:
    return f'W/"{room_id}.{version}"'


# --- bumping ----------------------------------------------------------------------------------


def rooms_changed_on_commit(*, brand_id: int, room_ids: Iterable[int] = (), sku_ids: Iterable[int] = ()) -> None:
    """Bump the version of the brand's rooms ``room_ids`` and of every room of the brand that lists
    a product of one of ``sku_ids``, after the current transaction commits (at once outside one).

    Call it before publishing the change's room events, so that a viewer who reloads the room on
    hearing the event gets the new state (on-commit callbacks run in the order they were added).
    """
    room_ids, sku_ids = tuple(room_ids), tuple(sku_ids)
    if room_ids or sku_ids:
        transaction.on_commit(lambda: _bump(brand_id, room_ids, sku_ids))


def _bump(brand_id: int, room_ids: tuple, sku_ids: tuple) -> None:
    rooms = set(room_ids)
    if sku_ids:
        from livestream.models import RoomProduct

        rooms.update(
            RoomProduct.unscoped.filter(brand_id=brand_id, product__skus__pk__in=sku_ids)
            .values_list("room_id", flat=True)
            .distinct()
        )
    for room_id in sorted(rooms):
        key = version_key(brand_id, room_id)
        try:
            try:
                cache.incr(key)
            except ValueError:  # no version yet (or lost): start one that no earlier body has
                cache.set(key, _fresh_version(), timeout=None)
        except CACHE_ERRORS:
            logger.warning("room %s: version not bumped (cache unreachable); heals within %ss", room_id, BODY_TTL)


# --- reading ----------------------------------------------------------------------------------


class _Cache:
    """The cache calls of one request; after the first failure the rest are skipped (degraded)."""

    def __init__(self):
        self.down = False

    def call(self, method: str, *args, default=None, **kwargs):
        if self.down:
            return default
        try:
            result = getattr(cache, method)(*args, **kwargs)
        except CACHE_ERRORS:
            result = None
            self.down = True
        # The project's cache (tenants.redis.DegradingRedisCache) answers as a cold cache instead of
        # raising, and says so: without this, every request would wait WAIT_S for a lock it cannot take.
        self.down = self.down or getattr(cache, "degraded", False)
        if self.down:
            logger.warning("cache unreachable: the room detail is built from the database")
            return default
        return result


def shared_entry(
    *,
    brand_id: int,
    room_id: int,
    build: Callable[[], tuple[bytes, dict]],
    extra_keys: Iterable[str] = (),
    check: Callable[[dict], None] | None = None,
) -> tuple[Entry, dict]:
    """The room's current shared part, built with ``build`` (``(head, meta)``, reading the database)
    when the cache holds none under the current version. Also answers the values of ``extra_keys``
    and of the live-counters key, read in the same round trip, and passes them to ``check`` first
    (which may raise before anything is built)."""
    state = _Cache()
    vkey, bkey, lkey = version_key(brand_id, room_id), body_key(brand_id, room_id), live_key(brand_id, room_id)
    # One round trip on a hit: the version, the counters and whatever the caller adds.
    get_many = "get_many_trusted" if hasattr(cache, "get_many_trusted") else "get_many"
    values = state.call(get_many, [vkey, lkey, *extra_keys], default={})
    if check is not None:
        check(values)
    version = values.get(vkey)
    memo = _MEMO.get((brand_id, room_id))
    if version is not None and memo is not None and memo.version == version:
        return memo, values
    if state.down:
        return _build(build, 0), values
    entry = state.call("get", bkey) if version is not None else None
    if entry is None or entry.version != version:
        if version is None:
            version = _fresh_version()
            if not state.call("add", vkey, version, timeout=None, default=False):
                version = state.call("get", vkey, default=version)
        entry = _rebuild(state, brand_id, room_id, version, build)
    if not state.down:
        _remember(brand_id, room_id, entry)
    return entry, values


def _remember(brand_id: int, room_id: int, entry: Entry) -> None:
    with _MEMO_LOCK:
        _MEMO[(brand_id, room_id)] = entry
        _MEMO.move_to_end((brand_id, room_id))
        while len(_MEMO) > MEMO_ROOMS:
            _MEMO.popitem(last=False)


def forget_memo() -> None:
    """Tests: forget this process's entries."""
    _MEMO.clear()


def _build(build, version: int) -> Entry:
    head, meta = build()
    return Entry.encode(version, head, meta)


def _rebuild(state: _Cache, brand_id: int, room_id: int, version: int, build) -> Entry:
    """One builder per version: the request that takes the lock builds and stores the body; the
    others wait for it (or take the lock once it is free again), then build themselves."""
    vkey, bkey, lock = version_key(brand_id, room_id), body_key(brand_id, room_id), _lock_key(brand_id, room_id)
    deadline = time.monotonic() + WAIT_S
    while True:
        if state.call("add", lock, 1, timeout=LOCK_TTL, default=False):
            try:
                # A builder that finished just before this lock was taken has stored it already.
                values = state.call("get_many", [vkey, bkey], default={})
                version = values.get(vkey, version)
                entry = values.get(bkey)
                if entry is not None and entry.version == version:
                    return entry
                # The version was read before the database is: the body holds that version's state
                # or a newer one, never an older one.
                entry = _build(build, version)
                state.call("set", bkey, entry, timeout=BODY_TTL)
                return entry
            finally:
                state.call("delete", lock)
        if state.down or time.monotonic() >= deadline:
            return _build(build, version)
        time.sleep(POLL_S)
        values = state.call("get_many", [vkey, bkey], default={})
        version = values.get(vkey, version)
        entry = values.get(bkey)
        if entry is not None and entry.version == version:
            return entry


def live_counters(*, brand_id: int, room_id: int, entry: Entry, cached) -> tuple[int, int]:
    """``(likes, online)``: the cached reading when it is fresh, else one from the live store
    (kept ``LIVE_TTL``); the body's values at build time when neither answers."""
    if cached is not None:
        return cached
    from livestream.realtime import store

    try:
        live = store()
        likes = max(live.like_totals([room_id]).get(room_id, 0), entry.meta.get("like_total", 0))
        online = live.online([room_id], time.time()).get(room_id, 0)
    except CACHE_ERRORS:
        return entry.meta.get("likes", 0), entry.meta.get("online", 0)
    _Cache().call("set", live_key(brand_id, room_id), (likes, online), timeout=LIVE_TTL)
    return likes, online


def on_products_changed(change) -> None:
    """Subscriber of commerce's "products changed" (livestream.apps): the rooms that list the
    products, or a product of the SKUs, are rebuilt once the change commits. The products' rooms
    are looked up now (a product about to be deleted still has its listings)."""
    from livestream.models import RoomProduct

    room_ids = ()
    if change.product_ids:
        room_ids = RoomProduct.unscoped.filter(brand_id=change.brand_id, product_id__in=change.product_ids).values_list(
            "room_id", flat=True
        )
    rooms_changed_on_commit(brand_id=change.brand_id, room_ids=list(room_ids), sku_ids=change.sku_ids)
