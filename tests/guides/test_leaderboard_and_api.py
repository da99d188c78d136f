"""The hourly leaderboard, the guide's mobile endpoints, isolation, and the whole flow from the API."""

from datetime import timedelta

import pytest
from django.utils import timezone

from commerce.models import Order, Refund
from commerce.payments.transfers import SandboxTransferClient
from conftest import assert_error
from guides.models import CommissionEntry, LeaderboardEntry, LeaderboardHour, Settlement
from guides.services import commission, leaderboard
from tenants.scoping import brand_scope
from tests.commerce.conftest import create_room, pay_order, place_order, ship_order
from tests.guides.conftest import buy, make_guide, make_store, share, visit

pytestmark = pytest.mark.django_db


def make_campaign(brand, *, hours_ago=3, rewards=(5000, 2000), rooms=()):
    start = leaderboard.hour_floor(timezone.now()) - timedelta(hours=hours_ago)
    with brand_scope(brand):
        return leaderboard.campaign_create(
            brand=brand,
            name="Super seller",
            starts_at=start,
            ends_at=start + timedelta(hours=hours_ago + 2),
            rewards=list(rewards),
            room_ids=[room.pk for room in rooms],
        )


def paid_at(order, moment):
    Order.unscoped.filter(pk=order.pk).update(paid_at=moment)


def test_the_hour_ranks_paid_gmv_minus_refunds_within_the_hour_and_freezes_once(
    brand, make_customer, guide, other_guide, sku
):
    campaign = make_campaign(brand)
    hour = campaign.starts_at
    amy, bob = (share(brand, g, "product", sku.product.pk).scene for g in (guide, other_guide))
    for scene, quantity in ((amy, 1), (amy, 1), (bob, 3)):
        paid_at(buy(make_customer(brand), sku, quantity=quantity, scene=scene), hour + timedelta(minutes=10))
    refunded = buy(make_customer(brand), sku, quantity=2, scene=bob)
    paid_at(refunded, hour + timedelta(minutes=20))
    Refund.unscoped.create(
        brand=brand,
        order=refunded,
        out_refund_no="R-test-1",
        amount=20000,
        lines=[],
        status="succeeded",
        order_status_before="paid",
        succeeded_at=hour + timedelta(minutes=30),
    )
    late = buy(make_customer(brand), sku, scene=amy)
    paid_at(late, hour + timedelta(hours=1, minutes=5))  # the next hour

    with brand_scope(brand):
        places = leaderboard.ranking(campaign=campaign, hour_start=hour)
    assert [(p.guide_id, p.gmv, p.orders, p.reward) for p in places] == [
        (other_guide.pk, 30000, 2, 5000),
        (guide.pk, 20000, 2, 2000),
    ]

    assert leaderboard.leaderboards_freeze() == 3  # the three ended hours
    assert leaderboard.leaderboards_freeze() == 0
    first = LeaderboardHour.unscoped.get(campaign=campaign, hour_start=hour)
    assert [(e.rank, e.guide_id, e.reward) for e in LeaderboardEntry.unscoped.filter(hour=first)] == [
        (1, other_guide.pk, 5000),
        (2, guide.pk, 2000),
    ]
    rewards = CommissionEntry.unscoped.filter(leaderboard_entry__isnull=False)
    assert sorted((r.guide_id, r.kind, r.amount) for r in rewards) == sorted(
        [(guide.pk, "adjust", 2000), (other_guide.pk, "adjust", 5000), (guide.pk, "adjust", 5000)]  # + No. 1 of hour 2
    )
    with brand_scope(brand):
        assert leaderboard.hour_freeze(campaign=campaign, hour_start=hour) is None  # once


def test_a_campaign_with_rooms_counts_only_their_orders(brand, make_customer, guide, sku, room):
    campaign = make_campaign(brand, hours_ago=0, rooms=[room])
    scene = share(brand, guide, "product", sku.product.pk).scene
    buy(make_customer(brand), sku, scene=scene)  # not in the room
    in_room = place_order(make_customer(brand), [(sku, 1)], room=room, source=f"scene:{scene}")
    pay_order(in_room)
    with brand_scope(brand):
        [place] = leaderboard.ranking(campaign=campaign, hour_start=leaderboard.hour_floor(timezone.now()))
    assert (place.guide_id, place.orders) == (guide.pk, 1)


