"""Domain errors raised by services; the API turns each into the one error shape (DESIGN §10).

A service raises ``Conflict("out_of_stock", "…", fields={"sku": 12})``; the handler answers
``409 {"error": {"code": "out_of_stock", "message": "…", "fields": {"sku": 12}}}``.
"""


class DomainError(Exception):
    status_code = 400
    default_code = "invalid"

    def __init__(self, code: str | None = None, message: str = "", fields: dict | None = None):
        self.code = code or self.default_code
        self.message = message or self.code.replace("_", " ").capitalize() + "."
        self.fields = fields or {}
        super().__init__(self.message)


class InvalidInput(DomainError):
    status_code = 400
    default_code = "invalid"


class NotAuthenticated(DomainError):
    status_code = 401
    default_code = "not_authenticated"


class Forbidden(DomainError):
    status_code = 403
    default_code = "permission_denied"


class NotFound(DomainError):
    """Also what another brand's object answers: indistinguishable from one that does not exist."""

    status_code = 404
    default_code = "not_found"


class Conflict(DomainError):
    """The request is valid but the object's state does not allow it (409)."""

    status_code = 409
    default_code = "conflict"


class RateLimited(DomainError):
    status_code = 429
    default_code = "rate_limited"


class UpstreamError(DomainError):
    """An outside service (WeChat) failed in a way the caller cannot fix by changing the request."""

    status_code = 502
    default_code = "upstream_error"
