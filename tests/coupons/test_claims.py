"""Getting coupons: claiming an offer, live-room drops, the wallet by state; limits and isolation."""

from datetime import timedelta

import pytest
from django.utils import timezone

from conftest import assert_error
from coupons.models import Coupon, CouponDrop, CouponHolding, CouponTemplate
from coupons.services import coupon_claim
from tenants.errors import Conflict
from tests.commerce.conftest import create_room
from tests.coupons.conftest import MY_COUPONS, give, make_store, make_template
from tests.livestream.conftest import of_type

pytestmark = pytest.mark.django_db

CLAIM = "/api/v1/mp/coupons/claim"
TEMPLATES_URL = "/api/v1/console/coupon-templates"


def drops_url(room):
    return f"/api/v1/console/rooms/{room.pk}/coupon-drops"


def claim_drop_url(drop_id):
    return f"/api/v1/mp/coupons/drops/{drop_id}/claim"


@pytest.fixture
def events(monkeypatch):
    published = []
    monkeypatch.setattr("livestream.realtime._broadcast", lambda room_id, event: published.append((room_id, event)))
    return published


def test_a_customer_claims_an_offer_and_sees_it_in_their_wallet(brand, mp):
    template = make_template(brand, claimable=True, total_quantity=3)
    offers = mp.get("/api/v1/mp/coupons/claimable").json()
    assert [t["id"] for t in offers["results"]] == [template.pk]

    claimed = mp.post(CLAIM, {"template_id": template.pk})
    assert claimed.status_code == 201, claimed.json()
    body = claimed.json()
    assert body["state"] == "available" and body["source"] == "claim"
    assert body["template"]["amount_off"] == 1000
    assert CouponTemplate.unscoped.get(pk=template.pk).issued == 1

    wallet = mp.get(MY_COUPONS, {"state": "available"}).json()
    assert [c["id"] for c in wallet["results"]] == [body["id"]]
    assert mp.get(MY_COUPONS, {"state": "used"}).json()["count"] == 0
    assert_error(mp.get(MY_COUPONS, {"state": "lost"}), 400, "invalid")


def test_days_after_claim_validity_starts_at_the_claim(brand, customer):
    template = make_template(brand, validity="days_after_claim", valid_days=3, valid_from=None, valid_until=None)
    before = timezone.now()
    coupon = give(template, customer)
    assert before <= coupon.valid_from <= timezone.now()
    assert coupon.valid_until - coupon.valid_from == timedelta(days=3)


def test_the_per_customer_limit_and_the_total_quantity_hold(brand, customer, make_customer, mp):
    template = make_template(brand, claimable=True, total_quantity=3, per_customer_limit=2)
    assert mp.post(CLAIM, {"template_id": template.pk}).status_code == 201
    assert mp.post(CLAIM, {"template_id": template.pk}).status_code == 201
    limit = assert_error(mp.post(CLAIM, {"template_id": template.pk}), 409, "coupon_limit_reached")
    assert limit["fields"] == {"limit": 2}
    give(template, make_customer(brand))
    late = make_customer(brand)
    with pytest.raises(Conflict) as sold_out:
        coupon_claim(brand=brand, customer=late, template_id=template.pk)
    assert sold_out.value.code == "coupon_sold_out"
    assert CouponTemplate.unscoped.get(pk=template.pk).issued == 3
    assert Coupon.unscoped.filter(template=template).count() == 3
    # The refused claims left nothing behind: no coupon, no count for the late customer.
    assert not CouponHolding.unscoped.filter(customer=late).exists()
    assert CouponHolding.unscoped.get(customer=customer).count == 2


def test_claims_that_are_not_allowed(brand, make_customer, customer_client):
    customer = make_customer(brand)
    mp = customer_client(customer)
    not_claimable = make_template(brand)
    assert_error(mp.post(CLAIM, {"template_id": not_claimable.pk}), 409, "template_not_claimable")
    assert_error(mp.post(CLAIM, {"template_id": 10**12}), 404, "template_not_found")
    assert_error(mp.post(CLAIM, {"template_id": "1"}), 400, "invalid")
    members = make_template(brand, claimable=True, audience="members")
    assert_error(mp.post(CLAIM, {"template_id": members.pk}), 409, "coupon_members_only")
    newcomers = make_template(brand, claimable=True, audience="new_customers")
    type(customer).unscoped.filter(pk=customer.pk).update(first_paid_at=timezone.now())
    assert_error(mp.post(CLAIM, {"template_id": newcomers.pk}), 409, "coupon_new_customers_only")
    ended = make_template(brand, claimable=True)
    CouponTemplate.unscoped.filter(pk=ended.pk).update(
        valid_from=timezone.now() - timedelta(days=3), valid_until=timezone.now() - timedelta(days=1)
    )
    assert_error(mp.post(CLAIM, {"template_id": ended.pk}), 409, "template_expired")
    assert not Coupon.unscoped.exists()


def test_members_and_new_customers_get_their_own_offers(brand, make_customer, customer_client):
    member = make_customer(brand, is_member=True)
    template = make_template(brand, claimable=True, audience="members")
    assert customer_client(member).post(CLAIM, {"template_id": template.pk}).status_code == 201
    newcomer = make_customer(brand)
    fresh = make_template(brand, claimable=True, audience="new_customers")
    assert customer_client(newcomer).post(CLAIM, {"template_id": fresh.pk}).status_code == 201


