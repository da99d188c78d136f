import contextlib
import zoneinfo

from django.conf import settings
from django.contrib.auth import middleware as auth_middleware
from django.contrib.messages import middleware as messages_middleware
from django.contrib.sessions import middleware as sessions
from django.http import HttpResponseBadRequest, JsonResponse, UnreadablePostError
from django.http.multipartparser import MultiPartParserError
from django.utils import timezone, translation
from django.utils.cache import patch_vary_headers

from tenants import scoping
from tenants import text as text_rule
from tenants.admin_site import admin_scope_for
from tenants.api.errors import error_body, is_api_request
from tenants.error_messages import negotiated_language
from tenants.models import Brand


def _is_admin(request) -> bool:
    return request.path.startswith("/" + settings.ADMIN_URL_PATH)


class AdminLocaleMiddleware:
    """The admin's language: the one its user chose with the header's switch (Django's language
    cookie, set by ``set_language``), else ``LANGUAGE_CODE`` (Chinese); a browser's
    Accept-Language does not change it. Every other path (the API) answers in the language its
    ``Accept-Language`` asks for among ``LANGUAGES``, else ``API_LANGUAGE_CODE`` (English): the
    error messages (tenants.error_messages) and DRF's field messages follow it, the codes never."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if _is_admin(request):
            language = translation.get_language_from_path(request.path_info) or self._chosen(request)
        else:
            language = negotiated_language(request.META.get("HTTP_ACCEPT_LANGUAGE"))
        previous = translation.get_language()
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
        try:
            response = self.get_response(request)
        finally:
            translation.activate(previous)
        if _is_admin(request):
            patch_vary_headers(response, ("Cookie",))
            response.headers.setdefault("Content-Language", language)
        elif response.status_code >= 400:  # an error's message is in the language asked for
            patch_vary_headers(response, ("Accept-Language",))
        return response

    @staticmethod
    def _chosen(request) -> str:
        cookie = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        if cookie:
            try:
                return translation.get_supported_language_variant(cookie)
            except LookupError:
                pass
        return settings.LANGUAGE_CODE


class BrandScopeMiddleware:
    """Every request starts with no brand in scope and leaves none behind.

    API views enter their brand after authentication (tenants.api.base); the web admin enters
    the brand the staff user has chosen (or the platform scope for the platform operator), and
    shows times in that brand's time zone (the platform operator's: ``PLATFORM_ADMIN_TIME_ZONE``).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        admin = _is_admin(request)
        scope = admin_scope_for(request) if admin else None
        token = scoping.activate(scope)
        if admin:
            timezone.activate(
                scope.tz if isinstance(scope, Brand) else zoneinfo.ZoneInfo(settings.PLATFORM_ADMIN_TIME_ZONE)
            )
        try:
            return self.get_response(request)
        finally:
            if admin:
                timezone.deactivate()
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


class _PagesOnly:
    """A browser middleware (the session, its user, messages) that the API does not need: API
    requests (``is_api_request``) pass by it. The API authenticates each request by its token
    (tenants.auth), so it reads no session and sets no cookie. (CSRF and frame options stay
    Django's own for every request, as ``check --deploy`` wants them.) Skipping these is a
    twelfth of the CPU of the cheapest API answers (a buyer turned away from a sold-out sale)."""

    def __call__(self, request):
        if is_api_request(request):
            return self.get_response(request)
        return super().__call__(request)


class SessionMiddleware(_PagesOnly, sessions.SessionMiddleware):
    pass


class AuthenticationMiddleware(_PagesOnly, auth_middleware.AuthenticationMiddleware):
    pass


class MessageMiddleware(_PagesOnly, messages_middleware.MessageMiddleware):
    pass
