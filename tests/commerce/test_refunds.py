"""Refunds: partial by line without losing a fen, shipping back only for an untouched parcel, reject
returns the order where it was, one refund at a time, stock back only when nothing was shipped."""

import pytest

from commerce.models import Order, OrderEvent, OrderLine, Refund
from commerce.payments import payment_provider
from commerce.services import orders as order_services
from commerce.services.payments import payment_notification_received
from conftest import assert_error
from guides.models import Store
from tenants.models import Brand
from tests.commerce.conftest import (
    ORDERS,
    commerce_rows,
    create_flash_sale,
    create_sku,
    notify_paid,
    pay_order,
    place_order,
    reload,
    ship_order,
    start_payment,
)

pytestmark = pytest.mark.django_db

REFUNDS = "/api/v1/console/refunds"


@pytest.fixture
def shipping(brand):
    """Every delivery pays 8.00 yuan shipping."""
    Brand.objects.filter(pk=brand.pk).update(shipping_fee=800, free_shipping_threshold=0)
    brand.refresh_from_db()
    return brand


@pytest.fixture
def scarf(brand):
    return create_sku(brand, price=2500, stock=10, name="Scarf")


@pytest.fixture
def order(shipping, customer, sku, scarf):
    """Paid: 3 coats (300.00) and 2 scarves (50.00) + 8.00 shipping = 358.00 yuan."""
    order = pay_order(place_order(customer, [(sku, 3), (scarf, 2)]))
    assert (order.items_total, order.shipping_fee, order.payable) == (35000, 800, 35800)
    return order


def line_of(order, sku):
    return OrderLine.unscoped.get(order=order, sku=sku)


def ask(mp, order, lines=None, reason="too big"):
    body = {"reason": reason} if lines is None else {"reason": reason, "lines": lines}
    return mp.post(f"{ORDERS}/{order.pk}/refund", body)


def asked(response):
    assert response.status_code == 201, response.content
    return Refund.unscoped.get(pk=response.json()["id"])


def approve(ops, refund, note=""):
    response = ops.post(f"{REFUNDS}/{refund.pk}/approve", {"note": note})
    assert response.status_code == 200, response.content
    return reload(refund)


def reject(ops, refund, note="worn"):
    response = ops.post(f"{REFUNDS}/{refund.pk}/reject", {"note": note})
    assert response.status_code == 200, response.content
    return reload(refund)


# --- partial refunds -----------------------------------------------------------------------------


def test_a_partial_refund_by_line_pays_back_those_units_and_the_order_goes_on(order, mp, ops, sku, scarf):
    coat = line_of(order, sku)
    response = ask(mp, order, [{"line_id": coat.pk, "quantity": 1}])

    refund = asked(response)
    assert response.json() == {
        "id": refund.pk,
        "status": "requested",
        "amount": 10000,
        "lines": [{"line_id": coat.pk, "quantity": 1, "amount": 10000}],
    }
    assert reload(order).status == "refunding"

    refund = approve(ops, refund)

    assert refund.status == "succeeded"
    order, coat = reload(order), reload(coat)
    assert (order.status, order.refunded_total) == ("paid", 10000)
    assert (coat.refunded_quantity, coat.refunded_amount) == (1, 10000)
    assert (line_of(order, scarf).refunded_quantity, reload(sku).stock, reload(scarf).stock) == (0, 8, 8)
    statuses = list(OrderEvent.unscoped.filter(order=order).values_list("to_status", "reason"))
    assert statuses[-2:] == [("refunding", "too big"), ("paid", "partly refunded")]


def test_the_last_unit_takes_the_remainder_so_no_fen_is_lost(shipping, customer, mp, ops, sku):
    order = place_order(customer, [(sku, 3)])
    # A 0.01 yuan discount on the line (as a coupon would give): 299.99 for three units.
    OrderLine.unscoped.filter(order=order).update(discount=1)
    Order.unscoped.filter(pk=order.pk).update(discount_total=1, payable=30799)
    order = pay_order(order)
    coat = line_of(order, sku)

    amounts = []
    for _ in range(3):
        refund = approve(ops, asked(ask(mp, order, [{"line_id": coat.pk, "quantity": 1}])))
        amounts.append(refund.amount)

    assert amounts == [9999, 9999, 10001 + 800]  # the last one also brings the untouched parcel's shipping back
    assert reload(coat).refunded_amount == 29999
    order = reload(order)
    assert (order.status, order.refunded_total) == ("refunded", order.payable)


def test_a_flash_sale_line_refunds_what_was_paid_for_it(customer, mp, ops, sku):
    sale = create_flash_sale(sku, price=6000, quantity=5, per_customer_limit=2)
    order = pay_order(place_order(customer, [(sku, 2, sale)]))
    line = line_of(order, sku)
    refund = approve(ops, asked(ask(mp, order, [{"line_id": line.pk, "quantity": 1}])))
    assert refund.amount == 6000 and reload(order).refunded_total == 6000


