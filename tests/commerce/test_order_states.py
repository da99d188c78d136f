"""The order state machine: every transition allowed or refused (409 with the current status),
every transition an event with its actor, expiry and completion tasks, the customer's cancel."""

from datetime import timedelta

import pytest
from django.utils import timezone

from commerce import tasks
from commerce.models import FlashSalePurchase, Order, OrderEvent, OrderLine, Payment
from commerce.services import orders as order_services
from commerce.services import payments as payment_services
from conftest import assert_error
from guides.models import Store
from tenants.models import Brand
from tests.commerce.conftest import (
    ORDERS,
    create_flash_sale,
    create_sku,
    pay_order,
    place_order,
    reload,
    ship_order,
    start_payment,
)

pytestmark = pytest.mark.django_db


def order_in(status, customer, sku, operator=None):
    """An order of ``customer`` brought to ``status`` through the services."""
    order = place_order(customer, [(sku, 2)])
    brand = order.brand
    if status == "cancelled":
        order_services.order_cancel(brand=brand, order=order, customer=customer)
    if status in ("paid", "shipped", "completed", "refunding", "refunded"):
        order = pay_order(order)
    if status in ("shipped", "completed"):
        ship_order(order, staff=operator)
    if status == "completed":
        order_services.order_complete(brand=brand, order=reload(order), customer=customer)
    if status in ("refunding", "refunded"):
        refund = payment_services.refund_request(brand=brand, order=reload(order), customer=customer)
        if status == "refunded":
            payment_services.refund_approve(brand=brand, refund=refund, staff=operator)
    order = reload(order)
    assert order.status == status
    return order


def events(order):
    return list(
        OrderEvent.unscoped.filter(order=order).values_list("from_status", "to_status", "actor", "actor_id", "reason")
    )


STATUSES = ["pending_payment", "paid", "shipped", "completed", "cancelled", "refunding", "refunded"]

# action: (how the API does it, the statuses it is allowed from, the status it leads to)
ACTIONS = {
    "cancel": (lambda mp, ops, order: mp.post(f"{ORDERS}/{order.pk}/cancel"), {"pending_payment"}, "cancelled"),
    "confirm": (lambda mp, ops, order: mp.post(f"{ORDERS}/{order.pk}/confirm"), {"shipped"}, "completed"),
    "ship": (
        lambda mp, ops, order: ops.post(f"/api/v1/console/orders/{order.pk}/ship", {"tracking_number": "SF9"}),
        {"paid"},
        "shipped",
    ),
    "refund": (
        lambda mp, ops, order: mp.post(f"{ORDERS}/{order.pk}/refund", {}),
        {"paid", "shipped", "completed"},
        "refunding",
    ),
}


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("status", STATUSES)
def test_each_action_moves_only_from_its_states_and_is_otherwise_409_naming_the_status(
    status, action, customer, mp, ops, operator, sku
):
    order = order_in(status, customer, sku, operator)
    call, allowed, target = ACTIONS[action]
    events_before = events(order)

    response = call(mp, ops, order)

    if status in allowed:
        assert response.status_code in (200, 201), response.content
        assert reload(order).status == target
        assert events(order)[-1][:2] == (status, target)
    else:
        code = "refund_in_progress" if (action, status) == ("refund", "refunding") else "invalid_transition"
        error = assert_error(response, 409, code)
        if code == "invalid_transition":
            assert error["fields"] == {"status": status}
        assert reload(order).status == status
        assert events(order) == events_before


@pytest.mark.parametrize("status", [s for s in STATUSES if s != "pending_payment"])
def test_only_an_unpaid_order_can_start_paying(status, customer, mp, sku, operator):
    order = order_in(status, customer, sku, operator)
    payments_before = Payment.unscoped.filter(order=order).count()

    error = assert_error(mp.post(f"{ORDERS}/{order.pk}/pay"), 409, "invalid_transition")

    assert error["fields"] == {"status": status}
    assert Payment.unscoped.filter(order=order).count() == payments_before


