"""The order tables refer to the rows every buyer of a show shares without a database constraint
(commerce.models.HOT_PARENT): Django's ``on_delete`` still holds for each of those references."""

import pytest
from django.db import connection
from django.db.models import ProtectedError

from commerce.models import FlashSalePurchase, Order, OrderEvent, OrderLine
from livestream.models import LiveRoom
from tenants.scoping import brand_scope
from tests.commerce.conftest import create_flash_sale, create_room, create_sku, place_order

HOT_TABLES = [model._meta.db_table for model in (Order, OrderLine, OrderEvent, FlashSalePurchase)]
SHARED_PARENTS = {"tenants_brand", "livestream_liveroom", "commerce_product", "commerce_sku", "commerce_flashsale"}


@pytest.mark.django_db
def test_the_order_tables_keep_no_constraint_and_no_single_index_on_the_shared_parents():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's catalogue")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint "
            "WHERE contype = 'f' AND conrelid::regclass::text = ANY(%s)",
            [HOT_TABLES],
        )
        references = cursor.fetchall()
        cursor.execute(
            "SELECT tablename, indexdef FROM pg_indexes WHERE tablename = ANY(%s) AND indexdef LIKE %s",
            [HOT_TABLES, '%("brand_id")'],
        )
        brand_only_indexes = cursor.fetchall()
    assert references, "the other references keep their constraints"
    assert not [(table, parent) for table, parent in references if parent in SHARED_PARENTS]
    assert brand_only_indexes == []


@pytest.mark.django_db
def test_django_still_protects_what_an_order_refers_to(brand, make_customer):
    sku = create_sku(brand, stock=5)
    sale = create_flash_sale(sku, quantity=3)
    room = create_room(brand, products=[sku.product])
    order = place_order(make_customer(brand), [(sku, 1, sale)], room=room)
    with brand_scope(brand):
        for parent in (sku, sku.product, sale):
            with pytest.raises(ProtectedError):
                type(parent).objects.get(pk=parent.pk).delete()
        LiveRoom.objects.get(pk=room.pk).delete()
        order.refresh_from_db()
        assert order.room_id is None  # SET_NULL, by Django
        assert OrderLine.objects.filter(order=order).count() == 1
