"""Stock and SKU codes under real parallel connections (PostgreSQL): the database is the authority."""

import threading

import pytest
from django.db import connection

from commerce.models import Sku
from commerce.services import products as services
from tenants.errors import Conflict
from tenants.scoping import brand_scope

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs real parallel connections"),
    pytest.mark.django_db(transaction=True),
]


def run_in_parallel(brand, count, call):
    """Run ``call()`` in ``count`` threads released together; return (results, domain errors)."""
    start = threading.Barrier(count)
    results, conflicts, crashes = [], [], []

    def worker():
        try:
            with brand_scope(brand):
                start.wait()
                results.append(call())
        except Conflict as exc:
            conflicts.append(exc.code)
        except Exception as exc:  # surfaced by the assertion below
            crashes.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert crashes == []
    return results, conflicts


def test_parallel_takes_never_oversell(brand, make_product):
    product = make_product(brand, skus=[{"code": "HOT", "price": 100, "stock": 10}])
    sku = Sku.unscoped.get(product=product)

    results, conflicts = run_in_parallel(brand, 16, lambda: services.sku_adjust_stock(brand=brand, sku=sku, delta=-1))

    assert len(results) == 10 and conflicts == ["insufficient_stock"] * 6
    assert Sku.unscoped.get(pk=sku.pk).stock == 0


def test_parallel_creates_of_one_code_give_one_sku_and_clean_conflicts(brand, make_product):
    product = make_product(brand)

    def create():
        return services.sku_create(brand=brand, product=product, code="RACE", price=100)

    results, conflicts = run_in_parallel(brand, 4, create)

    assert len(results) == 1 and conflicts == ["sku_code_taken"] * 3
    assert Sku.unscoped.filter(code="RACE").count() == 1
