"""tenants.sql.writes_together: the writes sent inside run as one, all of them or none."""

import pytest
from django.db import IntegrityError, transaction

from commerce.models import Sku
from tenants.sql import Claim, writes_together
from tests.commerce.conftest import create_sku


def _take_stock(sku, quantity) -> Claim:
    """Below zero, the SKU's CHECK constraint refuses it."""
    return Claim(f"UPDATE {Sku._meta.db_table} SET stock = stock - %s WHERE id = %s", [quantity, sku.pk], lambda: None)


def stock(sku) -> int:
    return Sku.unscoped.get(pk=sku.pk).stock


@pytest.fixture
def skus(brand):
    return create_sku(brand, stock=5), create_sku(brand, stock=1)


def test_the_writes_inside_all_happen(skus):
    plenty, scarce = skus
    with writes_together():
        _take_stock(plenty, 2).send()
        _take_stock(scarce, 1).send()
    assert (stock(plenty), stock(scarce)) == (3, 0)


def test_one_refused_write_undoes_the_others(skus):
    plenty, scarce = skus
    with pytest.raises(IntegrityError), writes_together():
        _take_stock(plenty, 2).send()
        _take_stock(scarce, 2).send()  # below zero: the SKU's CHECK constraint refuses it
    assert (stock(plenty), stock(scarce)) == (5, 1)


def test_a_block_that_raises_writes_nothing(skus):
    plenty, _ = skus
    with pytest.raises(RuntimeError), writes_together():
        _take_stock(plenty, 2).send()
        raise RuntimeError("the order was refused after its claims were sent")
    assert stock(plenty) == 5


def test_inside_a_transaction_a_refusal_leaves_it_usable(skus):
    plenty, scarce = skus
    with transaction.atomic():
        with pytest.raises(IntegrityError), writes_together():
            _take_stock(scarce, 2).send()
        _take_stock(plenty, 1).send()  # the transaction goes on
    assert (stock(plenty), stock(scarce)) == (4, 1)


def test_psycopg_remembers_the_parsing_of_an_orders_one_statement():
    """tenants.sql raises psycopg's limits on the statements whose parsing it remembers; this fails
    if psycopg renames them (the order's writes would be parsed again on every order)."""
    from psycopg import _queries

    assert _queries.MAX_CACHED_STATEMENT_PARAMS >= 200 and _queries.MAX_CACHED_STATEMENT_LENGTH >= 16384
