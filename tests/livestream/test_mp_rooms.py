"""The mini-program's rooms: the list (live, then upcoming, then replays) and a room's detail
with its on-sale products, counters and the viewer's reminder, in a constant number of queries."""

import time
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from commerce.models import Product, Sku
from conftest import assert_error, clear_cache
from livestream import realtime
from livestream.models import CoStream, LiveRoom, ReminderSubscription, RoomProduct
from tenants.models import Brand

ROOMS = "/api/v1/mp/rooms"


def make_room(brand, title="Spring launch", *, status="scheduled", starts_in=timedelta(hours=1), **fields):
    """A room in any state, written directly (the scheduling rules are tested elsewhere)."""
    now = timezone.now()
    start = now + starts_in
    if status in ("live", "paused", "ended"):
        fields.setdefault("started_at", start)
    if status == "ended":
        fields.setdefault("ended_at", start + timedelta(hours=1))
    return LiveRoom.objects.create(
        brand=brand,
        title=title,
        anchor_name="Lin Wei",
        status=status,
        scheduled_start=start,
        scheduled_end=start + timedelta(hours=2),
        **fields,
    )


def make_product(brand, name, *, skus=1, **fields):
    values = {"price": 1990, "status": "on_shelf", "audit_status": "approved", **fields}
    product = Product.objects.create(brand=brand, name=name, images=[f"https://img.example/{name}.jpg"], **values)
    for n in range(skus):
        Sku.objects.create(brand=brand, product=product, code=f"{name}-{n}", spec=f"Size {n}", price=1990, stock=n)
    return product


def list_product(room, product, position, **fields):
    return RoomProduct.objects.create(brand=room.brand, room=room, product=product, position=position, **fields)


def titles(response):
    assert response.status_code == 200, response.content[:300]
    return [room["title"] for room in response.json()["results"]]


@pytest.fixture(autouse=True)
def live_store():
    """The live counters' store (Redis, or this process's memory), empty for each test."""
    realtime.reset_store()
    yield realtime.store()
    realtime.reset_store()


def viewers(room, count):
    """``count`` sockets in the room, heard of just now."""
    realtime.store().heartbeat({room.pk: [f"socket-{room.pk}-{n}" for n in range(count)]}, time.time())


@pytest.fixture
def customer(brand, make_customer):
    return make_customer(brand)


@pytest.fixture
def client(customer, customer_client):
    return customer_client(customer)


@pytest.fixture
def rooms(brand):
    """One room of each kind the list knows, and some it must never show."""
    return {
        "live": make_room(brand, "Live early", status="live", starts_in=-timedelta(hours=2)),
        "paused": make_room(brand, "Paused late", status="paused", starts_in=-timedelta(minutes=30)),
        "soon": make_room(brand, "Upcoming soon", starts_in=timedelta(hours=1)),
        "later": make_room(brand, "Upcoming later", starts_in=timedelta(days=2)),
        "old replay": make_room(brand, "Replay old", status="ended", starts_in=-timedelta(days=3)),
        "new replay": make_room(brand, "Replay new", status="ended", starts_in=-timedelta(days=1)),
        "no replay": make_room(brand, "Ended no replay", status="ended", replay_enabled=False),
        "cancelled": make_room(brand, "Cancelled", status="cancelled"),
        "banned": make_room(brand, "Banned", status="banned", starts_in=-timedelta(hours=1)),
    }


# --- the list --------------------------------------------------------------------------------
def test_list_shows_live_then_upcoming_soonest_first_then_replays_newest_first(rooms, client):
    shown = titles(client.get(ROOMS))

    assert set(shown[:2]) == {"Live early", "Paused late"}
    assert shown[2:] == ["Upcoming soon", "Upcoming later", "Replay new", "Replay old"]


@pytest.mark.parametrize(
    "status, expected",
    [
        ("live", {"Live early", "Paused late"}),
        ("upcoming", ["Upcoming soon", "Upcoming later"]),
        ("replay", ["Replay new", "Replay old"]),
    ],
)
def test_list_filters_by_status(rooms, client, status, expected):
    shown = titles(client.get(ROOMS, {"status": status}))

    assert (set(shown) if isinstance(expected, set) else shown) == expected


