"""Live rooms: scheduling and the lifecycle ``scheduled → live ⇄ paused → ended``.

Rules follow WeChat's live rooms: created at least 10 minutes ahead and at most 6 months
ahead, 30 minutes to 24 hours long, a title of 3–17 Chinese characters (two Latin letters
count as one), an anchor name of 2–15. A brand runs at most ``Brand.max_live_rooms`` rooms
at once.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from guides.models import Store
from livestream import sales
from livestream.models import LiveRoom, new_stream_key
from livestream.realtime import publish_room_event
from livestream.room_state import rooms_changed_on_commit
from livestream.services.costreams import active_costream_partner, costreams_end_for_room
from livestream.services.reminders import reminders_room_cancelled
from tenants.errors import Conflict, InvalidInput, NotFound
from tenants.models import Brand
from tenants.scoping import brand_scope

MIN_LEAD = timedelta(minutes=10)
MAX_AHEAD = timedelta(days=183)
MIN_DURATION = timedelta(minutes=30)
MAX_DURATION = timedelta(hours=24)
TITLE_WIDTH = (6, 34)  # 3–17 Chinese characters
ANCHOR_WIDTH = (4, 30)  # 2–15 Chinese characters

Status = LiveRoom.Status

# action → (states it may start from, state it leads to)
TRANSITIONS = {
    "start": ({Status.SCHEDULED}, Status.LIVE),
    "pause": ({Status.LIVE}, Status.PAUSED),
    "resume": ({Status.PAUSED}, Status.LIVE),
    "end": ({Status.LIVE, Status.PAUSED}, Status.ENDED),
    "cancel": ({Status.SCHEDULED}, Status.CANCELLED),
    "ban": ({Status.SCHEDULED, Status.LIVE, Status.PAUSED, Status.ENDED, Status.CANCELLED}, Status.BANNED),
}

EDITABLE_FIELDS = {
    "title",
    "anchor_name",
    "anchor_wechat",
    "cover_image_url",
    "share_image_url",
    "kind",
    "host_store",
    "scheduled_start",
    "scheduled_end",
    "comments_enabled",
    "likes_enabled",
    "goods_enabled",
    "replay_enabled",
    "share_enabled",
    "fanout_mode",
}


def display_width(text: str) -> int:
    """WeChat's length: a Chinese (wide) character counts 2, a Latin one 1."""
    return sum(1 if ord(char) < 0x2E80 else 2 for char in text)


def _lock(room: LiveRoom) -> LiveRoom:
    return LiveRoom.objects.select_for_update().get(pk=room.pk)


def validate_room(room: LiveRoom, *, now: datetime, check_lead: bool) -> None:
    errors = {}
    low, high = TITLE_WIDTH
    if not low <= display_width(room.title.strip()) <= high:
        errors["title"] = ["The title must be 3 to 17 Chinese characters (6 to 34 Latin ones)."]
    low, high = ANCHOR_WIDTH
    if not low <= display_width(room.anchor_name.strip()) <= high:
        errors["anchor_name"] = ["The anchor name must be 2 to 15 Chinese characters (4 to 30 Latin ones)."]
    start, end = room.scheduled_start, room.scheduled_end
    if start and end:
        if check_lead and start < now + MIN_LEAD:
            errors["scheduled_start"] = ["A room must be scheduled at least 10 minutes ahead."]
        elif start > now + MAX_AHEAD:
            errors["scheduled_start"] = ["A room can be scheduled at most 6 months ahead."]
        if not MIN_DURATION <= end - start <= MAX_DURATION:
            errors["scheduled_end"] = ["A show lasts 30 minutes to 24 hours."]
    if errors:
        raise InvalidInput("invalid", next(iter(errors.values()))[0], fields=errors)


def _check_store(store):
    if store is not None and not Store.objects.filter(pk=store.pk).exists():
        raise NotFound("store_not_found", "No such store.", fields={"host_store": ["No such store."]})


