"""Subscribe messages (../shared/WECHAT.md §3): the real client against a fake WeChat, the sandbox,
and the value fitting both share. No network, no database."""

import json

import httpx
import pytest

from tenants.errors import DomainError, RateLimited, UpstreamError
from tenants.wechat import MessageRejected, SubscribeMessage, build_subscribe_data, fit_subscribe_value
from tenants.wechat.sandbox import SandboxMiniProgramClient
from tests.tenants.test_wechat_client import APPID, BUSY, make_client, query, token

SEND = "/cgi-bin/message/subscribe/send"
OK = {"errcode": 0, "errmsg": "ok"}


def message(**fields):
    defaults = {
        "openid": "oABC",
        "template_id": "TPL-1",
        "data": {"thing1": "直播开始啦", "time2": "2024年5月1日 20:00"},
    }
    return SubscribeMessage(**{**defaults, **fields})


@pytest.fixture(autouse=True)
def _empty_sandbox():
    SandboxMiniProgramClient.reset()
    yield
    SandboxMiniProgramClient.reset()


# --- the real client: the request ------------------------------------------------------------
def test_send_posts_the_documented_request_with_the_access_token():
    client, fake = make_client(token("TOKEN-1"), OK)

    client.send_subscribe_message(message(page="pages/live/index?id=7"))

    assert fake.paths == ["/cgi-bin/stable_token", SEND]
    send = fake.requests[1]
    assert send.method == "POST"
    assert query(send) == {"access_token": "TOKEN-1"}
    assert send.headers["content-type"] == "application/json"
    assert json.loads(send.content) == {
        "touser": "oABC",
        "template_id": "TPL-1",
        "page": "pages/live/index?id=7",
        "data": {"thing1": {"value": "直播开始啦"}, "time2": {"value": "2024年5月1日 20:00"}},
        "miniprogram_state": "formal",
        "lang": "zh_CN",
    }


def test_send_encodes_chinese_as_utf8_not_as_escapes():
    client, fake = make_client(token("TOKEN-1"), OK)

    client.send_subscribe_message(message())

    content = fake.requests[1].content
    assert "直播开始啦".encode() in content
    assert b"\\u" not in content


def test_send_omits_an_empty_page_and_passes_state_and_lang():
    client, fake = make_client(token("TOKEN-1"), OK)

    client.send_subscribe_message(message(miniprogram_state="trial", lang="en_US"))

    sent = json.loads(fake.requests[1].content)
    assert "page" not in sent
    assert (sent["miniprogram_state"], sent["lang"]) == ("trial", "en_US")


def test_send_fits_the_values_it_sends():
    client, fake = make_client(token("TOKEN-1"), OK)

    client.send_subscribe_message(
        message(data={"thing1": "一二三四五六七八九十\n一二三四五六七八九十", "phrase3": "已开始直播"})
    )

    sent = json.loads(fake.requests[1].content)["data"]
    assert sent == {"thing1": {"value": "一二三四五六七八九十 一二三四五六七八…"}, "phrase3": {"value": "已开始直播"}}


# --- the real client: errors -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("errcode", "reason"),
    [
        (43101, "refused"),
        (40003, "invalid_recipient"),
        (40037, "invalid_template"),
        (47003, "invalid_data"),
        (41030, "invalid_page"),
    ],
)
def test_an_undeliverable_message_is_rejected_without_a_retry(errcode, reason):
    client, fake = make_client(token("TOKEN-1"), {"errcode": errcode, "errmsg": "argument invalid! data.thing1.value"})

    with pytest.raises(MessageRejected) as caught:
        client.send_subscribe_message(message())

    assert (caught.value.reason, caught.value.errcode) == (reason, errcode)
    assert caught.value.errmsg == "argument invalid! data.thing1.value"  # 47003 names the field
    assert not isinstance(caught.value, DomainError)  # not a transient error a caller would retry
    assert fake.paths == ["/cgi-bin/stable_token", SEND]


