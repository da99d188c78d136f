"""Bargains (砍价): the drawn cuts, helping (once each, K a day), buying once at the price reached,
the API and isolation between brands."""

import random
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from commerce.models import Bargain, BargainHelp, Order, OrderLine
from commerce.services import bargains
from commerce.services.orders import order_cancel
from tenants.errors import Conflict, RateLimited
from tenants.models import Membership
from tests.commerce.conftest import ADDRESS, commerce_rows, create_room, create_sku, pay_order, reload
from tests.livestream.conftest import of_type

pytestmark = pytest.mark.django_db

MP = "/api/v1/mp"
CONSOLE = "/api/v1/console/bargain-offers"


def make_offer(sku, *, floor_price=4000, helpers_needed=3, **fields):
    now = timezone.now()
    return bargains.bargain_offer_create(
        brand=sku.brand,
        sku=sku,
        floor_price=floor_price,
        helpers_needed=helpers_needed,
        starts_at=now - timedelta(minutes=5),
        ends_at=now + timedelta(days=2),
        **fields,
    )


def start(customer, offer):
    return bargains.bargain_start(brand=customer.brand, customer=customer, offer=offer)


def help_(helper, bargain):
    return bargains.bargain_help(brand=helper.brand, helper=helper, bargain=bargain)


def buy(customer, bargain):
    order = bargains.bargain_buy(brand=customer.brand, customer=customer, bargain=bargain, address=ADDRESS)
    return Order.unscoped.get(pk=order.pk)


@pytest.fixture
def people(brand, make_customer):
    return [make_customer(brand, nickname=f"Friend {i}") for i in range(6)]


@pytest.fixture
def offer(sku):
    return make_offer(sku)  # 100.00 down to 40.00 after 3 friends


# --- the cuts ------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(50))
def test_the_drawn_cuts_sum_exactly_to_the_gap_largest_first(seed):
    rng = random.Random(seed)
    helpers = rng.randint(1, 100)
    gap = rng.randint(helpers, 200_000)
    cuts = bargains.draw_cuts(gap, helpers, rng)
    assert len(cuts) == helpers and sum(cuts) == gap and min(cuts) >= 1
    assert cuts == sorted(cuts, reverse=True)
    if helpers > 2 and gap >= 100 * helpers:
        assert cuts[0] > cuts[-1]


def test_a_gap_of_one_fen_per_helper_gives_each_one_fen():
    assert bargains.draw_cuts(5, 5) == [1] * 5
    with pytest.raises(ValueError):
        bargains.draw_cuts(4, 5)


# --- helping and buying --------------------------------------------------------------------------


def test_the_required_helpers_bring_the_price_exactly_to_the_floor(offer, people):
    starter, *friends = people
    bargain = start(starter, offer)
    amounts = [help_(friend, bargain).amount for friend in friends[:3]]
    bargain = reload(bargain)
    assert amounts == bargain.plan and sum(amounts) == 6000
    assert (bargain.cut_total, bargain.current_price) == (6000, 4000)
    with pytest.raises(Conflict) as caught:
        help_(friends[3], bargain)
    assert caught.value.code == "bargain_at_floor"
    order = buy(starter, bargain)
    line = OrderLine.unscoped.get(order=order)
    assert (order.payable, order.discount_total, line.discount) == (4000, 6000, 6000)
    pay_order(order)
    assert reload(bargain).status == "purchased"
    with pytest.raises(Conflict) as caught:
        buy(starter, bargain)
    assert caught.value.code == "bargain_closed"


def test_the_starter_may_buy_at_the_current_price_before_the_floor(offer, people):
    bargain = start(people[0], offer)
    first = help_(people[1], bargain).amount
    order = buy(people[0], bargain)
    assert order.payable == 10000 - first
    with pytest.raises(Conflict) as caught:
        help_(people[2], bargain)  # bought: no more cuts
    assert caught.value.code == "bargain_closed"


def test_an_unpaid_order_cancelled_gives_the_bargain_back(offer, people):
    bargain = start(people[0], offer)
    order = buy(people[0], bargain)
    order_cancel(brand=order.brand, order=order, customer=people[0])
    bargain = reload(bargain)
    assert (bargain.status, bargain.order_id) == ("active", None)
    help_(people[1], bargain)
    assert buy(people[0], bargain).status == "pending_payment"


