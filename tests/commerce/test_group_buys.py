"""Group buys (拼团): start, join through the share link, success, the deadline's refunds (once),
the brand's options, the API and isolation between brands."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from commerce.models import Group, GroupMember, Order, Refund
from commerce.payments import payment_provider
from commerce.services import group_buys
from commerce.services.orders import order_cancel
from commerce.services.payments import payment_notification_received, refund_request
from commerce.tasks import close_expired_groups
from tenants.errors import Conflict, RateLimited
from tenants.models import Membership
from tenants.scoping import brand_scope, platform_scope
from tests.commerce.conftest import (
    ADDRESS,
    commerce_rows,
    create_room,
    create_sku,
    notify_paid,
    pay_order,
    reload,
    ship_order,
    start_payment,
)
from tests.guides.conftest import make_guide, make_store, share
from tests.livestream.conftest import of_type

pytestmark = pytest.mark.django_db

GROUP_BUYS = "/api/v1/mp/group-buys"
CONSOLE = "/api/v1/console/group-buys"


def make_offer(sku, *, size=3, price=6000, **fields):
    now = timezone.now()
    return group_buys.group_buy_offer_create(
        brand=sku.brand,
        sku=sku,
        price=price,
        group_size=size,
        starts_at=now - timedelta(minutes=5),
        ends_at=now + timedelta(days=2),
        **fields,
    )


def start(customer, offer, **fields):
    group, order = group_buys.group_start(
        brand=customer.brand, customer=customer, offer=offer, address=ADDRESS, **fields
    )
    return group, Order.unscoped.get(pk=order.pk)


def join(customer, group, **fields):
    order = group_buys.group_join(brand=customer.brand, customer=customer, group=group, address=ADDRESS, **fields)
    return Order.unscoped.get(pk=order.pk)


def forming_group(offer, leader):
    group, order = start(leader, offer)
    pay_order(order)
    return reload(group)


def expire(group):
    Group.unscoped.filter(pk=group.pk).update(expires_at=timezone.now() - timedelta(seconds=1))


@pytest.fixture
def people(brand, make_customer):
    return [make_customer(brand, nickname=f"Friend {i}") for i in range(5)]


@pytest.fixture
def offer(sku):
    return make_offer(sku)


# --- the happy path ------------------------------------------------------------------------------


def test_a_group_fills_when_every_seat_is_paid_at_the_group_price(offer, people, sku):
    leader, *friends = people
    group, order = start(leader, offer)
    assert (group.status, group.seats_taken, order.payable, order.discount_total) == ("pending", 1, 6000, 4000)
    pay_order(order)
    assert reload(group).status == "forming"

    second = join(friends[0], group)
    third = join(friends[1], group)
    assert reload(group).seats_taken == 3
    pay_order(second)
    assert reload(group).status == "forming"
    pay_order(third)
    group = reload(group)
    assert (group.status, group.paid_count, group.closed_at is not None) == ("succeeded", 3, True)
    assert reload(sku).stock == 7
    shipped = ship_order(third)  # a succeeded group's orders proceed to shipping
    assert shipped.status == "shipped"


def test_joining_through_a_guides_share_credits_the_guide(brand, offer, people, sku):
    guide = make_guide(brand, "lin", store=make_store(brand))
    scene = share(brand, guide, "product", sku.product.pk).scene
    group = forming_group(offer, people[0])
    order = join(people[1], group, source=f"scene:{scene}", sharer_id=people[0].pk)
    assert (order.guide_id, order.source_scene) == (guide.pk, scene)
    with brand_scope(brand):
        assert GroupMember.objects.get(order=order).sharer_id == people[0].pk


def test_progress_is_published_to_the_offers_room(brand, sku, people, monkeypatch, django_capture_on_commit_callbacks):
    published = []
    monkeypatch.setattr("livestream.realtime._broadcast", lambda room_id, event: published.append((room_id, event)))
    room = create_room(brand, products=[sku.product])
    offer = make_offer(sku, size=2, room=room)
    with django_capture_on_commit_callbacks(execute=True):
        group = forming_group(offer, people[0])
        pay_order(join(people[1], group))
    progress = of_type(published, "group.progress")
    assert {room_id for room_id, _ in progress} == {room.pk}
    assert progress[-1][1]["status"] == "succeeded" and progress[-1][1]["paid_count"] == 2


# --- refusals: nothing written -------------------------------------------------------------------


def test_friends_wait_until_the_starter_has_paid(offer, people):
    group, _ = start(people[0], offer)
    before = commerce_rows()
    with pytest.raises(Conflict) as caught:
        join(people[1], group)
    assert caught.value.code == "group_not_open"
    assert commerce_rows() == before


def test_a_customer_cannot_join_the_same_group_twice(offer, people):
    group = forming_group(offer, people[0])
    join(people[1], group)
    for customer in (people[0], people[1]):
        with pytest.raises(Conflict) as caught:
            join(customer, group)
        assert caught.value.code == "group_already_joined"


def test_a_full_group_turns_the_next_buyer_away_with_nothing_written(offer, people, sku):
    group = forming_group(offer, people[0])
    join(people[1], group)
    join(people[2], group)
    before = commerce_rows()
    with pytest.raises(Conflict) as caught:
        join(people[3], group)
    assert caught.value.code == "group_full"
    assert commerce_rows() == before


def test_a_seat_whose_order_is_cancelled_comes_back(offer, people):
    group = forming_group(offer, people[0])
    order = join(people[1], group)
    join(people[2], group)
    order_cancel(brand=order.brand, order=order, customer=people[1])
    assert reload(group).seats_taken == 2
    join(people[1], group)  # the freed seat, for the same customer again
    assert reload(group).seats_taken == 3
    with pytest.raises(Conflict):
        join(people[3], group)


def test_new_customers_only_seats(sku, people):
    offer = make_offer(sku, new_customers_only=True)
    group = forming_group(offer, people[0])
    veteran = people[1]
    pay_order(start(veteran, make_offer(sku, size=2))[1])  # has a paid order now
    with pytest.raises(Conflict) as caught:
        join(reload(veteran), group)
    assert caught.value.code == "group_new_customers_only"
    join(people[2], group)


def test_the_per_customer_limit(sku, people):
    offer = make_offer(sku, per_customer_limit=1)
    first = forming_group(offer, people[0])
    second = forming_group(offer, people[1])
    join(people[2], first)
    with pytest.raises(Conflict) as caught:
        join(people[2], second)
    assert caught.value.code == "group_buy_limit_reached"


def test_a_stopped_or_ended_offer_refuses(offer, people, brand):
    group = forming_group(offer, people[0])
    group_buys.group_buy_offer_stop(brand=brand, offer=offer)
    for attempt in (lambda: start(people[1], offer), lambda: join(people[1], group)):
        with pytest.raises(Conflict) as caught:
            attempt()
        assert caught.value.code == "group_buy_stopped"
    assert reload(group).expires_at <= timezone.now()  # closes at the next timeout run


def test_joining_is_rate_limited(offer, people, monkeypatch):
    monkeypatch.setattr(group_buys, "JOINS_PER_MINUTE", 3)
    group = forming_group(offer, people[0])  # the first attempt
    for _ in range(2):
        with pytest.raises(Conflict):
            join(people[0], group)
    with pytest.raises(RateLimited):
        join(people[0], group)


def test_a_forming_groups_order_is_neither_shipped_nor_refunded_on_request(offer, people):
    group = forming_group(offer, people[0])
    order = Order.unscoped.get(pk=GroupMember.unscoped.get(group=group, is_leader=True).order_id)
    for attempt in (
        lambda: ship_order(order),
        lambda: refund_request(brand=order.brand, order=order, customer=people[0]),
    ):
        with pytest.raises(Conflict) as caught:
            attempt()
        assert caught.value.code == "group_not_complete"


def test_a_starter_who_never_pays_fails_the_group(offer, people):
    group, order = start(people[0], offer)
    order_cancel(brand=order.brand, order=order, customer=people[0])
    group = reload(group)
    assert (group.status, group.seats_taken) == ("failed", 0)


# --- the deadline --------------------------------------------------------------------------------


def test_a_group_short_at_its_deadline_fails_and_each_paid_member_is_refunded_once(offer, people, sku):
    group = forming_group(offer, people[0])
    paid = pay_order(join(people[1], group))
    unpaid = join(people[2], group)
    expire(group)

    assert close_expired_groups() == {"succeeded": 0, "failed": 1, "refunded": 2}
    assert close_expired_groups() == {"succeeded": 0, "failed": 0, "refunded": 0}  # the second run: nothing

    group = reload(group)
    assert group.status == "failed"
    assert reload(unpaid).status == "cancelled"
    with platform_scope():
        refunds = list(Refund.objects.filter(order__in=GroupMember.objects.filter(group=group).values("order")))
        members = dict(GroupMember.objects.filter(group=group).values_list("customer_id", "status"))
    assert len(refunds) == 2 and all(r.status == "succeeded" and r.amount == 6000 for r in refunds)
    assert reload(paid).status == "refunded" and reload(paid).refunded_total == 6000
    assert members == {people[0].pk: "refunded", people[1].pk: "refunded", people[2].pk: "released"}
    assert reload(sku).stock == 10  # every unit came back


def test_a_refund_the_provider_did_not_take_is_asked_again_with_the_same_number(offer, people, monkeypatch):
    group = forming_group(offer, people[0])
    expire(group)
    provider = payment_provider()
    real_refund, asked = provider.refund, []

    def failing(request):
        asked.append(request.out_refund_no)
        raise ConnectionError("provider down")

    monkeypatch.setattr(type(provider), "refund", lambda self, request: failing(request))
    assert close_expired_groups()["refunded"] == 1
    refund = Refund.unscoped.get()
    assert refund.status == "processing"
    monkeypatch.setattr(type(provider), "refund", lambda self, request: real_refund(request))
    close_expired_groups()  # too soon: not asked again yet
    assert reload(refund).status == "processing"
    Refund.unscoped.filter(pk=refund.pk).update(created_at=timezone.now() - timedelta(minutes=6))
    close_expired_groups()
    assert reload(refund).status == "succeeded" and asked == [refund.out_refund_no]
    assert Refund.unscoped.count() == 1


def test_fill_one_short_succeeds_a_group_one_member_short(sku, people):
    offer = make_offer(sku, fill_one_short=True)
    group = forming_group(offer, people[0])
    pay_order(join(people[1], group))
    expire(group)
    assert close_expired_groups()["succeeded"] == 1
    group = reload(group)
    assert (group.status, group.filled_short) == ("succeeded", True)
    assert Refund.unscoped.count() == 0


def test_fill_one_short_does_not_fill_a_group_two_short(sku, people):
    offer = make_offer(sku, fill_one_short=True)
    group = forming_group(offer, people[0])
    expire(group)
    assert close_expired_groups() == {"succeeded": 0, "failed": 1, "refunded": 1}


def test_a_payment_that_arrives_after_the_group_closed_is_given_back(offer, people):
    group = forming_group(offer, people[0])
    order = join(people[1], group)
    payment = start_payment(order)
    Group.unscoped.filter(pk=group.pk).update(status="failed")
    payment_notification_received(*notify_paid(order, payment))
    assert reload(order).status == "pending_payment"  # never paid; the timeout cancels it
    refund = Refund.unscoped.get(payment=payment)
    assert (refund.status, refund.amount) == ("succeeded", 6000)


# --- the API -------------------------------------------------------------------------------------


def test_start_and_join_through_the_api(offer, people, customer_client):
    leader, friend = customer_client(people[0]), customer_client(people[1])
    listed = leader.get(GROUP_BUYS)
    assert listed.status_code == 200 and listed.json()["results"][0]["id"] == offer.pk
    started = leader.post(f"{GROUP_BUYS}/{offer.pk}/groups", {"address": ADDRESS}, HTTP_IDEMPOTENCY_KEY="k1")
    assert started.status_code == 201, started.json()
    group_id, order = started.json()["group"]["id"], started.json()["order"]
    assert order["payable"] == 6000
    pay_order(Order.unscoped.get(pk=order["id"]))

    joined = friend.post(f"/api/v1/mp/groups/{group_id}/join", {"address": ADDRESS, "sharer_id": people[0].pk})
    assert joined.status_code == 201, joined.json()
    assert joined.json()["group"]["seats_taken"] == 2
    again = friend.post(f"/api/v1/mp/groups/{group_id}/join", {"address": ADDRESS})
    assert again.status_code == 409 and again.json()["error"]["code"] == "group_already_joined"
    detail = friend.get(f"/api/v1/mp/groups/{group_id}").json()
    assert [m["is_leader"] for m in detail["members"]] == [True, False]


def test_bad_input_is_400(offer, people, customer_client):
    response = customer_client(people[0]).post(f"{GROUP_BUYS}/{offer.pk}/groups", {"delivery": "drone"})
    assert response.status_code == 400 and response.json()["error"]["code"]


def test_console_creates_watches_and_stops(ops, sku, people):
    now = timezone.now()
    body = {
        "sku_id": sku.pk,
        "price": 5000,
        "group_size": 2,
        "starts_at": (now - timedelta(minutes=1)).isoformat(),
        "ends_at": (now + timedelta(days=1)).isoformat(),
    }
    created = ops.post(CONSOLE, body)
    assert created.status_code == 201, created.json()
    offer_id = created.json()["id"]
    assert ops.post(CONSOLE, {**body, "price": sku.price}).status_code == 400
    group = forming_group(_offer(sku, offer_id), people[0])
    groups = ops.get(f"{CONSOLE}/{offer_id}/groups").json()["results"]
    assert [g["id"] for g in groups] == [group.pk]
    stopped = ops.post(f"{CONSOLE}/{offer_id}/stop")
    assert stopped.status_code == 200 and stopped.json()["is_active"] is False


def _offer(sku, offer_id):
    with brand_scope(sku.brand):
        return group_buys.get_offer(offer_id)


# --- isolation -----------------------------------------------------------------------------------


def test_another_brands_customer_and_staff_get_404(offer, people, rival_mp, other_brand, make_staff, staff_client):
    group = forming_group(offer, people[0])
    rival_ops = staff_client(make_staff(other_brand, Membership.Role.OPERATOR), other_brand)
    before = commerce_rows()
    for response in (
        rival_mp.post(f"{GROUP_BUYS}/{offer.pk}/groups", {"address": ADDRESS}),
        rival_mp.get(f"/api/v1/mp/groups/{group.pk}"),
        rival_mp.post(f"/api/v1/mp/groups/{group.pk}/join", {"address": ADDRESS}),
        rival_ops.get(f"{CONSOLE}/{offer.pk}/groups"),
        rival_ops.post(f"{CONSOLE}/{offer.pk}/stop"),
    ):
        assert response.status_code == 404, response.content
    assert rival_mp.get(GROUP_BUYS).json()["results"] == []
    assert rival_ops.get(CONSOLE).json()["results"] == []
    assert commerce_rows() == before
    assert reload(offer).is_active


def test_another_brands_sku_cannot_be_offered(ops, other_brand):
    rival_sku = create_sku(other_brand)
    now = timezone.now()
    response = ops.post(
        CONSOLE,
        {
            "sku_id": rival_sku.pk,
            "price": 100,
            "group_size": 2,
            "starts_at": now.isoformat(),
            "ends_at": (now + timedelta(days=1)).isoformat(),
        },
    )
    assert response.status_code == 404


def test_admin_pages_show_only_the_brands_own(offer, people, other_brand, make_staff, make_customer):
    group = forming_group(offer, people[0])
    rival_offer = make_offer(create_sku(other_brand))
    rival_group = forming_group(rival_offer, make_customer(other_brand))
    client = Client()
    client.force_login(make_staff(other_brand, Membership.Role.OPERATOR))
    listing = client.get("/admin/commerce/group/").content.decode()
    assert f"/admin/commerce/group/{rival_group.pk}/change/" in listing
    assert f"/admin/commerce/group/{group.pk}/change/" not in listing
    assert client.get(f"/admin/commerce/group/{group.pk}/change/").status_code in (302, 404)
    assert client.get(f"/admin/commerce/groupbuyoffer/{offer.pk}/change/").status_code in (302, 404)
    assert client.get("/admin/commerce/groupbuyoffer/").status_code == 200
