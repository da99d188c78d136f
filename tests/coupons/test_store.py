"""Store coupons: guides give them to their customers; customers show a code; a guide redeems it
(核销) in store, once, at the right store; the console's coupon list and report by store."""

import time
from datetime import timedelta

import pytest
from django.core import signing
from django.utils import timezone

from conftest import assert_error
from coupons import services
from coupons.models import Coupon, Redemption
from tenants.models import Membership
from tests.commerce.conftest import place_order
from tests.coupons.conftest import bind, give, make_guide, make_store, make_template

pytestmark = pytest.mark.django_db

ISSUE = "/api/v1/guide/coupons/issue"
REDEEM = "/api/v1/guide/coupons/redeem"
REDEMPTIONS = "/api/v1/guide/coupons/redemptions"


def code_of(mp, coupon):
    response = mp.get(f"/api/v1/mp/coupons/{coupon.pk}/code")
    assert response.status_code == 200, response.json()
    return response.json()["code"]


@pytest.fixture
def store_template(brand, store):
    return make_template(brand, name="Store 50 off", amount_off=5000, channel="in_store", store_id=store.pk)


def test_a_guide_gives_a_store_coupon_to_a_bound_customer(guide_api, guide, customer, store_template, mp):
    bind(customer, guide)
    issued = guide_api.post(ISSUE, {"template_id": store_template.pk, "customer_id": customer.pk})
    assert issued.status_code == 201, issued.json()
    assert issued.json()["source"] == "guide" and issued.json()["template"]["store_id"] == guide.store_id
    coupon = Coupon.unscoped.get(pk=issued.json()["id"])
    assert coupon.customer_id == customer.pk and coupon.issued_by_id == guide.pk
    assert mp.get("/api/v1/mp/coupons").json()["results"][0]["id"] == coupon.pk


def test_what_a_guide_cannot_give(
    brand, other_brand, guide_api, guide, customer, make_customer, store_template, other_store, make_staff
):
    bind(customer, guide)
    unbound = make_customer(brand)
    assert_error(
        guide_api.post(ISSUE, {"template_id": store_template.pk, "customer_id": unbound.pk}), 409, "customer_not_bound"
    )
    colleague = make_guide(brand, other_store, make_staff)
    someone_elses = make_customer(brand)
    bind(someone_elses, colleague)
    assert_error(
        guide_api.post(ISSUE, {"template_id": store_template.pk, "customer_id": someone_elses.pk}),
        409,
        "customer_not_bound",
    )
    other_stores = make_template(brand, channel="in_store", store_id=other_store.pk)
    assert_error(
        guide_api.post(ISSUE, {"template_id": other_stores.pk, "customer_id": customer.pk}), 404, "template_not_found"
    )
    brand_wide = make_template(brand)
    assert_error(
        guide_api.post(ISSUE, {"template_id": brand_wide.pk, "customer_id": customer.pk}),
        409,
        "template_not_store_coupon",
    )
    rival = make_customer(other_brand)
    assert_error(
        guide_api.post(ISSUE, {"template_id": store_template.pk, "customer_id": rival.pk}), 404, "customer_not_found"
    )
    theirs = make_template(other_brand)
    assert_error(
        guide_api.post(ISSUE, {"template_id": theirs.pk, "customer_id": customer.pk}), 404, "template_not_found"
    )
    assert not Coupon.unscoped.exists()


def test_only_active_guides_with_a_store_act(brand, make_staff, staff_client, store, store_template, customer):
    no_guide = staff_client(make_staff(brand, Membership.Role.GUIDE), brand)
    assert_error(
        no_guide.post(ISSUE, {"template_id": store_template.pk, "customer_id": customer.pk}), 403, "not_a_guide"
    )
    storeless = make_guide(brand, None, make_staff)
    client = staff_client(storeless.user, brand)
    assert_error(client.post(REDEEM, {"code": "x"}), 403, "guide_without_store")
    left = make_guide(brand, store, make_staff)
    type(left).unscoped.filter(pk=left.pk).update(status="left")
    assert_error(staff_client(left.user, brand).get(REDEMPTIONS), 403, "not_a_guide")


