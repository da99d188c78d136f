"""The stock gate in Redis in front of PostgreSQL (commerce.services.stock_gate), on real parallel
connections: it turns buyers away once sold out without a query, gives tokens back when an order
fails or its units come back, is rebuilt from the database when Redis lost it, heals when it counts
too many, and steps aside when Redis is unreachable, never selling more than the database holds."""

import shutil
import socket
import subprocess
import time

import pytest
import redis
from django.conf import settings
from django.db import connection

from commerce.models import FlashSale, Order, OrderLine, Sku
from commerce.services import stock_gate
from commerce.services.orders import LineRequest, order_cancel, order_place, orders_expire
from commerce.services.payments import refund_approve, refund_request
from commerce.services.products import sku_adjust_stock
from tenants.errors import Conflict
from tenants.models import Customer
from tenants.scoping import brand_scope
from tests.commerce.conftest import ADDRESS, create_flash_sale, create_sku, pay_order, reload
from tests.concurrency.test_orders_pg import buy, run_in_parallel

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs real parallel connections"),
    pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def customers(brand):
    def make(count, prefix="oGate"):
        Customer.unscoped.bulk_create([Customer(brand=brand, openid=f"{prefix}{n:05d}") for n in range(count)])
        return list(Customer.unscoped.filter(brand=brand, openid__startswith=prefix).order_by("pk"))

    return make


def gate(sku) -> dict:
    raw = redis.Redis.from_url(settings.REDIS_URL).hgetall(stock_gate.gate_key(sku.brand_id, sku.pk))
    return {key.decode(): value.decode() for key, value in raw.items() if key != b"label"}


def place(customer, sku, sale=None, quantity=1, key=""):
    order, _ = order_place(
        brand=customer.brand,
        customer=customer,
        lines=[LineRequest(sku.pk, quantity, sale.pk if sale else None)],
        address=ADDRESS,
        idempotency_key=key,
    )
    return order


def test_a_storm_sells_exactly_the_units_and_the_gate_turns_the_rest_away(brand, customers):
    sku = create_sku(brand, price=1000, stock=1000)
    sale = create_flash_sale(sku, price=500, quantity=50, per_customer_limit=1)
    buyers = customers(200)

    results, conflicts = run_in_parallel([buy(c, [LineRequest(sku.pk, 1, sale.pk)]) for c in buyers])

    assert len(results) == 50 and conflicts == ["flash_sale_sold_out"] * 150
    assert (reload(sale).sold, reload(sku).stock) == (50, 950)
    assert OrderLine.unscoped.filter(flash_sale=sale).count() == 50
    assert gate(sku) == {"stock": "950", f"sale:{sale.pk}": "0"}


def test_a_sold_out_sale_and_a_sold_out_sku_are_answered_without_a_query(brand, customers, django_assert_num_queries):
    sku = create_sku(brand, price=1000, stock=3)
    sale = create_flash_sale(sku, price=500, quantity=2, per_customer_limit=5)
    buyer, other, newcomer = customers(3)
    newcomer.brand = brand  # as the request's customer comes, with its brand
    place(buyer, sku, sale, quantity=2)
    place(other, sku)

    with django_assert_num_queries(0), pytest.raises(Conflict) as sold_out:
        place(newcomer, sku, sale, key="a-fresh-key")  # never took tokens here: no key to look up
    assert sold_out.value.code == "flash_sale_sold_out"
    with django_assert_num_queries(1), pytest.raises(Conflict) as sold_out:
        place(other, sku, sale, key="another-key")  # took tokens of this SKU: is this a retry?
    assert sold_out.value.code == "flash_sale_sold_out"
    with django_assert_num_queries(0), pytest.raises(Conflict) as out_of_stock:
        place(other, sku)
    assert (out_of_stock.value.code, out_of_stock.value.fields) == ("out_of_stock", {"sku": sku.pk})
    assert sku.product.name in out_of_stock.value.message


def test_a_retry_of_the_order_that_took_the_last_unit_still_answers_that_order(brand, customers):
    sku = create_sku(brand, price=1000, stock=1)
    [buyer] = customers(1)
    first = place(buyer, sku, key="last-one")

    again, created = order_place(
        brand=brand, customer=buyer, lines=[LineRequest(sku.pk, 1)], address=ADDRESS, idempotency_key="last-one"
    )

    assert (again.pk, created) == (first.pk, False)
    assert gate(sku) == {"stock": "0"}


def test_tokens_come_back_when_an_order_fails_in_the_database(brand, customers):
    sku = create_sku(brand, price=1000, stock=100)
    sale = create_flash_sale(sku, price=500, quantity=100, per_customer_limit=2)
    [customer] = customers(1)

    results, conflicts = run_in_parallel([buy(customer, [LineRequest(sku.pk, 1, sale.pk)]) for _ in range(20)])

    assert len(results) == 2 and conflicts == ["flash_sale_limit_reached"] * 18
    assert gate(sku) == {"stock": "98", f"sale:{sale.pk}": "98"}


def test_units_that_come_back_are_sellable_again_through_the_gate(brand, customers):
    sku = create_sku(brand, price=1000, stock=3)
    sale = create_flash_sale(sku, price=500, quantity=3, per_customer_limit=1)
    a, b, c, d = customers(4)
    cancelled, expired, refunded = place(a, sku, sale), place(b, sku, sale), pay_order(place(c, sku, sale))
    assert gate(sku) == {"stock": "0", f"sale:{sale.pk}": "0"}
    with pytest.raises(Conflict):
        place(d, sku, sale)

    order_cancel(brand=brand, order=cancelled, customer=a)
    assert gate(sku) == {"stock": "1", f"sale:{sale.pk}": "1"}
    Order.unscoped.filter(pk=expired.pk).update(expires_at=expired.created_at)
    assert orders_expire() == 1
    assert gate(sku) == {"stock": "2", f"sale:{sale.pk}": "2"}
    refund = refund_request(brand=brand, order=refunded, customer=c)
    refund_approve(brand=brand, refund=refund)
    assert reload(sku).stock == 3 and gate(sku)["stock"] == "3"  # a refund restocks the SKU, not the sale

    place(d, sku, sale)
    assert gate(sku) == {"stock": "2", f"sale:{sale.pk}": "1"}
    assert (reload(sku).stock, reload(sale).sold) == (2, 2)


