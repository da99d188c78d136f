"""Every order, refund and flash-sale endpoint of commerce/urls.py keeps brands and customers apart:
another brand's customer or operator gets 404 (as for an id that does not exist) and nothing
changes; another customer of the same brand cannot see or act on my order."""

from datetime import timedelta

import pytest
from django.utils import timezone

from commerce.models import FlashSale, Order, Refund
from commerce.services import payments as payment_services
from conftest import assert_error
from guides.models import Store
from tests.commerce.conftest import (
    ADDRESS,
    ORDERS,
    commerce_rows,
    create_flash_sale,
    create_room,
    create_sku,
    pay_order,
    place_order,
    reload,
    ship_order,
    start_payment,
)

pytestmark = pytest.mark.django_db

CONSOLE = "/api/v1/console"


@pytest.fixture
def mine(brand, customer, sku, room):
    """My orders in every state an endpoint acts on, a refund to decide, a flash sale and a store."""
    pending = place_order(customer, [(sku, 1)], room=room)
    start_payment(pending)  # so that sandbox-pay would pay it, were it reachable
    paid = pay_order(place_order(customer, [(sku, 1)]))
    shipped = ship_order(pay_order(place_order(customer, [(sku, 1)])))
    refunding = pay_order(place_order(customer, [(sku, 1)]))
    refund = payment_services.refund_request(brand=brand, order=refunding, customer=customer)
    return {
        "pending": pending,
        "paid": paid,
        "shipped": shipped,
        "refunding": refunding,
        "refund": refund,
        "sale": create_flash_sale(sku, price=5000, room=None),
        "room": room,
        "sku": sku,
        "store": Store.unscoped.create(brand=brand, code="S1", name="Mine"),
    }


# --- the mini-program ------------------------------------------------------------------------------

# name: (method, path(mine), body(mine), the status of the order it targets)
MP_ORDER_ACTIONS = {
    "detail": ("get", lambda m: f"{ORDERS}/{m['pending'].pk}", None),
    "cancel": ("post", lambda m: f"{ORDERS}/{m['pending'].pk}/cancel", None),
    "pay": ("post", lambda m: f"{ORDERS}/{m['pending'].pk}/pay", None),
    "sandbox_pay": ("post", lambda m: f"{ORDERS}/{m['pending'].pk}/sandbox-pay", None),
    "confirm": ("post", lambda m: f"{ORDERS}/{m['shipped'].pk}/confirm", None),
    "refund": ("post", lambda m: f"{ORDERS}/{m['paid'].pk}/refund", {"reason": "mine now"}),
}


def call(client, method, path, body):
    return client.get(path) if method == "get" else client.post(path, body or {})


@pytest.mark.parametrize("action", MP_ORDER_ACTIONS)
def test_another_brands_customer_gets_404_on_my_order_and_changes_nothing(action, mine, rival_mp):
    method, path, body = MP_ORDER_ACTIONS[action]
    before = commerce_rows()
    assert_error(call(rival_mp, method, path(mine), body), 404, "order_not_found")
    assert commerce_rows() == before


@pytest.mark.parametrize("action", MP_ORDER_ACTIONS)
def test_another_customer_of_my_brand_gets_404_on_my_order_and_changes_nothing(
    action, mine, brand, make_customer, customer_client
):
    neighbour = customer_client(make_customer(brand))
    method, path, body = MP_ORDER_ACTIONS[action]
    before = commerce_rows()
    assert_error(call(neighbour, method, path(mine), body), 404, "order_not_found")
    assert commerce_rows() == before


@pytest.mark.parametrize("action", MP_ORDER_ACTIONS)
def test_the_owner_reaches_each_of_these_endpoints(action, mine, mp):
    """The counterpart of the two tests above: the same requests work for the order's customer."""
    method, path, body = MP_ORDER_ACTIONS[action]
    response = call(mp, method, path(mine), body)
    assert response.status_code in (200, 201), response.content


def test_order_lists_show_only_my_own_orders(mine, mp, rival_mp, brand, make_customer, customer_client):
    mine_ids = {o.pk for o in Order.unscoped.filter(customer=mine["pending"].customer)}
    assert {row["id"] for row in mp.get(ORDERS).json()["results"]} == mine_ids
    assert rival_mp.get(ORDERS).json()["results"] == []
    assert customer_client(make_customer(brand)).get(ORDERS).json()["results"] == []


