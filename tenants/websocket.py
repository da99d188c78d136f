"""Websocket authentication with the same tokens as the REST API (DESIGN §6).

The token comes as ``?token=<jwt>`` (what ``wx.connectSocket`` and browsers can send) or an
``Authorization: Bearer`` header. A valid customer token puts ``customer`` and ``brand`` in
the scope; a staff token puts ``staff_user``. No token: an anonymous viewer (the consumer
decides whether the brand allows that). An invalid token is closed with 4401.

The socket's language (its ``error`` frames' messages, tenants.error_messages) comes as
``?lang=zh-Hans`` (browsers cannot set a websocket's headers) or the ``Accept-Language`` header
(``wx.connectSocket`` can), and is put in the scope as ``language``; English by default.
"""

from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from rest_framework_simplejwt.exceptions import InvalidToken

from tenants.auth import customer_from_token, staff_user_from_token
from tenants.error_messages import negotiated_language

CLOSE_UNAUTHENTICATED = 4401


def _raw_token(scope) -> str:
    query = parse_qs(scope.get("query_string", b"").decode(errors="replace"))
    if query.get("token"):
        return query["token"][0]
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            kind, _, token = value.decode(errors="replace").partition(" ")
            if kind.lower() == "bearer":
                return token.strip()
    return ""


def _language(scope) -> str:
    query = parse_qs(scope.get("query_string", b"").decode(errors="replace"))
    if query.get("lang"):
        return negotiated_language(query["lang"][0][:64])
    for name, value in scope.get("headers", []):
        if name == b"accept-language":
            return negotiated_language(value.decode(errors="replace")[:256])
    return negotiated_language(None)


@database_sync_to_async
def _principal(raw_token: str) -> dict:
    try:
        customer = customer_from_token(raw_token)
        return {"customer": customer, "brand": customer.brand}
    except InvalidToken:
        pass
    return {"staff_user": staff_user_from_token(raw_token)}


class TokenAuthMiddleware:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        scope = dict(scope, customer=None, staff_user=None, brand=None)
        scope["language"] = _language(scope)
        raw = _raw_token(scope)
        if raw:
            try:
                scope.update(await _principal(raw))
            except InvalidToken:
                # Accept, then close: a close code reaches the client only on an open socket.
                await receive()  # websocket.connect
                await send({"type": "websocket.accept"})
                await send({"type": "websocket.close", "code": CLOSE_UNAUTHENTICATED})
                return
        return await self.app(scope, receive, send)