@transaction.atomic
def room_create(
    *, brand: Brand, title: str, anchor_name: str, scheduled_start: datetime, scheduled_end: datetime, **fields
) -> LiveRoom:
    with brand_scope(brand):
        unknown = set(fields) - EDITABLE_FIELDS
        if unknown:
            raise InvalidInput("invalid", f"Unknown fields: {', '.join(sorted(unknown))}.")
        _check_store(fields.get("host_store"))
        room = LiveRoom(
            brand=brand,
            title=title.strip(),
            anchor_name=anchor_name.strip(),
            scheduled_start=scheduled_start,
            scheduled_end=scheduled_end,
            **fields,
        )
        validate_room(room, now=timezone.now(), check_lead=True)
        room.full_clean()
        room.save()
        return room


@transaction.atomic
def room_update(*, brand: Brand, room: LiveRoom, **fields) -> LiveRoom:
    """Edit a room. Its schedule can change only before it starts; a rescheduled room's start
    reminders follow the new time (they are found by the scheduled start when they are due)."""
    with brand_scope(brand):
        room = _lock(room)
        unknown = set(fields) - EDITABLE_FIELDS
        if unknown:
            raise InvalidInput("invalid", f"Unknown fields: {', '.join(sorted(unknown))}.")
        rescheduled = any(
            name in fields and fields[name] != getattr(room, name) for name in ("scheduled_start", "scheduled_end")
        )
        if rescheduled and room.status != Status.SCHEDULED:
            raise Conflict(
                "room_already_started",
                "Only a room that has not started can be rescheduled.",
                fields={"status": room.status},
            )
        if room.status in (Status.ENDED, Status.CANCELLED, Status.BANNED):
            raise Conflict(
                "room_closed", f"A room that is {room.status} cannot be edited.", fields={"status": room.status}
            )
        _check_store(fields.get("host_store"))
        for name, value in fields.items():
            setattr(room, name, value.strip() if name in ("title", "anchor_name") else value)
        validate_room(room, now=timezone.now(), check_lead=rescheduled)
        room.full_clean()
        room.save()
        # The co-stream partner's detail shows this room's title.
        partner = active_costream_partner(room)
        rooms_changed_on_commit(brand_id=brand.pk, room_ids=[room.pk])
        if partner is not None:
            rooms_changed_on_commit(brand_id=partner.brand_id, room_ids=[partner.pk])
        return room


def _transition(brand: Brand, room: LiveRoom, action: str, *, reason: str = "") -> LiveRoom:
    sources, target = TRANSITIONS[action]
    room = _lock(room)
    if room.status not in sources:
        raise Conflict(
            "invalid_transition", f"Cannot {action} a room that is {room.status}.", fields={"status": room.status}
        )
    now = timezone.now()
    if action == "start":
        _check_live_room_limit(brand, room)
        room.started_at = now
    if target in (Status.ENDED, Status.BANNED) and room.started_at and not room.ended_at:
        room.ended_at = now
    if reason:
        room.status_reason = reason
    room.status = target
    room.save(update_fields=["status", "started_at", "ended_at", "status_reason", "updated_at"])
    rooms_changed_on_commit(brand_id=room.brand_id, room_ids=[room.pk])
    publish_room_event(room.pk, "room.status", room_status_data(room))
    return room


def _check_live_room_limit(brand: Brand, room: LiveRoom) -> None:
    # Lock the brand row so that two rooms starting at once cannot both take the last slot.
    brand = Brand.objects.select_for_update().get(pk=brand.pk)
    live = LiveRoom.objects.filter(status__in=(Status.LIVE, Status.PAUSED)).exclude(pk=room.pk).count()
    if live >= brand.max_live_rooms:
        raise Conflict(
            "too_many_live_rooms",
            f"The brand may run {brand.max_live_rooms} live rooms at once.",
            fields={"max_live_rooms": brand.max_live_rooms},
        )