@pytest.mark.parametrize(
    ("fields", "reason", "errcode"),
    [({"openid": ""}, "invalid_recipient", 40003), ({"template_id": ""}, "invalid_template", 40037)],
)
def test_an_empty_recipient_or_template_is_rejected_before_any_request(fields, reason, errcode):
    client, fake = make_client()  # no answers: any request fails the test

    with pytest.raises(MessageRejected) as caught:
        client.send_subscribe_message(message(**fields))

    assert (caught.value.reason, caught.value.errcode) == (reason, errcode)
    assert fake.requests == []


def test_a_stale_token_is_refetched_and_the_message_sent_once_more():
    client, fake = make_client(token("OLD"), {"errcode": 40001, "errmsg": "invalid credential"}, token("NEW"), OK)

    client.send_subscribe_message(message())

    assert fake.paths == ["/cgi-bin/stable_token", SEND, "/cgi-bin/stable_token", SEND]
    assert [query(fake.requests[i])["access_token"] for i in (1, 3)] == ["OLD", "NEW"]
    assert fake.requests[1].content == fake.requests[3].content


def test_a_token_still_stale_after_the_refetch_is_a_transient_error():
    stale = {"errcode": 40001, "errmsg": "invalid credential"}
    client, fake = make_client(token("OLD"), stale, token("NEW"), stale)

    with pytest.raises(UpstreamError) as caught:
        client.send_subscribe_message(message())

    assert caught.value.fields == {"errcode": 40001}
    assert len(fake.requests) == 4


def test_busy_is_a_transient_error_and_is_not_resent():
    client, fake = make_client(token("TOKEN-1"), BUSY)

    with pytest.raises(UpstreamError) as caught:
        client.send_subscribe_message(message())

    assert (caught.value.status_code, caught.value.code) == (502, "wechat_busy")
    assert fake.paths == ["/cgi-bin/stable_token", SEND]


def test_the_quota_is_rate_limited():
    client, _ = make_client(token("TOKEN-1"), {"errcode": 45009, "errmsg": "reach max api daily quota limit"})

    with pytest.raises(RateLimited) as caught:
        client.send_subscribe_message(message())

    assert caught.value.code == "wechat_rate_limited"


@pytest.mark.parametrize(
    "answer",
    [
        httpx.ConnectError("refused"),
        httpx.Response(503, text="Service Unavailable"),
        httpx.Response(200, text="<html>gateway</html>", headers={"content-type": "text/html"}),
        httpx.Response(200, text="{not json", headers={"content-type": "application/json"}),
    ],
    ids=["unreachable", "http-503", "html", "broken-json"],
)
def test_wechat_being_unreachable_or_odd_is_a_transient_error(answer):
    client, _ = make_client(token("TOKEN-1"), answer)

    with pytest.raises(UpstreamError) as caught:
        client.send_subscribe_message(message())

    assert caught.value.code == "wechat_unavailable"


def test_an_unknown_errcode_is_a_transient_error_that_keeps_the_number():
    client, _ = make_client(token("TOKEN-1"), {"errcode": 12345, "errmsg": "something new"})

    with pytest.raises(UpstreamError) as caught:
        client.send_subscribe_message(message())

    assert caught.value.fields == {"errcode": 12345}


# --- fitting values --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "value", "fitted"),
    [
        ("thing1", "一" * 20, "一" * 20),
        ("thing1", "一" * 21, "一" * 19 + "…"),
        ("thing12", "a" * 50, "a" * 19 + "…"),
        ("number2", "1" * 40, "1" * 32),
        ("letter3", "x" * 40, "x" * 32),
        ("symbol4", "%%%%%%%", "%%%%%"),
        ("character_string5", "c" * 40, "c" * 32),
        ("phone_number6", "+86 138 0013 8000 ext 12", "+86 138 0013 8000"),
        ("car_number7", "粤B12345678", "粤B123456"),
        ("name8", "欧阳娜娜欧阳娜娜欧阳娜娜", "欧阳娜娜欧阳娜娜欧阳"),
        ("phrase9", "直播即将开始", "直播即将开"),
        ("time10", "2024年5月1日 20:00~2024年5月1日 22:00", "2024年5月1日 20:00~2024年5月1日 22:00"),
        ("amount11", "¥12345678901234", "¥12345678901234"),
        ("thing1", "short", "short"),
        ("thing1", "", ""),
    ],
)
def test_fit_subscribe_value_keeps_each_type_within_its_limit(key, value, fitted):
    assert fit_subscribe_value(key, value) == fitted


