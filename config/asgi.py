"""ASGI entry: websockets in production (uvicorn); HTTP and websockets in the embedded default."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_http = get_asgi_application()  # sets Django up before the consumers are imported

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from livestream.routing import websocket_urlpatterns  # noqa: E402
from tenants.websocket import TokenAuthMiddleware  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_http,
        # Sockets authenticate with a token, never a cookie, so a foreign Origin cannot ride on a
        # viewer's session; mini-programs send no Origin at all. Hence no origin validator.
        "websocket": TokenAuthMiddleware(URLRouter(websocket_urlpatterns)),
    }
)