def test_list_refuses_an_unknown_status(client):
    error = assert_error(client.get(ROOMS, {"status": "cancelled"}), 400, "invalid")
    assert "status" in error["fields"]


def test_list_shows_only_the_viewers_brand(brand, other_brand, client):
    make_room(brand, "Ours")
    make_room(other_brand, "Theirs", status="live")

    assert titles(client.get(ROOMS)) == ["Ours"]


def test_list_cards_carry_counters_pushed_product_and_subscription(brand, customer, client):
    room = make_room(brand, "Ours", status="live", like_total=321)
    listing = list_product(room, make_product(brand, "Tea"), 0)
    LiveRoom.unscoped.filter(pk=room.pk).update(pushed_product=listing)
    upcoming = make_room(brand, "Next week", starts_in=timedelta(days=7))
    ReminderSubscription.objects.create(brand=brand, room=upcoming, customer=customer)
    viewers(room, 42)

    live_card, upcoming_card = client.get(ROOMS).json()["results"]

    assert (live_card["likes"], live_card["online"], live_card["subscribed"]) == (321, 42, False)
    assert live_card["pushed_product"]["name"] == "Tea"
    assert (upcoming_card["likes"], upcoming_card["online"], upcoming_card["subscribed"]) == (0, 0, True)
    assert upcoming_card["pushed_product"] is None


def test_list_runs_the_same_queries_for_a_page_of_20_rooms_as_for_2(brand, customer, client):
    def add_rooms(count, offset):
        for n in range(count):
            room = make_room(brand, f"Room {offset + n}", starts_in=timedelta(hours=offset + n + 1))
            listing = list_product(room, make_product(brand, f"P{offset + n}"), 0)
            LiveRoom.unscoped.filter(pk=room.pk).update(pushed_product=listing)
            ReminderSubscription.objects.create(brand=brand, room=room, customer=customer)

    add_rooms(2, 0)
    with CaptureQueriesContext(connection) as two:
        assert len(client.get(ROOMS).json()["results"]) == 2

    add_rooms(23, 2)
    with CaptureQueriesContext(connection) as twenty:
        response = client.get(ROOMS)
    assert len(response.json()["results"]) == 20 and response.json()["count"] == 25
    assert len(twenty) == len(two) <= 4, [query["sql"] for query in twenty.captured_queries]


# --- the detail ------------------------------------------------------------------------------
def test_detail_shows_only_sellable_products_in_room_order_with_active_skus(brand, customer, client):
    room = make_room(brand, status="live", like_total=1234)
    tea = make_product(brand, "Tea", skus=2)
    Sku.objects.create(brand=brand, product=tea, code="tea-retired", price=990, stock=5, is_active=False)
    cake = make_product(brand, "Cake", price_type="discount", price=3000, price2=2500)
    pushed = list_product(room, cake, 5)
    list_product(room, tea, 2)
    list_product(room, make_product(brand, "Paused sale"), 1, on_sale=False)
    list_product(room, make_product(brand, "Off shelf", status="off_shelf"), 3)
    list_product(room, make_product(brand, "Unaudited", audit_status="pending"), 4)
    list_product(room, make_product(brand, "Archived", status="archived", archived_at=timezone.now()), 6)
    LiveRoom.unscoped.filter(pk=room.pk).update(pushed_product=pushed)
    viewers(room, 7)

    body = client.get(f"{ROOMS}/{room.pk}").json()

    assert [product["name"] for product in body["products"]] == ["Tea", "Cake"]
    tea_card, cake_card = body["products"]
    assert [(sku["spec"], sku["in_stock"]) for sku in tea_card["skus"]] == [("Size 0", False), ("Size 1", True)]
    assert tea_card["cover_url"] == "https://img.example/Tea.jpg" and tea_card["position"] == 2
    assert (cake_card["price_type"], cake_card["price"], cake_card["price2"]) == ("discount", 3000, 2500)
    assert body["pushed_product"] == {
        "id": cake.pk,
        "name": "Cake",
        "cover_url": "https://img.example/Cake.jpg",
        "price_type": "discount",
        "price": 3000,
        "price2": 2500,
    }
    assert (body["likes"], body["online"]) == (1234, 7)
    assert body["status"] == "live"
    assert "subscribed" not in body  # the viewer's own: GET .../me (the detail is the same for everyone)


