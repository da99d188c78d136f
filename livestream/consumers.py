"""The live room websocket ``/ws/rooms/<id>/`` (DESIGN §8).

The consumer handles connecting (token, brand, room), what one client sends (comments, like
taps, pings) and per-socket answers; everything broadcast to the room reaches the socket
through the room hub (livestream.hub), never through the consumer.

Envelope both ways: ``{"type": "...", "data": {...}}``. Close codes: 1009 a frame over 4 KB,
4401 bad token, 4403 not allowed (anonymous viewers off, suspended brand, not a member), 4404
no such room in this brand, 4409 the room is over (its final state is sent first), 4429 a client
that floods (over ``FLOOD_RATE`` frames a second), 1013 "try again later": the live store (Redis)
cannot be reached; an ``error`` frame ``realtime_unavailable`` comes first, and the client
reconnects after a pause.

Text in a frame keeps the one rule of tenants.text (valid Unicode that PostgreSQL can store): a
frame that breaks it (a ``\\u0000``, an unpaired surrogate, a binary frame that is not UTF-8) is
answered with an ``error`` frame ``invalid_text`` and the socket goes on.

Whatever ends a socket — a close, a send that finds the client gone, an error — the socket
leaves the hub and its viewing session is recorded (``finally`` in ``__call__``).
"""

import asyncio
import json
import time
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.db import close_old_connections

from livestream import sales
from livestream.hub import hub
from livestream.models import LiveRoom
from livestream.realtime import UNAVAILABLE, encode, live_counters, store
from livestream.services import live
from livestream.services.room_products import product_summary
from livestream.sources import resolve_entry_source
from tenants import text as text_rule
from tenants.error_messages import localized
from tenants.errors import DomainError
from tenants.models import Brand, Membership
from tenants.scoping import brand_scope

CLOSE_TOO_LARGE = 1009
CLOSE_RETRY = 1013  # "try again later": the live store is unreachable
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_ROOM_OVER = 4409
CLOSE_FLOOD = 4429
CLOSED_STATES = {LiveRoom.Status.ENDED, LiveRoom.Status.CANCELLED, LiveRoom.Status.BANNED}
MAX_FRAME = 4096
MAX_LIKES_PER_FRAME = 100
FLOOD_RATE = 20  # frames a second a client may send, on average
FLOOD_BURST = 40
MODERATION_TTL = 10.0  # seconds a socket trusts its copy of the room's comment rules and its mute
DEVICE_ID_MAX = 64  # ?device=<id>: an anonymous viewer's stable id, so a reconnect is one viewer


def _submit_comment(**kwargs) -> dict:
    """``live.comment_submit`` in a worker thread (``asyncio.to_thread``). It may read the database
    (the comment ids' floor when the live store has none), so the thread's connection is closed
    after, as ``database_sync_to_async`` does (kept only for CONN_MAX_AGE): a thread of the
    default executor must not hold a connection forever (at a test's end it kept the test
    database from being dropped: "being accessed by other users")."""
    try:
        return live.comment_submit(**kwargs)
    finally:
        close_old_connections()


def _query(scope, name: str) -> str:
    value = (parse_qs(scope.get("query_string", b"").decode(errors="replace")).get(name) or [""])[0]
    return text_rule.clean_text(value)


def viewer_identity(scope, customer) -> str | None:
    """Who a socket is, for the online count: a customer or an anonymous viewer's device
    (``?device=``). None: nothing names the viewer, so the socket counts on its own. (Staff
    sockets — the live console — are no viewers: ``is_audience`` keeps them out of the count.)"""
    if customer is not None:
        return f"c{customer.pk}"
    device = _query(scope, "device")
    if device and len(device) <= DEVICE_ID_MAX and device.replace("-", "").replace("_", "").isalnum():
        return f"d{device}"
    return None


def is_audience(scope) -> bool:
    """A socket of the room's audience: counted in the online viewers, the peak and the viewing
    sessions. A staff socket (the live console, an operator watching) follows the room's events
    but is none of these (issue 22)."""
    return scope.get("staff_user") is None


@database_sync_to_async
def _brand_for(scope):
    """The brand the socket acts in, or None: the customer's, a staff member's named one
    (``?brand=``), or for anonymous viewers the one whose mini-program this is (``?appid=``)."""
    if scope.get("staff_user") is not None:
        ref = _query(scope, "brand")
        lookup = {"pk": int(ref)} if ref.isdigit() else {"slug": ref}
        brand = Brand.objects.filter(**lookup).first() if ref else None
        if brand is None:
            return None
        user = scope["staff_user"]  # the platform operator follows any brand's room, as the console API lets them
        if not user.is_superuser and not Membership.unscoped.filter(user=user, brand=brand).exists():
            return None
        return brand
    if scope.get("brand") is not None:
        return scope["brand"]
    appid = _query(scope, "appid")
    brand = Brand.objects.filter(appid=appid).first() if appid else None
    return brand if brand is not None and brand.allow_anonymous_viewers else None


