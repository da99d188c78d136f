"""The WeChat mini-program clients (../shared/WECHAT.md §1–2), against a fake WeChat: no network."""

import json

import httpx
import pytest

from tenants.errors import Forbidden, InvalidInput, RateLimited, UpstreamError
from tenants.models import Brand
from tenants.wechat import mini_program_client
from tenants.wechat.client import WeChatMiniProgramClient
from tenants.wechat.sandbox import SandboxMiniProgramClient

API = "https://api.weixin.qq.com"
APPID = "wx1234567890"
SECRET = "s3cret"
PNG = b"\x89PNG\r\n\x1a\n fake image"


class FakeWeChat:
    """Answers the queued answers in order and records every request it gets.

    An answer is a dict (a 200 JSON answer), an ``httpx.Response``, or an exception to raise.
    Running out of answers fails the test, so an unexpected extra request cannot pass unnoticed.
    """

    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        assert self.answers, f"unexpected request {request.method} {request.url}"
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):
            return answer
        return httpx.Response(200, json=answer)

    @property
    def paths(self) -> list[str]:
        return [request.url.path for request in self.requests]


def make_client(*answers, appid=APPID, secret=SECRET):
    fake = FakeWeChat(*answers)
    http = httpx.Client(base_url=API, transport=httpx.MockTransport(fake))
    return WeChatMiniProgramClient(appid=appid, secret=secret, http=http), fake


def query(request: httpx.Request) -> dict:
    return dict(request.url.params)


def body(request: httpx.Request) -> dict:
    return json.loads(request.content)


def token(value, expires_in=7200):
    return {"access_token": value, "expires_in": expires_in}


SESSION = {"openid": "oABC", "session_key": "key==", "unionid": "uXYZ"}
BUSY = {"errcode": -1, "errmsg": "system error"}


# --- code_to_session -------------------------------------------------------------------------
def test_code_to_session_sends_the_documented_query_and_parses_the_answer():
    client, fake = make_client(SESSION)

    session = client.code_to_session("the-code")

    assert (session.openid, session.session_key, session.unionid) == ("oABC", "key==", "uXYZ")
    [request] = fake.requests
    assert request.method == "GET"
    assert request.url.host == "api.weixin.qq.com" and request.url.path == "/sns/jscode2session"
    assert query(request) == {
        "appid": APPID,
        "secret": SECRET,
        "js_code": "the-code",
        "grant_type": "authorization_code",
    }


def test_code_to_session_without_unionid_answers_an_empty_unionid():
    client, _ = make_client({"openid": "oABC", "session_key": "key=="})

    assert client.code_to_session("c").unionid == ""


def test_code_to_session_accepts_an_explicit_errcode_zero():
    client, _ = make_client({**SESSION, "errcode": 0, "errmsg": "ok"})

    assert client.code_to_session("c").openid == "oABC"


def test_code_to_session_without_openid_is_an_upstream_error():
    client, _ = make_client({"session_key": "key=="})

    with pytest.raises(UpstreamError) as caught:
        client.code_to_session("c")
    assert caught.value.code == "wechat_error" and caught.value.status_code == 502


@pytest.mark.parametrize(
    ("errcode", "error_class", "code", "status"),
    [
        (40029, InvalidInput, "invalid_code", 400),
        (40163, InvalidInput, "invalid_code", 400),
        (45011, RateLimited, "wechat_rate_limited", 429),
        (40226, Forbidden, "wechat_high_risk_user", 403),
        (40013, UpstreamError, "wechat_misconfigured", 502),
        (40125, UpstreamError, "wechat_misconfigured", 502),
    ],
)
def test_code_to_session_maps_errcodes_to_domain_errors(errcode, error_class, code, status):
    client, fake = make_client({"errcode": errcode, "errmsg": "whatever"})

    with pytest.raises(error_class) as caught:
        client.code_to_session("c")

    assert type(caught.value) is error_class
    assert (caught.value.status_code, caught.value.code) == (status, code)
    assert caught.value.fields == {"errcode": errcode}
    assert len(fake.requests) == 1  # only "busy" is retried


def test_an_unknown_errcode_is_a_generic_upstream_error_that_keeps_the_number():
    client, fake = make_client({"errcode": 12345, "errmsg": "something new"})

    with pytest.raises(UpstreamError) as caught:
        client.code_to_session("c")

    assert (caught.value.status_code, caught.value.code) == (502, "wechat_error")
    assert caught.value.fields == {"errcode": 12345}
    assert "12345" in caught.value.message and "something new" in caught.value.message
    assert len(fake.requests) == 1


def test_busy_is_retried_once_with_the_same_request():
    client, fake = make_client(BUSY, SESSION)

    assert client.code_to_session("c").openid == "oABC"

    assert len(fake.requests) == 2
    assert query(fake.requests[0]) == query(fake.requests[1])


def test_busy_twice_is_wechat_busy_without_a_third_request():
    client, fake = make_client(BUSY, BUSY, SESSION)

    with pytest.raises(UpstreamError) as caught:
        client.code_to_session("c")

    assert (caught.value.status_code, caught.value.code) == (502, "wechat_busy")
    assert len(fake.requests) == 2


