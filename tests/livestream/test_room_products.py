"""A room's products on the console: add, remove, reorder, on/off sale, and the pushed product
(讲解), with the events each publishes after commit."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from commerce.models import Product
from conftest import assert_error
from livestream import selectors
from livestream.models import RoomProduct
from livestream.services import room_products, rooms
from tenants.scoping import brand_scope
from tests.livestream.conftest import of_type, reload, snapshot

pytestmark = pytest.mark.django_db

ROOMS = "/api/v1/console/rooms"


def listed(room):
    """(product id, position, on sale) of the room's listings, in the room's order."""
    return list(
        RoomProduct.unscoped.filter(room=room)
        .order_by("position", "pk")
        .values_list("product_id", "position", "on_sale")
    )


def add(client, room, *products):
    return client.post(f"{ROOMS}/{room.pk}/products", {"product_ids": [p.pk for p in products]})


@pytest.fixture
def live_room(brand, make_room):
    return make_room(brand, status="live")


@pytest.fixture
def stocked(brand, live_room, make_product):
    """A live room listing three on-sale products, in order."""
    products = [make_product(brand, name=name) for name in ("Tea", "Cup", "Pot")]
    room_products.room_products_add(brand=brand, room=live_room, product_ids=[p.pk for p in products])
    return products


# --- adding ----------------------------------------------------------------------------------------


def test_approved_products_are_appended_in_the_order_given(console, brand, make_room, make_product):
    room = make_room(brand)
    tea, cup, pot = (make_product(brand, name=name) for name in ("Tea", "Cup", "Pot"))
    response = add(console, room, cup, tea)
    assert response.status_code == 200, response.content
    assert [(p["product_id"], p["position"], p["name"]) for p in response.json()] == [
        (cup.pk, 1, "Cup"),
        (tea.pk, 2, "Tea"),
    ]

    # Already listed products keep their place; new ones go to the end; duplicates count once.
    assert add(console, room, tea, pot, pot).status_code == 200
    assert listed(room) == [(cup.pk, 1, True), (tea.pk, 2, True), (pot.pk, 3, True)]
    assert [p["product_id"] for p in console.get(f"{ROOMS}/{room.pk}/products").json()] == [cup.pk, tea.pk, pot.pk]


@pytest.mark.parametrize("audit_status", ["pending", "rejected"])
def test_only_approved_products_go_into_a_room(console, brand, make_room, make_product, audit_status):
    room = make_room(brand)
    good = make_product(brand)
    unaudited = make_product(brand, audit_status=audit_status)
    error = assert_error(add(console, room, good, unaudited), 409, "product_not_approved")
    assert error["fields"] == {"product_ids": [unaudited.pk]}
    assert listed(room) == []


def test_archived_products_cannot_go_into_a_room(console, brand, make_room, make_product):
    room = make_room(brand)
    archived = make_product(brand, status="archived", archived_at=timezone.now())
    assert_error(add(console, room, archived), 409, "product_archived")
    assert listed(room) == []


def test_an_off_shelf_product_can_be_listed_but_viewers_do_not_see_it(console, brand, make_room, make_product):
    room = make_room(brand)
    on_shelf, off_shelf = make_product(brand), make_product(brand, status="off_shelf")
    assert add(console, room, on_shelf, off_shelf).status_code == 200
    with brand_scope(brand):
        visible = selectors.mp_room_detail(room.pk).sellable_products
    assert [card["id"] for card in visible] == [on_shelf.pk]


def test_unknown_and_other_brands_products_are_not_found(console, brand, other_brand, make_room, make_product):
    room = make_room(brand)
    mine, theirs = make_product(brand), make_product(other_brand)
    error = assert_error(add(console, room, mine, theirs), 404, "product_not_found")
    assert error["fields"] == {"product_ids": [theirs.pk]}
    response = console.post(f"{ROOMS}/{room.pk}/products", {"product_ids": [mine.pk, 999999]})
    assert assert_error(response, 404, "product_not_found")["fields"] == {"product_ids": [999999]}
    assert listed(room) == []
    assert not RoomProduct.unscoped.filter(product=theirs).exists()


def test_malformed_product_lists_are_400(console, brand, make_room):
    room = make_room(brand)
    for body in ({}, {"product_ids": []}, {"product_ids": ["tea"]}, {"product_ids": list(range(1, 502))}):
        assert_error(console.post(f"{ROOMS}/{room.pk}/products", body), 400, "invalid")
    assert listed(room) == []


def test_a_room_lists_at_most_500_products(console, brand, make_room, make_product):
    room = make_room(brand)
    products = Product.objects.bulk_create(
        [Product(brand=brand, name=f"P{i}", price=100, audit_status="approved", status="on_shelf") for i in range(502)]
    )
    RoomProduct.objects.bulk_create(
        [RoomProduct(brand=brand, room=room, product=p, position=i) for i, p in enumerate(products[:499], start=1)]
    )
    error = assert_error(add(console, room, products[499], products[500]), 409, "room_products_full")
    assert error["fields"] == {"max": 500}
    assert len(listed(room)) == 499

    assert add(console, room, products[499]).status_code == 200
    assert len(listed(room)) == 500 and listed(room)[-1] == (products[499].pk, 500, True)
    assert add(console, room, products[0]).status_code == 200  # re-adding a listed product adds nothing
    assert_error(add(console, room, products[501]), 409, "room_products_full")
    assert len(listed(room)) == 500


@pytest.mark.parametrize("status", ["ended", "cancelled"])
def test_a_closed_rooms_products_are_frozen(console, brand, make_room, make_product, status):
    room = make_room(brand)
    product, other = make_product(brand), make_product(brand)
    room_products.room_products_add(brand=brand, room=room, product_ids=[product.pk])
    if status == "ended":
        room = rooms.room_end(brand=brand, room=rooms.room_start(brand=brand, room=room))
    else:
        room = rooms.room_cancel(brand=brand, room=room)
    before = snapshot()
    base = f"{ROOMS}/{room.pk}/products"
    for response in (
        add(console, room, other),
        console.delete(f"{base}/{product.pk}"),
        console.post(f"{base}/order", {"product_ids": [product.pk]}),
        console.post(f"{base}/{product.pk}/sale", {"on_sale": False}),
        console.post(f"{ROOMS}/{room.pk}/push", {"product_id": product.pk}),
    ):
        assert assert_error(response, 409, "room_closed")["fields"] == {"status": status}
    assert snapshot() == before


def test_product_ids_past_the_integer_range_are_not_found(console, brand, live_room, stocked):
    huge = 10**30
    before = snapshot()
    base = f"{ROOMS}/{live_room.pk}"
    error = assert_error(
        console.post(f"{base}/products", {"product_ids": [stocked[0].pk, huge]}), 404, "product_not_found"
    )
    assert error["fields"] == {"product_ids": [huge]}
    assert_error(console.delete(f"{base}/products/{huge}"), 404, "product_not_in_room")
    assert_error(console.post(f"{base}/products/{huge}/sale", {"on_sale": False}), 404, "product_not_in_room")
    assert_error(console.post(f"{base}/push", {"product_id": huge}), 404, "product_not_in_room")
    assert_error(console.post(f"{base}/products/order", {"product_ids": [huge]}), 400, "order_mismatch")
    assert snapshot() == before


# --- removing, reordering, on/off sale ---------------------------------------------------------------


def test_removing_a_product_unlists_it_and_tells_viewers(
    console, brand, live_room, stocked, events, django_capture_on_commit_callbacks
):
    tea, cup, pot = stocked
    with django_capture_on_commit_callbacks(execute=True):
        response = console.delete(f"{ROOMS}/{live_room.pk}/products/{cup.pk}")
    assert response.status_code == 204
    assert [pk for pk, *_ in listed(live_room)] == [tea.pk, pot.pk]
    assert of_type(events, "product.sale") == [
        (live_room.pk, {"room_id": live_room.pk, "product_id": cup.pk, "on_sale": False})
    ]
    assert_error(console.delete(f"{ROOMS}/{live_room.pk}/products/{cup.pk}"), 404, "product_not_in_room")


def test_room_product_list_runs_a_constant_number_of_queries(console, brand, live_room, stocked, make_product):
    def count():
        with CaptureQueriesContext(connection) as queries:
            response = console.get(f"{ROOMS}/{live_room.pk}/products")
        return len(queries), len(response.json())

    few = count()
    room_products.room_products_add(brand=brand, room=live_room, product_ids=[make_product(brand).pk for _ in range(7)])
    many = count()
    assert (few[1], many[1]) == (3, 10) and many[0] == few[0]


def test_products_are_reordered(console, live_room, stocked):
    tea, cup, pot = stocked
    response = console.post(f"{ROOMS}/{live_room.pk}/products/order", {"product_ids": [pot.pk, tea.pk, cup.pk]})
    assert response.status_code == 204
    assert listed(live_room) == [(pot.pk, 1, True), (tea.pk, 2, True), (cup.pk, 3, True)]
    assert [p["product_id"] for p in console.get(f"{ROOMS}/{live_room.pk}/products").json()] == [pot.pk, tea.pk, cup.pk]


@pytest.mark.parametrize("order", ["missing", "duplicate", "extra", "empty"])
def test_a_reorder_must_name_every_listed_product_once(console, brand, live_room, stocked, make_product, order):
    tea, cup, pot = stocked
    stranger = make_product(brand)
    product_ids = {
        "missing": [pot.pk, tea.pk],
        "duplicate": [pot.pk, tea.pk, cup.pk, cup.pk],
        "extra": [pot.pk, tea.pk, cup.pk, stranger.pk],
        "empty": [],
    }[order]
    before = listed(live_room)
    response = console.post(f"{ROOMS}/{live_room.pk}/products/order", {"product_ids": product_ids})
    assert "product_ids" in assert_error(response, 400, "order_mismatch")["fields"]
    assert listed(live_room) == before


def test_a_product_goes_off_and_back_on_sale(
    console, brand, live_room, stocked, events, django_capture_on_commit_callbacks
):
    tea, cup, _ = stocked
    url = f"{ROOMS}/{live_room.pk}/products/{cup.pk}/sale"
    with django_capture_on_commit_callbacks(execute=True):
        off = console.post(url, {"on_sale": False})
        assert off.status_code == 200 and off.json()["on_sale"] is False
        with brand_scope(brand):
            assert cup.pk not in [card["id"] for card in selectors.mp_room_detail(live_room.pk).sellable_products]
        assert console.post(url, {"on_sale": False}).status_code == 200  # no change: no event
        assert console.post(url, {"on_sale": True}).json()["on_sale"] is True
    assert [data["on_sale"] for _, data in of_type(events, "product.sale")] == [False, True]
    assert_error(console.post(url, {}), 400, "invalid")
    assert_error(
        console.post(f"{ROOMS}/{live_room.pk}/products/999999/sale", {"on_sale": False}), 404, "product_not_in_room"
    )


# --- pushing (讲解) ------------------------------------------------------------------------------------


def push(client, room, product):
    return client.post(f"{ROOMS}/{room.pk}/push", {"product_id": product.pk if product else None})


def test_pushing_a_product_is_kept_by_the_room_and_published_once(
    console, live_room, stocked, events, django_capture_on_commit_callbacks
):
    tea, cup, _ = stocked
    with django_capture_on_commit_callbacks(execute=True):
        response = push(console, live_room, cup)
    assert response.status_code == 200, response.content
    assert response.json()["pushed_product_id"] == cup.pk
    assert reload(live_room).pushed_product.product_id == cup.pk
    assert console.get(f"{ROOMS}/{live_room.pk}").json()["pushed_product_id"] == cup.pk
    assert of_type(events, "product.push") == [
        (
            live_room.pk,
            {
                "room_id": live_room.pk,
                "product": {
                    "id": cup.pk,
                    "name": "Cup",
                    "cover_url": "",
                    "price_type": "fixed",
                    "price": 100,
                    "price2": None,
                },
            },
        )
    ]

    events.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert push(console, live_room, tea).json()["pushed_product_id"] == tea.pk  # the next one replaces it
        stopped = push(console, live_room, None)
    assert stopped.json()["pushed_product_id"] is None and reload(live_room).pushed_product is None
    assert [data["product"] and data["product"]["id"] for _, data in of_type(events, "product.push")] == [tea.pk, None]


@pytest.mark.parametrize("status", ["scheduled", "paused"])
def test_products_are_pushed_only_while_live(console, brand, make_room, make_product, status):
    room = make_room(brand, status=status)
    product = make_product(brand)
    room_products.room_products_add(brand=brand, room=room, product_ids=[product.pk])
    error = assert_error(push(console, room, product), 409, "room_not_live")
    assert error["fields"] == {"status": status}
    assert reload(room).pushed_product is None


def test_a_pushed_product_must_be_listed_on_sale_and_sellable(console, brand, live_room, stocked, make_product):
    tea, cup, pot = stocked
    assert_error(push(console, live_room, make_product(brand)), 404, "product_not_in_room")
    room_products.room_product_set_sale(brand=brand, room=live_room, product_id=cup.pk, on_sale=False)
    assert_error(push(console, live_room, cup), 409, "product_not_on_sale")
    Product.unscoped.filter(pk=pot.pk).update(status="off_shelf")
    assert_error(push(console, live_room, pot), 409, "product_not_sellable")
    assert_error(console.post(f"{ROOMS}/{live_room.pk}/push", {}), 400, "invalid")
    assert reload(live_room).pushed_product is None


@pytest.mark.parametrize("how", ["removed", "off_sale"])
def test_unlisting_the_pushed_product_stops_the_push(
    console, live_room, stocked, how, events, django_capture_on_commit_callbacks
):
    _, cup, _ = stocked
    assert push(console, live_room, cup).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        if how == "removed":
            response = console.delete(f"{ROOMS}/{live_room.pk}/products/{cup.pk}")
        else:
            response = console.post(f"{ROOMS}/{live_room.pk}/products/{cup.pk}/sale", {"on_sale": False})
    assert response.status_code in (200, 204)
    assert reload(live_room).pushed_product is None
    assert of_type(events, "product.push") == [(live_room.pk, {"room_id": live_room.pk, "product": None})]
    assert [data["product_id"] for _, data in of_type(events, "product.sale")] == [cup.pk]


def test_a_rolled_back_push_publishes_nothing(brand, live_room, stocked, events, django_capture_on_commit_callbacks):
    _, cup, _ = stocked
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        room_products.room_product_push(brand=brand, room=live_room, product_id=cup.pk)
        raise RuntimeError("a later step of the same transaction fails")
    assert events == []
    assert reload(live_room).pushed_product is None


def test_a_push_that_fails_midway_is_rolled_back_and_publishes_nothing(
    console, live_room, stocked, monkeypatch, events, django_capture_on_commit_callbacks
):
    """The room's own event is queued before the partner lookup fails; the failure discards it."""
    _, cup, _ = stocked

    def broken(room):
        raise RuntimeError("partner lookup failed")

    monkeypatch.setattr(room_products, "active_costream_partner", broken)
    with django_capture_on_commit_callbacks(execute=True):
        assert_error(push(console, live_room, cup), 500, "server_error")
    assert events == []
    assert reload(live_room).pushed_product is None
