"""Referrals (裂变): a customer's invite brings a new customer; the inviter gets the brand's reward
coupon once, when the invitee's first order is paid."""

import pytest

from conftest import assert_error
from coupons.models import Coupon, Referral, ReferralProgram
from tests.commerce.conftest import pay_order, place_order
from tests.coupons.conftest import make_template

pytestmark = pytest.mark.django_db

INVITES = "/api/v1/mp/invitations"
ACCEPT = "/api/v1/mp/invitations/accept"
PROGRAM = "/api/v1/console/referral-program"


@pytest.fixture
def reward(brand, console):
    template = make_template(brand, name="Thanks: 20 off", amount_off=2000, per_customer_limit=1)
    response = console.put(PROGRAM, {"is_active": True, "reward_template_id": template.pk}, format="json")
    assert response.status_code == 200, response.json()
    return template


@pytest.fixture
def invitee(brand, make_customer):
    return make_customer(brand, nickname="Newcomer")


def test_the_inviter_is_rewarded_once_when_the_invitees_first_order_is_paid(
    brand, reward, customer, mp, invitee, customer_client, sku
):
    invite = mp.get(INVITES).json()
    assert invite["invited"] == 0 and invite["code"] in invite["path"]
    assert mp.get(INVITES).json()["code"] == invite["code"]  # one code per customer

    accepted = customer_client(invitee).post(ACCEPT, {"code": invite["code"].lower()})
    assert accepted.status_code == 201, accepted.json()
    assert mp.get(INVITES).json() | {"code": None, "path": None} == {
        "code": None,
        "path": None,
        "invited": 1,
        "rewarded": 0,
    }

    first = place_order(invitee, [(sku, 1)])
    assert not Coupon.unscoped.filter(customer=customer).exists()  # placed is not paid
    pay_order(first)
    pay_order(place_order(invitee, [(sku, 1)]))

    [coupon] = Coupon.unscoped.filter(customer=customer)
    assert coupon.template_id == reward.pk and coupon.source == "reward"
    referral = Referral.unscoped.get(invitee=invitee)
    assert referral.reward_coupon_id == coupon.pk and referral.rewarded_at is not None
    assert mp.get(INVITES).json()["rewarded"] == 1


def test_each_invitee_rewards_once_even_past_the_per_customer_limit(
    brand, reward, customer, mp, make_customer, customer_client, sku
):
    code = mp.get(INVITES).json()["code"]
    for _ in range(2):
        newcomer = make_customer(brand)
        assert customer_client(newcomer).post(ACCEPT, {"code": code}).status_code == 201
        pay_order(place_order(newcomer, [(sku, 1)]))
    assert Coupon.unscoped.filter(customer=customer, source="reward").count() == 2


def test_invites_that_are_refused(
    brand, other_brand, reward, customer, mp, invitee, make_customer, customer_client, sku
):
    code = mp.get(INVITES).json()["code"]
    assert_error(mp.post(ACCEPT, {"code": code}), 409, "invite_own_code")
    assert_error(customer_client(invitee).post(ACCEPT, {"code": "NOSUCH99"}), 404, "invite_not_found")
    assert_error(customer_client(invitee).post(ACCEPT, {}), 400, "invalid")
    buyer = make_customer(brand)
    pay_order(place_order(buyer, [(sku, 1)]))
    assert_error(customer_client(buyer).post(ACCEPT, {"code": code}), 409, "invite_not_new_customer")
    assert customer_client(invitee).post(ACCEPT, {"code": code}).status_code == 201
    other_code = customer_client(make_customer(brand)).get(INVITES).json()["code"]
    assert_error(customer_client(invitee).post(ACCEPT, {"code": other_code}), 409, "invite_already_accepted")
    # Another brand's customer cannot use this brand's code.
    rival = customer_client(make_customer(other_brand))
    assert_error(rival.post(ACCEPT, {"code": code}), 404, "invite_not_found")
    assert Referral.unscoped.count() == 1


def test_no_active_programme_means_no_reward_and_no_second_chance(
    brand, console, customer, mp, invitee, customer_client, sku
):
    code = mp.get(INVITES).json()["code"]
    customer_client(invitee).post(ACCEPT, {"code": code})
    pay_order(place_order(invitee, [(sku, 1)]))
    assert not Coupon.unscoped.exists()
    template = make_template(brand)
    console.put(PROGRAM, {"is_active": True, "reward_template_id": template.pk}, format="json")
    pay_order(place_order(invitee, [(sku, 1)]))  # not their first paid order any more
    assert not Coupon.unscoped.exists()


def test_a_reward_that_cannot_be_given_never_fails_the_payment(
    brand, reward, customer, mp, invitee, customer_client, sku
):
    customer_client(invitee).post(ACCEPT, {"code": mp.get(INVITES).json()["code"]})
    type(reward).unscoped.filter(pk=reward.pk).update(status="retired")
    order = pay_order(place_order(invitee, [(sku, 1)]))
    assert order.status == "paid"
    assert not Coupon.unscoped.exists()
    assert Referral.unscoped.get(invitee=invitee).rewarded_at is not None


def test_the_programme_is_the_brands_own(brand, console, rival_console, other_brand):
    assert console.get(PROGRAM).json() == {"is_active": False, "reward_template_id": None, "updated_at": None}
    template = make_template(brand)
    assert_error(console.put(PROGRAM, {"is_active": True, "reward_template_id": None}, format="json"), 400, "invalid")
    assert_error(
        rival_console.put(PROGRAM, {"is_active": True, "reward_template_id": template.pk}, format="json"),
        404,
        "template_not_found",
    )
    accepted = console.put(PROGRAM, {"is_active": True, "reward_template_id": template.pk}, format="json")
    assert accepted.json()["is_active"] is True
    assert rival_console.get(PROGRAM).json()["reward_template_id"] is None
    assert ReferralProgram.unscoped.filter(brand=other_brand).count() == 0
