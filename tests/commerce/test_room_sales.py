"""The live console's counters: what a room sold this show, read by its own brand only."""

from commerce.services.orders import order_cancel
from conftest import assert_error
from tests.commerce.conftest import create_room, create_sku, pay_order, place_order


def stats_url(room):
    return f"/api/v1/console/rooms/{room.pk}/stats"


def test_stats_count_orders_and_paid_gmv_of_the_room_only(brand, console, customer, sku, room):
    elsewhere = create_room(brand, products=[sku.product], title="Other show")
    pay_order(place_order(customer, [(sku, 2)], room=room))
    place_order(customer, [(sku, 1)], room=room)  # placed, not paid
    cancelled = place_order(customer, [(sku, 1)], room=room)
    order_cancel(brand=brand, order=cancelled, customer=customer, reason="changed mind")
    pay_order(place_order(customer, [(sku, 1)], room=elsewhere))
    pay_order(place_order(customer, [(sku, 1)]))  # bought outside any room

    response = console.get(stats_url(room))

    assert response.status_code == 200, response.content
    body = response.json()
    assert body == {
        "room_id": room.pk,
        "status": "live",
        "online": 0,
        "peak_online": 0,
        "likes": 0,
        "orders": 3,
        "paid_orders": 1,
        "paid_gmv": 2 * sku.price,
        "refunded": 0,
    }


def test_a_room_without_orders_has_zero_sales(console, room):
    body = console.get(stats_url(room)).json()
    assert (body["orders"], body["paid_orders"], body["paid_gmv"]) == (0, 0, 0)


def test_another_brands_room_is_not_found(other_brand, console, rival_console, rival_customer, room):
    rival_sku = create_sku(other_brand, price=5000)
    rival_room = create_room(other_brand, products=[rival_sku.product])
    pay_order(place_order(rival_customer, [(rival_sku, 1)], room=rival_room))

    assert_error(console.get(stats_url(rival_room)), 404, "room_not_found")
    assert_error(rival_console.get(stats_url(room)), 404, "room_not_found")
    assert rival_console.get(stats_url(rival_room)).json()["paid_gmv"] == 5000


def test_stats_need_a_console_login(anon, room):
    assert anon.get(stats_url(room)).status_code == 401