def test_a_customer_shows_a_code_and_a_guide_redeems_it_once(brand, guide_api, guide, customer, mp, store_template):
    coupon = give(store_template, customer)
    shown = mp.get(f"/api/v1/mp/coupons/{coupon.pk}/code").json()
    assert shown["qr_png"].startswith("data:image/png;base64,") and len(shown["code"]) < 80
    assert shown["expires_at"]

    redeemed = guide_api.post(REDEEM, {"code": shown["code"]})
    assert redeemed.status_code == 201, redeemed.json()
    body = redeemed.json()
    assert body["store_id"] == guide.store_id and body["guide_id"] == guide.pk
    assert body["customer_id"] == customer.pk and body["coupon"]["state"] == "used"
    assert_error(guide_api.post(REDEEM, {"code": shown["code"]}), 409, "coupon_used")
    assert Redemption.unscoped.count() == 1
    assert [r["id"] for r in guide_api.get(REDEMPTIONS).json()["results"]] == [body["id"]]
    assert_error(mp.get(f"/api/v1/mp/coupons/{coupon.pk}/code"), 409, "coupon_used")


def test_codes_that_do_not_redeem(brand, other_brand, guide_api, guide, customer, rival_customer, mp, monkeypatch):
    coupon = give(make_template(brand, channel="in_store", store_id=guide.store_id), customer)
    code = code_of(mp, coupon)
    assert_error(guide_api.post(REDEEM, {"code": code[:-2] + "xx"}), 400, "invalid_code")
    assert_error(guide_api.post(REDEEM, {"code": "hello"}), 400, "invalid_code")
    assert_error(guide_api.post(REDEEM, {}), 400, "invalid")

    with monkeypatch.context() as past:  # a code shown longer ago than it lasts
        shown_at = int(time.time()) - services.CODE_TTL_SECONDS - 5
        past.setattr(signing.TimestampSigner, "timestamp", lambda self: signing.b62_encode(shown_at))
        stale = code_of(mp, coupon)
    assert_error(guide_api.post(REDEEM, {"code": stale}), 409, "code_expired")

    lapsed = give(make_template(brand, channel="in_store"), customer)
    lapsed_code = code_of(mp, lapsed)
    Coupon.unscoped.filter(pk=lapsed.pk).update(valid_until=timezone.now() - timedelta(seconds=1))
    assert_error(guide_api.post(REDEEM, {"code": lapsed_code}), 409, "coupon_expired")

    online = give(make_template(brand, channel="online"), customer)
    assert_error(mp.get(f"/api/v1/mp/coupons/{online.pk}/code"), 409, "coupon_online_only")
    forged_online = services._signer().sign(f"{brand.pk}.{online.pk}")
    assert_error(guide_api.post(REDEEM, {"code": forged_online}), 409, "coupon_online_only")

    theirs = give(make_template(other_brand, channel="in_store"), rival_customer)
    their_code = services._signer().sign(f"{other_brand.pk}.{theirs.pk}")
    assert_error(guide_api.post(REDEEM, {"code": their_code}), 404, "coupon_not_found")
    # Even with this brand's id in front, another brand's coupon is not found here.
    assert_error(
        guide_api.post(REDEEM, {"code": services._signer().sign(f"{brand.pk}.{theirs.pk}")}), 404, "coupon_not_found"
    )

    assert Coupon.unscoped.filter(status="used").count() == 0 and not Redemption.unscoped.exists()


def test_a_store_coupon_redeems_only_at_its_store(
    brand, customer, mp, store_template, other_store, make_staff, staff_client
):
    elsewhere = staff_client(make_guide(brand, other_store, make_staff).user, brand)
    coupon = give(store_template, customer)
    assert_error(elsewhere.post(REDEEM, {"code": code_of(mp, coupon)}), 409, "coupon_wrong_store")
    brand_coupon = give(make_template(brand, channel="both"), customer)
    assert elsewhere.post(REDEEM, {"code": code_of(mp, brand_coupon)}).status_code == 201  # any store


