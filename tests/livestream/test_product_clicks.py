"""Product clicks (a viewer opened a product's card): the mini-program's endpoint, counted in the
live store without a database write, persisted by the flush with each click counted once however
often the flush runs, and shown in the report's funnel; nothing crosses brands."""

from datetime import timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone

from commerce.models import Product
from conftest import assert_error
from livestream import realtime, reports
from livestream.models import LiveRoom, ProductClick, RoomProduct
from livestream.services import live
from livestream.tasks import flush_live_state
from tenants.errors import NotFound, RateLimited
from tenants.scoping import brand_scope

MP = "/api/v1/mp/rooms"


@pytest.fixture(autouse=True)
def fresh_store():
    realtime.reset_store()
    yield
    realtime.reset_store()


@pytest.fixture
def room(brand, make_room, make_product):
    room = make_room(brand, status="live")
    with brand_scope(brand):
        for position, name in enumerate(("Silk scarf", "Tea set")):
            RoomProduct.objects.create(brand=brand, room=room, product=make_product(brand, name), position=position)
    return room


def products_of(room):
    return list(RoomProduct.unscoped.filter(room=room).order_by("position").values_list("product_id", flat=True))


def counts():
    """(room, product, customer) → clicks, for every brand."""
    return {
        (row.room_id, row.product_id, row.customer_id): row.clicks
        for row in ProductClick.unscoped.order_by("pk")  # every brand's rows
    }


def click(brand, room, product_id, customer):
    live.product_click(brand=brand, room_id=room.pk, product_id=product_id, customer=customer)


# --- counted in the live store, persisted once ------------------------------------------------------


def test_clicks_reach_the_database_only_through_the_flush_each_counted_once(
    brand, room, make_customer, django_assert_num_queries
):
    scarf, tea = products_of(room)
    alice, bob, carol = (make_customer(brand) for _ in range(3))
    with django_assert_num_queries(1):  # the check that the room lists the product; no write
        click(brand, room, scarf, alice)
    click(brand, room, scarf, alice)  # alice twice
    click(brand, room, scarf, bob)
    click(brand, room, tea, bob)
    click(brand, room, tea, carol)
    assert counts() == {}

    assert live.product_clicks_flush() == 4
    expected = {
        (room.pk, scarf, alice.pk): 2,
        (room.pk, scarf, bob.pk): 1,
        (room.pk, tea, bob.pk): 1,
        (room.pk, tea, carol.pk): 1,
    }
    assert counts() == expected
    assert live.product_clicks_flush() == 0  # nothing changed since: nothing written, nothing doubled
    assert counts() == expected

    click(brand, room, scarf, alice)  # a third time, after the flush
    assert flush_live_state.delay().get()["clicks"] == 1
    assert flush_live_state.delay().get()["clicks"] == 0
    assert counts() == {**expected, (room.pk, scarf, alice.pk): 3}
    assert ProductClick.unscoped.get(customer=alice, product_id=scarf).brand_id == brand.pk


def test_a_batch_written_twice_counts_its_clicks_once(brand, room, make_customer):
    """A flush retried after its write (the answer was lost), or two flushes at once, write the
    same running counts again: rows are raised to them, never added to."""
    scarf, _ = products_of(room)
    alice = make_customer(brand)
    for _ in range(3):
        click(brand, room, scarf, alice)
    store = realtime.store()
    taken = store.take_product_clicks(100)
    assert taken == [(brand.pk, room.pk, scarf, alice.pk, 3)]
    store.requeue_product_clicks([row[:4] for row in taken])  # as if the first write's answer was lost
    assert live.product_clicks_flush() == 1
    store.requeue_product_clicks([row[:4] for row in taken])
    assert live.product_clicks_flush() == 1
    assert counts() == {(room.pk, scarf, alice.pk): 3}


def test_a_late_or_stale_count_never_lowers_what_the_database_kept(brand, room, make_customer):
    """The live store lost its counts (Redis flushed): the database keeps the larger count."""
    scarf, _ = products_of(room)
    alice = make_customer(brand)
    ProductClick.objects.create(brand=brand, room=room, product_id=scarf, customer=alice, clicks=7)
    click(brand, room, scarf, alice)
    assert live.product_clicks_flush() == 1
    assert counts() == {(room.pk, scarf, alice.pk): 7}