def test_guide_leaderboard_endpoint_live_and_frozen(brand, make_customer, guide, sku, guide_client):
    campaign = make_campaign(brand, hours_ago=1)
    buy(make_customer(brand), sku, scene=share(brand, guide, "product", sku.product.pk).scene)
    client = guide_client(guide)
    live = client.get("/api/v1/guide/leaderboard").json()
    assert live["campaign"]["id"] == campaign.pk and not live["frozen"]
    assert [(p["guide_id"], p["gmv"], p["rank"]) for p in live["places"]] == [(guide.pk, 10000, 1)]

    leaderboard.leaderboards_freeze()
    past = client.get("/api/v1/guide/leaderboard", {"hour": campaign.starts_at.isoformat()}).json()
    assert past["frozen"] and past["places"] == [] and len(past["frozen_hours"]) == 1
    assert_error(client.get("/api/v1/guide/leaderboard", {"hour": "yesterday"}), 400, "invalid")


def test_campaign_creation_checks_its_input(console, room, other_brand):
    now = timezone.now()
    body = {
        "name": "X",
        "starts_at": now.isoformat(),
        "ends_at": (now - timedelta(hours=1)).isoformat(),
        "rewards": [1],
    }
    assert_error(console.post("/api/v1/console/campaigns", body), 400, "invalid")
    body["ends_at"] = (now + timedelta(hours=1)).isoformat()
    assert_error(console.post("/api/v1/console/campaigns", {**body, "rewards": [1.5]}), 400, "invalid")
    assert_error(
        console.post("/api/v1/console/campaigns", {**body, "room_ids": [create_room(other_brand).pk]}),
        404,
        "room_not_found",
    )
    made = console.post("/api/v1/console/campaigns", {**body, "room_ids": [room.pk]})
    assert made.status_code == 201 and made.json()["room_ids"] == [room.pk]


# --- guide endpoints and isolation --------------------------------------------------------------


def test_a_guide_sees_only_their_own_shares_customers_orders_and_ledger(
    brand, make_customer, guide, other_guide, sku, guide_client
):
    with brand_scope(brand):
        commission.policy_set(brand=brand, default_rate_bp=500)
    mine = share(brand, guide, "product", sku.product.pk)
    theirs = share(brand, other_guide, "product", sku.product.pk)
    customer = make_customer(brand)
    visit(customer, mine.scene)
    buy(customer, sku)
    buy(make_customer(brand), sku, scene=theirs.scene)
    client = guide_client(guide)

    assert [s["id"] for s in client.get("/api/v1/guide/shares").json()["results"]] == [mine.pk]
    assert [c["customer_id"] for c in client.get("/api/v1/guide/customers").json()["results"]] == [customer.pk]
    [order] = client.get("/api/v1/guide/orders").json()["results"]
    assert order["customer_nickname"] == customer.nickname
    [entry] = client.get("/api/v1/guide/commissions").json()["results"]
    assert (entry["kind"], entry["amount"]) == ("accrue", 500)
    dashboard = client.get("/api/v1/guide/dashboard").json()
    assert dashboard["today"] == {"orders": 1, "gmv": 10000} and dashboard["commission"]["pending"] == 500
    assert dashboard["bound_customers"] == 1

    poster = client.get(f"/api/v1/guide/shares/{mine.pk}/poster.png")
    assert poster.status_code == 200 and poster["Content-Type"] == "image/png"
    assert_error(client.get(f"/api/v1/guide/shares/{theirs.pk}/poster.png"), 404, "share_not_found")
    assert_error(client.get(f"/api/v1/guide/shares/{mine.pk}/secret.png"), 404, "not_found")


def test_a_store_manager_sees_only_their_stores_guides(brand, guide, other_guide, manager, staff_client):
    elsewhere = make_guide(brand, "far", store=make_store(brand, "BJ-9"))
    team = staff_client(manager, brand).get("/api/v1/guide/team").json()["results"]
    assert {g["id"] for g in team} >= {guide.pk, other_guide.pk} and elsewhere.pk not in {g["id"] for g in team}
    assert all("payable" in g["stats"] for g in team)
    assert_error(staff_client(manager, brand).get("/api/v1/guide/dashboard"), 404, "guide_not_found")


