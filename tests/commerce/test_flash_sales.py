"""Flash sales (秒杀): the price, a 409 with its own code for each reason a unit cannot be had, the
audience, room-bound sales, units coming back, and the console's create / withdraw / validation."""

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from commerce.models import FlashSale, FlashSalePurchase, Order
from commerce.services import flash_sales
from commerce.services import orders as order_services
from conftest import assert_error
from tenants.models import Customer
from tests.commerce.conftest import (
    ADDRESS,
    ORDERS,
    commerce_rows,
    create_flash_sale,
    create_room,
    create_sku,
    pay_order,
    reload,
)

pytestmark = pytest.mark.django_db

CONSOLE = "/api/v1/console/flash-sales"


def buy_body(sale, quantity=1, room=None, sku=None):
    body = {"lines": [{"sku": (sku or sale.sku).pk, "quantity": quantity, "flash_sale": sale.pk}], "address": ADDRESS}
    if room is not None:
        body["room_id"] = room.pk
    return body


def buy(client, sale, quantity=1, room=None, sku=None):
    return client.post(ORDERS, buy_body(sale, quantity, room, sku))


def bought(response):
    assert response.status_code == 201, response.content
    return Order.unscoped.get(pk=response.json()["id"])


def held(sale, customer):
    purchase = FlashSalePurchase.unscoped.filter(flash_sale=sale, customer=customer).first()
    return purchase.quantity if purchase else 0


@pytest.fixture
def sale(sku):
    """5 coats at 60.00 instead of 100.00 yuan, 2 per customer, running now."""
    return create_flash_sale(sku, price=6000, quantity=5, per_customer_limit=2)


@pytest.fixture
def neighbour(brand, make_customer, customer_client):
    customer = make_customer(brand)
    return customer, customer_client(customer)


# --- buying ---------------------------------------------------------------------------------------


def test_a_flash_sale_unit_is_sold_at_the_sale_price_and_counted(sale, customer, mp, sku):
    response = buy(mp, sale, 2)

    order = bought(response)
    assert (order.items_total, order.discount_total, order.payable) == (20000, 8000, 12000)
    line = response.json()["lines"][0]
    assert (line["unit_price"], line["discount"], line["amount"], line["flash_sale_id"]) == (
        10000,
        8000,
        12000,
        sale.pk,
    )
    assert (reload(sale).sold, held(sale, customer), reload(sku).stock) == (2, 2, 8)


def test_the_limit_counts_units_across_orders(sale, customer, mp):
    bought(buy(mp, sale, 1))
    bought(buy(mp, sale, 1))
    before = commerce_rows()

    error = assert_error(buy(mp, sale, 1), 409, "flash_sale_limit_reached")

    assert error["fields"] == {"limit": 2}
    assert commerce_rows() == before
    assert (reload(sale).sold, held(sale, customer)) == (2, 2)


def test_more_units_than_the_limit_in_one_order_is_409(sale, mp):
    before = commerce_rows()
    assert_error(buy(mp, sale, 3), 409, "flash_sale_limit_reached")
    assert commerce_rows() == before


def test_the_sale_sells_no_more_than_its_quantity(sale, mp, neighbour, make_customer, customer_client, brand):
    bought(buy(mp, sale, 2))
    bought(buy(neighbour[1], sale, 2))
    third = customer_client(make_customer(brand))
    before = commerce_rows()

    error = assert_error(buy(third, sale, 2), 409, "flash_sale_sold_out")

    assert error["fields"] == {"remaining": 1}
    assert commerce_rows() == before
    bought(buy(third, sale, 1))
    assert reload(sale).sold == 5
    assert_error(buy(customer_client(make_customer(brand)), sale, 1), 409, "flash_sale_sold_out")


def test_the_same_sku_may_be_bought_at_full_price_beside_the_sale(sale, mp, sku):
    body = {
        "lines": [{"sku": sku.pk, "quantity": 2, "flash_sale": sale.pk}, {"sku": sku.pk, "quantity": 3}],
        "address": ADDRESS,
    }
    order = bought(mp.post(ORDERS, body))
    assert (order.items_total, order.discount_total) == (50000, 8000)
    assert (reload(sku).stock, reload(sale).sold) == (5, 2)


def test_stock_still_limits_a_flash_sale(brand, customer, mp):
    scarce = create_sku(brand, price=1000, stock=1)
    sale = create_flash_sale(scarce, price=500, quantity=5, per_customer_limit=3)
    before = commerce_rows()
    assert_error(buy(mp, sale, 2), 409, "out_of_stock")
    assert commerce_rows() == before


