"""Fixtures of the guides tests: stores and guides made through the services, shares, customers
entering through them, and orders taken from placement to completion."""

from datetime import timedelta

import pytest
from django.utils import timezone

from commerce.models import Order
from commerce.payments.transfers import SandboxTransferClient
from commerce.services.orders import order_complete
from guides import poster
from guides.models import Guide, Store
from guides.services import shares, stores
from tenants.models import Membership
from tenants.scoping import brand_scope
from tests.commerce.conftest import create_room, create_sku, pay_order, place_order, ship_order


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    """Posters never reach for an image host; the transfer sandbox starts empty."""
    monkeypatch.setattr(poster, "fetch_image", lambda url: None)
    SandboxTransferClient.reset()
    yield
    SandboxTransferClient.reset()


def make_store(brand, code="SH-001", **fields):
    with brand_scope(brand):
        return stores.store_create(brand=brand, code=code, name=fields.pop("name", f"Store {code}"), **fields)


def make_guide(brand, username, *, store=None, kind=Guide.Kind.STORE_GUIDE, leader=None, openid=None):
    with brand_scope(brand):
        return stores.guide_create(
            brand=brand,
            username=username,
            name=username.title(),
            password="correct-horse-9",
            store=store,
            kind=kind,
            leader=leader,
            openid=f"o_{username}" if openid is None else openid,
        )


def share(brand, guide, target="room", target_id=None):
    with brand_scope(brand):
        made, _ = shares.share_create(brand=brand, guide=guide, target=target, target_id=target_id)
    return made


def visit(customer, scene):
    with brand_scope(customer.brand):
        return shares.visit_record(brand=customer.brand, customer=customer, scene=scene)


def complete(order, *, days_ago=0):
    """Ship and complete an order, as if completed ``days_ago`` days ago."""
    ship_order(order)
    order_complete(brand=order.brand, order=Order.unscoped.get(pk=order.pk))
    if days_ago:
        Order.unscoped.filter(pk=order.pk).update(completed_at=timezone.now() - timedelta(days=days_ago))
    return Order.unscoped.get(pk=order.pk)


@pytest.fixture
def store(brand):
    return make_store(brand)


@pytest.fixture
def leader(brand, store):
    return make_guide(brand, "lead", store=store)


@pytest.fixture
def guide(brand, store, leader):
    return make_guide(brand, "amy", store=store, leader=leader)


@pytest.fixture
def other_guide(brand, store):
    return make_guide(brand, "bob", store=store)


@pytest.fixture
def sku(brand):
    return create_sku(brand, price=10000, stock=100)


@pytest.fixture
def room(brand, sku):
    return create_room(brand, products=[sku.product])


@pytest.fixture
def guide_client(staff_client):
    def make(guide):
        return staff_client(guide.user, guide.brand)

    return make


@pytest.fixture
def manager(brand, store, make_staff):
    user = make_staff(brand, Membership.Role.STORE_MANAGER, username="manager")
    Store.unscoped.filter(pk=store.pk).update(manager=user)
    return user


def buy(customer, sku, *, quantity=1, room=None, scene=""):
    """Place and pay an order (through a share's scene, if given)."""
    order = place_order(customer, [(sku, quantity)], room=room, source=f"scene:{scene}" if scene else "")
    return pay_order(order)
