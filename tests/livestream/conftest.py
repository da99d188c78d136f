"""Shared fixtures for live rooms: rooms made through the services, products, published events."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from commerce.models import Product
from livestream import realtime
from livestream.models import CoStream, Festival, LiveRoom, RoomProduct, Venue
from livestream.services import rooms


def iso(moment):
    return moment.isoformat()


def schedule(start_in=timedelta(hours=1), duration=timedelta(hours=2)):
    """A (start, end) pair that the room rules accept by default."""
    start = timezone.now() + start_in
    return start, start + duration


@pytest.fixture
def make_room(db):
    """A room created through the service (so it passes the rules), optionally taken live."""

    def make(brand, *, title="Spring launch", anchor_name="Anchor Lin", status="scheduled", **fields):
        start, end = schedule()
        fields.setdefault("scheduled_start", start)
        fields.setdefault("scheduled_end", end)
        room = rooms.room_create(brand=brand, title=title, anchor_name=anchor_name, **fields)
        steps = {
            "scheduled": [],
            "live": [rooms.room_start],
            "paused": [rooms.room_start, rooms.room_pause],
            "ended": [rooms.room_start, rooms.room_end],
            "cancelled": [rooms.room_cancel],
        }[status]
        for step in steps:
            room = step(brand=brand, room=room)
        assert room.status == status
        return room

    return make


@pytest.fixture
def make_product(db):
    """An approved, on-shelf product of the brand's library (created directly, not via commerce services)."""

    def make(brand, name=None, **fields):
        values = {"price": 100, "audit_status": "approved", "status": "on_shelf", **fields}
        return Product.objects.create(brand=brand, name=name or f"Product {Product.unscoped.count() + 1}", **values)

    return make


@pytest.fixture
def events(monkeypatch):
    """Every room event that reaches the broadcast, as (room_id, event). Run the action inside
    ``django_capture_on_commit_callbacks(execute=True)`` so that on-commit callbacks fire."""
    published = []
    monkeypatch.setattr("livestream.realtime._broadcast", lambda room_id, event: published.append((room_id, event)))
    return published


def of_type(published, event_type):
    return [(room_id, event["data"]) for room_id, event in published if event["type"] == event_type]


def reload(room):
    return LiveRoom.unscoped.get(pk=room.pk)


def snapshot():
    """Every livestream row of every brand, to prove that a refused request changed nothing."""
    rows = {
        model.__name__: list(model.unscoped.order_by("pk").values())
        for model in (LiveRoom, RoomProduct, CoStream, Venue)
    }
    rows["Festival"] = list(Festival.objects.order_by("pk").values())
    return rows


@pytest.fixture(
    params=[
        pytest.param("local", id="local"),
        pytest.param(
            "redis",
            id="redis",
            marks=[pytest.mark.redis, pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL")],
        ),
    ]
)
def live_store(request):
    """Each of the live stores, fresh: this process's, and Redis's when REDIS_URL is set."""
    if request.param == "local":
        return realtime.LocalStore()
    return realtime.RedisStore(settings.REDIS_URL)


class ThrowawayRedis:
    """A ``redis-server`` of the test's own on a free port (never the shared one), which the test
    may stop and start again. No persistence: a restart loses everything, as a crash would."""

    def __init__(self, tmp_path):
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.dir = tmp_path
        self.process = None

    def start(self):
        import subprocess
        import time

        import redis

        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen([*command, "--dir", str(self.dir)], stdout=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url)
        for _ in range(100):
            try:
                client.ping()
                return self
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("the throwaway redis-server did not start")

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.kill()  # as a crash: nothing saved
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def throwaway_redis(tmp_path):
    import shutil

    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server")
    server = ThrowawayRedis(tmp_path).start()
    yield server
    server.stop()
