"""Every error answers the one shape of DESIGN §10, whatever raised it."""

import pytest
from django.urls import path
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from conftest import assert_error
from tenants.api import mp

pytestmark = pytest.mark.django_db


def test_unknown_api_url_is_a_json_404(anon):
    assert_error(anon.get("/api/v1/mp/nothing-here"), 404, "not_found")


def test_wrong_method_is_405(anon):
    assert_error(anon.get("/api/v1/mp/login"), 405, "method_not_allowed")


def test_non_json_body_is_415(anon):
    response = anon.generic("POST", "/api/v1/mp/login", "appid=x", content_type="application/x-www-form-urlencoded")
    assert_error(response, 415, "unsupported_media_type")


def test_unhandled_exception_is_logged_and_answered_500(anon, brand, monkeypatch, caplog):
    def explode(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(mp.services, "customer_login", explode)
    response = anon.post("/api/v1/mp/login", {"appid": brand.appid, "code": "abc"})
    assert_error(response, 500, "server_error")
    assert "boom" not in response.content.decode()
    assert any("Unhandled error" in record.message for record in caplog.records)


def test_throttled_login_is_429_with_retry_after(anon, brand, monkeypatch):
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"login": "2/min"})
    for _ in range(2):
        assert anon.post("/api/v1/mp/login", {"appid": brand.appid, "code": "abc"}).status_code == 200
    response = anon.post("/api/v1/mp/login", {"appid": brand.appid, "code": "abc"})
    error = assert_error(response, 429, "rate_limited")
    assert error["fields"]["retry_after"] > 0 and int(response["Retry-After"]) > 0


class _Boom(APIView):
    def get(self, request):
        raise ValueError("raw")


urlpatterns = [path("api/boom", _Boom.as_view())]


@pytest.mark.urls("tests.tenants.test_errors")
def test_any_api_view_answers_the_shape(anon):
    assert_error(anon.get("/api/boom"), 500, "server_error")