def test_fit_subscribe_value_turns_newlines_into_spaces_before_counting():
    assert fit_subscribe_value("thing1", "第一行\n第二行\r\n第三行\r末") == "第一行 第二行 第三行 末"
    assert fit_subscribe_value("phrase1", "a\nb") == "a b"
    assert fit_subscribe_value("date1", "2024-05-01\n") == "2024-05-01 "
    assert fit_subscribe_value("thing1", "\n" * 30) == " " * 19 + "…"


def test_build_subscribe_data_answers_wechats_shape_with_fitted_values():
    assert build_subscribe_data({"thing1": "x" * 25, "number2": "42", "date3": "2024年5月1日"}) == {
        "thing1": {"value": "x" * 19 + "…"},
        "number2": {"value": "42"},
        "date3": {"value": "2024年5月1日"},
    }
    assert build_subscribe_data({}) == {}


# --- sandbox ---------------------------------------------------------------------------------
def test_sandbox_records_the_message_with_its_data_fitted():
    original = message(data={"thing1": "一" * 30, "phrase2": "直播即将开始"}, page="pages/live/index")

    SandboxMiniProgramClient(APPID).send_subscribe_message(original)

    [sent] = SandboxMiniProgramClient.outbox
    assert sent == message(data={"thing1": "一" * 19 + "…", "phrase2": "直播即将开"}, page="pages/live/index")
    assert original.data["thing1"] == "一" * 30  # the caller's message is left as it was


def test_sandbox_outbox_is_shared_by_every_client():
    SandboxMiniProgramClient("wxaaaaaaaaaa").send_subscribe_message(message(openid="o1"))
    SandboxMiniProgramClient("wxbbbbbbbbbb").send_subscribe_message(message(openid="o2"))

    assert [sent.openid for sent in SandboxMiniProgramClient.outbox] == ["o1", "o2"]


def test_sandbox_refuses_for_a_refusing_openid_and_records_nothing():
    SandboxMiniProgramClient.refusing_openids.add("oNO")
    client = SandboxMiniProgramClient(APPID)

    with pytest.raises(MessageRejected) as caught:
        client.send_subscribe_message(message(openid="oNO"))
    client.send_subscribe_message(message(openid="oYES"))

    assert (caught.value.reason, caught.value.errcode) == ("refused", 43101)
    assert [sent.openid for sent in SandboxMiniProgramClient.outbox] == ["oYES"]


@pytest.mark.parametrize(
    ("fields", "reason", "errcode"),
    [({"openid": ""}, "invalid_recipient", 40003), ({"template_id": ""}, "invalid_template", 40037)],
)
def test_sandbox_rejects_an_empty_recipient_or_template(fields, reason, errcode):
    with pytest.raises(MessageRejected) as caught:
        SandboxMiniProgramClient(APPID).send_subscribe_message(message(**fields))

    assert (caught.value.reason, caught.value.errcode) == (reason, errcode)
    assert SandboxMiniProgramClient.outbox == []


def test_sandbox_reset_empties_the_outbox_and_the_refusals_in_place():
    outbox = SandboxMiniProgramClient.outbox
    SandboxMiniProgramClient.refusing_openids.add("oNO")
    SandboxMiniProgramClient(APPID).send_subscribe_message(message())

    SandboxMiniProgramClient.reset()

    assert outbox == [] and SandboxMiniProgramClient.outbox is outbox
    assert SandboxMiniProgramClient.refusing_openids == set()
    SandboxMiniProgramClient(APPID).send_subscribe_message(message(openid="oNO"))  # no longer refused