def test_every_transition_is_an_event_with_who_when_and_why(customer, mp, ops, operator, sku):
    order = place_order(customer, [(sku, 1)])
    order = pay_order(order)
    shipped = ops.post(f"/api/v1/console/orders/{order.pk}/ship", {"carrier": "SF", "tracking_number": "SF1"})
    assert shipped.status_code == 200, shipped.content
    assert mp.post(f"{ORDERS}/{order.pk}/confirm").status_code == 200

    assert events(order) == [
        ("", "pending_payment", "customer", customer.pk, ""),
        ("pending_payment", "paid", "payment", None, ""),
        ("paid", "shipped", "staff", operator.pk, ""),
        ("shipped", "completed", "customer", customer.pk, ""),
    ]
    stamps = list(OrderEvent.unscoped.filter(order=order).values_list("created_at", flat=True))
    assert stamps == sorted(stamps) and all(stamps)
    order = reload(order)
    assert order.paid_at and order.shipped_at and order.completed_at
    assert (order.carrier, order.tracking_number) == ("SF", "SF1")


def test_a_delivery_needs_a_tracking_number_but_a_pickup_does_not(brand, customer, ops, sku):
    delivery = pay_order(place_order(customer, [(sku, 1)]))
    store = Store.unscoped.create(brand=brand, code="S1", name="Store")
    pickup = pay_order(place_order(customer, [(sku, 1)], delivery="pickup", pickup_store_id=store.pk))

    assert_error(ops.post(f"/api/v1/console/orders/{delivery.pk}/ship", {}), 400, "tracking_required")
    assert reload(delivery).status == "paid"
    assert ops.post(f"/api/v1/console/orders/{pickup.pk}/ship", {}).json()["status"] == "shipped"


# --- the customer cancels ------------------------------------------------------------------------


def test_the_customer_cancels_an_unpaid_order_and_everything_comes_back(customer, mp, sku):
    sale = create_flash_sale(sku, price=5000, quantity=5, per_customer_limit=2)
    order = place_order(customer, [(sku, 2, sale), (create_sku(sku.brand, stock=3), 3)])
    other_sku = OrderLine.unscoped.filter(order=order).exclude(sku=sku).get().sku
    payment = start_payment(order)

    response = mp.post(f"{ORDERS}/{order.pk}/cancel")

    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    order = reload(order)
    assert order.cancelled_at is not None
    assert (reload(sku).stock, reload(other_sku).stock) == (10, 3)
    assert reload(sale).sold == 0
    assert FlashSalePurchase.unscoped.get(flash_sale=sale, customer=customer).quantity == 0
    assert reload(payment).status == "closed"
    assert events(order)[-1] == ("pending_payment", "cancelled", "customer", customer.pk, "cancelled by customer")


def test_a_second_cancel_is_409_and_gives_nothing_back_twice(customer, mp, sku):
    order = place_order(customer, [(sku, 2)])
    assert mp.post(f"{ORDERS}/{order.pk}/cancel").status_code == 200
    assert_error(mp.post(f"{ORDERS}/{order.pk}/cancel"), 409, "invalid_transition")
    assert reload(sku).stock == 10
    assert [e[1] for e in events(order)] == ["pending_payment", "cancelled"]


# --- expiry --------------------------------------------------------------------------------------


def test_the_payment_window_is_the_brands(brand, customer, sku):
    Brand.objects.filter(pk=brand.pk).update(payment_window_minutes=15)
    customer.brand.refresh_from_db()
    order = place_order(customer, [(sku, 1)])
    assert timedelta(minutes=14) < order.expires_at - order.created_at <= timedelta(minutes=15, seconds=1)


