"""Orders under real parallel connections (PostgreSQL only): the database is the authority.

Each worker thread has its own database connection (Django's are per thread) and closes it when
done; a barrier releases them together. The services are driven directly, as the views and tasks
call them. At most ``MAX_CONNECTIONS`` workers hold a connection at once, so that two xdist
workers running these tests side by side stay under PostgreSQL's default of 100 connections;
every buyer still races every other one for the same rows.
"""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from commerce.models import FlashSalePurchase, Order, OrderEvent, OrderLine, Payment, Refund, Sku
from commerce.services.orders import LineRequest, order_place, orders_expire
from commerce.services.payments import payment_notification_received
from tenants.errors import DomainError
from tenants.models import Customer
from tests.commerce.conftest import (
    ADDRESS,
    create_flash_sale,
    create_sku,
    notify_paid,
    place_order,
    reload,
    start_payment,
)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs real parallel connections"),
    pytest.mark.django_db(transaction=True),
]

MAX_CONNECTIONS = 32


def run_in_parallel(calls):
    """Run each of ``calls`` in its own thread, released together by a barrier.

    Answers (results, domain error codes); any other exception fails the test.
    """
    start = threading.Barrier(len(calls))
    connections = threading.BoundedSemaphore(MAX_CONNECTIONS)
    lock = threading.Lock()
    results, conflicts, crashes = [], [], []

    def worker(call):
        try:
            start.wait()
            with connections:
                try:
                    result = call()
                finally:
                    connection.close()
            with lock:
                results.append(result)
        except DomainError as exc:
            with lock:
                conflicts.append(exc.code)
        except Exception as exc:  # surfaced by the assertion below
            with lock:
                crashes.append(repr(exc))

    threads = [threading.Thread(target=worker, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a worker hung"
    assert crashes == []
    return results, conflicts


def buy(customer, lines, key=""):
    def call():
        order, created = order_place(
            brand=customer.brand, customer=customer, lines=lines, address=ADDRESS, idempotency_key=key
        )
        return order.pk, created

    return call


@pytest.fixture
def customers(brand):
    def make(count):
        Customer.unscoped.bulk_create([Customer(brand=brand, openid=f"oPar{n:05d}") for n in range(count)])
        return list(Customer.unscoped.filter(brand=brand, openid__startswith="oPar").order_by("pk"))

    return make


def test_200_parallel_buyers_of_50_units_make_exactly_50_orders(brand, customers):
    sku = create_sku(brand, price=100, stock=50)
    buyers = customers(200)

    results, conflicts = run_in_parallel([buy(customer, [LineRequest(sku.pk, 1)]) for customer in buyers])

    assert len(results) == 50 and conflicts == ["out_of_stock"] * 150
    assert reload(sku).stock == 0
    assert Order.unscoped.filter(brand=brand).count() == 50
    assert Order.unscoped.values("customer").distinct().count() == 50
    assert not Order.unscoped.filter(status="pending_payment").exclude(pk__in=[pk for pk, _ in results]).exists()


def test_one_customer_firing_20_parallel_orders_gets_the_flash_sale_limit_of_2(brand, customers):
    sku = create_sku(brand, price=1000, stock=100)
    sale = create_flash_sale(sku, price=500, quantity=100, per_customer_limit=2)
    [customer] = customers(1)

    results, conflicts = run_in_parallel([buy(customer, [LineRequest(sku.pk, 1, sale.pk)]) for _ in range(20)])

    assert len(results) == 2 and conflicts == ["flash_sale_limit_reached"] * 18
    assert reload(sale).sold == 2
    assert FlashSalePurchase.unscoped.get(flash_sale=sale, customer=customer).quantity == 2
    assert reload(sku).stock == 98
    assert Order.unscoped.filter(customer=customer).count() == 2


def test_a_flash_sale_storm_sells_exactly_its_quantity(brand, customers):
    sku = create_sku(brand, price=1000, stock=100)
    sale = create_flash_sale(sku, price=500, quantity=10, per_customer_limit=1)
    buyers = customers(60)

    results, conflicts = run_in_parallel([buy(customer, [LineRequest(sku.pk, 1, sale.pk)]) for customer in buyers])

    assert len(results) == 10 and conflicts == ["flash_sale_sold_out"] * 50
    assert reload(sale).sold == 10 and reload(sku).stock == 90
    assert sum(FlashSalePurchase.unscoped.filter(flash_sale=sale).values_list("quantity", flat=True)) == 10


ORDERS_IN_RACE = 60


def test_expiry_racing_late_payments_settles_each_order_once(brand, customers):
    """Two expiry runs and a late payment for each of 60 orders, all at once: each order is paid
    or cancelled (and its payment refunded), never both; nothing comes back twice; no deadlock."""
    sku = create_sku(brand, price=1000, stock=ORDERS_IN_RACE + 10)
    sale = create_flash_sale(sku, price=500, quantity=ORDERS_IN_RACE, per_customer_limit=1)
    orders = [place_order(customer, [(sku, 1, sale)]) for customer in customers(ORDERS_IN_RACE)]
    notifications = []
    for order in orders:
        start_payment(order)
        notifications.append(notify_paid(order))
    Order.unscoped.filter(pk__in=[o.pk for o in orders]).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert reload(sku).stock == 10

    def pay(headers, body):
        return lambda: payment_notification_received(headers, body)

    calls = [orders_expire, orders_expire] + [pay(*notification) for notification in notifications]
    results, conflicts = run_in_parallel(calls)

    assert conflicts == []
    statuses = dict(Order.unscoped.filter(pk__in=[o.pk for o in orders]).values_list("pk", "status"))
    paid = [pk for pk, status in statuses.items() if status == "paid"]
    cancelled = [pk for pk, status in statuses.items() if status == "cancelled"]
    assert len(paid) + len(cancelled) == ORDERS_IN_RACE
    assert sum(r for r in results if isinstance(r, int)) == len(cancelled)  # the two expiry runs, together
    # Every order moved out of pending_payment exactly once.
    moves = OrderEvent.unscoped.filter(order__in=orders, from_status="pending_payment")
    assert sorted(moves.values_list("order_id", "to_status")) == sorted(statuses.items())
    # Stock and flash-sale units came back once per cancelled order, never for a paid one.
    assert reload(sku).stock == 10 + len(cancelled)
    assert reload(sale).sold == len(paid)
    assert FlashSalePurchase.unscoped.filter(flash_sale=sale, quantity=1).count() == len(paid)
    # The money arrived for every order; the cancelled ones got it back, whole, once.
    assert Payment.unscoped.filter(order__in=orders, status="paid").count() == ORDERS_IN_RACE
    refunds = Refund.unscoped.filter(order__in=orders)
    assert sorted(refunds.values_list("order_id", flat=True)) == sorted(cancelled)
    assert set(refunds.values_list("status", "amount")) <= {("succeeded", 500)}


def test_parallel_deliveries_of_one_notification_pay_once(brand, customers):
    sku = create_sku(brand, price=1000, stock=5)
    [customer] = customers(1)
    order = place_order(customer, [(sku, 2)])
    start_payment(order)
    headers, body = notify_paid(order)

    results, conflicts = run_in_parallel([lambda: payment_notification_received(headers, body)] * 12)

    assert len(results) == 12 and conflicts == []
    assert reload(order).status == "paid"
    assert OrderEvent.unscoped.filter(order=order, to_status="paid").count() == 1
    assert Payment.unscoped.get(order=order).status == "paid"
    assert not Refund.unscoped.exists()
    assert reload(sku).stock == 3
    assert reload(customer).first_paid_at is not None


def test_parallel_deliveries_of_a_late_payment_refund_it_once(brand, customers):
    sku = create_sku(brand, price=1000, stock=5)
    [customer] = customers(1)
    order = place_order(customer, [(sku, 2)])
    start_payment(order)
    Order.unscoped.filter(pk=order.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert orders_expire() == 1
    headers, body = notify_paid(order)

    results, conflicts = run_in_parallel([lambda: payment_notification_received(headers, body)] * 12)

    assert len(results) == 12 and conflicts == []
    assert reload(order).status == "cancelled"
    refund = Refund.unscoped.get(order=order)
    assert (refund.amount, refund.status) == (2000, "succeeded")
    assert reload(sku).stock == 5


def test_the_same_idempotency_key_sent_in_parallel_places_one_order(brand, customers):
    sku = create_sku(brand, price=1000, stock=50)
    [customer] = customers(1)

    results, conflicts = run_in_parallel([buy(customer, [LineRequest(sku.pk, 3)], key="tap-tap") for _ in range(10)])

    assert conflicts == [] and len(results) == 10
    assert len({pk for pk, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert Order.unscoped.filter(customer=customer).count() == 1
    assert reload(sku).stock == 47


def test_the_same_key_with_different_bodies_in_parallel_places_one_and_refuses_the_other(brand, customers):
    sku = create_sku(brand, price=1000, stock=50)
    [customer] = customers(1)
    calls = [buy(customer, [LineRequest(sku.pk, quantity)], key="double") for quantity in (1, 2)]

    results, conflicts = run_in_parallel(calls)

    assert len(results) == 1 and conflicts == ["idempotency_key_reused"]
    order = Order.unscoped.get(customer=customer)
    assert reload(sku).stock == 50 - order.items_total // 1000


def test_flash_sale_and_stock_counters_stay_consistent_with_orders(brand, customers):
    """A storm of flash-sale and full-price buyers of one SKU: the counters agree with the orders."""
    sku = create_sku(brand, price=1000, stock=40)
    sale = create_flash_sale(sku, price=500, quantity=15, per_customer_limit=2)
    buyers = customers(30)
    calls = [buy(c, [LineRequest(sku.pk, 2, sale.pk)]) for c in buyers[:15]]
    calls += [buy(c, [LineRequest(sku.pk, 3)]) for c in buyers[15:]]

    results, conflicts = run_in_parallel(calls)

    assert set(conflicts) <= {"flash_sale_sold_out", "out_of_stock"}
    assert len(results) + len(conflicts) == 30
    lines = OrderLine.unscoped.filter(order__brand=brand)
    assert lines.count() == len(results)
    sold_in_sale = sum(lines.filter(flash_sale=sale).values_list("quantity", flat=True))
    assert reload(sale).sold == sold_in_sale <= 14  # at most 7 pairs fit in 15
    assert Sku.unscoped.get(pk=sku.pk).stock == 40 - sum(lines.values_list("quantity", flat=True)) >= 0
    assert Sku.unscoped.get(pk=sku.pk).stock < 3  # the full-price buyers took what was left