# --- each reason, its own 409 ---------------------------------------------------------------------


def not_started(sku, **_):
    return create_flash_sale(sku, price=6000, starts_in=timedelta(minutes=5))


def ended(sku, **_):
    sale = create_flash_sale(sku, price=6000)
    now = timezone.now()
    FlashSale.unscoped.filter(pk=sale.pk).update(starts_at=now - timedelta(hours=2), ends_at=now - timedelta(seconds=1))
    return sale


def withdrawn(sku, ops, **_):
    sale = create_flash_sale(sku, price=6000)
    assert ops.post(f"{CONSOLE}/{sale.pk}/withdraw").status_code == 200
    return sale


def for_new_customers_while_customer_has_paid(sku, customer, **_):
    Customer.unscoped.filter(pk=customer.pk).update(first_paid_at=timezone.now())
    return create_flash_sale(sku, price=6000, audience="new_customers")


def for_members_while_customer_is_not_one(sku, **_):
    return create_flash_sale(sku, price=6000, audience="members")


REFUSALS = {
    "not_started": (not_started, "flash_sale_not_started"),
    "ended": (ended, "flash_sale_ended"),
    "withdrawn": (withdrawn, "flash_sale_withdrawn"),
    "new_customers_only": (for_new_customers_while_customer_has_paid, "flash_sale_new_customers_only"),
    "members_only": (for_members_while_customer_is_not_one, "flash_sale_members_only"),
}


@pytest.mark.parametrize("case", REFUSALS)
def test_each_reason_a_sale_cannot_sell_is_409_with_its_own_code_and_writes_nothing(case, sku, customer, mp, ops):
    make, code = REFUSALS[case]
    sale = make(sku=sku, customer=customer, ops=ops)
    before = commerce_rows()

    assert_error(buy(mp, sale), 409, code)

    assert commerce_rows() == before
    assert reload(sale).sold == 0 and held(sale, customer) == 0


# What the order read may have changed before its claims reach the database (another buyer took
# the last unit, the sale was withdrawn or ended in between): the database refuses the claim, the
# whole order rolls back, and the 409 says why.
CHANGED_AFTER_THE_READ = {
    "sold_out": ({"sold": 5}, "flash_sale_sold_out"),
    "withdrawn": ({"is_active": False}, "flash_sale_withdrawn"),
    "ended": ({"starts_at": timezone.now() - timedelta(hours=2), "ends_at": timezone.now()}, "flash_sale_ended"),
}


@pytest.mark.parametrize("case", CHANGED_AFTER_THE_READ)
def test_a_sale_that_changed_after_the_order_read_it_is_refused_by_the_database(
    case, sale, customer, mp, sku, monkeypatch, caplog
):
    change, code = CHANGED_AFTER_THE_READ[case]
    FlashSale.unscoped.filter(pk=sale.pk).update(**change)
    # The order saw the sale as it was before the change: its own check lets the line through.
    monkeypatch.setattr(flash_sales, "flash_sale_check", lambda *, flash_sale, **_: flash_sale)
    before = commerce_rows()

    assert_error(buy(mp, sale), 409, code)

    assert commerce_rows() == before
    assert reload(sale).sold == change.get("sold", 0) and held(sale, customer) == 0 and reload(sku).stock == 10
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]


def test_a_retry_of_the_order_that_took_the_last_unit_answers_that_order(last_unit, mp):
    first = mp.post(ORDERS, buy_body(last_unit), HTTP_IDEMPOTENCY_KEY="last-unit")
    again = mp.post(ORDERS, buy_body(last_unit), HTTP_IDEMPOTENCY_KEY="last-unit")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert reload(last_unit).sold == 1 and Order.unscoped.count() == 1


def test_a_flash_sale_of_another_sku_is_not_found(brand, sale, mp):
    other = create_sku(brand, price=5000)
    before = commerce_rows()
    assert_error(buy(mp, sale, sku=other), 404, "flash_sale_not_found")
    assert commerce_rows() == before


def test_a_sale_that_starts_later_sells_once_it_started(sku, mp):
    sale = not_started(sku)
    FlashSale.unscoped.filter(pk=sale.pk).update(starts_at=timezone.now() - timedelta(seconds=1))
    bought(buy(mp, sale))


# --- audience --------------------------------------------------------------------------------------


