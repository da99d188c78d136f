"""The one text rule (tenants.text) on the REST API: every string of a body, keys included, is
valid Unicode that PostgreSQL can store, or the request is answered 400 ``invalid_text`` naming
the field. Checked by property over the mini-program's and the console's text fields: any JSON
text gets an answer in the error shape, never a 500."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import assert_error
from tenants import text

pytestmark = pytest.mark.django_db

any_char = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, categories=None)  # surrogates and NUL too
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def raw_post(client, path, body: dict, method="POST"):
    """A body as a client may write it: lone surrogates as ``\\ud800`` escapes."""
    return client.generic(method, path, json.dumps(body, ensure_ascii=True))


@pytest.mark.parametrize("bad", ["a\x00b", "\ud800", "x\udfffy", "\ud83d"])
def test_the_rule(bad):
    assert not text.is_valid_text(bad)
    assert text.is_valid_text(text.clean_text(bad))
    assert text.is_valid_text("emoji 😀 and 中文")
    assert text.find_invalid({"a": [1, {"b": bad}]}) == "a.1.b"
    assert text.find_invalid({bad: 1}) == "."


@pytest.mark.parametrize("bad", ["a\x00b", "\ud800"])
def test_a_login_with_text_postgresql_cannot_store_is_refused(anon, brand, bad):
    response = raw_post(anon, "/api/v1/mp/login", {"appid": brand.appid, "code": "c1", "nickname": bad})
    error = assert_error(response, 400, "invalid_text")
    assert "nickname" in error["fields"]


@PROPERTY
@given(nickname=st.text(any_char, max_size=80), code=st.text(any_char, min_size=1, max_size=20))
def test_any_login_text_gets_an_answer(anon, brand, nickname, code):
    response = raw_post(anon, "/api/v1/mp/login", {"appid": brand.appid, "code": code, "nickname": nickname})
    assert response.status_code in (200, 400, 429), response.content
    if response.status_code != 200:
        assert set(response.json()["error"]) == {"code", "message", "fields"}
    if response.status_code != 429 and not (text.is_valid_text(nickname) and text.is_valid_text(code)):
        assert response.json()["error"]["code"] == "invalid_text"  # throttled logins are refused before parsing


@PROPERTY
@given(nickname=st.text(any_char, max_size=80))
def test_any_profile_text_gets_an_answer(customer_client, brand, make_customer, nickname):
    from tenants.models import Customer

    client = customer_client(Customer.unscoped.filter(openid="o-profile").first() or make_customer(brand, "o-profile"))
    response = raw_post(client, "/api/v1/mp/me", {"nickname": nickname}, method="PATCH")
    assert response.status_code in (200, 400), response.content
    if text.is_valid_text(nickname):
        assert response.status_code == 200 or response.json()["error"]["code"] != "invalid_text"
    else:
        assert response.json()["error"]["code"] == "invalid_text"
