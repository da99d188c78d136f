"""Issue 22: a claimed coupon can be chosen at checkout (``GET /mp/coupons/for-purchase``: each of
the viewer's coupons as the order would judge it, with its discount), and the console's drop form
lists only templates a drop accepts (``droppable``; before, it defaulted to a store-only coupon
that the drop then refused with 409)."""

import pytest
from django.utils import timezone

from commerce.models import Order
from conftest import assert_error
from tests.commerce.conftest import ADDRESS, create_sku
from tests.coupons.conftest import TEMPLATES, give, make_template

FOR_PURCHASE = "/api/v1/mp/coupons/for-purchase"


def options(mp, sku, quantity=1):
    answer = mp.get(FOR_PURCHASE, {"sku": sku.pk, "quantity": quantity})
    assert answer.status_code == 200, answer.content
    return [(o["coupon"]["template"]["name"], o["applies"], o["discount"], o["refusal"]) for o in answer.json()]


@pytest.mark.django_db
def test_each_claimed_coupon_is_judged_as_the_order_would(brand, mp, customer, sku, store):
    give(make_template(brand, name="10 off"), customer)
    give(make_template(brand, name="20 % off", kind="percent_off", percent_off=20, max_discount=3000), customer)
    give(make_template(brand, name="spend 300", kind="threshold", amount_off=5000, min_spend=30000), customer)
    other = create_sku(brand, code="HAT", price=2000, name="Hat")
    give(make_template(brand, name="hats only", scope="products", product_ids=[other.product.pk]), customer)
    give(make_template(brand, name="in store", channel="in_store"), customer)  # never online: left out

    judged = options(mp, sku)  # one coat at 100.00 yuan
    assert judged[:2] == [("20 % off", True, 2000, None), ("10 off", True, 1000, None)]
    assert sorted(judged[2:]) == [
        ("hats only", False, 0, "coupon_not_applicable"),
        ("spend 300", False, 0, "coupon_min_spend_not_met"),
    ]
    assert options(mp, sku, quantity=3)[:2] == [("spend 300", True, 5000, None), ("20 % off", True, 3000, None)]


@pytest.mark.django_db
def test_the_chosen_coupon_gives_the_discount_it_was_shown_with(brand, mp, customer, sku, room):
    coupon = give(make_template(brand, name="20 % off", kind="percent_off", percent_off=20), customer)
    (shown,) = mp.get(FOR_PURCHASE, {"sku": sku.pk, "quantity": 2}).json()
    body = {"lines": [{"sku": sku.pk, "quantity": 2}], "room_id": room.pk, "address": ADDRESS, "coupon_id": coupon.pk}
    answer = mp.post("/api/v1/mp/orders", body)
    assert answer.status_code == 201, answer.content
    assert answer.json()["coupon"] == {"id": coupon.pk, "name": "20 % off", "discount": shown["discount"]}
    assert Order.unscoped.get().payable == 20000 - shown["discount"]
    assert mp.get(FOR_PURCHASE, {"sku": sku.pk}).json() == []  # held by the unpaid order now


@pytest.mark.django_db
def test_bad_input_and_another_brands_sku(mp, rival_mp, rival_customer, other_brand, sku):
    assert_error(mp.get(FOR_PURCHASE), 400, "invalid")
    assert_error(mp.get(FOR_PURCHASE, {"sku": sku.pk, "quantity": 0}), 400, "invalid")
    assert_error(mp.get(FOR_PURCHASE, {"sku": "x"}), 400, "invalid")
    assert_error(rival_mp.get(FOR_PURCHASE, {"sku": sku.pk}), 404, "sku_not_found")
    # The rival's coupons are not the customer's, and the customer's are not the rival's.
    rival_sku = create_sku(other_brand, code="R-1", price=5000)
    give(make_template(other_brand, name="theirs"), rival_customer)
    assert options(mp, sku) == []
    assert [name for name, *_ in options(rival_mp, rival_sku)] == ["theirs"]


@pytest.mark.django_db
def test_the_console_lists_and_marks_the_templates_a_drop_accepts(brand, console, rival_console, store, room):
    droppable = make_template(brand, name="for the room")
    make_template(brand, name="store only", store_id=store.pk)
    make_template(brand, name="all given", total_quantity=1)
    given = make_template(brand, name="used up", total_quantity=1, claimable=True)
    type(given).unscoped.filter(pk=given.pk).update(issued=1)
    expired = make_template(brand, name="expired")
    type(expired).unscoped.filter(pk=expired.pk).update(valid_until=timezone.now())

    everything = {t["name"]: t["droppable"] for t in console.get(TEMPLATES, {"page_size": 100}).json()["results"]}
    assert everything == {
        "for the room": True, "store only": False, "all given": True, "used up": False, "expired": False,
    }  # fmt: skip
    listed = console.get(TEMPLATES, {"page_size": 100, "droppable": "true"}).json()["results"]
    assert [t["name"] for t in listed] == ["all given", "for the room"]
    assert_error(console.get(TEMPLATES, {"droppable": "maybe"}), 400, "invalid")
    # The default choice (the first listed) is one the drop accepts.
    drop = {"template_id": listed[0]["id"], "quantity": 1}
    assert console.post(f"/api/v1/console/rooms/{room.pk}/coupon-drops", drop).status_code == 201
    assert rival_console.get(TEMPLATES, {"droppable": "true"}).json()["results"] == []
    assert droppable.pk in [t["id"] for t in listed]
