"""URLs: one prefix per audience, each app contributing its own lists (``<app>/urls.py``)."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views import defaults
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from redis.asyncio import Redis as AsyncRedis

from commerce import urls as commerce_urls
from coupons import urls as coupons_urls
from guides import urls as guides_urls
from livestream import urls as livestream_urls
from tenants import urls as tenants_urls
from tenants.api.errors import is_api_request, json_error_response
from tenants.health import HealthView

# coupons before livestream: its rooms/<id>/coupon-drops would otherwise meet rooms/<id>/<action>.
APPS = [tenants_urls, commerce_urls, coupons_urls, livestream_urls, guides_urls]


def audience(name):
    return [url for app in APPS for url in getattr(app, f"{name}_urls", [])]


health_checks = ["health_check.checks.Database", "health_check.checks.Cache"]
if settings.REDIS_URL:
    health_checks.append(
        (
            "health_check.contrib.redis.Redis",
            {
                "client_factory": lambda: AsyncRedis.from_url(
                    settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2
                )
            },
        )
    )

urlpatterns = [
    path("api/v1/mp/", include(audience("mp"))),
    path("api/v1/staff/", include(audience("staff"))),
    path("api/v1/console/", include(audience("console"))),
    path("api/v1/guide/", include(audience("guide"))),
    path("api/v1/platform/", include(audience("platform"))),
    path("api/v1/", include(audience("public"))),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
    path("healthz", HealthView.as_view(checks=health_checks), name="healthz"),
    path(settings.ADMIN_URL_PATH, admin.site.urls),
    path("", include("web.urls")),
]
if settings.SERVE_MEDIA:
    urlpatterns.insert(
        0, re_path(rf"^{settings.MEDIA_URL.strip('/')}/(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT})
    )


def handler404(request, exception=None):
    if is_api_request(request):
        return json_error_response(request, 404, "not_found", "Not found.")
    return defaults.page_not_found(request, exception)


def handler500(request):
    if is_api_request(request):
        return json_error_response(request, 500, "server_error", "Internal server error.")
    return defaults.server_error(request)


def handler400(request, exception=None):
    if is_api_request(request):
        return json_error_response(request, 400, "bad_request", "Bad request.")
    return defaults.bad_request(request, exception)


def handler403(request, exception=None):
    if is_api_request(request):
        return json_error_response(request, 403, "permission_denied", "Permission denied.")
    return defaults.permission_denied(request, exception)