def test_paying_after_the_window_closed_is_refused_before_expiry_runs(customer, mp, sku):
    order = place_order(customer, [(sku, 1)])
    Order.unscoped.filter(pk=order.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert_error(mp.post(f"{ORDERS}/{order.pk}/pay"), 409, "order_expired")
    assert not Payment.unscoped.filter(order=order).exists()


def test_the_expiry_task_returns_stock_and_flash_sale_units_exactly_once(customer, sku):
    sale = create_flash_sale(sku, price=5000, quantity=5, per_customer_limit=3)
    expired = place_order(customer, [(sku, 3, sale)])
    fresh = place_order(customer, [(sku, 2)])
    payment = start_payment(expired)
    Order.unscoped.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert (reload(sku).stock, reload(sale).sold) == (5, 3)

    first = tasks.expire_unpaid_orders.delay().get()
    second = tasks.expire_unpaid_orders.delay().get()

    assert (first, second) == (1, 0)
    assert reload(expired).status == "cancelled" and reload(fresh).status == "pending_payment"
    assert reload(sku).stock == 8  # 3 back, the fresh order's 2 still taken
    assert reload(sale).sold == 0
    assert FlashSalePurchase.unscoped.get(flash_sale=sale, customer=customer).quantity == 0
    assert reload(payment).status == "closed"
    assert events(expired)[-1] == ("pending_payment", "cancelled", "system", None, "payment window expired")
    assert len(events(expired)) == 2


def test_expiry_runs_at_the_time_it_is_given(customer, sku):
    order = place_order(customer, [(sku, 1)])
    assert order_services.orders_expire(now=order.expires_at - timedelta(seconds=1)) == 0
    assert order_services.orders_expire(now=order.expires_at) == 1
    assert reload(order).status == "cancelled" and reload(sku).stock == 10


@pytest.mark.parametrize("status", ["paid", "cancelled", "shipped"])
def test_expiry_leaves_orders_that_are_not_waiting_for_payment(status, customer, sku, operator):
    order = order_in(status, customer, sku, operator)
    stock = reload(sku).stock
    assert order_services.orders_expire(now=timezone.now() + timedelta(days=1)) == 0
    assert reload(order).status == status and reload(sku).stock == stock


def test_expiry_covers_every_brand(brand, other_brand, customer, rival_customer, sku):
    rival_sku = create_sku(other_brand, stock=4)
    mine, theirs = place_order(customer, [(sku, 1)]), place_order(rival_customer, [(rival_sku, 4)])
    assert order_services.orders_expire(now=timezone.now() + timedelta(hours=2)) == 2
    assert reload(mine).status == reload(theirs).status == "cancelled"
    assert (reload(sku).stock, reload(rival_sku).stock) == (10, 4)


# --- completion ----------------------------------------------------------------------------------


def shipped_days_ago(customer, sku, days, operator=None):
    order = order_in("shipped", customer, sku, operator)
    Order.unscoped.filter(pk=order.pk).update(shipped_at=timezone.now() - timedelta(days=days))
    return reload(order)


def test_the_completion_task_completes_orders_shipped_auto_complete_days_ago_once(customer, sku):
    due = shipped_days_ago(customer, sku, 7, operator=None)
    not_yet = shipped_days_ago(customer, sku, 6)

    first = tasks.complete_shipped_orders.delay().get()
    second = tasks.complete_shipped_orders.delay().get()

    assert (first, second) == (1, 0)
    assert reload(due).status == "completed" and reload(not_yet).status == "shipped"
    assert reload(due).completed_at is not None
    assert events(due)[-1] == ("shipped", "completed", "system", None, "auto-completed after shipping")


def test_completion_honours_each_brands_auto_complete_days(brand, other_brand, customer, rival_customer, sku):
    Brand.objects.filter(pk=brand.pk).update(auto_complete_days=3)
    Brand.objects.filter(pk=other_brand.pk).update(auto_complete_days=10)
    rival_sku = create_sku(other_brand)
    mine = shipped_days_ago(customer, sku, 4)
    theirs = shipped_days_ago(rival_customer, rival_sku, 4)

    assert order_services.orders_complete_shipped() == 1
    assert (reload(mine).status, reload(theirs).status) == ("completed", "shipped")

    now = reload(theirs).shipped_at + timedelta(days=10)
    assert order_services.orders_complete_shipped(now=now) == 1
    assert reload(theirs).status == "completed" and reload(theirs).completed_at == now


@pytest.mark.parametrize("status", ["paid", "completed", "refunding"])
def test_completion_leaves_orders_that_are_not_shipped(status, customer, sku):
    order = order_in(status, customer, sku)
    Order.unscoped.filter(pk=order.pk).update(shipped_at=timezone.now() - timedelta(days=30))
    assert order_services.orders_complete_shipped() == 0
    assert reload(order).status == status


def test_not_yet_due_orders_of_one_brand_do_not_hold_back_due_orders_of_another(
    brand, other_brand, customer, rival_customer, sku
):
    Brand.objects.filter(pk=other_brand.pk).update(auto_complete_days=60)
    waiting = shipped_days_ago(rival_customer, create_sku(other_brand), 20)  # older, but not due for 40 days
    due = shipped_days_ago(customer, sku, 8)

    order_services.orders_complete_shipped(batch_size=1)

    assert reload(waiting).status == "shipped"
    assert reload(due).status == "completed"
