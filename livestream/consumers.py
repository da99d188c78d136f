"""The live room websocket ``/ws/rooms/<id>/`` (DESIGN §8).

Envelope both ways: ``{"type": "...", "data": {...}}``. Close codes: 4401 bad token,
4403 not allowed (anonymous viewers off, suspended brand), 4404 no such room in this brand,
4409 the room is over (ended, cancelled or banned; the final state is sent first).
"""

from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from livestream.models import LiveRoom
from tenants.models import Brand, Membership
from tenants.scoping import brand_scope

CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_ROOM_OVER = 4409
CLOSED_STATES = {LiveRoom.Status.ENDED, LiveRoom.Status.CANCELLED, LiveRoom.Status.BANNED}


@database_sync_to_async
def _brand_for_appid(appid: str):
    return Brand.objects.filter(appid=appid).first()


@database_sync_to_async
def _staff_brand(user, brand_ref: str):
    """The brand a staff socket names (``?brand=<id or slug>``), if the user is a member."""
    lookup = {"pk": int(brand_ref)} if brand_ref.isdigit() else {"slug": brand_ref}
    brand = Brand.objects.filter(**lookup).first()
    if brand is None or not Membership.unscoped.filter(user=user, brand=brand).exists():
        return None
    return brand


@database_sync_to_async
def _room_in_brand(brand, room_id: int):
    with brand_scope(brand):
        return LiveRoom.objects.filter(pk=room_id).first()


def room_state(room: LiveRoom) -> dict:
    return {"id": room.pk, "status": room.status, "title": room.title}


class RoomConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        await self.accept()
        brand = self.scope.get("brand")
        if self.scope.get("staff_user") is not None:
            brand = await _staff_brand(self.scope["staff_user"], self._query("brand"))
            if brand is None:
                return await self.close(CLOSE_FORBIDDEN)
        elif brand is None:
            appid = self._query("appid")
            brand = await _brand_for_appid(appid) if appid else None
            if brand is None or not brand.allow_anonymous_viewers:
                return await self.close(CLOSE_FORBIDDEN)
        if not brand.is_active:
            return await self.close(CLOSE_FORBIDDEN)
        room = await _room_in_brand(brand, self.scope["url_route"]["kwargs"]["room_id"])
        if room is None:
            return await self.close(CLOSE_NOT_FOUND)
        self.brand, self.room = brand, room
        await self.send_json({"type": "snapshot", "data": {"room": room_state(room)}})
        if room.status in CLOSED_STATES:
            return await self.close(CLOSE_ROOM_OVER)

    async def receive_json(self, content, **kwargs):
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "ping":
            await self.send_json({"type": "pong", "data": {}})
        else:
            await self.send_json(
                {"type": "error", "data": {"code": "unknown_event", "message": f"Unknown event {kind!r}."}}
            )

    def _query(self, name: str) -> str:
        return (parse_qs(self.scope.get("query_string", b"").decode(errors="replace")).get(name) or [""])[0]
