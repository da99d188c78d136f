"""Where a viewer came into a room from, carried as ``?source=``.

``festival:<id>`` (a festival venue), ``costream:<id>`` (the partner room of a co-stream),
``scene:<scene>`` (a share code, resolved by guides) or one of ``BARE_KINDS`` (a start reminder,
a post-show follow-up, a group chat, the official account). The orders a viewer places are the
selling brand's, with the source recorded beside them: shared traffic, separate books.
"""

import re
from dataclasses import dataclass

from django.db.models import Q

from livestream.models import CoStream, Festival, LiveRoom, Venue
from tenants.errors import InvalidInput

SCENE = re.compile(r"^[0-9A-Za-z!#$&'()*+,/:;=?@\-._~]{1,32}$")
# An id as the database keeps it (a 64-bit key): ASCII digits only, so "²" or a 30-digit
# number is an unknown source (400), not a crash.
# Entry routes that carry no id: a start reminder, a post-show follow-up, a link shared in a
# group chat, the brand's official account menu or article.
BARE_KINDS = ("reminder", "follow_up", "group_chat", "official_account")
OBJECT_ID = re.compile(r"^[0-9]{1,18}$")


@dataclass(frozen=True)
class EntrySource:
    kind: str  # "festival", "costream", "reminder", "scene" or "direct"
    festival_id: int | None = None
    costream_id: int | None = None
    referring_room_id: int | None = None
    scene: str = ""

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "festival_id": self.festival_id,
            "costream_id": self.costream_id,
            "referring_room_id": self.referring_room_id,
            "scene": self.scene,
        }


DIRECT = EntrySource("direct")


def _invalid(message: str):
    return InvalidInput("invalid_source", message, fields={"source": [message]})


def scene_of(raw: str) -> str:
    """The share scene a ``source`` names (``scene:<scene>``), else ""; the same as
    ``resolve_entry_source`` finds, without the room."""
    kind, _, value = (raw or "").strip().partition(":")
    return value if kind == "scene" and SCENE.match(value) else ""


def resolve_entry_source(room: LiveRoom, raw: str) -> EntrySource:
    """Check a ``source`` against the room it leads into; a source that does not lead there is refused."""

    def festival(festival_id: int):
        joined = (
            Venue.unscoped.filter(
                festival_id=festival_id,
                room=room,
                status=Venue.Status.JOINED,
                festival__status=Festival.Status.PUBLISHED,
            )
            .select_related("festival")
            .first()
        )
        return (joined.festival_id, joined.festival.main_room_id) if joined else None

    def costream(costream_id: int):
        found = CoStream.unscoped.filter(
            Q(inviter_room=room) | Q(invitee_room=room), pk=costream_id, status=CoStream.Status.ACCEPTED
        ).first()
        return (found.pk, found.other_room(room).pk) if found else None

    return _resolve(raw, festival, costream)


def resolve_entry_source_from(raw: str, *, festivals: dict, costream: tuple | None) -> EntrySource:
    """``resolve_entry_source`` against what the room's shared state already holds (its
    published festivals, ``{festival id: main room id}``, and its accepted co-stream, ``(id,
    partner room id)``), with no query: the same rule, for the cached room detail."""
    return _resolve(
        raw,
        lambda festival_id: (festival_id, festivals[festival_id]) if festival_id in festivals else None,
        lambda costream_id: costream if costream and costream[0] == costream_id else None,
    )


def _resolve(raw: str, festival, costream) -> EntrySource:
    """``festival(id)`` answers ``(festival id, main room id)`` of a published festival the room
    joined, ``costream(id)`` ``(costream id, partner room id)`` of its accepted co-stream, or None."""
    raw = (raw or "").strip()
    if not raw:
        return DIRECT
    kind, _, value = raw.partition(":")
    if kind in BARE_KINDS and not value:
        return EntrySource(kind)
    if kind == "scene" and SCENE.match(value):
        return EntrySource("scene", scene=value)
    if kind in ("festival", "costream") and OBJECT_ID.match(value):
        if kind == "festival":
            joined = festival(int(value))
            if joined is None:
                raise _invalid("This room is not a venue of that festival.")
            return EntrySource("festival", festival_id=joined[0], referring_room_id=joined[1])
        linked = costream(int(value))
        if linked is None:
            raise _invalid("This room is not in that co-stream.")
        return EntrySource("costream", costream_id=linked[0], referring_room_id=linked[1])
    raise _invalid(
        "Use festival:<id>, costream:<id>, scene:<scene>, reminder, follow_up, group_chat or official_account."
    )