def test_an_operator_drops_coupons_into_a_live_room(
    brand, console, room, mp, customer, make_customer, customer_client, events, django_capture_on_commit_callbacks
):
    template = make_template(brand, name="Live 10 off", description="Tonight only")
    with django_capture_on_commit_callbacks(execute=True):
        dropped = console.post(drops_url(room), {"template_id": template.pk, "quantity": 2})
    assert dropped.status_code == 201, dropped.json()
    drop = dropped.json()
    expected = {
        "id": drop["id"],
        "room_id": room.pk,
        "template_id": template.pk,
        "name": "Live 10 off",
        "description": "Tonight only",
        "quantity": 2,
        "remaining": 2,
    }
    assert drop == expected
    assert of_type(events, "coupon.drop") == [(room.pk, expected)]

    # A viewer who joins late sees the drop, claims once, and the drop runs out after two.
    assert mp.get(f"/api/v1/mp/rooms/{room.pk}/coupon-drops").json() == [expected]
    claimed = mp.post(claim_drop_url(drop["id"]))
    assert claimed.status_code == 201 and claimed.json()["source"] == "drop"
    assert_error(mp.post(claim_drop_url(drop["id"])), 409, "drop_already_claimed")
    assert customer_client(make_customer(brand)).post(claim_drop_url(drop["id"])).status_code == 201
    assert_error(customer_client(make_customer(brand)).post(claim_drop_url(drop["id"])), 409, "drop_sold_out")
    assert CouponDrop.unscoped.get(pk=drop["id"]).claimed == 2
    assert mp.get(f"/api/v1/mp/rooms/{room.pk}/coupon-drops").json() == []
    assert console.get(drops_url(room)).json()[0]["remaining"] == 0


def test_a_customers_per_customer_limit_also_holds_across_drops(brand, console, room, mp):
    template = make_template(brand, per_customer_limit=1)
    first = console.post(drops_url(room), {"template_id": template.pk, "quantity": 5}).json()
    second = console.post(drops_url(room), {"template_id": template.pk, "quantity": 5}).json()
    assert mp.post(claim_drop_url(first["id"])).status_code == 201
    assert_error(mp.post(claim_drop_url(second["id"])), 409, "coupon_limit_reached")
    assert CouponDrop.unscoped.get(pk=second["id"]).claimed == 0


def test_drops_that_are_refused(brand, console, room, other_brand, events, django_capture_on_commit_callbacks):
    template = make_template(brand, total_quantity=3)
    with django_capture_on_commit_callbacks(execute=True):
        error = assert_error(
            console.post(drops_url(room), {"template_id": template.pk, "quantity": 4}), 409, "not_enough_coupons"
        )
    assert error["fields"] == {"remaining": 3}
    assert events == []
    assert_error(console.post(drops_url(room), {"template_id": template.pk, "quantity": 0}), 400, "invalid")
    assert_error(console.post(drops_url(room), {"template_id": 10**12, "quantity": 1}), 404, "template_not_found")
    store_only = make_template(brand, store_id=make_store(brand).pk)
    assert_error(
        console.post(drops_url(room), {"template_id": store_only.pk, "quantity": 1}), 409, "template_store_exclusive"
    )
    scheduled = create_room(brand, status="scheduled")
    assert_error(console.post(drops_url(scheduled), {"template_id": template.pk, "quantity": 1}), 409, "room_not_live")
    theirs = make_template(other_brand)
    assert_error(console.post(drops_url(room), {"template_id": theirs.pk, "quantity": 1}), 404, "template_not_found")
    assert not CouponDrop.unscoped.exists()


def test_a_drop_closes_when_the_room_ends(brand, console, room, mp):
    drop = console.post(drops_url(room), {"template_id": make_template(brand).pk, "quantity": 5}).json()
    type(room).unscoped.filter(pk=room.pk).update(status="ended")
    assert_error(mp.post(claim_drop_url(drop["id"])), 409, "drop_closed")
    assert mp.get(f"/api/v1/mp/rooms/{room.pk}/coupon-drops").json() == []


def test_another_brands_rooms_drops_and_offers_are_not_found(brand, console, rival_console, room, rival_mp, customer):
    template = make_template(brand, claimable=True)
    drop = console.post(drops_url(room), {"template_id": template.pk, "quantity": 5}).json()
    give(template, customer)

    assert_error(
        rival_console.post(drops_url(room), {"template_id": template.pk, "quantity": 1}), 404, "room_not_found"
    )
    assert_error(rival_console.get(drops_url(room)), 404, "room_not_found")
    assert_error(rival_mp.get(f"/api/v1/mp/rooms/{room.pk}/coupon-drops"), 404, "room_not_found")
    assert_error(rival_mp.post(claim_drop_url(drop["id"])), 404, "drop_not_found")
    assert_error(rival_mp.post(CLAIM, {"template_id": template.pk}), 404, "template_not_found")
    assert rival_mp.get("/api/v1/mp/coupons/claimable").json()["count"] == 0
    assert rival_mp.get(MY_COUPONS).json()["count"] == 0
    assert CouponDrop.unscoped.get(pk=drop["id"]).claimed == 0
    assert CouponDrop.unscoped.count() == 1


def test_lists_run_a_constant_number_of_queries(
    brand, customer, mp, console, django_assert_max_num_queries, make_customer
):
    for n in range(6):
        give(make_template(brand, name=f"T{n}"), customer)

    def count(client, url):
        with django_assert_max_num_queries(12) as captured:
            assert client.get(url).status_code == 200
        return len(captured.captured_queries)

    few = [count(mp, MY_COUPONS), count(console, "/api/v1/console/coupons"), count(console, TEMPLATES_URL)]
    for n in range(6, 12):
        give(make_template(brand, name=f"T{n}"), make_customer(brand))
    many = [count(mp, MY_COUPONS), count(console, "/api/v1/console/coupons"), count(console, TEMPLATES_URL)]
    assert few == many