def test_a_new_customers_offer_sells_until_the_customers_first_payment(sku, customer, mp):
    sale = create_flash_sale(sku, price=6000, audience="new_customers", per_customer_limit=2)
    order = bought(buy(mp, sale))
    pay_order(order)  # now a paying customer
    assert_error(buy(mp, sale), 409, "flash_sale_new_customers_only")
    assert held(sale, customer) == 1


def test_a_members_offer_sells_to_members(sku, customer, mp):
    sale = create_flash_sale(sku, price=6000, audience="members")
    Customer.unscoped.filter(pk=customer.pk).update(is_member=True)
    bought(buy(mp, sale))


def test_an_everyone_offer_sells_to_paying_non_members(sku, customer, mp):
    Customer.unscoped.filter(pk=customer.pk).update(first_paid_at=timezone.now(), is_member=False)
    bought(buy(mp, create_flash_sale(sku, price=6000)))


# --- room-bound sales ------------------------------------------------------------------------------


@pytest.fixture
def room_sale(sku, room):
    return create_flash_sale(sku, price=6000, room=room)


def test_a_room_bound_sale_sells_in_its_room(room_sale, room, mp):
    assert bought(buy(mp, room_sale, room=room)).room_id == room.pk


def test_a_room_bound_sale_is_409_outside_a_room(room_sale, room, mp):
    before = commerce_rows()
    error = assert_error(buy(mp, room_sale), 409, "flash_sale_room_only")
    assert error["fields"] == {"room_id": room.pk}
    assert commerce_rows() == before


def test_a_room_bound_sale_is_409_in_another_room(brand, room_sale, sku, mp):
    elsewhere = create_room(brand, products=[sku.product], title="Elsewhere")
    assert_error(buy(mp, room_sale, room=elsewhere), 409, "flash_sale_room_only")
    assert reload(room_sale).sold == 0


def test_an_unbound_sale_sells_in_any_room(sale, room, mp):
    bought(buy(mp, sale, room=room))


# --- units come back ---------------------------------------------------------------------------------


@pytest.fixture
def last_unit(sku):
    return create_flash_sale(sku, price=6000, quantity=1, per_customer_limit=1)


def test_units_of_a_cancelled_order_are_sellable_again(last_unit, customer, mp, neighbour):
    order = bought(buy(mp, last_unit))
    assert_error(buy(neighbour[1], last_unit), 409, "flash_sale_sold_out")

    assert mp.post(f"{ORDERS}/{order.pk}/cancel").status_code == 200

    assert (reload(last_unit).sold, held(last_unit, customer)) == (0, 0)
    bought(buy(neighbour[1], last_unit))
    assert (reload(last_unit).sold, held(last_unit, neighbour[0])) == (1, 1)


def test_units_of_an_expired_order_are_sellable_again_even_to_the_same_customer(last_unit, customer, mp):
    order = bought(buy(mp, last_unit))
    assert_error(buy(mp, last_unit), 409, "flash_sale_sold_out")

    assert order_services.orders_expire(now=order.expires_at) == 1
    assert order_services.orders_expire(now=order.expires_at) == 0

    assert (reload(last_unit).sold, held(last_unit, customer)) == (0, 0)
    bought(buy(mp, last_unit))
    assert reload(last_unit).sold == 1


def test_paid_units_stay_sold(last_unit, customer, mp, neighbour):
    pay_order(bought(buy(mp, last_unit)))
    assert order_services.orders_expire(now=timezone.now() + timedelta(days=1)) == 0
    assert reload(last_unit).sold == 1
    assert_error(buy(neighbour[1], last_unit), 409, "flash_sale_sold_out")


# --- the mini-program's list -------------------------------------------------------------------------


def test_the_list_shows_running_and_upcoming_sales_with_what_remains(brand, other_brand, sku, room, mp, ops):
    running = create_flash_sale(sku, price=6000, quantity=5, per_customer_limit=2)
    upcoming = not_started(sku)
    in_room = create_flash_sale(sku, price=7000, room=room)
    ended(sku)
    withdrawn(sku, ops)
    create_flash_sale(create_sku(other_brand), price=10)
    bought(buy(mp, running, 2))

    rows = {row["id"]: row for row in mp.get("/api/v1/mp/flash-sales").json()["results"]}

    assert set(rows) == {running.pk, upcoming.pk, in_room.pk}
    assert (rows[running.pk]["remaining"], rows[running.pk]["original_price"], rows[running.pk]["price"]) == (
        3,
        10000,
        6000,
    )
    assert [row["id"] for row in mp.get(f"/api/v1/mp/flash-sales?room_id={room.pk}").json()["results"]] == [in_room.pk]