def test_the_viewers_own_part_shows_their_subscription(brand, customer, make_customer, client):
    room = make_room(brand)
    someone_else = make_customer(brand)
    ReminderSubscription.objects.create(brand=brand, room=room, customer=someone_else)

    assert client.get(f"{ROOMS}/{room.pk}/me").json()["subscribed"] is False
    ReminderSubscription.objects.create(brand=brand, room=room, customer=customer)
    assert client.get(f"{ROOMS}/{room.pk}/me").json()["subscribed"] is True


def test_detail_runs_at_most_six_queries_whatever_the_product_count(
    brand, customer, client, django_assert_max_num_queries
):
    def room_with(count):
        room = make_room(brand, f"{count} products", status="live")
        listings = [list_product(room, make_product(brand, f"R{count}P{n}", skus=3), n) for n in range(count)]
        LiveRoom.unscoped.filter(pk=room.pk).update(pushed_product=listings[0])
        ReminderSubscription.objects.create(brand=brand, room=room, customer=customer)
        return room

    small, big = room_with(3), room_with(100)

    with CaptureQueriesContext(connection) as few:
        assert len(client.get(f"{ROOMS}/{small.pk}").json()["products"]) == 3
    clear_cache()  # both are misses, with nothing cached for the brand
    with django_assert_max_num_queries(6), CaptureQueriesContext(connection) as many:
        body = client.get(f"{ROOMS}/{big.pk}").json()
    assert len(body["products"]) == 100 and all(len(product["skus"]) == 3 for product in body["products"])
    assert len(many) == len(few)


@pytest.mark.parametrize("status, shown", [("accepted", True), ("invited", False), ("ended", False)])
def test_detail_shows_an_accepted_costream_within_six_queries(
    brand, other_brand, client, django_assert_max_num_queries, status, shown
):
    room = make_room(brand, "Linked", status="live")
    for n in range(100):
        list_product(room, make_product(brand, f"C{n}", skus=3), n)
    partner = make_room(other_brand, "Partner", status="live")
    costream = CoStream.unscoped.create(
        brand=other_brand,
        inviter_room=partner,
        invitee_brand=brand,
        invitee_room=room,
        status=status,
        accepted_at=timezone.now() if status != "invited" else None,
    )

    with django_assert_max_num_queries(6):
        body = client.get(f"{ROOMS}/{room.pk}").json()

    assert len(body["products"]) == 100
    if shown:
        assert body["costream"]["id"] == costream.pk and body["costream"]["partner"]["room_id"] == partner.pk
    else:
        assert body["costream"] is None


def test_another_brands_room_is_not_found(other_brand, client):
    rival = make_room(other_brand, status="live")

    assert_error(client.get(f"{ROOMS}/{rival.pk}"), 404, "room_not_found")


@pytest.mark.parametrize("status", ["cancelled", "banned"])
def test_cancelled_or_banned_room_is_not_found(brand, client, status):
    room = make_room(brand, status=status)

    assert_error(client.get(f"{ROOMS}/{room.pk}"), 404, "room_not_found")


def test_customer_of_a_suspended_brand_is_forbidden(brand, client):
    room = make_room(brand, status="live")
    Brand.objects.filter(pk=brand.pk).update(status=Brand.Status.SUSPENDED)

    assert_error(client.get(ROOMS), 403, "brand_suspended")
    assert_error(client.get(f"{ROOMS}/{room.pk}"), 403, "brand_suspended")
