"""Co-streams (连麦): one live room invites another, of its own brand or of a brand that accepts.

A room is in at most one co-stream (invited or accepted) at a time; both rooms must be live.
The invitation names the other room by its ``costream_code``, which its operator hands over,
so no brand can browse another brand's rooms.
"""

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from livestream.models import CoStream, LiveRoom
from livestream.realtime import publish_room_event
from livestream.room_state import rooms_changed_on_commit
from livestream.selectors import active_costream
from tenants.errors import Conflict, InvalidInput, NotFound
from tenants.models import Brand
from tenants.scoping import brand_scope

Status = CoStream.Status


def get_costream(costream_id) -> CoStream:
    """A co-stream the brand in scope takes part in, on either side."""
    costream = CoStream.objects.filter(pk=costream_id).select_related("inviter_room", "invitee_room").first()
    if costream is None:
        raise NotFound("costream_not_found", "No such co-stream.")
    return costream


def _involving(room: LiveRoom):
    return CoStream.unscoped.filter(Q(inviter_room=room) | Q(invitee_room=room))


def active_costream_partner(room: LiveRoom) -> LiveRoom | None:
    """The room linked with ``room`` right now, if any."""
    costream = active_costream(room)
    return costream.other_room(room) if costream else None


def _lock_rooms(*rooms: LiveRoom) -> list[LiveRoom]:
    """Lock both rooms, in id order so that two invitations crossing each other cannot deadlock."""
    ids = sorted(room.pk for room in rooms)
    locked = {room.pk: room for room in LiveRoom.unscoped.select_for_update().filter(pk__in=ids).order_by("pk")}
    return [locked[room.pk] for room in rooms]


def costream_event_data(costream: CoStream, room: LiveRoom) -> dict:
    partner = costream.other_room(room)
    return {
        "costream_id": costream.pk,
        "status": costream.status,
        "partner": {
            "room_id": partner.pk,
            "title": partner.title,
            "brand": partner.brand.name,
            "appid": partner.brand.appid,
            "status": partner.status,
        },
    }


def _publish(costream: CoStream) -> None:
    for room in (costream.inviter_room, costream.invitee_room):
        rooms_changed_on_commit(brand_id=room.brand_id, room_ids=[room.pk])
    for room in (costream.inviter_room, costream.invitee_room):
        publish_room_event(room.pk, "costream", costream_event_data(costream, room))


@transaction.atomic
def costream_invite(*, brand: Brand, room: LiveRoom, room_code: str) -> CoStream:
    with brand_scope(brand):
        target = LiveRoom.unscoped.filter(costream_code=room_code.strip()).select_related("brand").first()
        if target is None or not target.brand.is_active:
            raise NotFound("room_not_found", "No room has this co-stream code.", fields={"room_code": ["Unknown."]})
        if target.pk == room.pk:
            raise InvalidInput("same_room", "A room cannot co-stream with itself.")
        room, target = _lock_rooms(room, target)
        for each in (room, target):
            if each.status != LiveRoom.Status.LIVE:
                raise Conflict(
                    "room_not_live",
                    "Both rooms must be live to co-stream.",
                    fields={"room_id": each.pk, "status": each.status},
                )
        busy = CoStream.unscoped.filter(
            Q(inviter_room__in=(room, target)) | Q(invitee_room__in=(room, target)), status__in=CoStream.ACTIVE
        ).exists()
        if busy:
            raise Conflict("already_linked", "One of the rooms is already in a co-stream.")
        costream = CoStream.objects.create(
            brand=brand, inviter_room=room, invitee_brand=target.brand, invitee_room=target
        )
        _publish(costream)
        return costream


def _answer(brand: Brand, costream: CoStream, *, accept: bool) -> CoStream:
    with brand_scope(brand):
        costream = CoStream.objects.select_for_update().get(pk=costream.pk)
        if costream.invitee_brand_id != brand.pk:
            raise NotFound("costream_not_found", "No such invitation for this brand.")
        if costream.status != Status.INVITED:
            raise Conflict(
                "invalid_transition", f"The co-stream is {costream.status}.", fields={"status": costream.status}
            )
        if accept:
            inviter, invitee = _lock_rooms(costream.inviter_room, costream.invitee_room)
            if inviter.status != LiveRoom.Status.LIVE or invitee.status != LiveRoom.Status.LIVE:
                raise Conflict("room_not_live", "Both rooms must be live to co-stream.")
            costream.status, costream.accepted_at = Status.ACCEPTED, timezone.now()
        else:
            costream.status, costream.ended_at = Status.DECLINED, timezone.now()
        costream.save(update_fields=["status", "accepted_at", "ended_at"])
        _publish(costream)
        return costream


@transaction.atomic
def costream_accept(*, brand: Brand, costream: CoStream) -> CoStream:
    return _answer(brand, costream, accept=True)


@transaction.atomic
def costream_decline(*, brand: Brand, costream: CoStream) -> CoStream:
    return _answer(brand, costream, accept=False)


@transaction.atomic
def costream_end(*, brand: Brand, costream: CoStream) -> CoStream:
    """Either side ends the link (or withdraws the invitation)."""
    with brand_scope(brand):
        costream = CoStream.objects.select_for_update().get(pk=costream.pk)
        if costream.status not in CoStream.ACTIVE:
            raise Conflict(
                "invalid_transition", f"The co-stream is {costream.status}.", fields={"status": costream.status}
            )
        costream.status, costream.ended_at = Status.ENDED, timezone.now()
        costream.save(update_fields=["status", "ended_at"])
        _publish(costream)
        return costream


def costreams_end_for_room(*, room: LiveRoom) -> None:
    """A room that ends or is banned leaves its co-stream (called inside that transaction)."""
    for costream in (
        _involving(room).filter(status__in=CoStream.ACTIVE).select_related("inviter_room__brand", "invitee_room__brand")
    ):
        costream.status, costream.ended_at = Status.ENDED, timezone.now()
        costream.save(update_fields=["status", "ended_at"])
        _publish(costream)