def test_a_batch_the_database_could_not_take_is_written_by_the_next_run(brand, room, make_customer, monkeypatch):
    scarf, _ = products_of(room)
    alice = make_customer(brand)
    click(brand, room, scarf, alice)
    click(brand, room, scarf, alice)

    def database_down(rows):
        raise OperationalError("connection lost")

    original = live._raise_click_counts
    monkeypatch.setattr(live, "_raise_click_counts", database_down)
    with pytest.raises(OperationalError):
        live.product_clicks_flush()
    monkeypatch.setattr(live, "_raise_click_counts", original)
    assert live.product_clicks_flush() == 1
    assert counts() == {(room.pk, scarf, alice.pk): 2}


def test_clicks_on_a_product_deleted_before_the_flush_are_dropped(brand, room, make_customer):
    scarf, tea = products_of(room)
    alice = make_customer(brand)
    click(brand, room, scarf, alice)
    click(brand, room, tea, alice)
    Product.unscoped.filter(pk=tea).delete()  # with its listing in the room
    assert live.product_clicks_flush() == 1
    assert counts() == {(room.pk, scarf, alice.pk): 1}


def test_a_customer_clicking_too_fast_is_slowed_down(brand, room, make_customer, monkeypatch):
    monkeypatch.setattr(live, "CLICKS_PER_MINUTE", 3)
    scarf, _ = products_of(room)
    alice = make_customer(brand)
    for _ in range(3):
        click(brand, room, scarf, alice)
    with pytest.raises(RateLimited):
        click(brand, room, scarf, alice)
    live.product_clicks_flush()
    assert counts() == {(room.pk, scarf, alice.pk): 3}


def test_the_live_store_hands_each_changed_count_to_one_flush(live_store):
    """Both stores: a running count per (room, product, customer); each change is taken once,
    with the count so far; a click after the take marks the count changed again."""
    room, other = 515151, 525252
    live_store.add_product_click(1, room, 10, 100)
    live_store.add_product_click(1, room, 10, 100)
    live_store.add_product_click(1, room, 11, 100)
    live_store.add_product_click(2, other, 20, 200)
    taken = live_store.take_product_clicks(2)
    taken += live_store.take_product_clicks(10)
    assert sorted(taken) == [(1, room, 10, 100, 2), (1, room, 11, 100, 1), (2, other, 20, 200, 1)]
    assert live_store.take_product_clicks(10) == []

    live_store.add_product_click(1, room, 10, 100)
    assert live_store.take_product_clicks(10) == [(1, room, 10, 100, 3)]  # the running count
    live_store.requeue_product_clicks([(1, room, 10, 100)])
    assert live_store.take_product_clicks(10) == [(1, room, 10, 100, 3)]


# --- the mini-program's endpoint ----------------------------------------------------------------------


def test_a_viewer_clicks_a_product_and_the_report_counts_it(brand, room, make_customer, customer_client):
    scarf, tea = products_of(room)
    alice, bob = make_customer(brand), make_customer(brand)
    for customer, product in ((alice, scarf), (alice, scarf), (bob, scarf), (bob, tea)):
        response = customer_client(customer).post(f"{MP}/{room.pk}/product-clicks", {"product": product})
        assert response.status_code == 202, response.content
    assert counts() == {}  # answered before anything is written
    flush_live_state.delay().get()
    flush_live_state.delay().get()

    with brand_scope(brand):
        report = reports.room_report(brand=brand, room=LiveRoom.objects.get(pk=room.pk))
    # Nobody's session is saved yet, but whoever clicked was watching: the funnel never narrows upward.
    assert report["funnel"]["viewers"] == report["funnel"]["clicked"] == 2
    assert report["clicks"] == {"clicks": 4, "clickers": 2, "click_rate": 1.0}
    assert {row["product_id"]: (row["clicks"], row["clickers"]) for row in report["top_products"]} == {
        scarf: (3, 2),
        tea: (1, 1),
    }


