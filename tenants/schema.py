"""How the OpenAPI schema describes Siyu: authentication schemes, component names and the error
answers of every operation.

Every refusal has one shape, the ``Error`` component (tenants.api.errors). Each operation lists
the statuses it can answer with the codes of each, as the examples of that response, so a
generated client (or a developer reading /api/docs/) knows them:

* derived here, once, from what the view is: 400 ``invalid`` (+ ``malformed_json``,
  ``invalid_text``, 415 for a body), 401 where it authenticates, 403 for its audience
  (tenants.api.base), 404 ``not_found`` where the path names an object or the list is paged,
  429 ``rate_limited`` where it is throttled;
* declared by the view for what its services raise: ``@error_codes({409: ["room_ended"]})`` on
  the handler (or ``error_codes = {...}`` on the class, for every method).

tests/contract_errors.py checks every error answer of the test suite against the generated
schema: a view that answers a code its schema does not list fails the test that provoked it.
"""

import re
from collections import defaultdict
from http import HTTPStatus

from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework.mixins import ListModelMixin

ERROR_COMPONENT = "Error"
ERROR_SCHEMA = {
    "type": "object",
    "description": "Every error the API answers has this shape; the operation lists its codes.",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string", "description": "Stable snake_case code: branch on this."},
                "message": {"type": "string", "description": "For people; may change."},
                "fields": {
                    "type": "object",
                    "additionalProperties": {},
                    "description": (
                        "For `invalid`: messages per field (`non_field_errors` for the whole body). "
                        'Otherwise what the code is about, e.g. `{"sku": 12}` or `{"retry_after": 30}`.'
                    ),
                },
            },
            "required": ["code", "message", "fields"],
        }
    },
    "required": ["error"],
}

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
AUTH_CODES = ("not_authenticated", "invalid_token")  # DRF/simplejwt's token_not_valid is answered invalid_token
STAFF_CODES = ("brand_required", "not_a_member", "role_not_allowed", "brand_suspended")


def error_codes(codes: dict[int, list[str] | tuple[str, ...]]):
    """Declare the codes a handler answers beyond the derived ones: ``@error_codes({409: ["room_ended"]})``."""

    def decorate(handler):
        declared = getattr(handler, "error_codes", {})
        handler.error_codes = {**declared, **{int(status): tuple(c) for status, c in codes.items()}}
        return handler

    return decorate


def declared_error_codes(view_cls, method: str) -> dict[int, tuple[str, ...]]:
    merged = defaultdict(set)
    handler = getattr(view_cls, method.lower(), None)
    for declared in (getattr(view_cls, "error_codes", {}), getattr(handler, "error_codes", {})):
        for status, codes in declared.items():
            merged[int(status)].update(codes)
    return merged


class CustomerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "tenants.auth.CustomerAuthentication"
    name = "customerToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "Customer token from POST /api/v1/mp/login.",
        }


class StaffTokenScheme(OpenApiAuthenticationExtension):
    target_class = "tenants.auth.StaffAuthentication"
    name = "staffToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": (
                "Staff access token from POST /api/v1/staff/login. Brand endpoints also need the "
                "`X-Brand` header: the id or slug of a brand you are a member of."
            ),
        }


class AutoSchema(openapi.AutoSchema):
    """Names a view's nested serializers after the view (``MpLoginApi.InputSerializer`` →
    ``MpLoginInput``) and documents every operation's error answers."""

    def get_serializer_name(self, serializer, direction):
        outer, _, name = type(serializer).__qualname__.rpartition(".")
        if outer:
            return outer.removesuffix("Api") + name.removesuffix("Serializer")
        return name

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        self.registry.register_on_missing(
            ResolvedComponent(ERROR_COMPONENT, ResolvedComponent.SCHEMA, schema=ERROR_SCHEMA, object=ERROR_COMPONENT)
        )
        ref = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}
        for status, codes in sorted(self.error_answers().items()):
            if str(status) not in responses:
                responses[str(status)] = _error_response(status, sorted(codes), ref)
        return responses

    def error_answers(self) -> dict[int, set[str]]:
        """Status → the codes this operation can answer with it."""
        from tenants.api.base import CustomerAPIView, PlatformAPIView, ScopedAPIView, StaffAPIView

        view, method = type(self.view), self.method
        errors = defaultdict(set)
        if method in BODY_METHODS and self.get_request_serializer() is not None:
            errors[400].update(("invalid", "malformed_json", "invalid_text"))
            errors[415].add("unsupported_media_type")
        if any(parameter["in"] == "query" for parameter in self._get_parameters()):
            errors[400].add("invalid")
        if self.view.authentication_classes:
            errors[401].add("invalid_token")
        if issubclass(view, ScopedAPIView):
            errors[401].add("not_authenticated")
        if issubclass(view, StaffAPIView):
            errors[403].update(STAFF_CODES)
        elif issubclass(view, CustomerAPIView):
            errors[403].add("brand_suspended")
        elif issubclass(view, PlatformAPIView):
            errors[403].add("platform_only")
        objects = path_objects(self.path)
        if objects or self._paged():  # the object (another brand's too), or a page past the end
            errors[404].update(("not_found", *(f"{name}_not_found" for name in objects)))
        if self.view.throttle_classes:
            errors[429].add("rate_limited")
        for status, codes in declared_error_codes(view, method).items():
            errors[status].update(codes)
        return errors

    def _paged(self) -> bool:
        return (
            self.method == "GET"
            and isinstance(self.view, ListModelMixin)
            and getattr(self.view, "pagination_class", None) is not None
        )


# A path argument's object where its name does not say it: ``/group-buys/{offer_id}``.
PATH_OBJECT_NAMES = {
    ("group-buys", "offer_id"): "group_buy",
    ("bargain-offers", "offer_id"): "bargain_offer",
    ("gift-boxes", "box_id"): "gift_box",
}


def path_objects(path: str) -> list[str]:
    """The objects a path names, as their ``<name>_not_found`` codes name them."""
    return [
        PATH_OBJECT_NAMES.get((segment, argument), argument.removesuffix("_id"))
        for segment, argument in re.findall(r"([\w.-]+)/\{(\w+)\}", path)
        if argument.endswith("_id")
    ]


def _error_response(status: int, codes: list[str], ref: dict) -> dict:
    phrase = HTTPStatus(status).phrase
    response = {
        "description": f"{phrase}: " + ", ".join(f"`{code}`" for code in codes),
        "content": {
            "application/json": {
                "schema": ref,
                "examples": {
                    code: {
                        "summary": code,
                        "value": {"error": {"code": code, "message": _message(code), "fields": {}}},
                    }
                    for code in codes
                },
            }
        },
    }
    if status == 429:
        response["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds."}}
    return response


def _message(code: str) -> str:
    return code.replace("_", " ").capitalize() + "."