def test_a_retried_buy_with_the_same_key_answers_the_same_order(offer, people):
    bargain = start(people[0], offer)
    kwargs = {"brand": people[0].brand, "customer": people[0], "address": ADDRESS, "idempotency_key": "buy-1"}
    first = bargains.bargain_buy(bargain=bargain, **kwargs)
    assert bargains.bargain_buy(bargain=bargain, **kwargs).pk == first.pk
    with pytest.raises(Conflict):
        bargains.bargain_buy(bargain=bargain, **{**kwargs, "idempotency_key": "buy-2"})


def test_only_the_starter_buys(offer, people):
    bargain = start(people[0], offer)
    with pytest.raises(Exception) as caught:
        buy(people[1], bargain)
    assert caught.value.code == "bargain_not_found"


def test_one_bargain_per_customer_and_offer(offer, people):
    start(people[0], offer)
    with pytest.raises(Conflict) as caught:
        start(people[0], offer)
    assert caught.value.code == "bargain_already_started"


def test_helpers_help_once_and_not_their_own(offer, people):
    bargain = start(people[0], offer)
    help_(people[1], bargain)
    for helper, code in ((people[1], "bargain_already_helped"), (people[0], "bargain_own")):
        with pytest.raises(Conflict) as caught:
            help_(helper, bargain)
        assert caught.value.code == code
    assert BargainHelp.unscoped.count() == 1


def test_a_helper_helps_at_most_k_bargains_a_day(sku, people, brand, make_customer):
    offer = make_offer(sku, helps_per_day=2)
    helper = people[0]
    started = [start(customer, offer) for customer in people[1:4]]
    help_(helper, started[0])
    help_(helper, started[1])
    before = commerce_rows(), list(BargainHelp.unscoped.values())
    with pytest.raises(Conflict) as caught:
        help_(helper, started[2])
    assert caught.value.code == "bargain_daily_limit"
    assert (commerce_rows(), list(BargainHelp.unscoped.values())) == before
    assert reload(started[2]).cut_total == 0


def test_a_new_customers_cut_counts_twice_with_the_boost(sku, people):
    offer = make_offer(sku, helpers_needed=4, new_customer_boost=True)
    bargain = start(people[0], offer)
    veteran = people[1]
    pay_order(buy(veteran, start(veteran, make_offer(create_sku(sku.brand), helpers_needed=1))))
    new = help_(people[2], bargain)
    old = help_(reload(veteran), bargain)
    plan = reload(bargain).plan
    assert (new.amount, old.amount) == (plan[0] + plan[1], plan[2])
    last = help_(people[3], bargain)
    assert last.amount == plan[3]  # only one slot left
    assert reload(bargain).current_price == 4000


