"""What the live console reads during a show: a room's products with their SKUs, prices and stock,
and the group-buy and bargain offers with their live counts. Another brand reads none of it."""

import pytest

from conftest import assert_error
from tests.commerce.conftest import create_room, create_sku
from tests.commerce.test_bargains import make_offer as make_bargain_offer
from tests.commerce.test_bargains import start as start_bargain
from tests.commerce.test_group_buys import forming_group, join
from tests.commerce.test_group_buys import make_offer as make_group_offer

pytestmark = pytest.mark.django_db

CONSOLE = "/api/v1/console"


@pytest.fixture
def people(brand, make_customer):
    return [make_customer(brand, nickname=f"Friend {i}") for i in range(4)]


def test_a_rooms_products_carry_their_skus_prices_and_stock(console, rival_console, brand, sku):
    second = create_sku(brand, product=sku.product, price=12000, stock=4, code="COAT-L", spec="L")
    create_sku(brand, product=sku.product, price=13000, stock=50, code="COAT-XL", spec="XL", is_active=False)
    room = create_room(brand, products=[sku.product])

    [listing] = console.get(f"{CONSOLE}/rooms/{room.pk}/products").json()
    assert (listing["price_type"], listing["price"], listing["price2"]) == ("fixed", 10000, None)
    assert listing["stock"] == 10 + 4  # the inactive XL is not for sale
    assert [(s["id"], s["spec"], s["price"], s["stock"], s["is_active"]) for s in listing["skus"]] == [
        (sku.pk, "M", 10000, 10, True),
        (second.pk, "L", 12000, 4, True),
        (listing["skus"][2]["id"], "XL", 13000, 50, False),
    ]
    # The console changes them through the product library's endpoints; the room reads them back.
    assert console.patch(f"{CONSOLE}/skus/{second.pk}", {"price": 9900}).status_code == 200
    assert console.post(f"{CONSOLE}/skus/{second.pk}/stock", {"delta": -3}).status_code == 200
    [listing] = console.get(f"{CONSOLE}/rooms/{room.pk}/products").json()
    assert (listing["skus"][1]["price"], listing["skus"][1]["stock"], listing["stock"]) == (9900, 1, 11)

    assert_error(rival_console.get(f"{CONSOLE}/rooms/{room.pk}/products"), 404, "room_not_found")
    assert_error(rival_console.patch(f"{CONSOLE}/skus/{second.pk}", {"price": 1}), 404, "not_found")


def test_the_room_products_list_runs_a_constant_number_of_queries(console, brand, django_assert_max_num_queries):
    skus = [create_sku(brand) for _ in range(12)]
    room = create_room(brand, products=[s.product for s in skus])
    for s in skus[:6]:
        create_sku(brand, product=s.product)
    with django_assert_max_num_queries(10):
        listings = console.get(f"{CONSOLE}/rooms/{room.pk}/products").json()
    assert len(listings) == 12 and sum(len(item["skus"]) for item in listings) == 18


def test_group_buy_offers_show_their_live_counts(console, rival_console, brand, sku, people):
    room = create_room(brand, products=[sku.product])
    offer = make_group_offer(sku, size=3, room=room)
    group = forming_group(offer, people[0])  # the starter paid: forming, one seat paid
    join(people[1], group)  # a seat held, not paid yet

    [row] = console.get(f"{CONSOLE}/group-buys?room={room.pk}").json()["results"]
    assert (row["id"], row["groups_forming"], row["groups_succeeded"], row["members_paid"]) == (offer.pk, 1, 0, 1)
    assert rival_console.get(f"{CONSOLE}/group-buys").json()["results"] == []
    assert_error(rival_console.get(f"{CONSOLE}/group-buys?room={room.pk}"), 400, "invalid")

    stopped = console.post(f"{CONSOLE}/group-buys/{offer.pk}/stop").json()
    assert stopped["is_active"] is False and "groups_forming" in stopped


def test_bargain_offers_show_their_live_counts(console, rival_console, brand, sku, people):
    room = create_room(brand, products=[sku.product])
    offer = make_bargain_offer(sku, room=room)
    start_bargain(people[0], offer)
    start_bargain(people[1], offer)

    [row] = console.get(f"{CONSOLE}/bargain-offers?room={room.pk}").json()["results"]
    assert (row["bargains_started"], row["bargains_active"], row["bargains_purchased"]) == (2, 2, 0)
    assert rival_console.get(f"{CONSOLE}/bargain-offers").json()["results"] == []
    assert_error(rival_console.post(f"{CONSOLE}/bargain-offers/{offer.pk}/stop"), 404, "bargain_offer_not_found")


def test_the_offer_lists_run_a_constant_number_of_queries(console, brand, people, django_assert_max_num_queries):
    for _ in range(8):
        sku = create_sku(brand)
        make_group_offer(sku)
        make_bargain_offer(sku)
    with django_assert_max_num_queries(8):
        assert len(console.get(f"{CONSOLE}/group-buys").json()["results"]) == 8
    with django_assert_max_num_queries(8):
        assert len(console.get(f"{CONSOLE}/bargain-offers").json()["results"]) == 8
