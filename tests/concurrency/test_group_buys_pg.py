"""Group buys and bargains under real parallel connections (PostgreSQL only): the last seat, joining
twice, the deadline's refunds with the timeout task run twice at once, and parallel helps."""

import pytest
from django.db import connection

from commerce.models import BargainHelp, Group, GroupMember, Order, Payment, Refund
from commerce.services import bargains, group_buys
from commerce.services.payments import payment_notification_received
from tests.commerce.conftest import ADDRESS, create_sku, notify_paid, pay_order, reload, start_payment
from tests.commerce.test_bargains import make_offer as make_bargain_offer
from tests.commerce.test_group_buys import expire, forming_group, join, make_offer
from tests.concurrency.test_orders_pg import run_in_parallel

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs real parallel connections"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def customers(brand, make_customer):
    return lambda count: [make_customer(brand, openid=f"oGrp{n:05d}") for n in range(count)]


def joiner(customer, group):
    def call():
        order = group_buys.group_join(brand=customer.brand, customer=customer, group=group, address=ADDRESS)
        return order.pk

    return call


def test_the_last_seat_goes_to_exactly_one_of_30_parallel_buyers(brand, customers):
    sku = create_sku(brand, price=1000, stock=100)
    offer = make_offer(sku, size=3, price=500)
    leader, second, *buyers = customers(32)
    group = forming_group(offer, leader)
    join(second, group)  # one seat left

    results, conflicts = run_in_parallel([joiner(customer, group) for customer in buyers])

    assert len(results) == 1 and conflicts == ["group_full"] * 29
    group = reload(group)
    assert (group.seats_taken, group.status) == (3, "forming")
    assert GroupMember.unscoped.filter(group=group, status="holding").count() == 2
    assert Order.unscoped.filter(customer__in=buyers).count() == 1  # the others were never charged
    assert not Payment.unscoped.filter(order__customer__in=buyers).exists()
    assert reload(sku).stock == 97


def test_one_customer_joining_a_group_10_times_at_once_gets_one_seat(brand, customers):
    sku = create_sku(brand, price=1000, stock=100)
    offer = make_offer(sku, size=10, price=500)
    leader, friend = customers(2)
    group = forming_group(offer, leader)

    results, conflicts = run_in_parallel([joiner(friend, group) for _ in range(10)])

    assert len(results) == 1 and set(conflicts) == {"group_already_joined"} and len(conflicts) == 9
    assert reload(group).seats_taken == 2
    assert Order.unscoped.filter(customer=friend).count() == 1


def test_the_timeout_task_run_twice_at_once_refunds_each_paid_member_once(brand, customers):
    sku = create_sku(brand, price=1000, stock=100)
    offer = make_offer(sku, size=6, price=500)
    leader, *friends = customers(5)
    group = forming_group(offer, leader)
    paid = [pay_order(join(friend, group)) for friend in friends[:3]]
    in_flight = join(friends[3], group)
    payment = start_payment(in_flight)
    expire(group)

    def late_payment():
        payment_notification_received(*notify_paid(in_flight, payment))

    run_in_parallel([group_buys.groups_close_expired, group_buys.groups_close_expired, late_payment])

    assert reload(group).status == "failed"
    assert Group.unscoped.filter(pk=group.pk, paid_count__lte=5).exists()
    refunds = Refund.unscoped.filter(order__in=[o.pk for o in paid] + [in_flight.pk, reload_leader_order(group)])
    # Every payment that arrived comes back exactly once: the starter's, the three friends' and
    # the one in flight (refunded with the group, or as a payment for a closed group).
    assert refunds.count() == 5 and set(refunds.values_list("status", flat=True)) == {"succeeded"}
    assert sum(refunds.values_list("amount", flat=True)) == 5 * 500
    assert not GroupMember.unscoped.filter(group=group, status__in=["holding", "paid"]).exists()
    for order in paid:
        assert (reload(order).status, reload(order).refunded_total) == ("refunded", 500)
    assert group_buys.groups_close_expired() == {"succeeded": 0, "failed": 0, "refunded": 0}


def reload_leader_order(group):
    return GroupMember.unscoped.get(group=group, is_leader=True).order_id


# --- bargains ------------------------------------------------------------------------------------


def helper_of(customer, bargain):
    def call():
        return bargains.bargain_help(brand=customer.brand, helper=customer, bargain=bargain).amount

    return call


def test_30_parallel_helpers_cut_exactly_to_the_floor_and_never_past_it(brand, customers):
    sku = create_sku(brand, price=10000, stock=10)
    offer = make_bargain_offer(sku, floor_price=3000, helpers_needed=10)
    starter, *helpers = customers(31)
    bargain = bargains.bargain_start(brand=brand, customer=starter, offer=offer)

    results, conflicts = run_in_parallel([helper_of(helper, bargain) for helper in helpers])

    assert len(results) == 10 and conflicts == ["bargain_at_floor"] * 20
    bargain = reload(bargain)
    assert sorted(results, reverse=True) == bargain.plan and sum(results) == 7000
    assert (bargain.cut_total, bargain.current_price, bargain.slots_used) == (7000, 3000, 10)
    assert BargainHelp.unscoped.filter(bargain=bargain).count() == 10


def test_one_helper_on_10_bargains_at_once_helps_only_k(brand, customers):
    sku = create_sku(brand, price=10000, stock=10)
    offer = make_bargain_offer(sku, floor_price=3000, helpers_needed=10, helps_per_day=3)
    helper, *starters = customers(9)
    started = [bargains.bargain_start(brand=brand, customer=starter, offer=offer) for starter in starters]

    results, conflicts = run_in_parallel([helper_of(helper, bargain) for bargain in started])

    assert len(results) == 3 and conflicts == ["bargain_daily_limit"] * 5
    assert sorted(BargainHelp.unscoped.filter(helper=helper).values_list("daily_slot", flat=True)) == [1, 2, 3]