def test_an_expired_bargain_is_closed(offer, people):
    bargain = start(people[0], offer)
    Bargain.unscoped.filter(pk=bargain.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    for attempt in (lambda: help_(people[1], bargain), lambda: buy(people[0], bargain)):
        with pytest.raises(Conflict) as caught:
            attempt()
        assert caught.value.code == "bargain_closed"
        assert caught.value.fields == {"status": "expired"}


def test_a_stopped_offer_starts_no_bargain(offer, people, brand):
    bargains.bargain_offer_stop(brand=brand, offer=offer)
    with pytest.raises(Conflict) as caught:
        start(people[0], offer)
    assert caught.value.code == "bargain_offer_stopped"


def test_helping_is_rate_limited(offer, people, monkeypatch):
    monkeypatch.setattr(bargains, "HELPS_PER_MINUTE", 2)
    bargain = start(people[0], offer)
    help_(people[1], bargain)
    with pytest.raises(Conflict):
        help_(people[1], bargain)
    with pytest.raises(RateLimited):
        help_(people[1], bargain)


def test_progress_is_published_to_the_offers_room(brand, sku, people, monkeypatch, django_capture_on_commit_callbacks):
    published = []
    monkeypatch.setattr("livestream.realtime._broadcast", lambda room_id, event: published.append((room_id, event)))
    room = create_room(brand, products=[sku.product])
    bargain = start(people[0], make_offer(sku, room=room))
    with django_capture_on_commit_callbacks(execute=True):
        help_(people[1], bargain)
    [(room_id, data)] = of_type(published, "bargain.progress")
    assert room_id == room.pk and data["current_price"] == reload(bargain).current_price


def test_an_offer_needs_a_fen_per_helper_and_a_floor_below_the_price(sku):
    for fields in ({"floor_price": 10000}, {"floor_price": 9998, "helpers_needed": 3}):
        with pytest.raises(Exception) as caught:
            make_offer(sku, **fields)
        assert caught.value.status_code == 400


# --- the API -------------------------------------------------------------------------------------


def test_start_help_and_buy_through_the_api(offer, people, customer_client):
    starter, friend = customer_client(people[0]), customer_client(people[1])
    assert starter.get(f"{MP}/bargain-offers").json()["results"][0]["id"] == offer.pk
    started = starter.post(f"{MP}/bargain-offers/{offer.pk}/bargains")
    assert started.status_code == 201, started.json()
    bargain_id = started.json()["id"]
    assert started.json()["current_price"] == 10000 and started.json()["helpers_needed"] == 3
    helped = friend.post(f"{MP}/bargains/{bargain_id}/help")
    assert helped.status_code == 201, helped.json()
    assert helped.json()["bargain"]["current_price"] == 10000 - helped.json()["amount"]
    again = friend.post(f"{MP}/bargains/{bargain_id}/help")
    assert again.status_code == 409 and again.json()["error"]["code"] == "bargain_already_helped"
    assert len(friend.get(f"{MP}/bargains/{bargain_id}").json()["helps"]) == 1
    bought = starter.post(f"{MP}/bargains/{bargain_id}/buy", {"address": ADDRESS})
    assert bought.status_code == 201, bought.json()
    assert bought.json()["payable"] == 10000 - helped.json()["amount"]
    assert friend.post(f"{MP}/bargains/{bargain_id}/buy", {"address": ADDRESS}).status_code == 404


def test_console_creates_watches_and_stops(ops, sku, people):
    now = timezone.now()
    body = {
        "sku_id": sku.pk,
        "floor_price": 5000,
        "helpers_needed": 5,
        "starts_at": (now - timedelta(minutes=1)).isoformat(),
        "ends_at": (now + timedelta(days=1)).isoformat(),
    }
    created = ops.post(CONSOLE, body)
    assert created.status_code == 201, created.json()
    offer_id = created.json()["id"]
    assert ops.post(CONSOLE, {**body, "floor_price": 0}).status_code == 400
    bargain = start(people[0], bargains.BargainOffer.unscoped.get(pk=offer_id))
    assert [b["id"] for b in ops.get(f"{CONSOLE}/{offer_id}/bargains").json()["results"]] == [bargain.pk]
    stopped = ops.post(f"{CONSOLE}/{offer_id}/stop")
    assert stopped.status_code == 200 and stopped.json()["is_active"] is False


# --- isolation -----------------------------------------------------------------------------------


def test_another_brands_customer_and_staff_get_404(offer, people, rival_mp, other_brand, make_staff, staff_client):
    bargain = start(people[0], offer)
    rival_ops = staff_client(make_staff(other_brand, Membership.Role.OPERATOR), other_brand)
    before = commerce_rows(), list(Bargain.unscoped.values()), list(BargainHelp.unscoped.values())
    for response in (
        rival_mp.post(f"{MP}/bargain-offers/{offer.pk}/bargains"),
        rival_mp.get(f"{MP}/bargains/{bargain.pk}"),
        rival_mp.post(f"{MP}/bargains/{bargain.pk}/help"),
        rival_mp.post(f"{MP}/bargains/{bargain.pk}/buy", {"address": ADDRESS}),
        rival_ops.get(f"{CONSOLE}/{offer.pk}/bargains"),
        rival_ops.post(f"{CONSOLE}/{offer.pk}/stop"),
    ):
        assert response.status_code == 404, response.content
    assert rival_mp.get(f"{MP}/bargain-offers").json()["results"] == []
    assert rival_ops.get(CONSOLE).json()["results"] == []
    assert (commerce_rows(), list(Bargain.unscoped.values()), list(BargainHelp.unscoped.values())) == before
    assert reload(offer).is_active


def test_admin_pages_show_only_the_brands_own(offer, people, other_brand, make_staff, make_customer):
    bargain = start(people[0], offer)
    rival_bargain = start(make_customer(other_brand), make_offer(create_sku(other_brand)))
    client = Client()
    client.force_login(make_staff(other_brand, Membership.Role.OPERATOR))
    listing = client.get("/admin/commerce/bargain/").content.decode()
    assert f"/admin/commerce/bargain/{rival_bargain.pk}/change/" in listing
    assert f"/admin/commerce/bargain/{bargain.pk}/change/" not in listing
    assert client.get(f"/admin/commerce/bargain/{bargain.pk}/change/").status_code in (302, 404)
    assert client.get(f"/admin/commerce/bargainoffer/{offer.pk}/change/").status_code in (302, 404)
    assert client.get("/admin/commerce/bargainoffer/").status_code == 200
