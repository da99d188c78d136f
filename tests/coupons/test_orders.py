"""Coupons on online orders: every refusal, the discount spread over lines, and the coupon held
while the order awaits payment, used when it is paid, given back once when it is cancelled or
expires."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from commerce.models import Order, OrderLine
from commerce.services.orders import order_cancel, orders_expire
from commerce.services.payments import payment_notification_received, refund_request
from conftest import Client, assert_error
from coupons.models import Coupon, CouponUse
from tenants.auth import CustomerAccessToken
from tenants.errors import DomainError
from tests.commerce.conftest import (
    ADDRESS,
    ORDERS,
    commerce_rows,
    create_flash_sale,
    create_sku,
    notify_paid,
    pay_order,
    place_order,
    reload,
    start_payment,
)
from tests.coupons.conftest import give, make_template

pytestmark = pytest.mark.django_db


def order_body(sku, quantity=1, **extra):
    return {"lines": [{"sku": sku.pk, "quantity": quantity}], "address": ADDRESS, **extra}


def discounts(order):
    return list(OrderLine.unscoped.filter(order_id=order.pk).order_by("pk").values_list("discount", flat=True))


def test_an_order_with_a_coupon_shows_it_and_its_discount(brand, customer, mp, sku):
    coupon = give(make_template(brand, name="10 off"), customer)
    placed = mp.post(ORDERS, order_body(sku, 2, coupon_id=coupon.pk))
    assert placed.status_code == 201, placed.json()
    body = placed.json()
    assert body["coupon"] == {"id": coupon.pk, "name": "10 off", "discount": 1000}
    assert body["items_total"] == 20000 and body["discount_total"] == 1000 and body["payable"] == 19000
    assert body["lines"][0]["discount"] == 1000 and body["lines"][0]["amount"] == 19000
    assert reload(coupon).status == "locked"

    listed = mp.get(ORDERS).json()["results"][0]
    assert listed["coupon"] == body["coupon"]
    assert mp.get(f"{ORDERS}/{body['id']}").json()["coupon"] == body["coupon"]
    without = mp.post(ORDERS, order_body(sku)).json()
    assert without["coupon"] is None and mp.get(f"{ORDERS}/{without['id']}").json()["coupon"] is None


def test_the_discount_is_spread_over_the_covered_lines_to_the_fen(brand, customer):
    skus = [create_sku(brand, price=price, stock=5) for price in (3333, 3333, 3334)]
    coupon = give(make_template(brand, amount_off=1000), customer)
    order = place_order(customer, [(s, 1) for s in skus], coupon_id=coupon.pk)
    assert discounts(order) == [333, 333, 334]
    assert order.discount_total == 1000 and order.payable == 9000


def test_a_percent_coupon_is_capped_and_only_covers_its_products(brand, customer):
    coat = create_sku(brand, price=50000, stock=5)
    scarf = create_sku(brand, price=10000, stock=5)
    template = make_template(
        brand, kind="percent_off", percent_off=20, max_discount=8000, scope="products", product_ids=[coat.product.pk]
    )
    order = place_order(customer, [(coat, 1), (scarf, 1)], coupon_id=give(template, customer).pk)
    assert discounts(order) == [8000, 0]  # 20% of 500.00 is 100.00, capped at 80.00; the scarf is not covered
    assert order.payable == 52000


def test_a_category_coupon_covers_that_category(brand, customer):
    coat = create_sku(brand, price=20000, stock=5)
    type(coat.product).unscoped.filter(pk=coat.product.pk).update(category="outerwear")
    other = create_sku(brand, price=10000, stock=5)
    template = make_template(brand, kind="percent_off", percent_off=10, scope="categories", categories=["outerwear"])
    order = place_order(customer, [(coat, 1), (other, 1)], coupon_id=give(template, customer).pk)
    assert discounts(order) == [2000, 0]


def test_a_threshold_coupon_counts_the_covered_items_after_flash_sale_prices(brand, customer):
    sku = create_sku(brand, price=20000, stock=5)
    sale = create_flash_sale(sku, price=15000, quantity=5, per_customer_limit=2)
    template = make_template(brand, kind="threshold", amount_off=3000, min_spend=29900)
    coupon = give(template, customer)
    with pytest.raises(DomainError) as refused:
        place_order(customer, [(sku, 1, sale)], coupon_id=coupon.pk)
    assert refused.value.code == "coupon_min_spend_not_met"
    assert refused.value.fields == {"min_spend": 29900, "eligible_amount": 15000}
    order = place_order(customer, [(sku, 2, sale)], coupon_id=coupon.pk)
    assert discounts(order) == [10000 + 3000]  # the flash-sale discount, then the coupon's
    assert order.payable == 27000


@pytest.fixture
def refusal(brand, customer, mp, sku):
    """Place an order with a coupon through the API and show that a refusal wrote nothing."""

    def check(coupon_id, status, code):
        before = commerce_rows(), list(Coupon.unscoped.order_by("pk").values()), CouponUse.unscoped.count()
        error = assert_error(mp.post(ORDERS, order_body(sku, coupon_id=coupon_id)), status, code)
        after = commerce_rows(), list(Coupon.unscoped.order_by("pk").values()), CouponUse.unscoped.count()
        assert before == after
        return error

    return check


def test_each_reason_a_coupon_cannot_be_used_has_its_code(
    brand, other_brand, customer, make_customer, rival_customer, sku, refusal
):
    now = timezone.now()
    refusal(10**12, 404, "coupon_not_found")
    refusal(give(make_template(brand), make_customer(brand)).pk, 404, "coupon_not_found")  # another customer's
    refusal(give(make_template(other_brand), rival_customer).pk, 404, "coupon_not_found")  # another brand's

    used = give(make_template(brand), customer)
    Coupon.unscoped.filter(pk=used.pk).update(status="used", used_at=now)
    refusal(used.pk, 409, "coupon_used")

    held = give(make_template(brand), customer)
    place_order(customer, [(create_sku(brand), 1)], coupon_id=held.pk)
    refusal(held.pk, 409, "coupon_in_use")

    expired = give(make_template(brand), customer)
    Coupon.unscoped.filter(pk=expired.pk).update(valid_until=now - timedelta(seconds=1))
    refusal(expired.pk, 409, "coupon_expired")

    early = give(make_template(brand), customer)
    Coupon.unscoped.filter(pk=early.pk).update(valid_from=now + timedelta(days=1))
    refusal(early.pk, 409, "coupon_not_yet_valid")

    in_store = give(make_template(brand, channel="in_store"), customer)
    refusal(in_store.pk, 409, "coupon_in_store_only")

    elsewhere = create_sku(brand)
    scoped = make_template(brand, scope="products", product_ids=[elsewhere.product.pk])
    refusal(give(scoped, customer).pk, 409, "coupon_not_applicable")

    threshold = make_template(brand, kind="threshold", amount_off=3000, min_spend=29900)
    error = refusal(give(threshold, customer).pk, 409, "coupon_min_spend_not_met")
    assert error["fields"] == {"min_spend": 29900, "eligible_amount": 10000}

    assert_error(mp_post_bad_id(customer, sku), 400, "invalid")


def mp_post_bad_id(customer, sku):

    client = Client(token=str(CustomerAccessToken.for_customer(customer)))
    return client.post(ORDERS, order_body(sku, coupon_id="7"))


def test_cancelling_gives_the_coupon_back_once_and_it_can_be_used_again(brand, customer, sku):
    coupon = give(make_template(brand), customer)
    order = place_order(customer, [(sku, 1)], coupon_id=coupon.pk)
    assert reload(coupon).status == "locked"

    order_cancel(brand=brand, order=order, customer=customer)
    assert reload(coupon).status == "available"
    use = CouponUse.unscoped.get(order_id=order.pk)
    assert use.released_at is not None
    with pytest.raises(DomainError):
        order_cancel(brand=brand, order=reload(order), customer=customer)
    assert CouponUse.unscoped.get(pk=use.pk).released_at == use.released_at

    again = place_order(customer, [(sku, 1)], coupon_id=coupon.pk)
    assert reload(coupon).status == "locked"
    assert CouponUse.unscoped.filter(coupon=coupon, released_at__isnull=True).get().order_id == again.pk


def test_expiry_gives_the_coupon_back(brand, customer, sku):
    coupon = give(make_template(brand), customer)
    order = place_order(customer, [(sku, 1)], coupon_id=coupon.pk)
    Order.unscoped.filter(pk=order.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert orders_expire() == 1
    assert orders_expire() == 0
    assert reload(coupon).status == "available"
    assert reload(order).status == "cancelled"


def test_payment_uses_the_coupon_for_good(brand, customer, sku):
    coupon = give(make_template(brand), customer)
    order = pay_order(place_order(customer, [(sku, 1)], coupon_id=coupon.pk))
    coupon = reload(coupon)
    assert coupon.status == "used" and coupon.used_at == order.paid_at
    with pytest.raises(DomainError) as refused:
        place_order(customer, [(sku, 1)], coupon_id=coupon.pk)
    assert refused.value.code == "coupon_used"


def test_a_payment_that_arrives_after_cancellation_does_not_use_the_coupon(brand, customer, sku):
    coupon = give(make_template(brand), customer)
    order = place_order(customer, [(sku, 1)], coupon_id=coupon.pk)
    start_payment(order)
    notification = notify_paid(order)
    order_cancel(brand=brand, order=order, customer=customer)
    payment_notification_received(*notification)
    assert reload(order).status == "cancelled"
    assert reload(coupon).status == "available"


def test_refunding_a_line_returns_what_it_cost_after_its_coupon_share(brand, customer):
    coat, scarf = create_sku(brand, price=30000, stock=5), create_sku(brand, price=10000, stock=5)
    coupon = give(make_template(brand, amount_off=4000), customer)
    order = pay_order(place_order(customer, [(coat, 1), (scarf, 1)], coupon_id=coupon.pk))
    assert discounts(order) == [3000, 1000]
    scarf_line = OrderLine.unscoped.get(order_id=order.pk, sku=scarf)
    refund = refund_request(
        brand=brand, order=order, customer=customer, lines=[{"line_id": scarf_line.pk, "quantity": 1}]
    )
    assert refund.amount == 9000


def test_a_retried_placement_holds_the_coupon_once(brand, customer, mp, sku):
    coupon = give(make_template(brand), customer)
    body = order_body(sku, coupon_id=coupon.pk)
    first = mp.post(ORDERS, body, HTTP_IDEMPOTENCY_KEY="k-1")
    again = mp.post(ORDERS, body, HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"] and again.json()["coupon"]["id"] == coupon.pk
    assert CouponUse.unscoped.filter(coupon=coupon).count() == 1
    assert_error(mp.post(ORDERS, order_body(sku), HTTP_IDEMPOTENCY_KEY="k-1"), 409, "idempotency_key_reused")


def test_the_order_list_with_coupons_runs_a_constant_number_of_queries(brand, customer, mp, sku):
    def listing_queries():
        with CaptureQueriesContext(connection) as captured:
            assert mp.get(ORDERS).status_code == 200
        return len(captured.captured_queries)

    place_order(customer, [(sku, 1)], coupon_id=give(make_template(brand), customer).pk)
    one = listing_queries()
    for _ in range(3):
        place_order(customer, [(sku, 1)], coupon_id=give(make_template(brand), customer).pk)
        place_order(customer, [(sku, 1)])
    assert listing_queries() == one


def test_a_coupon_worth_more_than_the_order_leaves_one_fen_to_pay(brand, customer):
    sku = create_sku(brand, price=500, stock=5)
    order = place_order(customer, [(sku, 2)], coupon_id=give(make_template(brand, amount_off=5000), customer).pk)
    assert discounts(order) == [999] and order.payable == 1
    assert CouponUse.unscoped.get(order_id=order.pk).discount == 999