@database_sync_to_async
def _room_state(brand, room_id: int, customer, raw_source: str):
    """Everything a joining socket needs, read in one go."""
    with brand_scope(brand):
        room = LiveRoom.objects.filter(pk=room_id).select_related("brand", "pushed_product__product").first()
        if room is None:
            return None
        try:
            source = resolve_entry_source(room, raw_source).as_dict()
        except DomainError:
            source = {"kind": "unknown"}
        pinned = room.comments.filter(is_pinned=True).select_related("customer").first()
        muted = customer is not None and live.is_muted(brand=brand, room=room, customer=customer)
        if room.like_total:  # the live store lost the room's total (restart, flushed Redis): go on from the saved one
            store().seed_likes(room.pk, room.like_total)
        return {
            "room": room,
            "source": source,
            "moderation": live.Moderation.for_room(room),
            "muted": muted,
            "counters": live_counters([room])[room.pk],
            "pinned": live.comment_event(
                comment_id=pinned.pk,
                room_id=room.pk,
                customer=pinned.customer,
                text=pinned.text,
                at=pinned.created_at.timestamp(),
            )
            if pinned
            else None,
        }


@database_sync_to_async
def _refresh_moderation(brand, room, customer):
    with brand_scope(brand):
        room = LiveRoom.objects.select_related("brand").get(pk=room.pk)
        return live.Moderation.for_room(room), live.is_muted(brand=brand, room=room, customer=customer)


def room_snapshot(room: LiveRoom, counters: dict, recent: list[str], pinned) -> str:
    """The first frame a socket gets; recent comments are inlined as the frames they were."""
    data = {
        "room": {
            "id": room.pk,
            "title": room.title,
            "status": room.status,
            "anchor_name": room.anchor_name,
            "comments_enabled": room.comments_enabled,
            "likes_enabled": room.likes_enabled,
            "goods_enabled": room.goods_enabled,
            "started_at": room.started_at,
            "fanout_mode": room.fanout_mode,
            "selling": sales.selling(room),
        },
        "pushed_product": product_summary(room.pushed_product.product) if room.pushed_product_id else None,
        "likes": counters["likes"],
        "online": counters["online"],
        "pinned_comment": pinned,
        "comments": "__RECENT__",
    }
    return encode("snapshot", data).replace('"__RECENT__"', "[" + ",".join(recent) + "]")


