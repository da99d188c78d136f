"""Coupons under real parallel connections (PostgreSQL only): quantities, per-customer limits,
one redemption and one order per coupon hold because the database holds them."""

import pytest
from django.db import connection

from commerce.services.orders import LineRequest, order_place
from coupons import services
from coupons.models import Coupon, CouponDrop, CouponHolding, CouponTemplate, CouponUse, Redemption
from guides.models import Guide, Store
from tenants.models import Customer
from tests.commerce.conftest import ADDRESS, create_room, create_sku, reload
from tests.concurrency.test_orders_pg import run_in_parallel
from tests.coupons.conftest import make_template

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs real parallel connections"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def customers(brand):
    def make(count):
        Customer.unscoped.bulk_create([Customer(brand=brand, openid=f"oCpn{n:05d}") for n in range(count)])
        return list(Customer.unscoped.filter(brand=brand, openid__startswith="oCpn").order_by("pk"))

    return make


def claim_drop(customer, drop):
    return lambda: services.coupon_drop_claim(brand=customer.brand, customer=customer, drop_id=drop.pk).pk


def test_100_viewers_claiming_a_drop_of_10_get_exactly_10(brand, customers):
    room = create_room(brand)
    template = make_template(brand, total_quantity=1000)
    drop = services.coupon_drop(brand=brand, room=room, template_id=template.pk, quantity=10)

    results, conflicts = run_in_parallel([claim_drop(customer, drop) for customer in customers(100)])

    assert len(results) == 10 and conflicts == ["drop_sold_out"] * 90
    assert reload(drop).claimed == 10
    assert Coupon.unscoped.filter(drop=drop).count() == 10
    assert Coupon.unscoped.filter(drop=drop).values("customer").distinct().count() == 10
    assert reload(template).issued == 10
    assert CouponHolding.unscoped.filter(template=template).count() == 10


def test_100_claims_on_a_template_of_10_give_exactly_10(brand, customers):
    template = make_template(brand, total_quantity=10, claimable=True)

    calls = [
        lambda c=c: services.coupon_claim(brand=brand, customer=c, template_id=template.pk).pk for c in customers(100)
    ]
    results, conflicts = run_in_parallel(calls)

    assert len(results) == 10 and conflicts == ["coupon_sold_out"] * 90
    assert reload(template).issued == 10 and Coupon.unscoped.filter(template=template).count() == 10
    # The losers' counts were rolled back with their claims.
    assert sorted(CouponHolding.unscoped.filter(template=template).values_list("count", flat=True)) == [1] * 10


def test_one_customer_claiming_20_times_at_once_gets_their_limit_of_3(brand, customers):
    template = make_template(brand, total_quantity=100, per_customer_limit=3, claimable=True)
    [customer] = customers(1)

    calls = [lambda: services.coupon_claim(brand=brand, customer=customer, template_id=template.pk).pk] * 20
    results, conflicts = run_in_parallel(calls)

    assert len(results) == 3 and conflicts == ["coupon_limit_reached"] * 17
    assert Coupon.unscoped.filter(customer=customer).count() == 3
    assert CouponHolding.unscoped.get(customer=customer).count == 3
    assert reload(template).issued == 3


def test_one_viewer_claiming_a_drop_from_10_phones_at_once_gets_one(brand, customers):
    room = create_room(brand)
    template = make_template(brand, per_customer_limit=5)
    drop = services.coupon_drop(brand=brand, room=room, template_id=template.pk, quantity=50)
    [customer] = customers(1)

    results, conflicts = run_in_parallel([claim_drop(customer, drop)] * 10)

    assert len(results) == 1 and set(conflicts) == {"drop_already_claimed"} and len(conflicts) == 9
    assert reload(drop).claimed == 1 and Coupon.unscoped.filter(customer=customer).count() == 1
    assert CouponHolding.unscoped.get(customer=customer).count == 1


def test_two_guides_scanning_one_code_at_once_redeem_it_once(brand, customers, django_user_model):
    store = Store.unscoped.create(brand=brand, code="S1", name="Jing'an")
    guides = [
        Guide.unscoped.create(
            brand=brand, user=django_user_model.objects.create(username=f"g{n}"), name=f"g{n}", store=store
        )
        for n in range(12)
    ]
    template = make_template(brand, channel="in_store", store_id=store.pk, claimable=True)
    [customer] = customers(1)
    coupon = services.coupon_claim(brand=brand, customer=customer, template_id=template.pk)
    code, _ = services.coupon_code(brand=brand, coupon=coupon)

    calls = [lambda g=g: services.coupon_redeem(brand=brand, guide=g, code=code).pk for g in guides]
    results, conflicts = run_in_parallel(calls)

    assert len(results) == 1 and conflicts == ["coupon_used"] * 11
    assert Redemption.unscoped.filter(coupon=coupon).count() == 1
    assert reload(coupon).status == "used"


def test_one_coupon_on_parallel_orders_goes_on_one(brand, customers):
    sku = create_sku(brand, price=10000, stock=100)
    template = make_template(brand, claimable=True)
    [customer] = customers(1)
    coupon = services.coupon_claim(brand=brand, customer=customer, template_id=template.pk)

    def place():
        order, _ = order_place(
            brand=brand, customer=customer, lines=[LineRequest(sku.pk, 1)], address=ADDRESS, coupon_id=coupon.pk
        )
        return order.pk

    results, conflicts = run_in_parallel([place] * 10)

    assert len(results) == 1 and conflicts == ["coupon_in_use"] * 9
    assert CouponUse.unscoped.filter(coupon=coupon).count() == 1
    assert reload(coupon).status == "locked"
    assert reload(sku).stock == 99  # the refused orders took no stock
    assert CouponDrop.unscoped.count() == 0 and CouponTemplate.unscoped.get(pk=template.pk).issued == 1
