"""One JSON shape for every error the API answers (DESIGN §10):

{"error": {"code": "snake_case", "message": "...", "fields": {...}}}

The message is in the request's language (tenants.error_messages): English unless the client's
``Accept-Language`` asks for Chinese.
"""

import logging

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

from tenants.error_messages import localized
from tenants.errors import DomainError
from tenants.redis import UNAVAILABLE

logger = logging.getLogger("siyu.api")

# DRF's own codes, renamed where the API promises a clearer one.
_RENAMED_CODES = {
    "parse_error": "malformed_json",
    "throttled": "rate_limited",
    "not_found": "not_found",
    "token_not_valid": "invalid_token",
}


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    fields = fields or {}
    return {"error": {"code": code, "message": localized(code, message, fields), "fields": fields}}


def _flatten(detail):
    """DRF ErrorDetail trees → plain strings, lists and dicts."""
    if isinstance(detail, dict):
        return {key: _flatten(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_flatten(value) for value in detail]
    return str(detail)


def _first_message(fields) -> str:
    for key, value in fields.items():
        while isinstance(value, (list, dict)) and value:
            value = value[0] if isinstance(value, list) else next(iter(value.values()))
        if value:
            return str(value) if key == "non_field_errors" else f"{key}: {value}"
    return "Invalid input."


def _from_validation_error(detail) -> tuple[str, str, dict]:
    if isinstance(detail, dict):
        fields = _flatten(detail)
        return "invalid", _first_message(fields), fields
    messages = _flatten(detail if isinstance(detail, list) else [detail])
    fields = {"non_field_errors": messages}
    return "invalid", _first_message(fields), fields


def _from_api_exception(exc: exceptions.APIException) -> tuple[str, str, dict]:
    if isinstance(exc, exceptions.ValidationError):
        return _from_validation_error(exc.detail)
    detail = exc.detail
    fields = {}
    if isinstance(detail, dict):  # simplejwt: {"detail": ..., "code": ..., "messages": [...]}
        code = str(detail.get("code") or exc.default_code)
        message = str(detail.get("detail") or exc.default_detail)
    else:
        code = getattr(detail, "code", None) or exc.default_code
        message = str(detail)
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        fields["retry_after"] = int(exc.wait) + 1
    return _RENAMED_CODES.get(code, code), message, fields


def exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER: every exception becomes the shared shape; nothing escapes as HTML."""
    headers = {}
    if isinstance(exc, TokenError):  # a refresh token that does not verify
        exc = InvalidToken({"detail": str(exc), "code": "token_not_valid"})
    if isinstance(exc, DomainError):
        status_code, code, message, fields = exc.status_code, exc.code, exc.message, exc.fields
    elif isinstance(exc, exceptions.APIException):
        status_code = exc.status_code
        code, message, fields = _from_api_exception(exc)
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None) is not None:
            headers["Retry-After"] = str(int(exc.wait) + 1)
    elif isinstance(exc, DjangoValidationError):
        status_code = status.HTTP_400_BAD_REQUEST
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        code, message = "invalid", _first_message(fields)
    elif isinstance(exc, (Http404, ObjectDoesNotExist)):
        status_code, code, message, fields = 404, "not_found", "Not found.", {}
    elif isinstance(exc, DjangoPermissionDenied):
        status_code, code, message, fields = 403, "permission_denied", "Permission denied.", {}
    elif isinstance(exc, UNAVAILABLE):  # live state (clicks, lottery joins) needs Redis: retry later
        logger.warning("Redis unreachable in %s", type(context.get("view")).__name__)
        status_code, code, message, fields = 503, "realtime_unavailable", "Try again in a moment.", {}
        headers["Retry-After"] = "5"
    else:
        view = context.get("view")
        logger.exception("Unhandled error in %s", type(view).__name__ if view else "API", exc_info=exc)
        status_code, code, message, fields = 500, "server_error", "Internal server error.", {}
    set_rollback()
    return Response(error_body(code, message, fields), status=status_code, headers=headers)


def json_error_response(request, status_code: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status_code)


def is_api_request(request) -> bool:
    return request.path.startswith(("/api/", "/healthz"))
