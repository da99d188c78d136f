"""The browser pages, outside the API prefixes (config/urls.py mounts ``urlpatterns`` at the root)."""

from django.urls import path

from web import views

urlpatterns = [
    path("live/rooms/<int:room_id>/", views.viewer_page, name="web-viewer"),
    path("console/rooms/<int:room_id>/live", views.console_page, name="web-console"),
]