@pytest.mark.parametrize("exc", [httpx.ConnectError("refused"), httpx.ReadTimeout("slow")])
def test_a_transport_error_is_wechat_unavailable(exc):
    client, fake = make_client(exc)

    with pytest.raises(UpstreamError) as caught:
        client.code_to_session("c")

    assert (caught.value.status_code, caught.value.code) == (502, "wechat_unavailable")
    assert len(fake.requests) == 1


def test_an_http_5xx_is_wechat_unavailable():
    client, fake = make_client(httpx.Response(503, text="Service Unavailable"))

    with pytest.raises(UpstreamError) as caught:
        client.code_to_session("c")

    assert caught.value.code == "wechat_unavailable"
    assert "503" in caught.value.message
    assert len(fake.requests) == 1


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, text="<html>gateway</html>", headers={"content-type": "text/html"}),
        httpx.Response(200, json=["not", "an", "object"]),
    ],
    ids=["html", "json-array"],
)
def test_an_answer_that_is_not_a_json_object_is_wechat_unavailable(answer):
    client, _ = make_client(answer)

    with pytest.raises(UpstreamError) as caught:
        client.code_to_session("c")

    assert (caught.value.status_code, caught.value.code) == (502, "wechat_unavailable")


# --- access_token ----------------------------------------------------------------------------
def test_access_token_posts_the_stable_token_request():
    client, fake = make_client(token("TOKEN-1"))

    assert client.access_token() == "TOKEN-1"

    [request] = fake.requests
    assert request.method == "POST" and request.url.path == "/cgi-bin/stable_token"
    assert body(request) == {
        "grant_type": "client_credential",
        "appid": APPID,
        "secret": SECRET,
        "force_refresh": False,
    }
    assert "secret" not in query(request)  # the secret travels in the body, not the URL


def test_access_token_is_cached_across_clients_of_the_same_app():
    client, fake = make_client(token("TOKEN-1"))
    assert client.access_token() == "TOKEN-1"

    assert client.access_token() == "TOKEN-1"
    another_process, other_fake = make_client()  # no answers: any request fails the test
    assert another_process.access_token() == "TOKEN-1"

    assert len(fake.requests) == 1 and other_fake.requests == []


def test_access_token_is_cached_per_appid():
    first, _ = make_client(token("TOKEN-A"), appid="wxaaaaaaaaaa")
    second, fake = make_client(token("TOKEN-B"), appid="wxbbbbbbbbbb")

    assert first.access_token() == "TOKEN-A"
    assert second.access_token() == "TOKEN-B"
    assert body(fake.requests[0])["appid"] == "wxbbbbbbbbbb"


def test_access_token_errcode_is_a_domain_error_and_nothing_is_cached():
    client, fake = make_client({"errcode": 40125, "errmsg": "invalid appsecret"}, token("TOKEN-1"))

    with pytest.raises(UpstreamError) as caught:
        client.access_token()
    assert caught.value.code == "wechat_misconfigured"

    assert client.access_token() == "TOKEN-1"
    assert len(fake.requests) == 2


def test_call_with_token_adds_the_access_token_to_the_query_and_sends_the_body():
    client, fake = make_client(token("TOKEN-1"), {"errcode": 0, "errmsg": "ok"})

    response = client.call_with_token("POST", "/cgi-bin/message/subscribe/send", params={"x": "1"}, json={"a": 1})

    assert response.json() == {"errcode": 0, "errmsg": "ok"}
    assert fake.paths == ["/cgi-bin/stable_token", "/cgi-bin/message/subscribe/send"]
    call = fake.requests[1]
    assert call.method == "POST"
    assert query(call) == {"x": "1", "access_token": "TOKEN-1"}
    assert body(call) == {"a": 1}


@pytest.mark.parametrize("stale", [40001, 42001, 40014])
def test_a_stale_token_is_force_refreshed_and_the_call_retried_once(stale):
    client, fake = make_client(
        token("OLD"),
        {"errcode": stale, "errmsg": "invalid credential"},
        token("NEW"),
        {"errcode": 0, "errmsg": "ok"},
    )

    response = client.call_with_token("POST", "/cgi-bin/message/subscribe/send", json={})

    assert response.json()["errcode"] == 0
    assert fake.paths == [
        "/cgi-bin/stable_token",
        "/cgi-bin/message/subscribe/send",
        "/cgi-bin/stable_token",
        "/cgi-bin/message/subscribe/send",
    ]
    assert body(fake.requests[0])["force_refresh"] is False
    assert query(fake.requests[1])["access_token"] == "OLD"
    assert body(fake.requests[2])["force_refresh"] is True
    assert query(fake.requests[3])["access_token"] == "NEW"
    assert client.access_token() == "NEW"  # the refreshed token replaced the cached one, no request
    assert len(fake.requests) == 4


