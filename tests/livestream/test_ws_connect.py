"""Websocket connect: the same tokens as the API, rooms only within the principal's brand."""

from datetime import timedelta

import pytest
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from config.asgi import application
from livestream.models import LiveRoom
from tenants.auth import CustomerAccessToken, staff_tokens

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def make_room(brand, **fields):
    start = timezone.now() + timedelta(hours=1)
    return LiveRoom.objects.create(
        brand=brand,
        title="Spring launch",
        anchor_name="Lin",
        scheduled_start=start,
        scheduled_end=start + timedelta(hours=2),
        **fields,
    )


async def connect(path):
    communicator = WebsocketCommunicator(application, path)
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def closed_with(communicator, code):
    while True:
        message = await communicator.receive_output(timeout=2)
        if message["type"] == "websocket.close":
            assert message.get("code") == code, message
            return


@pytest.fixture
def rooms(brand, other_brand):
    return make_room(brand), make_room(other_brand)


async def test_customer_gets_a_snapshot_and_pong(brand, rooms, make_customer):
    customer = await _sync(make_customer, brand)
    token = CustomerAccessToken.for_customer(customer)
    ws = await connect(f"/ws/rooms/{rooms[0].pk}/?token={token}")
    snapshot = await ws.receive_json_from()
    assert snapshot["type"] == "snapshot" and snapshot["data"]["room"]["status"] == "scheduled"
    await ws.send_json_to({"type": "ping"})
    assert (await ws.receive_json_from())["type"] == "pong"
    await ws.disconnect()


async def test_another_brands_room_is_not_found(brand, rooms, make_customer):
    customer = await _sync(make_customer, brand)
    ws = await connect(f"/ws/rooms/{rooms[1].pk}/?token={CustomerAccessToken.for_customer(customer)}")
    await closed_with(ws, 4404)


async def test_bad_token_closes_4401(rooms):
    ws = await connect(f"/ws/rooms/{rooms[0].pk}/?token=garbage")
    await closed_with(ws, 4401)


async def test_anonymous_viewers_need_the_appid_and_the_brands_consent(brand, other_brand, rooms):
    ws = await connect(f"/ws/rooms/{rooms[0].pk}/")
    await closed_with(ws, 4403)
    ws = await connect(f"/ws/rooms/{rooms[0].pk}/?appid={brand.appid}")
    assert (await ws.receive_json_from())["type"] == "snapshot"
    await ws.disconnect()
    ws = await connect(f"/ws/rooms/{rooms[1].pk}/?appid={brand.appid}")
    await closed_with(ws, 4404)
    other_brand.allow_anonymous_viewers = False
    await _sync(other_brand.save)
    ws = await connect(f"/ws/rooms/{rooms[1].pk}/?appid={other_brand.appid}")
    await closed_with(ws, 4403)


async def test_staff_token_needs_membership_of_the_rooms_brand(brand, rooms, make_staff):
    user = await _sync(make_staff, brand)
    token = staff_tokens(user)["access"]
    ws = await connect(f"/ws/rooms/{rooms[0].pk}/?token={token}&brand={brand.pk}")
    assert (await ws.receive_json_from())["type"] == "snapshot"
    await ws.disconnect()
    ws = await connect(f"/ws/rooms/{rooms[1].pk}/?token={token}&brand={rooms[1].brand_id}")
    await closed_with(ws, 4403)


async def _sync(func, *args, **kwargs):
    from asgiref.sync import sync_to_async

    return await sync_to_async(func)(*args, **kwargs)


async def test_the_platform_operator_follows_any_brands_room_but_only_under_that_brand(brand, rooms, make_staff):
    def superuser():
        user = make_staff(username="platform-ws")
        user.is_superuser = user.is_staff = True
        user.save()
        return user

    token = staff_tokens(await _sync(superuser))["access"]
    for room in rooms:  # the console lets the platform operator act for any brand: its socket too
        ws = await connect(f"/ws/rooms/{room.pk}/?token={token}&brand={room.brand_id}")
        assert (await ws.receive_json_from())["type"] == "snapshot"
        await ws.disconnect()
    # Named under another brand, a room is not found, as for everyone.
    ws = await connect(f"/ws/rooms/{rooms[1].pk}/?token={token}&brand={brand.pk}")
    await closed_with(ws, 4404)
    ws = await connect(f"/ws/rooms/{rooms[0].pk}/?token={token}&brand=no-such-brand")
    await closed_with(ws, 4403)