def test_a_partial_refund_then_shipping_the_rest_then_refunding_it(order, mp, ops, sku, scarf):
    approve(ops, asked(ask(mp, order, [{"line_id": line_of(order, scarf).pk, "quantity": 2}])))
    ship_order(reload(order))

    rest = approve(ops, asked(ask(mp, order)))

    assert rest.amount == 30000  # the coats; the parcel went out, so shipping stays paid
    assert rest.lines == [{"line_id": line_of(order, sku).pk, "quantity": 3, "amount": 30000}]
    order = reload(order)
    assert (order.status, order.refunded_total) == ("refunded", 35000)
    assert (reload(sku).stock, reload(scarf).stock) == (7, 10)  # only the unshipped scarves came back


# --- shipping --------------------------------------------------------------------------------------


def test_refunding_everything_before_shipping_gives_the_shipping_fee_back(order, mp, ops, sku, scarf):
    refund = approve(ops, asked(ask(mp, order)))
    assert refund.amount == 35800
    order = reload(order)
    assert (order.status, order.refunded_total) == ("refunded", 35800)
    assert (reload(sku).stock, reload(scarf).stock) == (10, 10)


def test_two_partial_refunds_before_shipping_add_up_to_everything_paid(order, mp, ops, sku, scarf):
    first = approve(ops, asked(ask(mp, order, [{"line_id": line_of(order, sku).pk, "quantity": 3}])))
    second = approve(ops, asked(ask(mp, order, [{"line_id": line_of(order, scarf).pk, "quantity": 2}])))
    assert (first.amount, second.amount) == (30000, 5000 + 800)
    assert reload(order).refunded_total == reload(order).payable == 35800


@pytest.mark.parametrize("status", ["shipped", "completed"])
def test_refunding_everything_after_shipping_keeps_the_shipping_fee_and_the_stock(
    status, order, customer, mp, ops, sku, scarf
):
    ship_order(order)
    if status == "completed":
        order_services.order_complete(brand=order.brand, order=reload(order), customer=customer)

    refund = approve(ops, asked(ask(mp, order)))

    assert (refund.amount, refund.order_status_before) == (35000, status)
    order = reload(order)
    assert (order.status, order.refunded_total) == ("refunded", 35000)
    assert (reload(sku).stock, reload(scarf).stock) == (7, 8)  # shipped goods come back by post, not to the shelf


def test_a_pickup_order_pays_no_shipping_and_refunds_exactly_what_was_paid(brand, shipping, customer, mp, ops, sku):
    store = Store.unscoped.create(brand=brand, code="S1", name="Store")
    order = pay_order(place_order(customer, [(sku, 2)], delivery="pickup", pickup_store_id=store.pk))
    assert approve(ops, asked(ask(mp, order))).amount == 20000 == reload(order).refunded_total


# --- decisions -----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["paid", "shipped", "completed"])
def test_a_rejected_refund_returns_the_order_to_where_it_was(status, order, customer, mp, ops, operator, sku):
    if status != "paid":
        ship_order(order)
    if status == "completed":
        order_services.order_complete(brand=order.brand, order=reload(order), customer=customer)
    stock = reload(sku).stock
    refund = asked(ask(mp, order))

    refund = reject(ops, refund, note="tags removed")

    assert (refund.status, refund.decided_by_id, refund.decision_note) == ("rejected", operator.pk, "tags removed")
    assert refund.decided_at is not None
    order = reload(order)
    assert (order.status, order.refunded_total) == (status, 0)
    assert reload(sku).stock == stock
    last = OrderEvent.unscoped.filter(order=order).last()
    assert (last.from_status, last.to_status, last.actor, last.actor_id, last.reason) == (
        "refunding",
        status,
        "staff",
        operator.pk,
        "refund rejected: tags removed",
    )
    assert asked(ask(mp, order)).status == "requested"  # and the customer may ask again


def test_an_approved_refund_records_who_decided(order, mp, ops, operator):
    refund = approve(ops, asked(ask(mp, order)), note="ok")
    assert (refund.decided_by_id, refund.decision_note, refund.provider_refund_id) == (
        operator.pk,
        "ok",
        f"sbx_refund_{refund.out_refund_no}",
    )
    assert refund.succeeded_at is not None


@pytest.mark.parametrize(
    "first, then", [("approve", "approve"), ("approve", "reject"), ("reject", "approve"), ("reject", "reject")]
)
def test_a_decided_refund_cannot_be_decided_again(first, then, order, mp, ops):
    refund = asked(ask(mp, order))
    ops.post(f"{REFUNDS}/{refund.pk}/{first}")
    before = commerce_rows()

    error = assert_error(ops.post(f"{REFUNDS}/{refund.pk}/{then}"), 409, "invalid_transition")

    assert error["fields"] == {"status": reload(refund).status}
    assert commerce_rows() == before


