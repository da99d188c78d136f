"""Coupon fixtures: templates made through the service, stores and guides with bound customers,
a live room, and the commerce helpers that place and pay orders."""

from datetime import timedelta

import pytest
from django.utils import timezone

from coupons import services
from guides.models import Binding, Guide, Store
from tenants.models import Membership
from tenants.scoping import brand_scope
from tests.commerce.conftest import create_room, create_sku

TEMPLATES = "/api/v1/console/coupon-templates"
MY_COUPONS = "/api/v1/mp/coupons"


def make_template(brand, **fields):
    """A template through the service: by default 10 yuan off, valid for a week, unlimited."""
    now = timezone.now()
    values = {
        "name": "10 off",
        "kind": "amount_off",
        "amount_off": 1000,
        "validity": "fixed",
        "valid_from": now - timedelta(days=1),
        "valid_until": now + timedelta(days=7),
        **fields,
    }
    return services.coupon_template_create(brand=brand, **values)


def give(template, customer, **kwargs):
    """One coupon of ``template`` for ``customer`` (claimed, as the mini-program claims)."""
    if not template.claimable:
        with brand_scope(template.brand):
            type(template).objects.filter(pk=template.pk).update(claimable=True)
    return services.coupon_claim(brand=template.brand, customer=customer, template_id=template.pk, **kwargs)


def make_store(brand, code="S1", name=None):
    with brand_scope(brand):
        return Store.objects.create(brand=brand, code=code, name=name or f"Store {code}")


def make_guide(brand, store, make_staff, role=Membership.Role.GUIDE):
    user = make_staff(brand, role)
    with brand_scope(brand):
        return Guide.objects.create(brand=brand, user=user, name=user.username, store=store)


def bind(customer, guide):
    now = timezone.now()
    with brand_scope(customer.brand):
        return Binding.objects.create(
            brand=customer.brand,
            customer=customer,
            guide=guide,
            store=guide.store,
            bound_at=now,
            protected_until=now + timedelta(days=15),
        )


@pytest.fixture
def customer(brand, make_customer):
    return make_customer(brand, nickname="Mei")


@pytest.fixture
def mp(customer, customer_client):
    return customer_client(customer)


@pytest.fixture
def rival_customer(other_brand, make_customer):
    return make_customer(other_brand, nickname="Rival")


@pytest.fixture
def rival_mp(rival_customer, customer_client):
    return customer_client(rival_customer)


@pytest.fixture
def sku(brand):
    """10 coats at 100.00 yuan."""
    return create_sku(brand, price=10000, stock=10, name="Coat")


@pytest.fixture
def room(brand, sku):
    return create_room(brand, products=[sku.product])


@pytest.fixture
def store(brand):
    return make_store(brand, "S1", "Jing'an")


@pytest.fixture
def other_store(brand):
    return make_store(brand, "S2", "Xuhui")


@pytest.fixture
def guide(brand, store, make_staff):
    return make_guide(brand, store, make_staff)


@pytest.fixture
def guide_api(guide, brand, staff_client):
    return staff_client(guide.user, brand)
