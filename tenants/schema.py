"""How the OpenAPI schema describes Siyu's authentication schemes."""

from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiAuthenticationExtension


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
    """Names a view's nested serializers after the view: ``MpLoginApi.InputSerializer`` → ``MpLoginInput``."""

    def get_serializer_name(self, serializer, direction):
        outer, _, name = type(serializer).__qualname__.rpartition(".")
        if outer:
            return outer.removesuffix("Api") + name.removesuffix("Serializer")
        return name
