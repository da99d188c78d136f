"""The whole buying flow through the API: place in a live room, pay in the sandbox, ship,
confirm; cancel; refund."""

from datetime import timedelta

import pytest
from django.utils import timezone

from commerce.models import Order, Product, Sku
from conftest import assert_error
from livestream.models import LiveRoom, RoomProduct
from tenants.scoping import brand_scope

pytestmark = pytest.mark.django_db

ADDRESS = {
    "name": "Lin",
    "phone": "13800000000",
    "province": "Shanghai",
    "city": "Shanghai",
    "district": "Jing'an",
    "detail": "1601 Nanjing West Rd",
}


@pytest.fixture
def shop(brand):
    with brand_scope(brand):
        product = Product.objects.create(
            brand=brand, name="Coat", price=10000, audit_status="approved", status="on_shelf"
        )
        sku = Sku.objects.create(brand=brand, product=product, code="COAT-M", spec="M", price=10000, stock=5)
        start = timezone.now() - timedelta(minutes=5)
        room = LiveRoom.objects.create(
            brand=brand,
            title="Live now",
            anchor_name="Lin",
            status="live",
            scheduled_start=start,
            scheduled_end=start + timedelta(hours=2),
        )
        RoomProduct.objects.create(brand=brand, room=room, product=product)
    return {"product": product, "sku": sku, "room": room}


@pytest.fixture
def buyer(brand, make_customer, customer_client):
    customer = make_customer(brand)
    return customer, customer_client(customer)


def place(client, shop, quantity=1, key=None, **extra):
    body = {
        "lines": [{"sku": shop["sku"].pk, "quantity": quantity}],
        "room_id": shop["room"].pk,
        "address": ADDRESS,
        **extra,
    }
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post("/api/v1/mp/orders", body, **headers)


def test_buy_pay_ship_confirm(brand, shop, buyer, console):
    customer, client = buyer
    placed = place(client, shop, quantity=2, key="k1")
    assert placed.status_code == 201, placed.content
    order = placed.json()
    assert order["status"] == "pending_payment" and order["payable"] == 20000
    assert order["lines"][0]["unit_price"] == 10000 and order["room_id"] == shop["room"].pk
    shop["sku"].refresh_from_db()
    assert shop["sku"].stock == 3

    pay = client.post(f"/api/v1/mp/orders/{order['id']}/pay")
    assert pay.status_code == 200, pay.content
    assert pay.json()["params"]["package"].startswith("prepay_id=")
    paid = client.post(f"/api/v1/mp/orders/{order['id']}/sandbox-pay")
    assert paid.json()["status"] == "paid", paid.content
    customer.refresh_from_db()
    assert customer.first_paid_at is not None

    assert_error(console.post(f"/api/v1/console/orders/{order['id']}/ship"), 400, "tracking_required")
    shipped = console.post(f"/api/v1/console/orders/{order['id']}/ship", {"carrier": "SF", "tracking_number": "SF1"})
    assert shipped.json()["status"] == "shipped"
    assert client.post(f"/api/v1/mp/orders/{order['id']}/confirm").json()["status"] == "completed"
    detail = console.get(f"/api/v1/console/orders/{order['id']}").json()
    assert [e["to_status"] for e in detail["events"]] == ["pending_payment", "paid", "shipped", "completed"]


def test_same_idempotency_key_answers_the_first_order(shop, buyer):
    _, client = buyer
    first = place(client, shop, key="same")
    again = place(client, shop, key="same")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert again["Idempotent-Replayed"] == "true"
    assert_error(place(client, shop, quantity=2, key="same"), 409, "idempotency_key_reused")
    with brand_scope(shop["sku"].brand):
        assert Order.objects.count() == 1


def test_out_of_stock_names_the_sku_and_writes_nothing(shop, buyer):
    _, client = buyer
    error = assert_error(place(client, shop, quantity=6), 409, "out_of_stock")
    assert error["fields"]["sku"] == shop["sku"].pk
    with brand_scope(shop["sku"].brand):
        assert Order.objects.count() == 0
        assert Sku.objects.get().stock == 5


def test_cancel_returns_stock_once(shop, buyer):
    _, client = buyer
    order = place(client, shop, quantity=2).json()
    assert client.post(f"/api/v1/mp/orders/{order['id']}/cancel").json()["status"] == "cancelled"
    assert_error(client.post(f"/api/v1/mp/orders/{order['id']}/cancel"), 409, "invalid_transition")
    shop["sku"].refresh_from_db()
    assert shop["sku"].stock == 5


def test_refund_all_before_shipping(shop, buyer, console):
    _, client = buyer
    order = place(client, shop, quantity=2).json()
    client.post(f"/api/v1/mp/orders/{order['id']}/pay")
    client.post(f"/api/v1/mp/orders/{order['id']}/sandbox-pay")
    refund = client.post(f"/api/v1/mp/orders/{order['id']}/refund", {"reason": "changed my mind"})
    assert refund.status_code == 201, refund.content
    approved = console.post(f"/api/v1/console/refunds/{refund.json()['id']}/approve")
    assert approved.json()["status"] == "succeeded", approved.content
    final = client.get(f"/api/v1/mp/orders/{order['id']}").json()
    assert final["status"] == "refunded" and final["refunded_total"] == 20000
    shop["sku"].refresh_from_db()
    assert shop["sku"].stock == 5
