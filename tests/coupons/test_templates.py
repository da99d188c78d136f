"""Coupon templates on the console: create, validate, change, retire; one brand's only."""

from datetime import timedelta

import pytest
from django.utils import timezone

from conftest import assert_error
from coupons.models import CouponTemplate
from coupons.services import coupon_claim
from tenants.errors import Conflict
from tests.commerce.conftest import create_sku
from tests.coupons.conftest import TEMPLATES, give, make_store, make_template

pytestmark = pytest.mark.django_db


def window(days=7):
    now = timezone.now()
    return {"valid_from": now.isoformat(), "valid_until": (now + timedelta(days=days)).isoformat()}


def test_operator_creates_each_kind_and_lists_them(console, brand):
    amount = console.post(TEMPLATES, {"name": "10 off", "kind": "amount_off", "amount_off": 1000, **window()})
    assert amount.status_code == 201, amount.json()
    percent = console.post(
        TEMPLATES,
        {
            "name": "12% off",
            "kind": "percent_off",
            "percent_off": 12,
            "max_discount": 3000,
            "validity": "days_after_claim",
            "valid_days": 3,
            "total_quantity": 50,
            "per_customer_limit": 2,
            "channel": "online",
            "audience": "members",
            "claimable": True,
        },
    )
    assert percent.status_code == 201, percent.json()
    body = percent.json()
    assert body["remaining"] == 50 and body["issued"] == 0 and body["status"] == "active"
    assert body["valid_days"] == 3 and body["audience"] == "members" and body["claimable"] is True
    threshold = console.post(
        TEMPLATES, {"name": "30 off 299", "kind": "threshold", "amount_off": 3000, "min_spend": 29900, **window()}
    )
    assert threshold.status_code == 201

    listed = console.get(TEMPLATES).json()
    assert listed["count"] == 3
    assert [t["name"] for t in listed["results"]] == ["30 off 299", "12% off", "10 off"]
    assert console.get(TEMPLATES, {"kind": "percent_off"}).json()["count"] == 1


def test_scope_names_the_brands_products_or_categories(console, brand, other_brand):
    mine = create_sku(brand).product
    theirs = create_sku(other_brand).product
    created = console.post(
        TEMPLATES,
        {"name": "Coats", "kind": "amount_off", "amount_off": 500, "scope": "products", "product_ids": [mine.pk]}
        | window(),
    )
    assert created.status_code == 201 and created.json()["product_ids"] == [mine.pk]
    refused = console.post(
        TEMPLATES,
        {"name": "Theirs", "kind": "amount_off", "amount_off": 500, "scope": "products", "product_ids": [theirs.pk]}
        | window(),
    )
    assert assert_error(refused, 404, "product_not_found")["fields"] == {"product_ids": [theirs.pk]}
    empty = console.post(
        TEMPLATES, {"name": "None", "kind": "amount_off", "amount_off": 500, "scope": "products"} | window()
    )
    assert "product_ids" in assert_error(empty, 400, "invalid")["fields"]
    no_categories = console.post(
        TEMPLATES, {"name": "Cat", "kind": "amount_off", "amount_off": 5, "scope": "categories"} | window()
    )
    assert "categories" in assert_error(no_categories, 400, "invalid")["fields"]
    with_categories = console.post(
        TEMPLATES,
        {"name": "Cat", "kind": "amount_off", "amount_off": 5, "scope": "categories", "categories": ["outerwear"]}
        | window(),
    )
    assert with_categories.json()["categories"] == ["outerwear"]
    assert CouponTemplate.unscoped.filter(brand=brand).count() == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "amount_off"}, "amount_off"),
        ({"kind": "percent_off"}, "percent_off"),
        ({"kind": "threshold", "amount_off": 3000, "min_spend": 2000}, "min_spend"),
        ({"kind": "amount_off", "amount_off": 100, "valid_from": None}, "valid_until"),
        ({"kind": "amount_off", "amount_off": 100, "validity": "days_after_claim"}, "valid_days"),
        ({"kind": "amount_off", "amount_off": 1.5}, "amount_off"),
        ({"kind": "amount_off", "amount_off": -1}, "amount_off"),
        ({"kind": "free", "amount_off": 100}, "kind"),
        ({"kind": "amount_off", "amount_off": 100, "total_quantity": 0}, "total_quantity"),
    ],
)
def test_a_template_that_makes_no_sense_is_refused_with_its_field(console, body, field):
    values = {"name": "Bad", **window(), **body}
    if "valid_from" in body and body["valid_from"] is None:
        values["valid_until"] = None
    error = assert_error(console.post(TEMPLATES, values), 400, "invalid")
    assert field in error["fields"], error
    assert not CouponTemplate.unscoped.exists()


