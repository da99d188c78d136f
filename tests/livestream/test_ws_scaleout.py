"""Two ASGI processes on one Redis (DESIGN §8, §11): a comment sent through one reaches a viewer
connected to the other, likes sent to both add up, and both count the same viewers online.

Runs only with ``REDIS_URL`` set and a database both uvicorn processes can open (PostgreSQL, or a
SQLite file; not SQLite's in-memory test database)."""

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from datetime import timedelta
from urllib.parse import quote

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection
from django.utils import timezone

from livestream import realtime
from livestream.models import Comment, LiveRoom
from livestream.services import live
from tenants.auth import CustomerAccessToken

websockets_client = pytest.importorskip("websockets.asyncio.client")


def _shared_database_url() -> str | None:
    """A URL naming the test database, for other processes; None when they cannot share it."""
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        credentials = quote(db["USER"] or "", safe="") + (
            ":" + quote(db["PASSWORD"], safe="") if db["PASSWORD"] else ""
        )
        host = db["HOST"] or "localhost"
        port = f":{db['PORT']}" if db["PORT"] else ""
        return f"postgres://{credentials}@{host}{port}/{quote(db['NAME'], safe='')}"
    if connection.vendor == "sqlite" and not connection.is_in_memory_db():
        return f"sqlite:///{db['NAME']}"
    return None


pytestmark = [
    pytest.mark.redis,
    pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL: two processes share the live state on Redis"),
    pytest.mark.django_db(transaction=True),  # the rows must be committed for the other processes to see them
    pytest.mark.asyncio,
]

START_TIMEOUT = 30


@pytest.fixture(autouse=True)
def fresh_store():
    realtime.reset_store()
    yield
    realtime.reset_store()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(port: int, database_url: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url,
        "CONN_MAX_AGE": "0",
        "REDIS_URL": settings.REDIS_URL,
        "REDIS_KEY_PREFIX": settings.REDIS_KEY_PREFIX,  # this test process's keys and channels
        "PYTEST_XDIST_WORKER": "",
    }
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "config.asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    return subprocess.Popen(command, cwd=settings.BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


async def wait_for_port(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"uvicorn on {port} exited: {process.stdout.read().decode(errors='replace')[-3000:]}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        writer.close()
        await writer.wait_closed()
        return
    pytest.fail(f"uvicorn did not listen on {port} within {START_TIMEOUT}s")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


async def next_of(ws, kind, timeout=5):
    async with asyncio.timeout(timeout):
        while True:
            message = json.loads(await ws.recv())
            if message["type"] == kind:
                return message


async def join(port, room, customer):
    """A socket in the room on that process: snapshot read, and joined (the pong comes after connect)."""
    token = CustomerAccessToken.for_customer(customer)
    ws = await websockets_client.connect(f"ws://127.0.0.1:{port}/ws/rooms/{room.pk}/?token={token}", open_timeout=10)
    snapshot = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert snapshot["type"] == "snapshot" and snapshot["data"]["room"]["id"] == room.pk
    await ws.send(json.dumps({"type": "ping"}))
    await next_of(ws, "pong")
    return ws


def in_thread(func):
    """Run ``func`` in asgiref's worker thread and close that thread's connection after it: no
    consumer in this process closes it, and an open one keeps the test database from being dropped."""

    def run(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        finally:
            connection.close()

    return sync_to_async(run)


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


async def test_two_processes_on_one_redis_serve_one_room(brand, make_customer):
    database_url = _shared_database_url()
    if database_url is None:
        pytest.skip("the uvicorn processes cannot open SQLite's in-memory test database")
    room = await in_thread(live_room)(brand)
    alice = await in_thread(make_customer)(brand, nickname="Alice")
    bob = await in_thread(make_customer)(brand, nickname="Bob")
    ports = [free_port(), free_port()]
    while ports[1] == ports[0]:
        ports[1] = free_port()
    processes = []
    sockets = []
    try:
        processes = [start_server(port, database_url) for port in ports]
        for port, process in zip(ports, processes, strict=True):
            await wait_for_port(port, process)
        a = await join(ports[0], room, alice)
        sockets.append(a)
        b = await join(ports[1], room, bob)
        sockets.append(b)
        assert realtime.store().online([room.pk], time.time()) == {room.pk: 2}  # one heartbeat each, shared

        await a.send(json.dumps({"type": "comment", "data": {"text": "hello from the first process"}}))
        for ws in (b, a):
            event = (await next_of(ws, "comment"))["data"]
            assert (event["text"], event["customer"]["nickname"]) == ("hello from the first process", "Alice")
        await b.send(json.dumps({"type": "comment", "data": {"text": "and back from the second"}}))
        assert (await next_of(a, "comment"))["data"]["text"] == "and back from the second"

        await a.send(json.dumps({"type": "like", "data": {"count": 3}}))
        await b.send(json.dumps({"type": "like", "data": {"count": 4}}))
        for ws in (a, b):
            total = 0
            while total < 7:  # the room's total, whichever process announces it
                total = (await next_of(ws, "likes"))["data"]["total"]
            assert total == 7
        assert realtime.store().like_totals([room.pk]) == {room.pk: 7}

        # Both processes queued their comments in the shared store; one flush saves them all.
        assert await in_thread(live.comments_flush)() == 2
        texts = await in_thread(lambda: sorted(Comment.unscoped.filter(room=room).values_list("text", flat=True)))()
        assert texts == ["and back from the second", "hello from the first process"]
    finally:
        for ws in sockets:
            await ws.close()
        for process in processes:
            stop(process)
