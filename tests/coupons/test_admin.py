"""Coupons in the web admin: each brand's operators see and change only their own."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from coupons.models import CouponTemplate
from tenants.models import Membership
from tests.coupons.conftest import give, make_template

pytestmark = pytest.mark.django_db

TEMPLATES = "/admin/coupons/coupontemplate/"
COUPONS = "/admin/coupons/coupon/"


def admin_client(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def operator(brand, make_staff):
    return admin_client(make_staff(brand, Membership.Role.OPERATOR))


@pytest.fixture
def data(brand, other_brand, customer, rival_customer):
    mine = make_template(brand, name="MineCoupon")
    theirs = make_template(other_brand, name="TheirCoupon")
    return {
        "mine": mine,
        "theirs": theirs,
        "my_coupon": give(mine, customer),
        "their_coupon": give(theirs, rival_customer),
    }


def test_operator_sees_only_their_brands_templates_and_coupons(operator, data):
    page = operator.get(TEMPLATES).content.decode()
    assert "MineCoupon" in page and "TheirCoupon" not in page
    assert operator.get(f"{TEMPLATES}{data['mine'].pk}/change/").status_code == 200
    assert operator.get(f"{TEMPLATES}{data['theirs'].pk}/change/").status_code == 302  # not found
    coupons = operator.get(COUPONS).content.decode()
    assert "MineCoupon" in coupons and "TheirCoupon" not in coupons
    assert operator.get(f"{COUPONS}{data['their_coupon'].pk}/change/").status_code == 302


def test_operator_cannot_change_or_retire_another_brands_template(operator, data):
    operator.post(f"{TEMPLATES}{data['theirs'].pk}/change/", {"name": "Hijacked"})
    operator.post(TEMPLATES, {"action": "retire", "_selected_action": [data["theirs"].pk]})
    theirs = CouponTemplate.unscoped.get(pk=data["theirs"].pk)
    assert theirs.name == "TheirCoupon" and theirs.status == "active"
    operator.post(TEMPLATES, {"action": "retire", "_selected_action": [data["mine"].pk]})
    assert CouponTemplate.unscoped.get(pk=data["mine"].pk).status == "retired"


def test_operator_adds_a_template_in_their_brand(operator, brand):
    now = timezone.now()
    form = {
        "name": "Admin 5 off",
        "description": "",
        "kind": "amount_off",
        "amount_off": "500",
        "percent_off": "0",
        "max_discount": "0",
        "min_spend": "0",
        "validity": "fixed",
        "valid_from_0": now.strftime("%Y-%m-%d"),
        "valid_from_1": "00:00:00",
        "valid_until_0": (now + timedelta(days=5)).strftime("%Y-%m-%d"),
        "valid_until_1": "00:00:00",
        "valid_days": "0",
        "total_quantity": "",
        "per_customer_limit": "1",
        "scope": "all",
        "categories": "[]",
        "channel": "both",
        "audience": "everyone",
        "store": "",
    }
    response = operator.post(f"{TEMPLATES}add/", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert CouponTemplate.unscoped.get(name="Admin 5 off").brand_id == brand.pk
    # The model's rules hold in the admin too.
    bad = operator.post(f"{TEMPLATES}add/", form | {"name": "No value", "amount_off": "0"})
    assert bad.status_code == 200 and not CouponTemplate.unscoped.filter(name="No value").exists()


def test_a_template_that_gave_coupons_keeps_its_worth_in_the_admin(operator, data):
    page = operator.get(f"{TEMPLATES}{data['mine'].pk}/change/").content.decode()
    assert 'name="amount_off"' not in page  # read-only once coupons were given out