class RoomConsumer(AsyncWebsocketConsumer):
    viewer = None
    liked = False

    async def __call__(self, scope, receive, send):
        """Channels' ``AsyncConsumer.__call__`` without a channel-layer channel of its own: nothing is
        sent to a room socket through the channel layer (room events reach it through the hub), so
        each client frame is awaited directly — no task and no ``asyncio.wait`` per frame, and no
        channel subscribed on Redis per socket."""
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass
        finally:  # a send that found the client gone ends the loop too: leave the hub all the same
            await self.disconnect(None)

    async def dispatch(self, message):
        # Channels closes stale database connections (a thread hop) before every handler; the
        # handlers that touch the database do it in their own threads, so a like tap does not pay.
        handler = getattr(self, message["type"].replace(".", "_"), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self):
        await self.accept()
        try:
            await self._join()
        except UNAVAILABLE:
            await self.unavailable()

    async def unavailable(self):
        """The live store cannot be reached: say so, and close with "try again later"."""
        await self.error("realtime_unavailable", "Live updates are unavailable for a moment; reconnect shortly.")
        await self.close(CLOSE_RETRY)

    async def _join(self):
        brand = await _brand_for(self.scope)
        if brand is None or not brand.is_active:
            return await self.close(CLOSE_FORBIDDEN)
        self.customer = self.scope.get("customer")
        room_id = self.scope["url_route"]["kwargs"]["room_id"]
        state = await _room_state(brand, room_id, self.customer, _query(self.scope, "source"))
        if state is None:
            return await self.close(CLOSE_NOT_FOUND)
        self.brand, self.room = brand, state["room"]
        self.source, self.moderation, self.muted = state["source"], state["moderation"], state["muted"]
        self.checked_at = time.monotonic()
        recent = await asyncio.to_thread(store().recent_comments, self.room.pk)
        await self.send(room_snapshot(self.room, state["counters"], recent, state["pinned"]))
        if self.room.status in CLOSED_STATES:
            return await self.close(CLOSE_ROOM_OVER)
        self.joined_at = time.time()
        self.allowance, self.allowance_at = float(FLOOD_BURST), time.monotonic()
        ticks = self.room.fanout_mode == LiveRoom.FanoutMode.TICKS
        self.viewer = await hub().join(
            self.room.pk,
            self.base_send,
            ticks=ticks,
            who=viewer_identity(self.scope, self.customer),
            counted=is_audience(self.scope),
        )
        if self.viewer.counted:
            # The open session counts in the report at once; for a customer, the watch time for
            # gift boxes and lotteries (the server's record) runs from now.
            customer_id = self.customer.pk if self.customer is not None else None
            payload = live.session_payload(**self._session(left_at=None))
            await asyncio.to_thread(
                store().session_open, self.room.pk, self.viewer.id, payload, customer_id, self.joined_at
            )

    async def disconnect(self, code):
        """Leave the hub and record the viewing session (once, however the socket ended). With the
        live store unreachable the session waits in this process's hub until it is back."""
        if self.viewer is None:
            return
        viewer, self.viewer = self.viewer, None
        if not viewer.counted:  # staff: no viewing session
            return await hub().leave(self.room.pk, viewer)
        await hub().leave(self.room.pk, viewer, session=self._session(left_at=time.time(), viewer=viewer))

    def _session(self, *, left_at, viewer=None) -> dict:
        return {
            "brand_id": self.brand.pk,
            "room_id": self.room.pk,
            "customer_id": self.customer.pk if self.customer else None,
            "socket_id": (viewer or self.viewer).id,
            "source": self.source,
            "joined_at": self.joined_at,
            "left_at": left_at,
        }

    async def receive(self, text_data=None, bytes_data=None):
        if self.viewer is None:
            return
        if not self._within_rate():
            await self.error("flooding", "Too many messages; the connection is closed.")
            return await self.close(CLOSE_FLOOD)
        if text_data is not None:  # at most 4 bytes a character: count the bytes only when that could matter
            too_large = len(text_data) > MAX_FRAME or (
                len(text_data) > MAX_FRAME // 4 and len(text_data.encode()) > MAX_FRAME
            )
        else:
            too_large = len(bytes_data or b"") > MAX_FRAME
        if too_large:
            await self.error("frame_too_large", f"A message is at most {MAX_FRAME} bytes.")
            return await self.close(CLOSE_TOO_LARGE)
        try:
            raw = text_data if text_data is not None else (bytes_data or b"").decode()
        except UnicodeDecodeError:
            return await self.error(text_rule.INVALID_TEXT, "A message is UTF-8 text.")
        try:
            message = json.loads(raw)
        except ValueError:
            return await self.error("malformed_json", 'Send JSON: {"type": ..., "data": {...}}.')
        if text_rule.might_break_rule(raw) and (where := text_rule.find_invalid(message)) is not None:
            return await self.error(text_rule.INVALID_TEXT, text_rule.invalid_text_error(where).message)
        if not isinstance(message, dict) or not isinstance(message.get("data", {}), dict):
            return await self.error("invalid_event", 'Send {"type": ..., "data": {...}}.')
        kind, data = message.get("type"), message.get("data") or {}
        try:
            if kind == "ping":
                await self.send(encode("pong", {"t": data.get("t")}))
            elif kind == "like":
                await self.like(data)
            elif kind == "comment":
                await self.comment(data)
            else:
                await self.error("unknown_event", f"Unknown event type {kind!r}."[:200])
        except UNAVAILABLE:  # nothing was acknowledged: the client is told, and retries later
            await self.unavailable()

    def _within_rate(self) -> bool:
        """A token bucket: FLOOD_RATE frames a second on average, bursts up to FLOOD_BURST."""
        now = time.monotonic()
        self.allowance = min(FLOOD_BURST, self.allowance + (now - self.allowance_at) * FLOOD_RATE)
        self.allowance_at = now
        if self.allowance < 1:
            return False
        self.allowance -= 1
        return True

    async def like(self, data):
        count = data.get("count", 1)
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_LIKES_PER_FRAME:
            return await self.error("invalid_like_count", f"count is 1 to {MAX_LIKES_PER_FRAME}.")
        if not self.room.likes_enabled:
            return await self.error("likes_disabled", "Likes are off in this room.")
        hub().add_likes(self.room.pk, count)  # kept by this process until the live store takes it
        if self.customer is not None and not self.liked:  # once per socket: a tap storm stays off Redis
            self.liked = True
            await asyncio.to_thread(store().mark_liked, self.room.pk, self.customer.pk)

    async def comment(self, data):
        if self.customer is None:
            return await self.error("login_required", "Log in to comment.")
        if time.monotonic() - self.checked_at > MODERATION_TTL:
            self.moderation, self.muted = await _refresh_moderation(self.brand, self.room, self.customer)
            self.checked_at = time.monotonic()
        if self.muted:
            return await self.error("muted", "You cannot comment in this room.")
        try:
            event = await asyncio.to_thread(
                _submit_comment,
                brand=self.brand,
                room_id=self.room.pk,
                customer=self.customer,
                text=data.get("text"),
                moderation=self.moderation,
            )
        except DomainError as exc:
            return await self.error(exc.code, exc.message)
        if self.room.fanout_mode == LiveRoom.FanoutMode.TICKS:  # a viewer always sees their own comment
            await self.send(encode("comment", event))

    async def error(self, code: str, message: str):
        message = localized(code, message, language=self.scope.get("language", ""))
        await self.send(encode("error", {"code": code, "message": message}))
