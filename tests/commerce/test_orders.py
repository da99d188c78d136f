"""Placing an order (POST /api/v1/mp/orders): the rules, bad input with nothing written, idempotency,
totals in fen, delivery or pickup, attribution and the room's rules."""

from datetime import timedelta

import pytest
from django.utils import timezone

from commerce.models import Order, OrderEvent, Sku
from conftest import assert_error
from guides.models import Store
from livestream.models import CoStream, Festival, LiveRoom, RoomProduct, Venue
from tenants.models import Brand
from tenants.scoping import brand_scope
from tests.commerce.conftest import (
    ADDRESS,
    ORDERS,
    commerce_rows,
    create_flash_sale,
    create_room,
    create_sku,
    reload,
)

pytestmark = pytest.mark.django_db


def order_body(*lines, room=None, **extra):
    body = {"lines": [{"sku": sku.pk, "quantity": quantity} for sku, quantity in lines], "address": ADDRESS}
    if room is not None:
        body["room_id"] = room.pk
    return {**body, **extra}


def post(client, body, key=None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(ORDERS, body, **headers)


def placed(response):
    assert response.status_code == 201, response.content
    return Order.unscoped.get(pk=response.json()["id"])


def make_store(brand, code="S1", status=Store.Status.OPEN):
    with brand_scope(brand):
        return Store.objects.create(brand=brand, code=code, name=f"Store {code}", status=status)


# --- the happy path --------------------------------------------------------------------------------


def test_an_order_snapshots_prices_takes_stock_and_records_its_placement(brand, customer, mp, sku, room):
    before = timezone.now()
    response = post(mp, order_body((sku, 3), room=room, note="  gift wrap  "))

    order = placed(response)
    body = response.json()
    assert body["status"] == "pending_payment"
    assert (body["items_total"], body["discount_total"], body["shipping_fee"], body["payable"]) == (30000, 0, 0, 30000)
    [line] = body["lines"]
    assert (line["sku_id"], line["product_name"], line["sku_spec"]) == (sku.pk, "Coat", "M")
    assert (line["unit_price"], line["quantity"], line["discount"], line["amount"]) == (10000, 3, 0, 30000)
    assert order.customer_id == customer.pk and order.brand_id == brand.pk and order.note == "gift wrap"
    assert reload(sku).stock == 7
    window = timedelta(minutes=brand.payment_window_minutes)
    assert before + window <= order.expires_at <= timezone.now() + window
    event = OrderEvent.unscoped.get(order=order)
    assert (event.from_status, event.to_status, event.actor, event.actor_id) == (
        "",
        "pending_payment",
        "customer",
        customer.pk,
    )


def test_a_roomless_order_needs_no_room(mp, sku):
    order = placed(post(mp, order_body((sku, 1))))
    assert order.room_id is None and order.source_kind == ""


def test_later_price_and_name_changes_do_not_touch_placed_lines(mp, sku):
    order = placed(post(mp, order_body((sku, 2))))
    Sku.unscoped.filter(pk=sku.pk).update(price=12345, spec="XL")
    type(sku.product).unscoped.filter(pk=sku.product_id).update(name="Renamed coat")

    line = mp.get(f"{ORDERS}/{order.pk}").json()["lines"][0]
    assert (line["unit_price"], line["product_name"], line["sku_spec"]) == (10000, "Coat", "M")
    assert reload(order).payable == 20000


def test_the_same_sku_twice_in_a_cart_is_one_line(mp, sku):
    response = post(mp, order_body((sku, 2), (sku, 3)))
    order = placed(response)
    assert [(line["sku_id"], line["quantity"]) for line in response.json()["lines"]] == [(sku.pk, 5)]
    assert order.items_total == 50000 and reload(sku).stock == 5


def test_several_skus_are_taken_together(brand, mp, sku):
    shirt = create_sku(brand, price=2500, stock=4)
    order = placed(post(mp, order_body((sku, 1), (shirt, 4))))
    assert order.items_total == 10000 + 4 * 2500
    assert (reload(sku).stock, reload(shirt).stock) == (9, 0)


# --- bad input: the error shape, and nothing written ------------------------------------------------


@pytest.fixture
def others(brand, other_brand):
    """Objects the bad requests name: another brand's SKU, room and store; unsellable SKUs; stores."""
    return {
        "rival_sku": create_sku(other_brand, code="RIVAL-1"),
        "rival_room": create_room(other_brand),
        "rival_store": make_store(other_brand, code="R1"),
        "closed_store": make_store(brand, code="C1", status=Store.Status.CLOSED),
        "off_shelf": create_sku(brand, product_status="off_shelf"),
        "unapproved": create_sku(brand, audit_status="pending", product_status="off_shelf"),
        "rejected": create_sku(brand, audit_status="rejected"),
        "inactive": create_sku(brand, is_active=False),
    }


def line(sku, quantity=1):
    return {"sku": sku if isinstance(sku, int) else sku.pk, "quantity": quantity}


BAD_ORDERS = {
    # name: (build(sku, others) -> (body, headers), status, code)
    "quantity_zero": (lambda s, o: ({"lines": [line(s, 0)], "address": ADDRESS}, {}), 400, "invalid_quantity"),
    "quantity_negative": (lambda s, o: ({"lines": [line(s, -1)], "address": ADDRESS}, {}), 400, "invalid_quantity"),
    "quantity_above_bound": (
        lambda s, o: ({"lines": [line(s, 100)], "address": ADDRESS}, {}),
        400,
        "invalid_quantity",
    ),
    "quantities_merged_above_bound": (
        lambda s, o: ({"lines": [line(s, 60), line(s, 60)], "address": ADDRESS}, {}),
        400,
        "invalid_quantity",
    ),
    "quantity_a_string": (lambda s, o: ({"lines": [line(s, "2")], "address": ADDRESS}, {}), 400, "invalid"),
    "quantity_a_float": (lambda s, o: ({"lines": [line(s, 1.5)], "address": ADDRESS}, {}), 400, "invalid"),
    "quantity_a_bool": (lambda s, o: ({"lines": [line(s, True)], "address": ADDRESS}, {}), 400, "invalid"),
    "too_many_lines": (lambda s, o: ({"lines": [line(s)] * 51, "address": ADDRESS}, {}), 400, "invalid"),
    "empty_cart": (lambda s, o: ({"lines": [], "address": ADDRESS}, {}), 400, "empty_cart"),
    "no_lines_at_all": (lambda s, o: ({"address": ADDRESS}, {}), 400, "invalid"),
    "lines_not_a_list": (lambda s, o: ({"lines": "COAT-M", "address": ADDRESS}, {}), 400, "invalid"),
    "unknown_sku": (lambda s, o: ({"lines": [line(987654)], "address": ADDRESS}, {}), 404, "sku_not_found"),
    "sku_id_beyond_bigint": (lambda s, o: ({"lines": [line(2**63)], "address": ADDRESS}, {}), 400, "invalid"),
    "another_brands_sku": (
        lambda s, o: ({"lines": [line(o["rival_sku"])], "address": ADDRESS}, {}),
        404,
        "sku_not_found",
    ),
    "off_shelf_product": (
        lambda s, o: ({"lines": [line(o["off_shelf"])], "address": ADDRESS}, {}),
        409,
        "product_unavailable",
    ),
    "unapproved_product": (
        lambda s, o: ({"lines": [line(o["unapproved"])], "address": ADDRESS}, {}),
        409,
        "product_unavailable",
    ),
    "rejected_product": (
        lambda s, o: ({"lines": [line(o["rejected"])], "address": ADDRESS}, {}),
        409,
        "product_unavailable",
    ),
    "inactive_sku": (
        lambda s, o: ({"lines": [line(o["inactive"])], "address": ADDRESS}, {}),
        409,
        "product_unavailable",
    ),
    "out_of_stock": (lambda s, o: ({"lines": [line(s, 11)], "address": ADDRESS}, {}), 409, "out_of_stock"),
    "no_address": (lambda s, o: ({"lines": [line(s)]}, {}), 400, "invalid_address"),
    "address_a_string": (lambda s, o: ({"lines": [line(s)], "address": "Shanghai"}, {}), 400, "invalid_address"),
    "address_missing_phone": (
        lambda s, o: ({"lines": [line(s)], "address": {k: v for k, v in ADDRESS.items() if k != "phone"}}, {}),
        400,
        "invalid_address",
    ),
    "address_blank_city": (
        lambda s, o: ({"lines": [line(s)], "address": {**ADDRESS, "city": "  "}}, {}),
        400,
        "invalid_address",
    ),
    "address_detail_too_long": (
        lambda s, o: ({"lines": [line(s)], "address": {**ADDRESS, "detail": "x" * 121}}, {}),
        400,
        "invalid_address",
    ),
    "address_phone_letters": (
        lambda s, o: ({"lines": [line(s)], "address": {**ADDRESS, "phone": "call me"}}, {}),
        400,
        "invalid_address",
    ),
    "address_field_not_text": (
        lambda s, o: ({"lines": [line(s)], "address": {**ADDRESS, "name": 7}}, {}),
        400,
        "invalid_address",
    ),
    "unknown_delivery": (
        lambda s, o: ({"lines": [line(s)], "address": ADDRESS, "delivery": "drone"}, {}),
        400,
        "invalid",
    ),
    "pickup_without_store": (lambda s, o: ({"lines": [line(s)], "delivery": "pickup"}, {}), 404, "store_not_found"),
    "pickup_at_closed_store": (
        lambda s, o: ({"lines": [line(s)], "delivery": "pickup", "pickup_store_id": o["closed_store"].pk}, {}),
        404,
        "store_not_found",
    ),
    "pickup_at_another_brands_store": (
        lambda s, o: ({"lines": [line(s)], "delivery": "pickup", "pickup_store_id": o["rival_store"].pk}, {}),
        404,
        "store_not_found",
    ),
    "unknown_room": (
        lambda s, o: ({"lines": [line(s)], "address": ADDRESS, "room_id": 987654}, {}),
        404,
        "room_not_found",
    ),
    "another_brands_room": (
        lambda s, o: ({"lines": [line(s)], "address": ADDRESS, "room_id": o["rival_room"].pk}, {}),
        404,
        "room_not_found",
    ),
    "unknown_source_kind": (
        lambda s, o: ({"lines": [line(s)], "address": ADDRESS, "source": "tiktok:1"}, {}),
        400,
        "invalid_source",
    ),
    "festival_source_without_room": (
        lambda s, o: ({"lines": [line(s)], "address": ADDRESS, "source": "festival:1"}, {}),
        400,
        "invalid_source",
    ),
    "scene_too_long": (
        lambda s, o: ({"lines": [line(s)], "address": ADDRESS, "source": "scene:" + "a" * 33}, {}),
        400,
        "invalid_source",
    ),
    "idempotency_key_too_long": (
        lambda s, o: ({"lines": [line(s)], "address": ADDRESS}, {"HTTP_IDEMPOTENCY_KEY": "k" * 65}),
        400,
        "invalid",
    ),
    "note_too_long": (
        lambda s, o: ({"lines": [line(s)], "address": ADDRESS, "note": "n" * 201}, {}),
        400,
        "invalid",
    ),
}


@pytest.mark.parametrize("case", BAD_ORDERS, ids=list(BAD_ORDERS))
def test_bad_orders_answer_the_error_shape_and_write_nothing(case, mp, sku, others):
    build, status, code = BAD_ORDERS[case]
    body, headers = build(sku, others)
    before = commerce_rows()

    assert_error(mp.post(ORDERS, body, **headers), status, code)

    assert commerce_rows() == before


def test_out_of_stock_names_the_sku_and_gives_back_what_earlier_lines_took(brand, mp, sku):
    scarce = create_sku(brand, price=500, stock=1)
    before = commerce_rows()

    error = assert_error(post(mp, order_body((sku, 2), (scarce, 2))), 409, "out_of_stock")

    assert error["fields"] == {"sku": scarce.pk}
    assert commerce_rows() == before
    assert (reload(sku).stock, reload(scarce).stock) == (10, 1)


def test_malformed_json_is_400_and_writes_nothing(mp):
    before = commerce_rows()
    response = mp.generic("POST", ORDERS, "{not json", content_type="application/json")
    assert_error(response, 400, "malformed_json")
    assert commerce_rows() == before


def test_a_suspended_brand_takes_no_orders(brand, mp, sku):
    Brand.objects.filter(pk=brand.pk).update(status=Brand.Status.SUSPENDED)
    before = commerce_rows()
    assert_error(post(mp, order_body((sku, 1))), 403, "brand_suspended")
    assert commerce_rows() == before


def test_a_missing_token_is_401(anon, sku):
    assert_error(post(anon, order_body((sku, 1))), 401, "not_authenticated")
    assert not Order.unscoped.exists()


# --- idempotency -----------------------------------------------------------------------------------


def test_the_same_key_and_body_answer_the_first_order_and_take_stock_once(mp, sku):
    first = post(mp, order_body((sku, 2)), key="checkout-1")
    again = post(mp, order_body((sku, 2)), key="checkout-1")

    assert first.status_code == 201 and again.status_code == 200
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Order.unscoped.count() == 1 and reload(sku).stock == 8


def test_the_same_key_with_another_body_is_409_and_writes_nothing(brand, mp, sku):
    post(mp, order_body((sku, 2)), key="checkout-1")
    before = commerce_rows()

    for body in (
        order_body((sku, 3)),
        order_body((sku, 2), note="ring twice"),
        order_body((sku, 2), delivery="ship", address={**ADDRESS, "detail": "elsewhere"}),
    ):
        assert_error(post(mp, body, key="checkout-1"), 409, "idempotency_key_reused")

    assert commerce_rows() == before


def test_keys_belong_to_one_customer(brand, mp, sku, make_customer, customer_client):
    neighbour = customer_client(make_customer(brand))
    first = placed(post(mp, order_body((sku, 1)), key="same"))
    second = placed(post(neighbour, order_body((sku, 1)), key="same"))
    assert first.pk != second.pk and reload(sku).stock == 8


def test_without_a_key_each_post_is_a_new_order(mp, sku):
    placed(post(mp, order_body((sku, 1))))
    placed(post(mp, order_body((sku, 1))))
    assert Order.unscoped.count() == 2 and reload(sku).stock == 8


def test_a_key_whose_request_failed_can_be_used_again(mp, sku):
    assert_error(post(mp, order_body((sku, 11)), key="retry-me"), 409, "out_of_stock")
    Sku.unscoped.filter(pk=sku.pk).update(stock=20)
    order = placed(post(mp, order_body((sku, 11)), key="retry-me"))
    assert order.idempotency_key == "retry-me" and reload(sku).stock == 9


# --- totals ----------------------------------------------------------------------------------------


@pytest.fixture
def shipping(brand):
    """8.00 yuan per delivery, free from 300.00 yuan (after discounts)."""
    Brand.objects.filter(pk=brand.pk).update(shipping_fee=800, free_shipping_threshold=30000)
    brand.refresh_from_db()
    return brand


def totals(order):
    return order.items_total, order.discount_total, order.shipping_fee, order.payable


def test_delivery_below_the_threshold_pays_the_brands_shipping_fee(shipping, mp, sku):
    assert totals(placed(post(mp, order_body((sku, 2))))) == (20000, 0, 800, 20800)


def test_delivery_at_the_threshold_ships_free(shipping, mp, sku):
    assert totals(placed(post(mp, order_body((sku, 3))))) == (30000, 0, 0, 30000)


def test_the_threshold_counts_what_is_paid_after_discounts(shipping, mp, sku):
    sale = create_flash_sale(sku, price=9000, quantity=5, per_customer_limit=3)
    body = {"lines": [{"sku": sku.pk, "quantity": 3, "flash_sale": sale.pk}], "address": ADDRESS}

    order = placed(post(mp, body))

    assert totals(order) == (30000, 3000, 800, 27800)
    assert order.payable == order.items_total - order.discount_total + order.shipping_fee


def test_without_a_threshold_delivery_always_pays_the_fee(brand, mp, sku):
    Brand.objects.filter(pk=brand.pk).update(shipping_fee=800, free_shipping_threshold=0)
    assert totals(placed(post(mp, order_body((sku, 10))))) == (100000, 0, 800, 100800)


def test_a_flash_sale_line_and_a_full_price_line_add_up(brand, shipping, mp, sku):
    bag = create_sku(brand, price=5000, stock=5)
    sale = create_flash_sale(bag, price=3000, quantity=5)
    body = {
        "lines": [{"sku": sku.pk, "quantity": 2}, {"sku": bag.pk, "quantity": 1, "flash_sale": sale.pk}],
        "address": ADDRESS,
    }

    response = post(mp, body)

    order = placed(response)
    assert totals(order) == (25000, 2000, 800, 23800)
    lines = {line["sku_id"]: line for line in response.json()["lines"]}
    assert (lines[bag.pk]["unit_price"], lines[bag.pk]["discount"], lines[bag.pk]["amount"]) == (5000, 2000, 3000)
    assert lines[bag.pk]["flash_sale_id"] == sale.pk and lines[sku.pk]["flash_sale_id"] is None


def test_pickup_pays_no_shipping_and_keeps_no_address(brand, shipping, mp, sku):
    store = make_store(brand)
    response = post(mp, order_body((sku, 1), delivery="pickup", pickup_store_id=store.pk))

    order = placed(response)
    assert totals(order) == (10000, 0, 0, 10000)
    assert (order.delivery, order.pickup_store_id, order.address) == ("pickup", store.pk, {})
    assert response.json()["pickup_store_id"] == store.pk


def test_a_delivery_address_is_kept_trimmed(mp, sku):
    order = placed(post(mp, order_body((sku, 1), address={**ADDRESS, "name": "  Lin  ", "extra": "ignored"})))
    assert order.delivery == "ship" and order.pickup_store_id is None
    assert order.address == ADDRESS


# --- attribution -----------------------------------------------------------------------------------


@pytest.fixture
def festival(brand, other_brand, room):
    """A published festival whose main venue is the rival's room and where ``room`` is a joined sub-venue."""
    main = create_room(other_brand, title="Main venue")
    now = timezone.now()
    festival = Festival.objects.create(
        name="618",
        starts_at=now - timedelta(days=1),
        ends_at=now + timedelta(days=1),
        main_room=main,
        status=Festival.Status.PUBLISHED,
    )
    Venue.unscoped.create(brand=other_brand, festival=festival, room=main, status=Venue.Status.JOINED)
    Venue.unscoped.create(brand=brand, festival=festival, room=room, status=Venue.Status.JOINED)
    return festival


@pytest.fixture
def costream(brand, other_brand, room):
    partner = create_room(other_brand, title="Partner")
    return CoStream.unscoped.create(
        brand=other_brand,
        inviter_room=partner,
        invitee_brand=brand,
        invitee_room=room,
        status=CoStream.Status.ACCEPTED,
        accepted_at=timezone.now(),
    )


def attribution(order):
    return {
        "room": order.room_id,
        "kind": order.source_kind,
        "scene": order.source_scene,
        "festival": order.festival_id,
        "costream": order.costream_id,
        "referring_room": order.referring_room_id,
    }


def test_an_order_in_a_room_records_the_room(mp, sku, room):
    order = placed(post(mp, order_body((sku, 1), room=room)))
    assert attribution(order) == {
        "room": room.pk,
        "kind": "",
        "scene": "",
        "festival": None,
        "costream": None,
        "referring_room": None,
    }


def test_a_festival_viewer_is_recorded_with_the_festival_and_its_main_venue(brand, mp, sku, room, festival):
    response = post(mp, order_body((sku, 1), room=room, source=f"festival:{festival.pk}"))

    order = placed(response)
    assert attribution(order) == {
        "room": room.pk,
        "kind": "festival",
        "scene": "",
        "festival": festival.pk,
        "costream": None,
        "referring_room": festival.main_room_id,
    }
    assert order.brand_id == brand.pk  # shared traffic, separate books
    assert response.json()["source_kind"] == "festival"


def test_a_costream_viewer_is_recorded_with_the_partner_room(brand, mp, sku, room, costream):
    order = placed(post(mp, order_body((sku, 1), room=room, source=f"costream:{costream.pk}")))
    assert attribution(order) == {
        "room": room.pk,
        "kind": "costream",
        "scene": "",
        "festival": None,
        "costream": costream.pk,
        "referring_room": costream.inviter_room_id,
    }
    assert order.brand_id == brand.pk


def test_a_share_scene_is_recorded_in_a_room_and_without_one(mp, sku, room):
    in_room = placed(post(mp, order_body((sku, 1), room=room, source="scene:g42-p7")))
    roomless = placed(post(mp, order_body((sku, 1), source="scene:g42-p7")))
    assert (in_room.source_kind, in_room.source_scene, in_room.room_id) == ("scene", "g42-p7", room.pk)
    assert (roomless.source_kind, roomless.source_scene, roomless.room_id) == ("scene", "g42-p7", None)


def test_a_reminder_source_is_recorded(mp, sku, room):
    assert placed(post(mp, order_body((sku, 1), room=room, source="reminder"))).source_kind == "reminder"


@pytest.mark.parametrize(
    "spoil",
    [
        lambda festival, costream: Venue.unscoped.filter(room_id__isnull=False).update(status=Venue.Status.LEFT),
        lambda festival, costream: Festival.objects.filter(pk=festival.pk).update(status=Festival.Status.DRAFT),
        lambda festival, costream: Festival.objects.filter(pk=festival.pk).update(status=Festival.Status.ENDED),
    ],
    ids=["venue_left", "festival_draft", "festival_ended"],
)
def test_a_festival_the_room_is_not_selling_in_is_refused(mp, sku, room, festival, costream, spoil):
    spoil(festival, costream)
    before = commerce_rows()
    assert_error(post(mp, order_body((sku, 1), room=room, source=f"festival:{festival.pk}")), 400, "invalid_source")
    assert commerce_rows() == before


@pytest.mark.parametrize("status", ["invited", "declined", "ended"])
def test_a_costream_that_is_not_on_is_refused(mp, sku, room, costream, status):
    CoStream.unscoped.filter(pk=costream.pk).update(status=status)
    before = commerce_rows()
    assert_error(post(mp, order_body((sku, 1), room=room, source=f"costream:{costream.pk}")), 400, "invalid_source")
    assert commerce_rows() == before


def test_a_source_of_another_room_is_refused(brand, mp, sku, room, festival, costream):
    elsewhere = create_room(brand, products=[sku.product], title="Elsewhere")
    for source in (f"festival:{festival.pk}", f"costream:{costream.pk}"):
        assert_error(post(mp, order_body((sku, 1), room=elsewhere, source=source)), 400, "invalid_source")
    assert not Order.unscoped.exists()


# --- the room's rules ------------------------------------------------------------------------------


def test_a_product_not_listed_in_the_room_is_409(brand, mp, sku, room):
    unlisted = create_sku(brand, price=100)
    before = commerce_rows()
    error = assert_error(post(mp, order_body((sku, 1), (unlisted, 1), room=room)), 409, "product_not_in_room")
    assert error["fields"] == {"sku": unlisted.pk}
    assert commerce_rows() == before


def test_a_product_taken_off_sale_in_the_room_is_409(mp, sku, room):
    RoomProduct.unscoped.filter(room=room).update(on_sale=False)
    before = commerce_rows()
    assert_error(post(mp, order_body((sku, 1), room=room)), 409, "product_not_in_room")
    assert commerce_rows() == before


def test_a_product_listed_in_another_room_only_is_409(brand, mp, sku):
    create_room(brand, products=[sku.product], title="Sells it")
    other = create_room(brand, products=[create_sku(brand).product], title="Does not")
    assert_error(post(mp, order_body((sku, 1), room=other)), 409, "product_not_in_room")
    assert not Order.unscoped.exists()


@pytest.mark.parametrize("status", ["cancelled", "banned"])
def test_a_room_that_does_not_sell_is_409_with_its_status(mp, sku, room, status):
    LiveRoom.unscoped.filter(pk=room.pk).update(status=status)
    before = commerce_rows()
    error = assert_error(post(mp, order_body((sku, 1), room=room)), 409, "room_not_selling")
    assert error["fields"]["status"] == status
    assert commerce_rows() == before


def test_a_room_with_goods_switched_off_is_409(mp, sku, room):
    LiveRoom.unscoped.filter(pk=room.pk).update(goods_enabled=False)
    assert_error(post(mp, order_body((sku, 1), room=room)), 409, "room_not_selling")
    assert not Order.unscoped.exists()


@pytest.mark.parametrize("status", ["live", "ended"])
def test_a_room_on_air_or_on_replay_sells(mp, sku, room, status):
    """The rule per sale kind and status is tests/commerce/test_room_sale_rule.py's."""
    LiveRoom.unscoped.filter(pk=room.pk).update(status=status)
    assert placed(post(mp, order_body((sku, 1), room=room))).room_id == room.pk
