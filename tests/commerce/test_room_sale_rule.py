"""Issue 22: when a room sells what, per sale kind (livestream/sales.py), enforced by the order
service and told to viewers' pages (the room detail, the snapshot, ``room.status``).

| status                        | room product, regular price | flash sale of the room (live-only) |
| ----------------------------- | --------------------------- | ---------------------------------- |
| scheduled                     | 409 room_not_started        | 409 room_not_started               |
| live                          | sells                       | sells                              |
| paused                        | 409 room_paused             | 409 room_paused                    |
| ended, replay (replay_enabled)| sells                       | 409 live_offer_ended               |
| ended, no replay              | 409 room_ended              | 409 room_ended                     |
| cancelled, banned             | 409 room_not_selling        | 409 room_not_selling               |

Before: an order was accepted after the end for a flash sale of the room, and while paused.
"""

import pytest

from commerce.models import Order, OrderLine
from conftest import assert_error
from livestream import sales
from livestream.models import LiveRoom
from livestream.services import rooms
from tests.commerce.conftest import ADDRESS, commerce_rows, create_flash_sale

ORDERS = "/api/v1/mp/orders"

# (status, replay_enabled) -> (regular price, live-only flash sale): None sells, else the code.
RULE = {
    ("scheduled", True): ("room_not_started", "room_not_started"),
    ("live", True): (None, None),
    ("paused", True): ("room_paused", "room_paused"),
    ("ended", True): (None, "live_offer_ended"),
    ("ended", False): ("room_ended", "room_ended"),
    ("cancelled", True): ("room_not_selling", "room_not_selling"),
    ("banned", True): ("room_not_selling", "room_not_selling"),
}


def body(sku, room, flash_sale=None):
    line = {"sku": sku.pk, "quantity": 1, **({"flash_sale": flash_sale.pk} if flash_sale else {})}
    return {"lines": [line], "room_id": room.pk, "address": ADDRESS}


def set_status(room, status, replay_enabled):
    LiveRoom.unscoped.filter(pk=room.pk).update(status=status, replay_enabled=replay_enabled)
    return LiveRoom.unscoped.get(pk=room.pk)


@pytest.mark.parametrize(("status", "replay"), list(RULE))
@pytest.mark.parametrize("kind", ["room_product", "room_flash_sale"])
def test_the_rule_per_sale_kind_and_room_status(mp, sku, room, status, replay, kind):
    sale = create_flash_sale(sku, room=room) if kind == "room_flash_sale" else None
    room = set_status(room, status, replay)
    expected = RULE[(status, replay)][kind == "room_flash_sale"]
    before = commerce_rows()
    answer = mp.post(ORDERS, body(sku, room, sale))
    if expected is None:
        assert answer.status_code == 201, answer.content
        order = Order.unscoped.get(pk=answer.json()["id"])
        line = OrderLine.unscoped.get(order=order)
        assert order.room_id == room.pk and line.flash_sale_id == (sale.pk if sale else None)
    else:
        error = assert_error(answer, 409, expected)
        assert error["fields"] == {"status": status}
        assert commerce_rows() == before  # nothing taken, nothing written
    # What the room tells viewers is the same rule.
    told = sales.selling(room)
    assert told["live_offers" if sale else "products"] is (expected is None)
    assert told["live_offers_refusal" if sale else "products_refusal"] == expected


def test_a_brand_wide_flash_sale_bought_in_the_replay_sells_like_a_room_product(mp, sku, room):
    """A flash sale with no room is no live-only price: in the replay it sells like the product."""
    sale = create_flash_sale(sku)
    room = set_status(room, "ended", True)
    assert mp.post(ORDERS, body(sku, room, sale)).status_code == 201


def test_a_paused_show_sells_again_once_resumed(brand, mp, sku, room):
    room = rooms.room_pause(brand=brand, room=room)
    assert_error(mp.post(ORDERS, body(sku, room)), 409, "room_paused")
    rooms.room_resume(brand=brand, room=room)
    assert mp.post(ORDERS, body(sku, room)).status_code == 201


def test_viewers_are_told_in_the_room_detail_and_the_status_event(
    brand, mp, sku, room, monkeypatch, django_capture_on_commit_callbacks
):
    published = []
    monkeypatch.setattr("livestream.realtime._broadcast", lambda room_id, event: published.append(event))
    detail = mp.get(f"/api/v1/mp/rooms/{room.pk}").json()
    assert detail["selling"] == {
        "products": True, "products_refusal": None, "live_offers": True, "live_offers_refusal": None,
    }  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        rooms.room_pause(brand=brand, room=room)
    detail = mp.get(f"/api/v1/mp/rooms/{room.pk}").json()
    assert detail["selling"]["products"] is False and detail["selling"]["products_refusal"] == "room_paused"
    status = [event["data"] for event in published if event["type"] == "room.status"]
    assert status[-1]["selling"]["products_refusal"] == "room_paused"
    with django_capture_on_commit_callbacks(execute=True):
        rooms.room_resume(brand=brand, room=room)
        rooms.room_end(brand=brand, room=room)
    status = [event["data"] for event in published if event["type"] == "room.status"]
    assert status[-1]["selling"] == {
        "products": True, "products_refusal": None, "live_offers": False, "live_offers_refusal": "live_offer_ended",
    }  # fmt: skip


def test_another_brands_room_is_not_found_whatever_its_status(mp, other_brand, sku):
    from tests.commerce.conftest import create_room, create_sku

    rival_sku = create_sku(other_brand, code="R-1")
    rival_room = create_room(other_brand, products=[rival_sku.product], status="paused")
    assert_error(mp.post(ORDERS, body(sku, rival_room)), 404, "room_not_found")
