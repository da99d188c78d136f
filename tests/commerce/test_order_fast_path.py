"""``POST /api/v1/mp/orders`` answers the usual order without DRF (commerce.api.mp.fast_order_place):
the same answers as the API view, and everything unusual still goes the whole way through it."""

from unittest import mock

import pytest

from commerce.api import mp as api
from commerce.models import Order, Sku
from conftest import Client, assert_error
from tenants import auth
from tenants.models import Customer
from tenants.services import brand_suspend
from tests.commerce.conftest import ADDRESS, ORDERS, create_flash_sale, create_sku

VARYING = {"id", "number", "created_at", "expires_at", "lines"}


@pytest.fixture
def answered_fast():
    """The answers the fast path gave (None: it left the request to the API view)."""
    answers = []
    original = api.fast_order_place

    def spy(request):
        answers.append(original(request))
        return answers[-1]

    with mock.patch.object(api, "fast_order_place", spy):
        yield answers


@pytest.fixture
def through_the_view():
    with mock.patch.object(api, "fast_order_place", lambda request: None):
        yield


def order_body(sku, sale=None, **fields):
    line = {"sku": sku.pk, "quantity": 1, **({"flash_sale": sale.pk} if sale else {})}
    return {"lines": [line], "address": ADDRESS, **fields}


def comparable(answer):
    data = answer.json()
    return {key: value for key, value in data.items() if key not in VARYING}, [
        {key: value for key, value in line.items() if key != "id"} for line in data["lines"]
    ]


@pytest.mark.django_db
def test_the_usual_order_is_answered_fast_and_as_the_view_answers_it(mp, sku, answered_fast):
    sale = create_flash_sale(sku, quantity=5, per_customer_limit=5)
    fast = mp.post(ORDERS, order_body(sku, sale, note="ring twice"), HTTP_IDEMPOTENCY_KEY="k1")
    assert fast.status_code == 201 and answered_fast[-1] is not None
    assert fast["Content-Type"] == "application/json"
    with mock.patch.object(api, "fast_order_place", lambda request: None):
        slow = mp.post(ORDERS, order_body(sku, sale, note="ring twice"), HTTP_IDEMPOTENCY_KEY="k2")
    assert slow.status_code == 201
    assert comparable(fast) == comparable(slow)
    assert Order.unscoped.filter(customer__brand=sku.brand).count() == 2


@pytest.mark.django_db
def test_a_retry_is_answered_fast_with_the_first_order(mp, sku, answered_fast):
    first = mp.post(ORDERS, order_body(sku), HTTP_IDEMPOTENCY_KEY="same")
    again = mp.post(ORDERS, order_body(sku), HTTP_IDEMPOTENCY_KEY="same")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again["Idempotent-Replayed"] == "true" and again.json()["id"] == first.json()["id"]
    assert all(answer is not None for answer in answered_fast)
    reused = mp.post(ORDERS, order_body(sku, note="another"), HTTP_IDEMPOTENCY_KEY="same")
    assert_error(reused, 409, "idempotency_key_reused")


@pytest.mark.django_db
@pytest.mark.parametrize("fast", [True, False], ids=["fast", "view"])
def test_refusals_are_the_same_on_both_ways(request, mp, sku, other_brand, fast):
    if not fast:
        request.getfixturevalue("through_the_view")
    sale = create_flash_sale(sku, quantity=1, per_customer_limit=1)
    assert mp.post(ORDERS, order_body(sku, sale)).status_code == 201
    assert_error(mp.post(ORDERS, order_body(sku, sale)), 409, "flash_sale_sold_out")
    rival_sku = create_sku(other_brand)
    assert_error(mp.post(ORDERS, order_body(rival_sku)), 404, "sku_not_found")
    assert_error(mp.post(ORDERS, order_body(sku, quantity=1, room_id=10**9)), 404, "room_not_found")
    assert_error(mp.post(ORDERS, {"lines": [], "address": ADDRESS}), 400, "empty_cart")
    assert_error(mp.post(ORDERS, order_body(sku), HTTP_IDEMPOTENCY_KEY="k" * 65), 400, "invalid")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body, status, code",
    [
        (b'{"lines": [], "address": NaN}', 400, "malformed_json"),
        (b'{"lines": [], "address": {"name": "\\u0000"}}', 400, "invalid_text"),
        (b'{"lines": [{"sku": 1, "quantity": true}]}', 400, "invalid"),
        (b"\xff\xfe", 400, "malformed_json"),
        (b"[1,", 400, "malformed_json"),
    ],
)
def test_bodies_the_fast_path_leaves_to_the_view_get_its_errors(mp, body, status, code, answered_fast):
    assert_error(mp.generic("POST", ORDERS, body), status, code)
    assert answered_fast == [None]


@pytest.mark.django_db
def test_who_may_not_order_is_told_by_the_view(mp, brand, sku, answered_fast, anon):
    assert_error(anon.post(ORDERS, order_body(sku)), 401, "not_authenticated")
    assert_error(Client(token="not-a-token").post(ORDERS, order_body(sku)), 401, "invalid_token")
    form = mp.generic("POST", ORDERS, "lines=1", content_type="application/x-www-form-urlencoded")
    assert_error(form, 415, "unsupported_media_type")
    brand_suspend(brand=brand)
    auth.forget_customers()
    assert_error(mp.post(ORDERS, order_body(sku)), 403, "brand_suspended")
    assert answered_fast == [None, None, None, None]
    assert not Order.unscoped.exists()


@pytest.mark.django_db(transaction=True)  # the gate stands aside inside a transaction
def test_a_buyer_the_stock_gate_turns_away_costs_no_query(
    mp, sku, make_customer, customer_client, settings, django_assert_num_queries
):
    if not settings.REDIS_URL:
        pytest.skip("the stock gate is Redis's (off on the embedded default)")
    settings.CUSTOMER_CACHE_SECONDS = 5
    sale = create_flash_sale(sku, quantity=1, per_customer_limit=1)
    assert customer_client(make_customer(sku.brand)).post(ORDERS, order_body(sku, sale)).status_code == 201
    assert_error(mp.post(ORDERS, order_body(sku, sale)), 409, "flash_sale_sold_out")  # the brand's row, remembered
    with django_assert_num_queries(0):
        assert_error(mp.post(ORDERS, order_body(sku, sale), HTTP_IDEMPOTENCY_KEY="new"), 409, "flash_sale_sold_out")


@pytest.mark.django_db
def test_a_customer_whose_row_is_gone_gets_401_and_their_units_back(brand, sku, make_customer, customer_client):
    customer = make_customer(brand)
    client = customer_client(customer)
    Customer.unscoped.filter(pk=customer.pk).delete()
    assert_error(client.post(ORDERS, order_body(sku)), 401, "invalid_token")
    assert Sku.unscoped.get(pk=sku.pk).stock == sku.stock
    assert not Order.unscoped.exists()