def test_a_coupon_held_by_an_unpaid_order_does_not_redeem(brand, guide_api, customer, mp, sku):
    coupon = give(make_template(brand, channel="both"), customer)
    code = code_of(mp, coupon)
    place_order(customer, [(sku, 1)], coupon_id=coupon.pk)
    assert_error(guide_api.post(REDEEM, {"code": code}), 409, "coupon_in_use")


def test_another_customers_code_endpoint_is_not_found(brand, customer, make_customer, customer_client, store_template):
    coupon = give(store_template, customer)
    assert_error(
        customer_client(make_customer(brand)).get(f"/api/v1/mp/coupons/{coupon.pk}/code"), 404, "coupon_not_found"
    )


def test_console_lists_issued_coupons_and_reports_redemptions_by_store(
    brand, console, rival_console, guide, guide_api, customer, mp, store_template, make_customer
):
    bind(customer, guide)
    issued = services.coupon_issue_by_guide(
        brand=brand, guide=guide, template_id=store_template.pk, customer_id=customer.pk
    )
    claimed = give(make_template(brand, name="Claimable"), make_customer(brand))
    guide_api.post(REDEEM, {"code": code_of(mp, issued)})

    listed = console.get("/api/v1/console/coupons").json()
    assert [c["id"] for c in listed["results"]] == [claimed.pk, issued.pk]
    by_template = console.get("/api/v1/console/coupons", {"template_id": store_template.pk}).json()["results"]
    assert by_template[0]["state"] == "used" and by_template[0]["redeemed_at_store_id"] == guide.store_id
    assert by_template[0]["issued_by_id"] == guide.pk
    assert console.get("/api/v1/console/coupons", {"source": "claim"}).json()["count"] == 1
    assert console.get("/api/v1/console/coupons", {"state": "used"}).json()["count"] == 1
    assert console.get("/api/v1/console/coupons", {"store_id": guide.store_id}).json()["count"] == 1
    assert console.get("/api/v1/console/coupons", {"customer_id": customer.pk}).json()["count"] == 1
    assert_error(console.get("/api/v1/console/coupons", {"template_id": "x"}), 400, "invalid")
    assert_error(console.get("/api/v1/console/coupons", {"source": "gift"}), 400, "invalid")

    report = console.get("/api/v1/console/coupon-redemptions/report").json()
    assert report == [
        {
            "store_id": guide.store_id,
            "store_code": "S1",
            "store_name": "Jing'an",
            "redemptions": 1,
            "customers": 1,
            "guides": 1,
        }
    ]
    tomorrow = (timezone.now() + timedelta(days=1)).isoformat()
    assert console.get("/api/v1/console/coupon-redemptions/report", {"since": tomorrow}).json() == []
    assert_error(console.get("/api/v1/console/coupon-redemptions/report", {"since": "yesterday"}), 400, "invalid")

    assert rival_console.get("/api/v1/console/coupons").json()["count"] == 0
    assert rival_console.get("/api/v1/console/coupon-redemptions/report").json() == []


def test_another_brands_guide_sees_and_redeems_nothing(
    brand, other_brand, make_staff, staff_client, guide, customer, mp, store_template
):
    rival_guide = make_guide(other_brand, make_store(other_brand, "R1"), make_staff)
    rival = staff_client(rival_guide.user, other_brand)
    coupon = give(store_template, customer)
    code = code_of(mp, coupon)
    assert_error(rival.post(REDEEM, {"code": code}), 404, "coupon_not_found")
    assert_error(
        rival.post(ISSUE, {"template_id": store_template.pk, "customer_id": customer.pk}), 404, "template_not_found"
    )
    assert rival.get(REDEMPTIONS).json()["count"] == 0
    # A guide of this brand naming the other brand in X-Brand is refused before anything is read.
    assert_error(staff_client(guide.user, other_brand).post(REDEEM, {"code": code}), 403, "not_a_member")
    assert Coupon.unscoped.get(pk=coupon.pk).status == "available"