def test_a_second_stale_answer_raises_without_a_third_attempt():
    client, fake = make_client(
        token("OLD"),
        {"errcode": 40001, "errmsg": "invalid credential"},
        token("NEW"),
        {"errcode": 40001, "errmsg": "invalid credential"},
    )

    with pytest.raises(UpstreamError) as caught:
        client.call_with_token("POST", "/cgi-bin/message/subscribe/send", json={})

    assert caught.value.fields == {"errcode": 40001}
    assert len(fake.requests) == 4


def test_call_with_token_maps_other_errcodes_without_refreshing():
    client, fake = make_client(token("TOKEN-1"), {"errcode": 45009, "errmsg": "reach max api daily quota limit"})

    with pytest.raises(RateLimited) as caught:
        client.call_with_token("POST", "/wxa/getwxacodeunlimit", json={"scene": "a=1"})

    assert (caught.value.status_code, caught.value.code) == (429, "wechat_rate_limited")
    assert fake.paths == ["/cgi-bin/stable_token", "/wxa/getwxacodeunlimit"]


def test_call_with_token_returns_an_image_answer_as_the_raw_response():
    image = httpx.Response(200, content=PNG, headers={"content-type": "image/png"})
    client, fake = make_client(token("TOKEN-1"), image)

    response = client.call_with_token("POST", "/wxa/getwxacodeunlimit", json={"scene": "a=1"})

    assert response.content == PNG
    assert response.headers["content-type"] == "image/png"
    assert query(fake.requests[1]) == {"access_token": "TOKEN-1"}
    assert body(fake.requests[1]) == {"scene": "a=1"}


def test_call_with_token_reads_errcodes_sent_as_text_plain():
    error = httpx.Response(
        200, text='{"errcode": 41030, "errmsg": "invalid page"}', headers={"content-type": "text/plain"}
    )
    client, _ = make_client(token("TOKEN-1"), error)

    with pytest.raises(UpstreamError) as caught:
        client.call_with_token("POST", "/wxa/getwxacodeunlimit", json={"scene": "a=1"})

    assert caught.value.code == "wechat_error" and caught.value.fields == {"errcode": 41030}


def test_call_with_token_with_a_broken_json_answer_is_wechat_unavailable():
    broken = httpx.Response(200, text="{not json", headers={"content-type": "application/json"})
    client, _ = make_client(token("TOKEN-1"), broken)

    with pytest.raises(UpstreamError) as caught:
        client.call_with_token("GET", "/wxa/anything")

    assert (caught.value.status_code, caught.value.code) == (502, "wechat_unavailable")


# --- sandbox ---------------------------------------------------------------------------------
def test_sandbox_gives_the_same_code_the_same_identity():
    first = SandboxMiniProgramClient(APPID).code_to_session("code-1")
    again = SandboxMiniProgramClient(APPID).code_to_session("code-1")

    assert first == again
    assert first.openid and first.session_key and first.unionid


def test_sandbox_gives_different_codes_different_openids():
    client = SandboxMiniProgramClient(APPID)

    assert client.code_to_session("code-1").openid != client.code_to_session("code-2").openid


def test_sandbox_openid_depends_on_the_appid_but_unionid_does_not():
    one = SandboxMiniProgramClient("wxaaaaaaaaaa").code_to_session("code-1")
    other = SandboxMiniProgramClient("wxbbbbbbbbbb").code_to_session("code-1")

    assert one.openid != other.openid
    assert one.unionid == other.unionid


@pytest.mark.parametrize("code", ["", "has space", "x" * 65, "中文", None])
def test_sandbox_rejects_invalid_codes(code):
    with pytest.raises(InvalidInput) as caught:
        SandboxMiniProgramClient(APPID).code_to_session(code)

    assert (caught.value.status_code, caught.value.code) == (400, "invalid_code")


def test_sandbox_accepts_a_64_character_code():
    assert SandboxMiniProgramClient(APPID).code_to_session("x" * 64).openid


# --- mini_program_client ---------------------------------------------------------------------
@pytest.fixture
def brand_in_memory():
    return Brand(appid=APPID, app_secret="s")


def test_the_sandbox_backend_gives_the_sandbox_client(settings, brand_in_memory):
    settings.WECHAT_BACKEND = "sandbox"

    client = mini_program_client(brand_in_memory)

    assert isinstance(client, SandboxMiniProgramClient)
    assert client.appid == APPID


def test_the_wechat_backend_gives_the_real_client(settings, brand_in_memory):
    settings.WECHAT_BACKEND = "wechat"
    settings.WECHAT_API_BASE = "https://wechat.example"

    client = mini_program_client(brand_in_memory)

    assert isinstance(client, WeChatMiniProgramClient)
    assert (client.appid, client.secret) == (APPID, "s")
    assert client.http.base_url == httpx.URL("https://wechat.example")


def test_an_unknown_backend_is_a_value_error(settings, brand_in_memory):
    settings.WECHAT_BACKEND = "carrier-pigeon"

    with pytest.raises(ValueError, match="carrier-pigeon"):
        mini_program_client(brand_in_memory)
