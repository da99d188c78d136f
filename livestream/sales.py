"""When a live room sells, per sale kind (issue 22): the one rule, read by the order service
(which enforces it), the room detail, the snapshot and the ``room.status`` event (which tell
the viewer's page, so Buy is disabled with the reason).

* A **room product at its regular price** sells while the show is live, and in the replay (an
  ended room with ``replay_enabled``): the replay page keeps its products buyable.
* A **live-only offer** — a flash sale of the room (``FlashSale.room``) — sells only while the
  show is live: never in the replay.
* While the show is **paused** nothing sells (the anchor is away; Buy comes back on resume);
  before it starts nothing sells; an ended room without a replay sells nothing; a cancelled or
  banned room, or one with goods switched off, sells nothing.

Group buys and bargains started from a room run on their own windows (friends join through
share links, after the show too): their orders keep to the offer's rules, not this one.
"""

from livestream.models import LiveRoom

Status = LiveRoom.Status

# Each refusal is answered 409 with this code and ``fields.status``; the viewer page shows it in Chinese.
NOT_STARTED = "room_not_started"
PAUSED = "room_paused"
ENDED = "room_ended"
LIVE_OFFER_ENDED = "live_offer_ended"
NOT_SELLING = "room_not_selling"
REFUSALS = [NOT_STARTED, PAUSED, ENDED, LIVE_OFFER_ENDED, NOT_SELLING]

MESSAGES = {
    NOT_STARTED: "The show has not started; its products sell once it is live.",
    PAUSED: "The show is paused; its products sell again when it resumes.",
    ENDED: "The show is over and has no replay: its products no longer sell here.",
    LIVE_OFFER_ENDED: "This price was for the live show only.",
    NOT_SELLING: "This room does not sell.",
}


def sale_refusal(room: LiveRoom, *, live_only: bool = False) -> str | None:
    """Why an order in ``room`` is refused now (None: it sells). ``live_only``: the order holds a
    live-only offer (a flash sale of the room)."""
    if not room.goods_enabled:
        return NOT_SELLING
    if room.status == Status.LIVE:
        return None
    if room.status == Status.PAUSED:
        return PAUSED
    if room.status == Status.SCHEDULED:
        return NOT_STARTED
    if room.status == Status.ENDED:
        if not room.replay_enabled:
            return ENDED
        return LIVE_OFFER_ENDED if live_only else None
    return NOT_SELLING  # cancelled, banned


def selling(room: LiveRoom) -> dict:
    """What the room sells now, for viewers' pages: its products at their regular price and its
    live-only offers, each with the refusal's code when it does not."""
    products, offers = sale_refusal(room), sale_refusal(room, live_only=True)
    return {
        "products": products is None,
        "products_refusal": products,
        "live_offers": offers is None,
        "live_offers_refusal": offers,
    }