def test_window_must_end_after_it_starts(console):
    now = timezone.now()
    body = {"name": "Backwards", "kind": "amount_off", "amount_off": 100}
    body |= {"valid_from": now.isoformat(), "valid_until": (now - timedelta(hours=1)).isoformat()}
    assert "valid_until" in assert_error(console.post(TEMPLATES, body), 400, "invalid")["fields"]


def test_a_store_exclusive_template_names_a_store_of_the_brand(console, brand, other_brand):
    mine, theirs = make_store(brand), make_store(other_brand)
    body = {"name": "Store", "kind": "amount_off", "amount_off": 100, "channel": "in_store"} | window()
    assert console.post(TEMPLATES, body | {"store_id": mine.pk}).json()["store_id"] == mine.pk
    assert_error(console.post(TEMPLATES, body | {"store_id": theirs.pk}), 404, "store_not_found")


def test_once_coupons_were_given_out_their_worth_is_fixed(console, brand, make_customer):
    template = make_template(brand, total_quantity=5)
    url = f"{TEMPLATES}/{template.pk}"
    assert console.patch(url, {"amount_off": 2000}).json()["amount_off"] == 2000  # nothing given out yet
    give(template, make_customer(brand))
    give(template, make_customer(brand))

    error = assert_error(console.patch(url, {"amount_off": 500, "name": "Renamed"}), 409, "template_in_use")
    assert set(error["fields"]) == {"amount_off"}
    assert console.patch(url, {"name": "Renamed", "total_quantity": 3}).json()["name"] == "Renamed"
    too_few = assert_error(console.patch(url, {"total_quantity": 1}), 400, "invalid")
    assert too_few["fields"] == {"total_quantity": ["At least 2."]}
    assert console.patch(url, {"amount_off": 2000}).status_code == 200  # unchanged values pass


def test_retiring_stops_claims_but_keeps_given_coupons(console, brand, customer, make_customer):
    template = make_template(brand, claimable=True)
    coupon = give(template, customer)
    retired = console.post(f"{TEMPLATES}/{template.pk}/retire")
    assert retired.status_code == 200 and retired.json()["status"] == "retired"
    with pytest.raises(Conflict) as refused:
        coupon_claim(brand=brand, customer=make_customer(brand), template_id=template.pk)
    assert refused.value.code == "template_retired"
    assert type(coupon).unscoped.get(pk=coupon.pk).status == "available"


def test_another_brands_templates_are_not_found(console, rival_console, brand):
    template = make_template(brand)
    url = f"{TEMPLATES}/{template.pk}"
    assert rival_console.get(TEMPLATES).json()["count"] == 0
    assert_error(rival_console.get(url), 404, "template_not_found")
    assert_error(rival_console.patch(url, {"name": "Hijacked"}), 404, "template_not_found")
    assert_error(rival_console.post(f"{url}/retire"), 404, "template_not_found")
    assert CouponTemplate.unscoped.get(pk=template.pk).name == "10 off"
    assert CouponTemplate.unscoped.get(pk=template.pk).status == "active"
    assert console.get(url).status_code == 200


def test_customers_and_guides_cannot_use_the_console(mp, brand):
    assert mp.get(TEMPLATES).status_code in (401, 403)