# --- the console -------------------------------------------------------------------------------------


def sale_body(sku, **fields):
    start = timezone.now() + timedelta(minutes=10)
    body = {
        "sku_id": sku.pk,
        "title": "Midnight coats",
        "price": 6000,
        "quantity": 20,
        "per_customer_limit": 2,
        "audience": "members",
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=1)).isoformat(),
    }
    return {**body, **fields}


def test_the_console_creates_a_flash_sale(ops, sku, room, brand):
    response = ops.post(CONSOLE, sale_body(sku, room_id=room.pk))

    assert response.status_code == 201, response.content
    body = response.json()
    sale = FlashSale.unscoped.get(pk=body["id"])
    assert (sale.brand_id, sale.sku_id, sale.room_id, sale.price, sale.quantity) == (
        brand.pk,
        sku.pk,
        room.pk,
        6000,
        20,
    )
    assert (body["sold"], body["remaining"], body["audience"], body["is_active"]) == (0, 20, "members", True)
    assert [row["id"] for row in ops.get(CONSOLE).json()["results"]] == [sale.pk]


def test_the_console_withdraws_a_sale_and_sold_units_stay_sold(sale, ops, mp, customer):
    bought(buy(mp, sale, 2))

    response = ops.post(f"{CONSOLE}/{sale.pk}/withdraw")

    assert response.status_code == 200 and response.json()["is_active"] is False
    assert (reload(sale).sold, held(sale, customer)) == (2, 2)
    assert_error(buy(mp, sale), 409, "flash_sale_withdrawn")
    assert [row["id"] for row in ops.get(f"{CONSOLE}?is_active=false").json()["results"]] == [sale.pk]


@pytest.fixture
def rival_things(other_brand):
    return {"sku": create_sku(other_brand, code="RIVAL-1"), "room": create_room(other_brand)}


BAD_SALES = {
    "price_not_below_the_skus": (lambda sku, r: sale_body(sku, price=10000), 400, "invalid"),
    "price_zero": (lambda sku, r: sale_body(sku, price=0), 400, "invalid"),
    "price_a_float": (lambda sku, r: sale_body(sku, price=59.5), 400, "invalid"),
    "price_a_string": (lambda sku, r: sale_body(sku, price="6000"), 400, "invalid"),
    "quantity_zero": (lambda sku, r: sale_body(sku, quantity=0), 400, "invalid"),
    "quantity_above_the_bound": (lambda sku, r: sale_body(sku, quantity=10_000_001), 400, "invalid"),
    "limit_zero": (lambda sku, r: sale_body(sku, per_customer_limit=0), 400, "invalid"),
    "unknown_audience": (lambda sku, r: sale_body(sku, audience="vip"), 400, "invalid"),
    "ends_before_it_starts": (
        lambda sku, r: sale_body(sku, ends_at=(timezone.now() - timedelta(hours=1)).isoformat()),
        400,
        "invalid",
    ),
    "ends_when_it_starts": (
        lambda sku, r: (lambda b: {**b, "ends_at": b["starts_at"]})(sale_body(sku)),
        400,
        "invalid",
    ),
    "no_start": (lambda sku, r: {k: v for k, v in sale_body(sku).items() if k != "starts_at"}, 400, "invalid"),
    "title_too_long": (lambda sku, r: sale_body(sku, title="t" * 61), 400, "invalid"),
    "unknown_sku": (lambda sku, r: sale_body(sku, sku_id=987654), 404, "sku_not_found"),
    "another_brands_sku": (lambda sku, r: sale_body(r["sku"]), 404, "sku_not_found"),
    "unknown_room": (lambda sku, r: sale_body(sku, room_id=987654), 404, "room_not_found"),
    "another_brands_room": (lambda sku, r: sale_body(sku, room_id=r["room"].pk), 404, "room_not_found"),
}


@pytest.mark.parametrize("case", BAD_SALES)
def test_bad_flash_sales_are_refused_and_write_nothing(case, ops, sku, rival_things):
    build, status, code = BAD_SALES[case]
    before = commerce_rows()
    assert_error(ops.post(CONSOLE, build(sku, rival_things)), status, code)
    assert commerce_rows() == before


def test_withdrawing_an_unknown_sale_is_404(ops):
    assert_error(ops.post(f"{CONSOLE}/987654/withdraw"), 404, "flash_sale_not_found")
