"""Issue 22: the live console's own websocket (a staff token) follows the room's events but is no
viewer — not in the online count, not in the peak, no viewing session."""

import asyncio
import time

import pytest
from channels.testing import WebsocketCommunicator

from config.asgi import application
from livestream import hub as hub_module
from livestream import realtime
from livestream.models import ViewingSession
from livestream.services import live
from tenants.auth import staff_tokens
from tests.livestream.test_ws_moderation import join, live_room, next_of, s

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@pytest.fixture(autouse=True)
def fast_hub(monkeypatch):
    realtime.reset_store()
    monkeypatch.setattr(hub_module, "FLUSH_INTERVAL", 0.02)
    monkeypatch.setattr(hub_module, "VIEWERS_BROADCAST_MS", 10)
    monkeypatch.setattr(hub_module, "PERSIST_EVERY", 3600)
    yield
    realtime.reset_store()


async def join_as_staff(room, user, brand):
    ws = WebsocketCommunicator(
        application, f"/ws/rooms/{room.pk}/?token={staff_tokens(user)['access']}&brand={brand.pk}"
    )
    assert (await ws.connect())[0]
    snapshot = await ws.receive_json_from()
    assert snapshot["type"] == "snapshot"
    return ws, snapshot


async def online_becomes(ws, online, timeout=5):
    """The ``viewers`` frames until one says ``online`` (earlier counts may still be on their way)."""
    async with asyncio.timeout(timeout):
        while True:
            data = (await next_of(ws, "viewers", timeout))["data"]
            if data["online"] == online:
                return data


async def test_the_consoles_socket_is_not_counted_as_a_viewer(brand, make_customer, make_staff):
    """Before: an operator with the console open was one of the room's online viewers, raised the
    peak and left a viewing session."""
    room = await s(live_room)(brand)
    operator = await s(make_staff)(brand)
    console, snapshot = await join_as_staff(room, operator, brand)
    assert snapshot["data"]["online"] == 0
    viewer = await join(room, await s(make_customer)(brand))
    # The console still gets the room's frames: the online count, which counts the customer only.
    assert (await online_becomes(console, 1))["peak"] == 1
    assert realtime.store().online([room.pk], time.time()) == {room.pk: 1}

    second, _ = await join_as_staff(room, await s(make_staff)(brand), brand)
    await viewer.disconnect()
    assert realtime.store().online([room.pk], time.time()) == {room.pk: 0}  # two staff sockets open, nobody online
    await online_becomes(console, 0)
    for _ in range(3):  # and stays there
        assert (await next_of(console, "viewers"))["data"]["online"] == 0
    await console.disconnect()
    await second.disconnect()
    await s(live.live_flush)()
    sessions = await s(lambda: list(ViewingSession.unscoped.values_list("customer_id", flat=True)))()
    assert len(sessions) == 1 and sessions[0] is not None  # the customer's only
    peak = await s(lambda: type(room).unscoped.get(pk=room.pk).peak_online)()
    assert peak == 1
