"""The order body's fast check (commerce.api.mp.usual_order_input) takes exactly what the
declared InputSerializer takes, with the same values and defaults, and leaves everything else
to the serializer's precise errors."""

import itertools
import json

import pytest

from commerce.api.mp import MpOrderListCreateApi, usual_order_input
from tenants.api.fields import MAX_ID

ADDRESS = {"name": "A", "phone": "1", "province": "P", "city": "C", "district": "D", "detail": "X"}
USUAL = [
    {"lines": [{"sku": 1, "quantity": 1}], "address": ADDRESS},
    {"lines": [{"sku": 7, "quantity": 2, "flash_sale": 3}], "address": ADDRESS, "room_id": 5, "source": "s:abc"},
    {"lines": [{"sku": 1, "quantity": 1, "flash_sale": None}, {"sku": 2, "quantity": 3}], "delivery": "pickup"},
    {"lines": [{"sku": MAX_ID, "quantity": 0}], "pickup_store_id": 9, "delivery": "pickup", "note": "ring twice"},
    {"lines": [], "coupon_id": 4, "room_id": None, "note": "", "source": ""},
    {"lines": [{"sku": 1, "quantity": -5, "extra": True}], "unknown": 1, "address": "anything JSON"},
]
# Each changes one thing in a usual body; some stay valid, most do not.
CHANGES = [
    ("lines", None),
    ("lines", {"sku": 1, "quantity": 1}),
    ("lines", "1"),
    ("lines", [None]),
    ("lines", [[1, 1]]),
    ("lines", [{"sku": 0, "quantity": 1}]),
    ("lines", [{"sku": MAX_ID + 1, "quantity": 1}]),
    ("lines", [{"sku": True, "quantity": 1}]),
    ("lines", [{"sku": "1", "quantity": 1}]),
    ("lines", [{"sku": 1.0, "quantity": 1}]),
    ("lines", [{"sku": 1}]),
    ("lines", [{"quantity": 1}]),
    ("lines", [{"sku": 1, "quantity": True}]),
    ("lines", [{"sku": 1, "quantity": 1.5}]),
    ("lines", [{"sku": 1, "quantity": "2"}]),
    ("lines", [{"sku": 1, "quantity": None}]),
    ("lines", [{"sku": 1, "quantity": 10**30}]),
    ("lines", [{"sku": 1, "quantity": 1, "flash_sale": 0}]),
    ("lines", [{"sku": 1, "quantity": 1, "flash_sale": "2"}]),
    ("lines", [{"sku": 1, "quantity": 1, "flash_sale": False}]),
    ("room_id", 0),
    ("room_id", -1),
    ("room_id", "5"),
    ("room_id", True),
    ("room_id", MAX_ID + 1),
    ("pickup_store_id", 2.0),
    ("coupon_id", [1]),
    ("coupon_id", None),
    ("source", None),
    ("source", 5),
    ("source", "x" * 64),
    ("source", "x" * 65),
    ("source", " padded "),
    ("source", "   "),
    ("source", "nul\x00"),
    ("source", "\ud800"),
    ("source", "直播间"),
    ("note", "n" * 200),
    ("note", "n" * 201),
    ("note", "送到门口"),
    ("note", False),
    ("delivery", "ship"),
    ("delivery", "pickup"),
    ("delivery", "drone"),
    ("delivery", None),
    ("delivery", ["ship"]),
    ("delivery", ""),
    ("address", None),
    ("address", []),
    ("address", 12),
]


def serializer_answer(data):
    serializer = MpOrderListCreateApi.InputSerializer(data=data)
    if not serializer.is_valid():
        return None
    return json.loads(json.dumps(serializer.validated_data))


def bodies():
    yield from USUAL
    for body, (key, value) in itertools.product(USUAL, CHANGES):
        yield {**body, key: value}
    yield None
    yield []
    yield "lines"


@pytest.mark.parametrize("body", list(bodies()))
def test_the_fast_check_takes_only_what_the_serializer_takes_with_the_same_values(body):
    fast = usual_order_input(body)
    if fast is not None:
        assert fast == serializer_answer(body)


@pytest.mark.parametrize("body", USUAL)
def test_usual_bodies_take_the_fast_path(body):
    assert usual_order_input(body) is not None


def test_bodies_the_fast_check_leaves_to_the_serializer_still_get_its_errors(mp):
    response = mp.post("/api/v1/mp/orders", {"lines": [{"sku": 1, "quantity": True}]})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert "lines" in response.json()["error"]["fields"]
