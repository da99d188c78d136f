"""A websocket process killed during a show (issue 21): two real uvicorn processes on PostgreSQL
and a throwaway Redis, viewers on process A, ``kill -9`` A, and the viewers reconnect to B.

Heartbeats every ``LIVE_HEARTBEAT_S`` (1 s here) and a TTL of ``LIVE_ONLINE_TTL_S`` (4 s here),
set through the environment as production would. What must hold, read from the live store as
the broadcast reads it and from the ``viewers`` frames the room sends:

* the online count never exceeds the distinct viewers (the reconnected ones are not counted
  twice, not even for the TTL: before, 151 reconnected viewers showed as 251);
* those who did not come back stop being counted within the TTL (plus one heartbeat);
* the peak the flush records in the database is never above the distinct viewers.
"""

import asyncio
import json
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from bench.common import server_env, start_uvicorn, stop_process
from livestream import realtime
from livestream.models import LiveRoom
from livestream.services import live
from tenants.auth import CustomerAccessToken
from tests.browser.conftest import _database_url

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="two server processes share one database"),
    pytest.mark.django_db(transaction=True),
]

HEARTBEAT_S, TTL_S = 1, 4  # 3 s of slack for a late heartbeat on a busy machine
VIEWERS = 30  # on process A; RETURNING of them reconnect to B
RETURNING = 24


def live_room(brand):
    start = timezone.now() - timedelta(minutes=5)
    return LiveRoom.objects.create(
        brand=brand,
        title="On air now",
        anchor_name="Lin",
        status="live",
        started_at=start,
        scheduled_start=start,
        scheduled_end=start + timedelta(hours=2),
    )


class Socket:
    """A viewer's socket that keeps every ``viewers`` frame it receives."""

    def __init__(self, url):
        self.url, self.counts, self.reader, self.ws = url, [], None, None

    async def open(self):
        from websockets.asyncio.client import connect

        self.ws = await connect(self.url, open_timeout=10)
        snapshot = json.loads(await asyncio.wait_for(self.ws.recv(), 10))
        assert snapshot["type"] == "snapshot", snapshot
        self.reader = asyncio.create_task(self._read())
        return self

    async def _read(self):
        try:
            async for text in self.ws:
                frame = json.loads(text)
                if frame["type"] == "viewers":
                    self.counts.append(frame["data"])
        except Exception:  # the process went away: the reader ends
            pass

    async def closed(self):
        await asyncio.wait_for(self.reader, 10)

    async def close(self):
        await self.ws.close()
        await self.reader


@pytest.fixture
def two_processes(throwaway_redis, tmp_path, django_db_blocker):
    """Processes A and B: the production websocket server (uvicorn, ``--ws websockets``) on this
    test's PostgreSQL database and the throwaway Redis, with short heartbeats."""
    prefix = settings.REDIS_KEY_PREFIX  # this process reads the same live store as the servers
    env = server_env(
        _database_url(tmp_path),
        throwaway_redis.url,
        prefix,
        SECRET_KEY=settings.SECRET_KEY,
        JWT_SIGNING_KEY=settings.SIMPLE_JWT["SIGNING_KEY"],
        LIVE_HEARTBEAT_S=str(HEARTBEAT_S),
        LIVE_ONLINE_TTL_S=str(TTL_S),
        CONN_MAX_AGE="0",
    )
    env.pop("PYTEST_XDIST_WORKER", None)  # it would change the servers' key prefix
    env["REDIS_KEY_PREFIX"] = prefix
    with ThreadPoolExecutor(2) as pool:  # both start at once
        starting = [pool.submit(start_uvicorn, env) for _ in range(2)]
    processes = [future.result() for future in starting if future.exception() is None]
    try:
        assert len(processes) == 2, [future.exception() for future in starting]
        yield processes
    finally:
        for process, _ in processes:
            stop_process(process)


def test_viewers_of_a_killed_process_are_counted_once_and_the_absent_ones_drop_within_the_ttl(
    two_processes, throwaway_redis, brand, make_customer
):
    room = live_room(brand)
    tokens = [str(CustomerAccessToken.for_customer(make_customer(brand))) for _ in range(VIEWERS + 1)]
    connection.close()  # the servers' connections are the only ones while they run
    (process_a, port_a), (_, port_b) = two_processes

    def url(port, token):
        return f"ws://127.0.0.1:{port}/ws/rooms/{room.pk}/?token={token}"

    store = realtime.RedisStore(throwaway_redis.url)

    def online():
        return store.online([room.pk], time.time())[room.pk]

    async def show():
        watcher = await Socket(url(port_b, tokens[-1])).open()  # one viewer on B all along
        on_a = await asyncio.gather(*(Socket(url(port_a, token)).open() for token in tokens[:VIEWERS]))
        deadline = time.monotonic() + 5
        while online() != VIEWERS + 1:
            assert time.monotonic() < deadline, f"{online()} online, {VIEWERS + 1} connected"
            await asyncio.sleep(0.05)

        os.killpg(process_a.pid, signal.SIGKILL)  # no goodbye: no leave, no close, no flush
        killed_at = time.monotonic()
        await asyncio.gather(*(socket.closed() for socket in on_a))
        back = await asyncio.gather(*(Socket(url(port_b, token)).open() for token in tokens[:RETURNING]))
        truth = RETURNING + 1

        seen = []  # (seconds since the kill, online)
        while time.monotonic() - killed_at < TTL_S + HEARTBEAT_S + 1.5:
            seen.append((time.monotonic() - killed_at, online()))
            await asyncio.sleep(0.05)
        await asyncio.sleep(2.5)  # one more ``viewers`` broadcast (every 2 s) reaches the watcher
        for socket in [watcher, *back]:
            await socket.close()
        return seen, truth, watcher.counts

    seen, truth, frames = asyncio.run(asyncio.wait_for(show(), 40))

    # Never above the distinct viewers: those reconnected are one each, not two.
    assert max(n for _, n in seen) <= VIEWERS + 1, seen
    assert all(f["online"] <= VIEWERS + 1 and f["peak"] <= VIEWERS + 1 for f in frames), frames
    # The ones that did not come back stop being counted within the TTL (and a heartbeat's slack).
    late = [n for at, n in seen if at >= TTL_S + HEARTBEAT_S]
    assert late and all(n == truth for n in late), seen
    assert frames[-1]["online"] == truth, frames

    # The peak the flush writes is never above the distinct viewers.
    realtime._store = store
    try:
        live.live_flush()
    finally:
        realtime.reset_store()
    peak = LiveRoom.unscoped.get(pk=room.pk).peak_online
    assert 0 < peak <= VIEWERS + 1, peak
