"""Festivals (主会场 / 分会场): the platform gathers rooms of many brands for an event.

The platform creates a festival and invites brands; a brand joins with one of its rooms (a
sub-venue) or leaves; the platform names a joined room as the main venue and publishes.
Traffic is shared, books are not: what a viewer buys in a brand's room is that brand's order,
with the festival recorded as its source (livestream.sources).
"""

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from livestream.models import Festival, LiveRoom, Venue
from livestream.room_state import rooms_changed_on_commit
from tenants.errors import Conflict, InvalidInput, NotFound
from tenants.models import Brand
from tenants.scoping import brand_scope, platform_scope


def _validate_window(starts_at: datetime, ends_at: datetime) -> None:
    if ends_at <= starts_at:
        raise InvalidInput(
            "invalid", "A festival ends after it starts.", fields={"ends_at": ["Must be after starts_at."]}
        )


def get_festival(festival_id) -> Festival:
    festival = Festival.objects.filter(pk=festival_id).first()
    if festival is None:
        raise NotFound("festival_not_found", "No such festival.")
    return festival


@transaction.atomic
def festival_create(*, name: str, starts_at: datetime, ends_at: datetime) -> Festival:
    _validate_window(starts_at, ends_at)
    festival = Festival(name=name.strip(), starts_at=starts_at, ends_at=ends_at)
    festival.full_clean()
    festival.save()
    return festival


@transaction.atomic
def festival_update(*, festival: Festival, **fields) -> Festival:
    festival = Festival.objects.select_for_update().get(pk=festival.pk)
    for name in ("name", "starts_at", "ends_at"):
        if name in fields:
            setattr(festival, name, fields[name])
    _validate_window(festival.starts_at, festival.ends_at)
    festival.full_clean()
    festival.save()
    _venues_changed(festival)
    return festival


def _venues_changed(festival: Festival) -> None:
    """The rooms that joined the festival show it in their detail (livestream.room_state)."""
    with platform_scope():
        joined = Venue.objects.filter(festival=festival, status=Venue.Status.JOINED, room__isnull=False)
        rooms = list(joined.values_list("brand_id", "room_id"))
    for brand_id, room_id in rooms:
        rooms_changed_on_commit(brand_id=brand_id, room_ids=[room_id])


@transaction.atomic
def festival_invite(*, festival: Festival, brand: Brand) -> Venue:
    if not brand.is_active:
        raise Conflict("brand_suspended", "A suspended brand cannot be invited.")
    if festival.status == Festival.Status.ENDED:
        raise Conflict("festival_ended", "The festival has ended.")
    with brand_scope(brand):
        try:
            with transaction.atomic():
                return Venue.objects.create(brand=brand, festival=festival)
        except IntegrityError:
            raise Conflict("already_invited", "The brand is already invited to this festival.")


@transaction.atomic
def festival_set_main_room(*, festival: Festival, room_id: int) -> Festival:
    with platform_scope():
        venue = Venue.objects.filter(festival=festival, room__pk=room_id, status=Venue.Status.JOINED).first()
    if venue is None:
        raise Conflict("room_not_in_festival", "The main venue must be a room that joined the festival.")
    festival.main_room_id = room_id
    festival.save(update_fields=["main_room"])
    _venues_changed(festival)
    return festival


@transaction.atomic
def festival_publish(*, festival: Festival) -> Festival:
    if festival.status != Festival.Status.DRAFT:
        raise Conflict("invalid_transition", f"The festival is {festival.status}.", fields={"status": festival.status})
    if festival.main_room_id is None:
        raise Conflict("main_room_required", "Name the main venue before publishing.")
    festival.status = Festival.Status.PUBLISHED
    festival.save(update_fields=["status"])
    _venues_changed(festival)
    return festival


@transaction.atomic
def festival_end(*, festival: Festival) -> Festival:
    if festival.status == Festival.Status.ENDED:
        raise Conflict("invalid_transition", "The festival has already ended.", fields={"status": festival.status})
    festival.status = Festival.Status.ENDED
    festival.save(update_fields=["status"])
    _venues_changed(festival)
    return festival


def get_venue(brand: Brand, festival_id) -> Venue:
    with brand_scope(brand):
        # festival__pk, not festival_id: an id past the integer range finds nothing instead of overflowing.
        venue = Venue.objects.filter(festival__pk=festival_id).select_related("festival").first()
    if venue is None:
        raise NotFound("festival_not_found", "No such festival for this brand.")
    return venue


@transaction.atomic
def venue_join(*, brand: Brand, venue: Venue, room: LiveRoom) -> Venue:
    """The brand accepts the invitation with one of its rooms (or swaps the room it joined with)."""
    with brand_scope(brand):
        venue = Venue.objects.select_for_update().select_related("festival").get(pk=venue.pk)
        if venue.festival.status == Festival.Status.ENDED:
            raise Conflict("festival_ended", "The festival has ended.")
        if room.status in (LiveRoom.Status.CANCELLED, LiveRoom.Status.BANNED, LiveRoom.Status.ENDED):
            raise Conflict("room_closed", f"The room is {room.status}.", fields={"status": room.status})
        if venue.room_id and venue.room_id != room.pk and venue.festival.main_room_id == venue.room_id:
            raise Conflict("room_is_main_venue", "The platform made this room the main venue; ask it first.")
        left_room_id = venue.room_id if venue.status == Venue.Status.JOINED else None
        venue.room, venue.status, venue.joined_at, venue.left_at = room, Venue.Status.JOINED, timezone.now(), None
        venue.save(update_fields=["room", "status", "joined_at", "left_at"])
        rooms_changed_on_commit(brand_id=brand.pk, room_ids={room.pk, left_room_id} - {None})
        return venue


@transaction.atomic
def venue_leave(*, brand: Brand, venue: Venue) -> Venue:
    with brand_scope(brand):
        venue = Venue.objects.select_for_update().select_related("festival").get(pk=venue.pk)
        if venue.status == Venue.Status.LEFT:
            raise Conflict("invalid_transition", "The brand has already left.", fields={"status": venue.status})
        festival = venue.festival
        if venue.room_id and festival.main_room_id == venue.room_id:
            Festival.objects.filter(pk=festival.pk).update(main_room=None)
        venue.status, venue.left_at = Venue.Status.LEFT, timezone.now()
        venue.save(update_fields=["status", "left_at"])
        if venue.room_id:
            _venues_changed(festival)  # the main venue may have gone, which every venue shows
            rooms_changed_on_commit(brand_id=brand.pk, room_ids=[venue.room_id])
        return venue