def test_a_stock_adjustment_and_an_order_inside_a_transaction_move_the_gate(brand, customers):
    sku = create_sku(brand, price=1000, stock=5)
    [customer] = customers(1)
    place(customer, sku)
    with brand_scope(brand):
        sku_adjust_stock(brand=brand, sku=sku, delta=10)
    assert gate(sku) == {"stock": "14"}

    from django.db import transaction

    with transaction.atomic():  # not gated (a rollback could not give tokens back): taken on commit
        place(customer, sku, quantity=4)
    assert gate(sku) == {"stock": "10"} and reload(sku).stock == 10


def test_a_flushed_gate_is_rebuilt_from_the_database_and_nothing_oversells(brand, customers):
    sku = create_sku(brand, price=1000, stock=1000)
    sale = create_flash_sale(sku, price=500, quantity=60, per_customer_limit=1)
    first, rest = customers(20, "oFirst"), customers(180, "oRest")
    run_in_parallel([buy(c, [LineRequest(sku.pk, 1, sale.pk)]) for c in first])
    redis.Redis.from_url(settings.REDIS_URL).delete(stock_gate.gate_key(brand.pk, sku.pk))  # Redis lost it

    results, conflicts = run_in_parallel([buy(c, [LineRequest(sku.pk, 1, sale.pk)]) for c in rest])

    assert len(results) == 40 and set(conflicts) == {"flash_sale_sold_out"}
    assert (reload(sale).sold, OrderLine.unscoped.filter(flash_sale=sale).count()) == (60, 60)
    assert gate(sku) == {"stock": "940", f"sale:{sale.pk}": "0"}


def test_a_gate_that_counts_too_many_is_refused_by_the_database_and_heals(brand, customers):
    sku = create_sku(brand, price=1000, stock=10)
    sale = create_flash_sale(sku, price=500, quantity=5, per_customer_limit=1)
    buyers = customers(30)
    place(buyers[0], sku, sale)
    key = stock_gate.gate_key(brand.pk, sku.pk)
    redis.Redis.from_url(settings.REDIS_URL).hset(key, mapping={"stock": 500, f"sale:{sale.pk}": 500})

    results, conflicts = run_in_parallel([buy(c, [LineRequest(sku.pk, 1, sale.pk)]) for c in buyers[1:]])

    assert len(results) == 4 and set(conflicts) == {"flash_sale_sold_out"}
    assert reload(sale).sold == 5
    assert gate(sku)[f"sale:{sale.pk}"] == "0"  # set to what the database holds by the first refusal


def test_another_brands_sku_is_not_found_and_its_gate_untouched(brand, other_brand, customers):
    theirs = create_sku(other_brand, price=1000, stock=1)
    with pytest.raises(Exception) as refused:
        place(customers(1)[0], theirs)
    assert getattr(refused.value, "code", None) == "sku_not_found"
    assert gate(theirs) == {} and reload(theirs).stock == 1


# --- Redis unreachable: a throwaway redis-server of the test's own ---------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_redis(port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [shutil.which("redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            return process
        except redis.ConnectionError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("redis-server did not start")


def _stop_redis(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(timeout=10)


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")
def test_orders_go_to_the_database_while_redis_is_down_and_the_gate_is_rebuilt_after(
    brand, customers, settings, monkeypatch
):
    port = _free_port()
    settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"
    monkeypatch.setattr(stock_gate, "RETRY_AFTER_S", 0.2)
    monkeypatch.setattr(stock_gate, "TIMEOUT_S", 0.2)
    sku = create_sku(brand, price=1000, stock=100)
    sale = create_flash_sale(sku, price=500, quantity=30, per_customer_limit=1)
    before, during, after = customers(10, "oBefore"), customers(40, "oDuring"), customers(10, "oAfter")
    server = _start_redis(port)
    try:
        run_in_parallel([buy(c, [LineRequest(sku.pk, 1, sale.pk)]) for c in before])
        key = stock_gate.gate_key(brand.pk, sku.pk)
        assert redis.Redis(port=port).hget(key, f"sale:{sale.pk}") == b"20"
        _stop_redis(server)

        results, conflicts = run_in_parallel([buy(c, [LineRequest(sku.pk, 1, sale.pk)]) for c in during])
        assert len(results) == 20 and set(conflicts) == {"flash_sale_sold_out"}  # the database path
        assert reload(sale).sold == 30

        server = _start_redis(port)  # restarted, empty
        time.sleep(0.3)
        results, conflicts = run_in_parallel([buy(c, [LineRequest(sku.pk, 1, sale.pk)]) for c in after])
        assert results == [] and set(conflicts) == {"flash_sale_sold_out"}
        assert redis.Redis(port=port).hget(key, f"sale:{sale.pk}") == b"0"  # rebuilt from the database
    finally:
        _stop_redis(server)
    assert (reload(sale).sold, OrderLine.unscoped.filter(flash_sale=sale).count()) == (30, 30)
    assert FlashSale.unscoped.get(pk=sale.pk).sold == 30 and Sku.unscoped.get(pk=sku.pk).stock == 70