def test_a_second_request_while_one_is_decided_is_409(order, mp, sku):
    asked(ask(mp, order, [{"line_id": line_of(order, sku).pk, "quantity": 1}]))
    before = commerce_rows()
    assert_error(ask(mp, order), 409, "refund_in_progress")
    assert commerce_rows() == before


def test_a_fully_refunded_order_takes_no_more_requests(order, mp, ops):
    approve(ops, asked(ask(mp, order)))
    before = commerce_rows()
    error = assert_error(ask(mp, order), 409, "invalid_transition")
    assert error["fields"] == {"status": "refunded"}
    assert commerce_rows() == before


@pytest.mark.parametrize("status", ["pending_payment", "cancelled"])
def test_an_order_that_was_never_paid_cannot_be_refunded(status, customer, mp, sku):
    order = place_order(customer, [(sku, 1)])
    if status == "cancelled":
        order_services.order_cancel(brand=order.brand, order=order, customer=customer)
    before = commerce_rows()
    error = assert_error(ask(mp, order), 409, "invalid_transition")
    assert error["fields"] == {"status": status}
    assert commerce_rows() == before


# --- bad requests ----------------------------------------------------------------------------------


BAD_REFUNDS = {
    "quantity_zero": (lambda coat, other: [{"line_id": coat.pk, "quantity": 0}], 400, "invalid"),
    "quantity_above_what_was_bought": (
        lambda coat, other: [{"line_id": coat.pk, "quantity": 4}],
        400,
        "invalid_quantity",
    ),
    "quantity_a_string": (lambda coat, other: [{"line_id": coat.pk, "quantity": "1"}], 400, "invalid"),
    "no_quantity": (lambda coat, other: [{"line_id": coat.pk}], 400, "invalid"),
    "empty_selection": (lambda coat, other: [], 400, "invalid"),
    "lines_not_a_list": (lambda coat, other: {"line_id": coat.pk, "quantity": 1}, 400, "invalid"),
    "unknown_line": (lambda coat, other: [{"line_id": 987654, "quantity": 1}], 404, "line_not_found"),
    "line_of_another_order": (lambda coat, other: [{"line_id": other.pk, "quantity": 1}], 404, "line_not_found"),
    "same_line_twice": (
        lambda coat, other: [{"line_id": coat.pk, "quantity": 2}, {"line_id": coat.pk, "quantity": 1}],
        400,
        "invalid",
    ),
    "reason_too_long": (lambda coat, other: None, 400, "invalid"),
}


@pytest.mark.parametrize("case", BAD_REFUNDS)
def test_bad_refund_requests_are_refused_and_write_nothing(case, order, customer, mp, sku):
    other_order = pay_order(place_order(customer, [(sku, 1)]))
    build, status, code = BAD_REFUNDS[case]
    lines = build(line_of(order, sku), line_of(other_order, sku))
    body = {"reason": "r" * 201} if case == "reason_too_long" else {"lines": lines}
    before = commerce_rows()

    assert_error(mp.post(f"{ORDERS}/{order.pk}/refund", body), status, code)

    assert commerce_rows() == before


def test_units_already_refunded_cannot_be_refunded_again(order, mp, ops, sku):
    coat = line_of(order, sku)
    approve(ops, asked(ask(mp, order, [{"line_id": coat.pk, "quantity": 2}])))
    error = assert_error(ask(mp, order, [{"line_id": coat.pk, "quantity": 2}]), 400, "invalid_quantity")
    assert error["fields"] == {"lines": {"0": {"quantity": ["1 to 1."]}}}
    assert asked(ask(mp, order, [{"line_id": coat.pk, "quantity": 1}])).amount == 10000


# --- which payment is refunded ---------------------------------------------------------------------


def test_the_refund_goes_to_the_payment_that_paid_the_order(customer, mp, ops, sku, monkeypatch):
    """A customer who opened the payment sheet twice and paid both got the extra payment back at
    once; a later refund must go to the payment that paid the order, not the one given back."""
    order = place_order(customer, [(sku, 1)])
    earlier, later = start_payment(order), start_payment(order)
    payment_notification_received(*notify_paid(order, later))  # pays the order
    payment_notification_received(*notify_paid(order, earlier))  # already paid: given back whole
    assert Refund.unscoped.get(order=order).payment_id == earlier.pk
    sent = []
    provider = payment_provider()
    real_refund = provider.refund
    monkeypatch.setattr(provider, "refund", lambda request: sent.append(request) or real_refund(request))

    approve(ops, asked(ask(mp, order)))

    assert [request.out_trade_no for request in sent] == [later.out_trade_no]