def test_another_brands_customer_cannot_buy_with_my_objects(mine, rival_mp, other_brand):
    rival_sku = create_sku(other_brand)
    rival_room = create_room(other_brand, products=[rival_sku.product])
    attempts = [
        ({"lines": [{"sku": mine["sku"].pk, "quantity": 1}], "address": ADDRESS}, "sku_not_found"),
        (
            {"lines": [{"sku": rival_sku.pk, "quantity": 1}], "address": ADDRESS, "room_id": mine["room"].pk},
            "room_not_found",
        ),
        (
            {"lines": [{"sku": rival_sku.pk, "quantity": 1, "flash_sale": mine["sale"].pk}], "address": ADDRESS},
            "flash_sale_not_found",
        ),
        (
            {
                "lines": [{"sku": mine["sku"].pk, "quantity": 1, "flash_sale": mine["sale"].pk}],
                "address": ADDRESS,
                "room_id": rival_room.pk,
            },
            "sku_not_found",
        ),
        (
            {
                "lines": [{"sku": rival_sku.pk, "quantity": 1}],
                "delivery": "pickup",
                "pickup_store_id": mine["store"].pk,
            },
            "store_not_found",
        ),
    ]
    before = commerce_rows()
    for body, code in attempts:
        assert_error(rival_mp.post(ORDERS, body), 404, code)
    assert commerce_rows() == before


def test_another_brands_customer_does_not_see_my_flash_sales(mine, rival_mp, mp):
    assert rival_mp.get("/api/v1/mp/flash-sales").json()["results"] == []
    unknown = rival_mp.get("/api/v1/mp/flash-sales?room_id=987654")
    foreign = assert_error(rival_mp.get(f"/api/v1/mp/flash-sales?room_id={mine['room'].pk}"), 400, "invalid")
    assert foreign["fields"] == unknown.json()["error"]["fields"]
    assert [row["id"] for row in mp.get("/api/v1/mp/flash-sales").json()["results"]] == [mine["sale"].pk]


# --- the console ----------------------------------------------------------------------------------

CONSOLE_ACTIONS = {
    "order_detail": ("get", lambda m: f"{CONSOLE}/orders/{m['paid'].pk}", None, "order_not_found"),
    "ship": (
        "post",
        lambda m: f"{CONSOLE}/orders/{m['paid'].pk}/ship",
        {"tracking_number": "SF1"},
        "order_not_found",
    ),
    "refund_approve": ("post", lambda m: f"{CONSOLE}/refunds/{m['refund'].pk}/approve", {}, "refund_not_found"),
    "refund_reject": ("post", lambda m: f"{CONSOLE}/refunds/{m['refund'].pk}/reject", {}, "refund_not_found"),
    "flash_sale_withdraw": (
        "post",
        lambda m: f"{CONSOLE}/flash-sales/{m['sale'].pk}/withdraw",
        None,
        "flash_sale_not_found",
    ),
}


@pytest.mark.parametrize("action", CONSOLE_ACTIONS)
def test_another_brands_operator_gets_404_on_my_objects_and_changes_nothing(action, mine, rival_console):
    method, path, body, code = CONSOLE_ACTIONS[action]
    before = commerce_rows()
    assert_error(call(rival_console, method, path(mine), body), 404, code)
    assert commerce_rows() == before


@pytest.mark.parametrize("action", CONSOLE_ACTIONS)
def test_my_operator_reaches_each_of_these_endpoints(action, mine, console):
    method, path, body, _ = CONSOLE_ACTIONS[action]
    response = call(console, method, path(mine), body)
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("action", CONSOLE_ACTIONS)
def test_naming_my_brand_in_the_header_does_not_let_another_brands_operator_in(
    action, mine, brand, other_brand, make_staff, staff_client
):
    intruder = staff_client(make_staff(other_brand), brand)  # X-Brand: my brand, but no membership
    method, path, body, _ = CONSOLE_ACTIONS[action]
    before = commerce_rows()
    assert_error(call(intruder, method, path(mine), body), 403, "not_a_member")
    assert commerce_rows() == before


