"""The session, its user and messages are the pages' (admin, console and viewer pages): API
requests pass by them (tenants.middleware._PagesOnly)."""

from django.http import HttpResponse
from django.test import RequestFactory

from tenants.middleware import AuthenticationMiddleware, MessageMiddleware, SessionMiddleware


def seen_by_view(path):
    seen = {}

    def view(request):
        seen.update(session=hasattr(request, "session"), messages=hasattr(request, "_messages"))
        seen.update(user=hasattr(request, "user"))
        return HttpResponse()

    chain = SessionMiddleware(AuthenticationMiddleware(MessageMiddleware(view)))
    chain(RequestFactory().get(path))
    return seen


def test_api_requests_pass_by_the_browser_middlewares():
    assert seen_by_view("/api/v1/mp/rooms") == {"session": False, "messages": False, "user": False}


def test_pages_still_have_them():
    for path in ("/admin/", "/console/rooms/1/live", "/live/rooms/1/"):
        assert seen_by_view(path) == {"session": True, "messages": True, "user": True}
