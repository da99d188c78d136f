"""The rooms hear of a SKU's stock only when it crosses zero (commerce's "products changed" hook,
which livestream.room_state subscribes to), never per order; on the embedded default the stock
gate is off."""

import pytest
from django.conf import settings

from commerce.hooks import PRODUCTS_CHANGED
from commerce.services import stock_gate
from commerce.services.orders import LineRequest, order_cancel
from commerce.services.payments import refund_approve, refund_request
from tests.commerce.conftest import create_flash_sale, create_sku, pay_order, place_order, reload

pytestmark = pytest.mark.django_db


@pytest.fixture
def crossings(monkeypatch):
    calls = []
    monkeypatch.setattr(PRODUCTS_CHANGED, "subscribers", [])  # the rooms' subscriber is not run here
    PRODUCTS_CHANGED.subscribe(
        lambda change: calls.append({"brand_id": change.brand_id, "sku_ids": list(change.sku_ids)})
    )
    return calls


def test_the_order_that_takes_the_last_unit_and_the_cancel_that_gives_it_back_tell_the_rooms(
    brand, customer, crossings
):
    sku = create_sku(brand, stock=2)
    first = place_order(customer, [(sku, 1)])
    assert crossings == []
    last = place_order(customer, [(sku, 1)])
    assert crossings == [{"brand_id": brand.pk, "sku_ids": [sku.pk]}]

    order_cancel(brand=brand, order=last, customer=customer)
    assert crossings[1:] == [{"brand_id": brand.pk, "sku_ids": [sku.pk]}]
    order_cancel(brand=brand, order=first, customer=customer)
    assert len(crossings) == 2 and reload(sku).stock == 2


def test_a_flash_sale_selling_out_and_coming_back_tells_the_rooms(brand, customer, crossings):
    sku = create_sku(brand, stock=10)
    sale = create_flash_sale(sku, quantity=1)
    order = place_order(customer, [(sku, 1, sale)])
    assert crossings == [{"brand_id": brand.pk, "sku_ids": [sku.pk]}]
    order_cancel(brand=brand, order=order, customer=customer)
    assert crossings[1:] == [{"brand_id": brand.pk, "sku_ids": [sku.pk]}]


def test_a_refund_restocking_a_sold_out_sku_tells_the_rooms(brand, customer, crossings):
    sku = create_sku(brand, stock=1)
    order = pay_order(place_order(customer, [(sku, 1)]))
    refund_approve(brand=brand, refund=refund_request(brand=brand, order=order, customer=customer))
    assert reload(sku).stock == 1
    assert crossings == [{"brand_id": brand.pk, "sku_ids": [sku.pk]}] * 2


@pytest.mark.skipif(bool(settings.REDIS_URL), reason="the embedded default has no Redis")
def test_the_gate_is_off_on_the_embedded_default(brand):
    sku = create_sku(brand, stock=1)
    assert stock_gate.admit(brand_id=brand.pk, customer_id=1, lines=[LineRequest(sku.pk, 1)]) is stock_gate.NOT_GATED