def test_console_lists_and_export_hold_none_of_my_objects_for_another_brand(mine, rival_console, console):
    for path in ("orders", "refunds", "flash-sales"):
        assert rival_console.get(f"{CONSOLE}/{path}").json()["results"] == []
        assert console.get(f"{CONSOLE}/{path}").json()["count"] > 0
    export = b"".join(rival_console.get(f"{CONSOLE}/orders/export.csv").streaming_content).decode()
    assert len(export.strip().splitlines()) == 1  # the header only
    for order in ("pending", "paid", "shipped"):
        assert mine[order].number not in export


@pytest.mark.parametrize(
    "path",
    [
        lambda m: f"{CONSOLE}/orders?customer={m['paid'].customer_id}",
        lambda m: f"{CONSOLE}/orders?room={m['room'].pk}",
        lambda m: f"{CONSOLE}/orders?store={m['store'].pk}",
        lambda m: f"{CONSOLE}/refunds?order={m['refunding'].pk}",
        lambda m: f"{CONSOLE}/flash-sales?sku={m['sku'].pk}",
        lambda m: f"{CONSOLE}/orders/export.csv?room={m['room'].pk}",
    ],
    ids=[
        "orders_by_customer",
        "orders_by_room",
        "orders_by_store",
        "refunds_by_order",
        "flash_sales_by_sku",
        "export_by_room",
    ],
)
def test_filtering_by_my_objects_tells_another_brand_nothing(path, mine, rival_console):
    response = rival_console.get(path(mine))
    assert_error(response, 400, "invalid")  # "select a valid choice", exactly as for an unknown id


def test_another_brands_operator_cannot_create_a_flash_sale_on_my_sku_or_room(mine, rival_console, other_brand):
    start = timezone.now()
    body = {
        "price": 10,
        "quantity": 1,
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=1)).isoformat(),
    }
    before = commerce_rows()
    assert_error(rival_console.post(f"{CONSOLE}/flash-sales", {**body, "sku_id": mine["sku"].pk}), 404, "sku_not_found")
    rival_sku = create_sku(other_brand)
    assert_error(
        rival_console.post(f"{CONSOLE}/flash-sales", {**body, "sku_id": rival_sku.pk, "room_id": mine["room"].pk}),
        404,
        "room_not_found",
    )
    assert commerce_rows()["FlashSale"] == before["FlashSale"]
    assert FlashSale.unscoped.filter(brand=other_brand).count() == 0


def test_my_refund_stays_undecided_after_all_of_that(mine, rival_console):
    rival_console.post(f"{CONSOLE}/refunds/{mine['refund'].pk}/approve")
    rival_console.post(f"{CONSOLE}/refunds/{mine['refund'].pk}/reject")
    assert reload(mine["refund"]).status == Refund.Status.REQUESTED
    assert reload(mine["refunding"]).status == "refunding"


# --- the tables above cover every endpoint ---------------------------------------------------------

COVERED = {
    # mini-program: each order action above, the list, placing with my objects, the flash-sale list
    "mp-order": "detail",
    "mp-order-cancel": "cancel",
    "mp-order-pay": "pay",
    "mp-order-sandbox-pay": "sandbox_pay",
    "mp-order-confirm": "confirm",
    "mp-order-refund": "refund",
    "mp-orders": "lists and placing",
    "mp-flash-sales": "flash-sale list",
    # console: each action above, the lists, the export, creating a flash sale
    "console-order": "order_detail",
    "console-order-ship": "ship",
    "console-refund-approve": "refund_approve",
    "console-refund-reject": "refund_reject",
    "console-flash-sale-withdraw": "flash_sale_withdraw",
    "console-orders": "lists",
    "console-orders-export": "export",
    "console-refunds": "lists",
    "console-flash-sales": "lists and creating",
}


def test_every_order_refund_and_flash_sale_endpoint_is_covered():
    from commerce import urls

    names = {pattern.name for pattern in [*urls.mp_urls, *urls.console_urls]}
    product_library = {name for name in names if name.startswith(("console-product", "console-sku"))}
    # group buys and bargains: their own isolation tests (test_group_buys.py, test_bargains.py)
    offers = {name for name in names if name.startswith(("mp-group", "mp-bargain", "console-group", "console-bargain"))}
    assert names - product_library - offers == set(COVERED)
    assert {key for key in COVERED.values() if key in MP_ORDER_ACTIONS} == set(MP_ORDER_ACTIONS)
    assert {key for key in COVERED.values() if key in CONSOLE_ACTIONS} == set(CONSOLE_ACTIONS)