@pytest.fixture
def other_room(other_brand, make_room, make_product):
    rival_room = make_room(other_brand, status="live")
    with brand_scope(other_brand):
        RoomProduct.objects.create(brand=other_brand, room=rival_room, product=make_product(other_brand, "Rival tea"))
    return rival_room


def test_bad_input_is_refused_in_the_shared_shape_and_nothing_is_counted(
    brand, room, other_room, make_customer, make_room, make_product, customer_client, anon
):
    scarf, _ = products_of(room)
    (rival_product,) = products_of(other_room)
    unlisted = make_product(brand, "Not in this room").pk
    cancelled = make_room(brand, status="cancelled")
    with brand_scope(brand):
        RoomProduct.objects.create(brand=brand, room=cancelled, product_id=scarf)
    client = customer_client(make_customer(brand))
    url = f"{MP}/{room.pk}/product-clicks"

    for body in ({}, {"product": "abc"}, {"product": 0}, {"product": 1.5}, {"product": True}, {"product": None}):
        error = assert_error(client.post(url, body), 400, "invalid")
        assert "product" in error["fields"]
    assert_error(client.post(url, [1, 2]), 400, "invalid")
    error = assert_error(client.post(url, {"product": unlisted}), 404, "product_not_in_room")
    assert error["fields"] == {"product": ["Not in this room."]}
    assert_error(client.post(url, {"product": rival_product}), 404, "product_not_in_room")  # another brand's
    assert_error(client.post(url, {"product": 2**63 - 1}), 404, "product_not_in_room")
    assert_error(client.post(f"{MP}/{cancelled.pk}/product-clicks", {"product": scarf}), 404, "room_not_found")
    assert_error(client.post(f"{MP}/{other_room.pk}/product-clicks", {"product": rival_product}), 404, "room_not_found")
    assert_error(client.post(f"{MP}/999999/product-clicks", {"product": scarf}), 404, "room_not_found")
    assert_error(anon.post(url, {"product": scarf}), 401, "not_authenticated")

    assert realtime.store().take_product_clicks(100) == []
    assert live.product_clicks_flush() == 0
    assert counts() == {}


def test_another_brands_customer_cannot_click_into_this_room_nor_see_its_clicks(
    brand, other_brand, room, other_room, make_customer, customer_client, rival_console, console
):
    scarf, _ = products_of(room)
    (rival_product,) = products_of(other_room)
    rival = customer_client(make_customer(other_brand))
    assert_error(rival.post(f"{MP}/{room.pk}/product-clicks", {"product": scarf}), 404, "room_not_found")

    ours = customer_client(make_customer(brand))
    assert ours.post(f"{MP}/{room.pk}/product-clicks", {"product": scarf}).status_code == 202
    assert rival.post(f"{MP}/{other_room.pk}/product-clicks", {"product": rival_product}).status_code == 202
    live.product_clicks_flush()
    assert sorted(ProductClick.unscoped.values_list("brand_id", "room_id")) == sorted(
        [(brand.pk, room.pk), (other_brand.pk, other_room.pk)]
    )

    LiveRoom.unscoped.filter(pk__in=[room.pk, other_room.pk]).update(started_at=timezone.now() - timedelta(hours=1))
    day = timezone.localtime(timezone.now() - timedelta(hours=1), brand.tz).date()
    for client, own_room, own_product in ((console, room, scarf), (rival_console, other_room, rival_product)):
        body = client.get(f"/api/v1/console/reports?start={day}&end={day}").json()
        assert body["clicks"]["clicks"] == 1 and body["funnel"]["clicked"] == 1
        assert [row["product_id"] for row in body["top_products"]] == [own_product]
        assert client.get(f"/api/v1/console/rooms/{own_room.pk}/report").json()["funnel"]["clicked"] == 1
    assert_error(rival_console.get(f"/api/v1/console/rooms/{room.pk}/report"), 404, "room_not_found")


def test_the_service_checks_the_room_and_product_of_the_brand_it_is_given(brand, other_brand, room, make_customer):
    scarf, _ = products_of(room)
    with pytest.raises(NotFound) as refused:
        live.product_click(brand=other_brand, room_id=room.pk, product_id=scarf, customer=make_customer(other_brand))
    assert refused.value.code == "room_not_found"
