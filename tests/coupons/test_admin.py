"""Coupons in the web admin: each brand's operators see and change only their own."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from coupons import services
from coupons.models import CouponTemplate, ReferralProgram
from tenants.models import Membership
from tests.commerce.conftest import create_room
from tests.coupons.conftest import give, make_guide, make_store, make_template

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


def rival_records(other_brand, rival_customer, make_customer, make_staff):
    """One of each coupon record in the other brand, made through the services."""
    template = make_template(other_brand, name="TheirDropCoupon")
    room = create_room(other_brand)
    drop = services.coupon_drop(brand=other_brand, room=room, template_id=template.pk, quantity=5)
    store = make_store(other_brand, "R1")
    coupon = give(make_template(other_brand, channel="in_store"), rival_customer)
    code, _ = services.coupon_code(brand=other_brand, coupon=coupon)
    redemption = services.coupon_redeem(brand=other_brand, guide=make_guide(other_brand, store, make_staff), code=code)
    invite = services.invite_code_for(brand=other_brand, customer=rival_customer)
    referral = services.invitation_accept(brand=other_brand, customer=make_customer(other_brand), code=invite.code)
    program = services.referral_program_set(brand=other_brand, is_active=True, reward_template_id=template.pk)
    return {"coupondrop": drop, "redemption": redemption, "referral": referral, "referralprogram": program}


def test_the_other_coupon_pages_show_only_the_brands_own_records(
    operator, other_brand, rival_customer, make_customer, make_staff
):
    records = rival_records(other_brand, rival_customer, make_customer, make_staff)
    for model, record in records.items():
        page = operator.get(f"/admin/coupons/{model}/")
        assert page.status_code == 200, model
        assert f"/{model}/{record.pk}/change/" not in page.content.decode(), model
        assert operator.get(f"/admin/coupons/{model}/{record.pk}/change/").status_code == 302, model
    assert operator.get("/admin/coupons/referralprogram/add/").status_code == 200  # none of its own yet
    operator.post("/admin/coupons/referralprogram/add/", {"is_active": "on", "reward_template": ""})
    assert operator.get("/admin/coupons/referralprogram/add/").status_code == 403  # one per brand
    assert ReferralProgram.unscoped.get(pk=records["referralprogram"].pk).is_active
