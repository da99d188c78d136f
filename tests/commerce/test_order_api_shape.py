"""The order serializers render by hand for speed: they must say exactly what they declare."""

import pytest

from commerce.api.mp import OrderLineSerializer, OrderSerializer
from commerce.models import Order
from tenants.scoping import brand_scope
from tests.commerce.conftest import place_order

pytestmark = pytest.mark.django_db


def test_rendered_orders_and_lines_have_exactly_the_declared_fields(brand, customer, sku):
    order = place_order(customer, [(sku, 2)])
    with brand_scope(brand):
        data = OrderSerializer(Order.objects.prefetch_related("lines").get(pk=order.pk)).data
    assert set(data) == set(OrderSerializer().fields)
    assert data["lines"] and set(data["lines"][0]) == set(OrderLineSerializer().fields)
    assert data["created_at"].endswith("Z") and data["paid_at"] is None
