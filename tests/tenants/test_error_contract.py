"""The OpenAPI schema documents every operation's error answers (tenants.schema), and the suite
fails a test whose view answers a code its operation does not list (tests/contract_errors.py)."""

import re
from pathlib import Path

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory

from livestream.api.mp import MpRoomReminderApi
from tests.contract_errors import UndocumentedError, check_error_answer

ROOT = Path(__file__).resolve().parents[2]
ERROR_REF = {"$ref": "#/components/schemas/Error"}


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def codes(schema, path, method):
    responses = schema["paths"][path][method]["responses"]
    return {
        int(status): set(response["content"]["application/json"]["examples"])
        for status, response in responses.items()
        if int(status) >= 400
    }


def test_the_error_shape_is_one_component(schema):
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    assert error["properties"]["error"]["required"] == ["code", "message", "fields"]


def test_every_operation_documents_its_errors_in_the_shape(schema):
    operations = 0
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            errors = {status: r for status, r in operation["responses"].items() if int(status) >= 400}
            assert errors, (method, path)
            for status, response in errors.items():
                content = response["content"]["application/json"]
                assert content["schema"] == ERROR_REF, (method, path, status)
                for code, example in content["examples"].items():
                    assert example["value"]["error"]["code"] == code
                    assert f"`{code}`" in response["description"]
            operations += 1
    assert operations > 150


def test_a_console_operation_on_an_object(schema):
    assert codes(schema, "/api/v1/console/rooms/{room_id}", "patch") == {
        400: {"invalid", "malformed_json", "invalid_text"},
        401: {"not_authenticated", "invalid_token"},
        403: {"brand_required", "not_a_member", "role_not_allowed", "brand_suspended"},
        404: {"not_found", "room_not_found"},
        409: {"room_already_started", "room_closed"},
        415: {"unsupported_media_type"},
    }


def test_audiences_paths_throttles_and_lists_are_derived(schema):
    mp_list = codes(schema, "/api/v1/mp/rooms", "get")
    assert mp_list[403] == {"brand_suspended"} and mp_list[404] == {"not_found"}  # a page past the end
    assert codes(schema, "/api/v1/platform/brands", "get")[403] == {"platform_only"}
    login = codes(schema, "/api/v1/staff/login", "post")
    assert login[429] == {"rate_limited"} and 403 not in login and "not_authenticated" not in login.get(401, ())
    assert schema["paths"]["/api/v1/staff/login"]["post"]["responses"]["429"]["headers"].keys() == {"Retry-After"}
    assert 409 not in codes(schema, "/api/v1/mp/rooms/{room_id}/reminder", "delete")
    assert codes(schema, "/api/v1/mp/rooms/{room_id}/reminder", "post")[409] == {"room_not_upcoming"}
    assert codes(schema, "/api/v1/console/group-buys/{offer_id}/stop", "post")[404] >= {"group_buy_not_found"}


def reminder_answer(status, code):
    request = APIRequestFactory().post("/api/v1/mp/rooms/1/reminder")
    return MpRoomReminderApi(), request, Response({"error": {"code": code, "message": "", "fields": {}}}, status=status)


def test_a_code_the_schema_lists_passes_the_check():
    check_error_answer(*reminder_answer(409, "room_not_upcoming"))
    check_error_answer(*reminder_answer(404, "room_not_found"))


@pytest.mark.parametrize(("status", "code"), [(409, "made_up"), (400, "room_not_upcoming"), (409, None)])
def test_an_undocumented_answer_fails_the_test_that_provoked_it(status, code):
    with pytest.raises(UndocumentedError, match=r"MpRoomReminderApi\.post answered"):
        check_error_answer(*reminder_answer(status, code))


def test_the_check_runs_for_every_test(anon):
    from rest_framework.views import APIView

    assert getattr(APIView.finalize_response, "checks_errors", False)


# Raised for the room's websocket only: answered as an ``error`` frame, never on REST.
WEBSOCKET_ONLY = {"comment_blocked", "comment_empty", "comment_rate_limited", "comment_too_long", "comments_disabled"}
DOMAIN_ERRORS = (
    r"\b(?:InvalidInput|NotAuthenticated|Forbidden|NotFound|Conflict|RateLimited|UpstreamError)\(\s*\"(\w+)\""
    r"|\bratelimit\.limit\([^)]*?\bcode=\"(\w+)\""  # the one rate limiter names its 429 code
)


def raised_codes():
    """Every code the application's code raises as a domain error, by the file that raises it."""
    raised = {}
    for path in ROOT.glob("*/**/*.py"):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith((".venv/", "tests/", "bench/")) or "/migrations/" in relative:
            continue
        for found in re.findall(DOMAIN_ERRORS, path.read_text()):
            raised.setdefault("".join(found), relative)
    return raised


def test_every_code_the_services_raise_is_listed_by_an_operation(schema):
    """Catches a code no test provokes yet: a new ``raise Conflict("new_code")`` must be declared
    (@error_codes) on the operations that can answer it before the suite passes."""
    documented = {
        code
        for item in schema["paths"].values()
        for operation in item.values()
        for response in operation["responses"].values()
        for code in response.get("content", {}).get("application/json", {}).get("examples", {})
    }
    raised = raised_codes()
    assert len(raised) > 150
    missing = {code: where for code, where in raised.items() if code not in documented | WEBSOCKET_ONLY}
    assert not missing, missing
    assert set(raised) >= WEBSOCKET_ONLY
    assert not WEBSOCKET_ONLY & documented
