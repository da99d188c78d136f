"""The room socket's error frames speak the viewer's language (tenants.error_messages): ``?lang=``
(what a browser page can send) or the handshake's ``Accept-Language`` (what ``wx.connectSocket``
can send); English by default. The codes are the same in every language."""

import pytest
from channels.testing import WebsocketCommunicator

from config.asgi import application
from livestream.models import Mute
from tenants.auth import CustomerAccessToken
from tests.livestream.test_ws_moderation import fast_hub, live_room, next_of, s, settled  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def join(room, customer, query="", headers=()):
    token = CustomerAccessToken.for_customer(customer)
    ws = WebsocketCommunicator(application, f"/ws/rooms/{room.pk}/?token={token}{query}", headers=list(headers))
    assert (await ws.connect())[0]
    assert (await ws.receive_json_from())["type"] == "snapshot"
    await settled(ws)
    return ws


async def refusal(ws, data):
    await ws.send_json_to(data)
    return (await next_of(ws, "error"))["data"]


@pytest.mark.parametrize(
    ("query", "headers", "muted", "blocked"),
    [
        ("", (), "You cannot comment in this room.", "This comment contains words the brand does not allow."),
        ("&lang=zh-Hans", (), "你已被禁言，暂时不能评论。", "评论含有本直播间不允许的词语。"),
        ("", [(b"accept-language", b"zh-CN,zh;q=0.9")], "你已被禁言，暂时不能评论。", "评论含有本直播间不允许的词语。"),
        ("&lang=en", [(b"accept-language", b"zh-CN")], "You cannot comment in this room.", None),
    ],
)
async def test_error_frames_are_in_the_language_the_socket_asked_for(
    brand, make_customer, query, headers, muted, blocked
):
    await s(type(brand).objects.filter(pk=brand.pk).update)(blocked_words="假货", blocked_word_action="reject")
    room = await s(live_room)(brand)
    talker, silenced = await s(make_customer)(brand), await s(make_customer)(brand)
    await s(Mute.unscoped.create)(brand=brand, customer=silenced)
    ws, quiet = await join(room, talker, query, headers), await join(room, silenced, query, headers)

    assert await refusal(quiet, {"type": "comment", "data": {"text": "hi"}}) == {"code": "muted", "message": muted}
    if blocked:
        error = await refusal(ws, {"type": "comment", "data": {"text": "是假货吗"}})
        assert error == {"code": "comment_blocked", "message": blocked}
    unknown = await refusal(ws, {"type": "dance", "data": {}})
    assert unknown["code"] == "unknown_event"
    assert (unknown["message"] == "无法识别该消息。") is ("zh" in query or (bool(headers) and "lang=en" not in query))
    for socket in (ws, quiet):
        await socket.disconnect()