def test_nothing_crosses_brands(brand, other_brand, make_staff, staff_client, rival_console, guide, sku, room):
    mine = share(brand, guide, "room", room.pk)
    for path in (
        f"/api/v1/console/guides/{guide.pk}",
        f"/api/v1/console/stores/{guide.store_id}",
        f"/api/v1/console/shares/{mine.pk}/poster.png",
        f"/api/v1/console/leaderboard?campaign={make_campaign(brand).pk}",
    ):
        assert rival_console.get(path).status_code == 404, path
    assert rival_console.get("/api/v1/console/guides").json()["count"] == 0
    assert rival_console.get("/api/v1/console/commissions").json()["count"] == 0
    assert_error(rival_console.post(f"/api/v1/console/guides/{guide.pk}/leave"), 404, "guide_not_found")
    assert_error(rival_console.post("/api/v1/console/settlements/run", {"guide_id": guide.pk}), 404, "guide_not_found")
    assert_error(
        rival_console.post("/api/v1/console/shares", {"target": "room", "target_id": room.pk}), 404, "room_not_found"
    )
    rival_guide = make_guide(other_brand, "rivalg")
    client = staff_client(rival_guide.user, other_brand)
    assert client.get("/api/v1/guide/shares").json()["count"] == 0
    assert_error(client.get(f"/api/v1/guide/shares/{mine.pk}/code.png"), 404, "share_not_found")
    assert_error(
        client.post("/api/v1/guide/shares", {"target": "product", "target_id": sku.product.pk}),
        404,
        "product_not_found",
    )
    assert staff_client(rival_guide.user, brand).get("/api/v1/guide/dashboard").status_code == 403


# --- the whole flow, from the API --------------------------------------------------------------


def test_a_guide_shares_a_customer_buys_and_the_guide_is_paid_once(
    brand, make_customer, customer_client, console, anon, sku, room
):
    policy = console.put(
        "/api/v1/console/commission/policy", {"default_rate_bp": 1000, "leader_rate_bp": 0}, format="json"
    )
    assert policy.json() == {"default_rate_bp": 1000, "leader_rate_bp": 0}
    store = console.post("/api/v1/console/stores", {"code": "SH-1", "name": "Jing'an"}).json()
    made = console.post(
        "/api/v1/console/guides",
        {"username": "amy", "password": "correct-horse-9", "name": "Amy", "store_id": store["id"], "openid": "oAmy"},
    )
    assert made.status_code == 201, made.content
    login = anon.post("/api/v1/staff/login", {"username": "amy", "password": "correct-horse-9"}).json()
    from conftest import Client

    guide = Client(token=login["access"], brand=brand)
    shared = guide.post("/api/v1/guide/shares", {"target": "room", "target_id": room.pk})
    assert shared.status_code == 201
    assert guide.get(shared.json()["poster_url"]).status_code == 200

    customer = make_customer(brand)
    buyer = customer_client(customer)
    entered = buyer.post("/api/v1/mp/visits", {"scene": shared.json()["scene"]}).json()
    order = buyer.post(
        "/api/v1/mp/orders",
        {
            "lines": [{"sku": sku.pk, "quantity": 2}],
            "room_id": room.pk,
            "source": entered["source"],
            "address": {
                "name": "Lin",
                "phone": "13800000000",
                "province": "SH",
                "city": "SH",
                "district": "JA",
                "detail": "1 Rd",
            },
        },
    )
    assert order.status_code == 201, order.content
    order = Order.unscoped.get(pk=order.json()["id"])
    assert order.guide.user.username == "amy" and order.store_id == store["id"]
    pay_order(order)
    ship_order(order)
    assert buyer.post(f"/api/v1/mp/orders/{order.pk}/confirm").status_code == 200
    assert guide.get("/api/v1/guide/dashboard").json()["commission"]["pending"] == 2000

    Order.unscoped.filter(pk=order.pk).update(
        completed_at=timezone.now() - timedelta(days=brand.return_window_days + 1)
    )
    from guides.tasks import settle_commissions

    settle_commissions.delay()
    settle_commissions.delay()
    [paid] = Settlement.unscoped.all()
    assert (paid.status, paid.amount) == ("paid", 2000) and len(SandboxTransferClient.bills) == 1
    assert guide.get("/api/v1/guide/dashboard").json()["commission"]["settled"] == 2000
    assert console.get("/api/v1/console/settlements").json()["results"][0]["amount"] == 2000
    assert [s["amount"] for s in guide.get("/api/v1/guide/settlements").json()["results"]] == [2000]
