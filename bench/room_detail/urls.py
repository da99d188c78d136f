"""The production URLs plus the benchmark's reference: a bare Django view answering a small JSON object."""

from django.http import JsonResponse
from django.urls import path

from config.urls import urlpatterns as production_urlpatterns


def bare_json(request):
    """No authentication, no query, no serializer: what Django alone costs per request."""
    return JsonResponse({"id": 1, "title": "Bench room", "status": "live"})


urlpatterns = [path("bench/bare-json", bare_json), *production_urlpatterns]