def room_status_data(room: LiveRoom) -> dict:
    return {
        "room_id": room.pk,
        "status": room.status,
        "started_at": room.started_at.isoformat() if room.started_at else None,
        "ended_at": room.ended_at.isoformat() if room.ended_at else None,
        "selling": sales.selling(room),
    }


@transaction.atomic
def room_start(*, brand: Brand, room: LiveRoom) -> LiveRoom:
    with brand_scope(brand):
        return _transition(brand, room, "start")


@transaction.atomic
def room_pause(*, brand: Brand, room: LiveRoom) -> LiveRoom:
    with brand_scope(brand):
        return _transition(brand, room, "pause")


@transaction.atomic
def room_resume(*, brand: Brand, room: LiveRoom) -> LiveRoom:
    with brand_scope(brand):
        return _transition(brand, room, "resume")


@transaction.atomic
def room_end(*, brand: Brand, room: LiveRoom) -> LiveRoom:
    with brand_scope(brand):
        room = _transition(brand, room, "end")
        costreams_end_for_room(room=room)
        return room


@transaction.atomic
def room_cancel(*, brand: Brand, room: LiveRoom, reason: str = "") -> LiveRoom:
    with brand_scope(brand):
        room = _transition(brand, room, "cancel", reason=reason)
        reminders_room_cancelled(brand=brand, room=room)
        return room


@transaction.atomic
def room_ban(*, room: LiveRoom, reason: str) -> LiveRoom:
    """The platform takes a room down, whatever its state."""
    if not reason.strip():
        raise InvalidInput("reason_required", "Say why the room is banned.", fields={"reason": ["Required."]})
    brand = room.brand
    with brand_scope(brand):
        room = _transition(brand, room, "ban", reason=reason.strip())
        costreams_end_for_room(room=room)
        reminders_room_cancelled(brand=brand, room=room, notify=False)
        return room


@transaction.atomic
def room_set_replay(*, brand: Brand, room: LiveRoom, replay_url: str) -> LiveRoom:
    with brand_scope(brand):
        room = _lock(room)
        if room.status != Status.ENDED:
            raise Conflict(
                "room_not_ended", "A replay can be set once the show has ended.", fields={"status": room.status}
            )
        room.replay_url = replay_url
        room.full_clean()
        room.save(update_fields=["replay_url", "updated_at"])
        rooms_changed_on_commit(brand_id=brand.pk, room_ids=[room.pk])
        return room


@transaction.atomic
def room_reset_stream_key(*, brand: Brand, room: LiveRoom) -> LiveRoom:
    """A new stream key for the room (重置推流密钥): the old push URL stops being the room's, so a
    key that leaked (a shared screen, a former contractor's encoder) no longer pushes into it.
    The streaming software then needs the new one."""
    with brand_scope(brand):
        room = _lock(room)
        if room.status in (Status.ENDED, Status.CANCELLED, Status.BANNED):
            raise Conflict(
                "room_closed", f"A room that is {room.status} takes no stream.", fields={"status": room.status}
            )
        room.stream_key = new_stream_key()
        room.save(update_fields=["stream_key", "updated_at"])
        return room


def push_url(room: LiveRoom) -> str:
    """Where the streaming software pushes this room (from LIVE_PUSH_URL_TEMPLATE)."""
    return settings.LIVE_PUSH_URL_TEMPLATE.format(brand=room.brand.slug, room=room.pk, key=room.stream_key)


def push_settings(room: LiveRoom) -> tuple[str, str]:
    """The push URL as streaming software asks for it: the server (OBS's 服务器, up to the last
    ``/``) and the stream key (串流密钥, the rest: the stream's name with its secret)."""
    url = push_url(room)
    scheme_end = url.find("://") + 3 if "://" in url else 0
    cut = url.rfind("/", scheme_end)
    if cut < 0:
        return url, ""
    return url[: cut + 1], url[cut + 1 :]
