import contextlib

from django.conf import settings
from django.http import HttpResponseBadRequest, JsonResponse, UnreadablePostError
from django.http.multipartparser import MultiPartParserError

from tenants import scoping
from tenants import text as text_rule
from tenants.admin_site import admin_scope_for


class BrandScopeMiddleware:
    """Every request starts with no brand in scope and leaves none behind.

    API views enter their brand after authentication (tenants.api.base); the web admin enters
    the brand the staff user has chosen (or the platform scope for the platform operator).
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.admin_prefix = "/" + settings.ADMIN_URL_PATH

    def __call__(self, request):
        scope = admin_scope_for(request) if request.path.startswith(self.admin_prefix) else None
        token = scoping.activate(scope)
        try:
            return self.get_response(request)
        finally:
            scoping.deactivate(token)


class TextRuleMiddleware:
    """The one text rule (tenants.text) on what every request carries outside its body — the URL
    path and the query string (``?q=%00``: a search the admin or a list filter would send to
    PostgreSQL, which refuses NUL) — and on the form bodies of the pages outside the API (every
    admin form: add, change, actions, login), so no form field can forget it. API bodies are the
    API parsers' (tenants.api.parsers): they answer in the API's error shape after authentication.

    A request that breaks the rule is answered 400 ``invalid_text``: in the shared error shape
    on the API, a plain 400 page elsewhere."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from tenants.api.errors import error_body, is_api_request

        api = is_api_request(request)
        where = "path" if not text_rule.is_valid_text(request.path) else None
        if where is None and request.META.get("QUERY_STRING"):
            where = text_rule.find_invalid_in_form(request.GET)
        if where is None and not api and request.method == "POST":
            # A body that cannot be read is the view's (or CSRF's) to answer, as without this check.
            with contextlib.suppress(MultiPartParserError, UnreadablePostError):
                where = text_rule.find_invalid_in_form(request.POST)
        if where is None:
            return self.get_response(request)
        error = text_rule.invalid_text_error(where)
        if api:
            return JsonResponse(error_body(error.code, error.message, error.fields), status=400)
        return HttpResponseBadRequest(f"{error.code}: {error.message}", content_type="text/plain; charset=utf-8")
