"""The report's games and offers (lotteries, gift boxes, group buys, bargains) against a small
hand-made show whose every figure is known; exports, the admin page, isolation between brands,
and a report whose query count stays the same however big the show grows."""

import csv
import io
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from openpyxl import load_workbook

from commerce.models import Bargain, BargainHelp, BargainOffer, Group, GroupBuyOffer, GroupMember, Order, Sku
from livestream import reports
from livestream.models import (
    GiftBox,
    GiftBoxOpening,
    GiftBoxPrize,
    LiveRoom,
    Lottery,
    LotteryEntry,
    LotteryWinner,
    ProductClick,
    ViewingSession,
)
from tenants.models import Membership
from tenants.scoping import brand_scope
from tests.coupons.conftest import make_template
from tests.livestream.test_report import REPORT_QUERIES, show  # noqa: F401  (the hand-made show)

_numbers = iter(range(1, 10**6))


def lottery(brand, room, title, *, entrants, winners=(), status="drawn", prize_kind="physical", template=None):
    """A lottery with its entries and winners (``winners``: (customer, status) in rank order)."""
    row = Lottery.objects.create(
        brand=brand, room=room, title=title, prize_kind=prize_kind, coupon_template=template,
        prize_name="" if template else "Silk scarf", winner_count=max(len(winners), 1), status=status,
        seed="s" * 64, commitment="c" * 64, entrant_count=len(entrants),
    )  # fmt: skip
    for customer in entrants:
        LotteryEntry.objects.create(brand=brand, lottery=row, customer=customer)
    for rank, (customer, won) in enumerate(winners, start=1):
        LotteryWinner.objects.create(brand=brand, lottery=row, customer=customer, rank=rank, status=won)
    return row


def order(brand, customer, payable, *, paid):
    n = next(_numbers)
    return Order.objects.create(
        brand=brand, number=f"GB{n}", customer=customer, items_total=payable, payable=payable,
        expires_at=timezone.now() + timedelta(minutes=15), paid_at=timezone.now() if paid else None,
        status="paid" if paid else "cancelled",
    )  # fmt: skip


def group(brand, offer, leader, status, members):
    """A group of ``offer``; ``members``: (customer, member status); each holds an order."""
    row = Group.objects.create(
        brand=brand, offer=offer, leader=leader, status=status, size=offer.group_size,
        seats_taken=sum(s in ("holding", "paid") for _, s in members),
        paid_count=sum(s == "paid" for _, s in members), expires_at=timezone.now() + timedelta(hours=1),
    )  # fmt: skip
    for customer, member_status in members:
        paid = member_status in ("paid", "refunded")
        GroupMember.objects.create(
            brand=brand, group=row, offer=offer, customer=customer, is_leader=customer == leader,
            status=member_status, order=order(brand, customer, offer.price, paid=paid),
            paid_at=timezone.now() if paid else None,
        )  # fmt: skip
    return row


def bargain(brand, offer, customer, status, plan, helpers):
    """A bargain whose first ``len(helpers)`` cuts of ``plan`` were taken by ``helpers``."""
    row = Bargain.objects.create(
        brand=brand, offer=offer, customer=customer, status=status, start_price=offer.sku.price,
        floor_price=offer.floor_price, plan=plan, slots_used=len(helpers), cut_total=sum(plan[: len(helpers)]),
        expires_at=timezone.now() + timedelta(hours=1),
    )  # fmt: skip
    for amount, helper in zip(plan, helpers, strict=False):
        BargainHelp.objects.create(
            brand=brand, bargain=row, helper=helper, amount=amount, day=timezone.now().date(),
            daily_slot=BargainHelp.objects.filter(helper=helper).count() + 1,
        )  # fmt: skip
    return row


def offer_window():
    now = timezone.now()
    return {"starts_at": now - timedelta(days=1), "ends_at": now + timedelta(days=1)}


@pytest.fixture
def games(brand, other_brand, show, make_customer, make_room, make_product):  # noqa: F811
    """On the show: 3 lotteries (7 entries by 6 customers; 5 winners: a coupon issued, one that
    failed, an address given, one awaited, one lapsed), a gift box opened 5 times (a coupon,
    points, an item, thanks, an empty pool), 2 group-buy offers (3 groups: succeeded, failed,
    forming; 5 seats, 4 paid, 1 refunded) and a bargain offer (3 bargains: at the floor and bought,
    part-way, expired; 3 helps by 2 friends). Another room of the brand and a rival brand's room
    have games of their own that this room's report must not show."""
    room = show["room"]
    c1, c2, c3 = show["customers"]
    d1, d2, d3 = (make_customer(brand) for _ in range(3))
    W = LotteryWinner.Status
    with brand_scope(brand):
        template = make_template(brand, name="5 off")
        lottery(brand, room, "Coupon draw", entrants=[c1, c2, c3], winners=[(c1, W.ISSUED), (c2, W.ISSUE_FAILED)],
                prize_kind="coupon", template=template)  # fmt: skip
        lottery(brand, room, "Scarf draw", entrants=[c1, d1, d2],
                winners=[(c1, W.CLAIMED), (d1, W.AWAITING_ADDRESS), (d2, W.LAPSED)])  # fmt: skip
        lottery(brand, room, "Later draw", entrants=[d3], status="open")

        box = GiftBox.objects.create(brand=brand, room=room, title="Stay 5 minutes", watch_minutes=5)
        prizes = {
            kind: GiftBoxPrize.objects.create(
                brand=brand,
                box=box,
                kind=kind,
                name=kind,
                weight=1,
                points=50 if kind == "points" else 0,
                coupon_template=template if kind == "coupon" else None,
            )  # fmt: skip
            for kind in ("coupon", "points", "item", "thanks")
        }
        for customer, kind in ((c1, "coupon"), (c2, "points"), (c3, "thanks"), (d1, None), (d2, "item")):
            GiftBoxOpening.objects.create(
                brand=brand, box=box, customer=customer, prize=prizes.get(kind), watched_seconds=400,
                points=50 if kind == "points" else 0,
            )  # fmt: skip

        product = make_product(brand, "Tea cups")
        sku = Sku.objects.create(brand=brand, product=product, code="CUPS", spec="Set of 4", price=3000, stock=50)
        offer = GroupBuyOffer.objects.create(
            brand=brand, sku=sku, room=room, title="Cups for two", group_size=2, price=2000, **offer_window()
        )
        GroupBuyOffer.objects.create(brand=brand, sku=sku, room=room, group_size=3, price=2500, **offer_window())
        group(brand, offer, c1, "succeeded", [(c1, "paid"), (c2, "paid")])
        group(brand, offer, c3, "failed", [(c3, "refunded"), (d1, "released")])
        group(brand, offer, d2, "forming", [(d2, "paid")])

        bargains = BargainOffer.objects.create(
            brand=brand, sku=sku, room=room, title="Cut the cups", floor_price=1000, helpers_needed=2, **offer_window()
        )
        bargain(brand, bargains, c1, "purchased", [1200, 800], [d1, d2])
        bargain(brand, bargains, c2, "active", [1500, 500], [d1])
        bargain(brand, bargains, c3, "expired", [1000, 1000], [])

        elsewhere = make_room(brand, title="Next week")
        lottery(brand, elsewhere, "Next week's draw", entrants=[c1])
        GroupBuyOffer.objects.create(brand=brand, sku=sku, room=elsewhere, group_size=2, price=2000, **offer_window())
    rival_room = make_room(other_brand, status="ended")
    # The rival's show ran at the same hours as this brand's, so the two fall on the same local day
    # whatever the hour the tests run (started "now", it crossed into the next day in Asia/Shanghai).
    LiveRoom.unscoped.filter(pk=rival_room.pk).update(started_at=show["t0"], ended_at=show["room"].ended_at)
    rival = make_customer(other_brand)
    with brand_scope(other_brand):
        lottery(other_brand, rival_room, "Rival draw", entrants=[rival], winners=[(rival, W.CLAIMED)])
        rival_sku = Sku.objects.create(
            brand=other_brand, product=make_product(other_brand, "Rival tea"), code="RT", price=900, stock=5
        )
        rival_offer = GroupBuyOffer.objects.create(
            brand=other_brand, sku=rival_sku, room=rival_room, group_size=2, price=500, **offer_window()
        )
        group(other_brand, rival_offer, rival, "forming", [(rival, "paid")])
    return {**show, "group_buy": offer, "bargain_offer": bargains, "rival_room": rival_room, "more": (d1, d2, d3)}


LOTTERY_TOTALS = {
    "lotteries": 3,
    "drawn": 2,
    "entrants": 6,
    "entries": 7,
    "winners": 5,
    "coupons_issued": 1,
    "issue_failed": 1,
    "addresses_given": 1,
    "awaiting_address": 1,
    "lapsed": 1,
}
GROUP_BUY_TOTALS = {
    "offers": 2,
    "groups": 3,
    "succeeded": 1,
    "failed": 1,
    "open": 1,
    "members": 5,
    "paid_orders": 4,
    "gmv": 8000,
    "refunded_orders": 1,
}
BARGAIN_TOTALS = {"offers": 1, "started": 3, "succeeded": 1, "purchased": 1, "expired": 1, "helps": 3}
GIFT_BOX_TOTALS = {"gift_boxes": 1, "openings": 5, "prizes_won": 3, "coupons": 1, "items": 1, "points": 50}


def test_the_rooms_games_and_offers(brand, games, django_assert_num_queries):
    with brand_scope(brand), django_assert_num_queries(REPORT_QUERIES):
        report = reports.room_report(brand=brand, room=games["room"])

    assert report["lotteries"]["totals"] == LOTTERY_TOTALS
    assert [
        (row["title"], row["prize_kind"], row["prize"], row["status"], row["prizes"], row["entries"], row["winners"])
        for row in report["lotteries"]["rows"]
    ] == [
        ("Coupon draw", "coupon", "5 off", "drawn", 2, 3, 2),
        ("Scarf draw", "physical", "Silk scarf", "drawn", 3, 3, 3),
        ("Later draw", "physical", "Silk scarf", "open", 1, 1, 0),
    ]
    outcomes = ["coupons_issued", "issue_failed", "addresses_given", "awaiting_address", "lapsed"]
    assert [[row[key] for key in outcomes] for row in report["lotteries"]["rows"]] == [
        [1, 1, 0, 0, 0],
        [0, 0, 1, 1, 1],
        [0, 0, 0, 0, 0],
    ]

    assert report["gift_boxes"]["totals"] == GIFT_BOX_TOTALS
    assert report["gift_boxes"]["rows"][0]["title"] == "Stay 5 minutes"

    assert report["group_buys"]["totals"] == GROUP_BUY_TOTALS
    first, second = report["group_buys"]["rows"]
    assert first == {
        "id": games["group_buy"].pk, "room_id": games["room"].pk, "title": "Cups for two",
        "product": "Tea cups Set of 4", "group_size": 2, "price": 2000, "groups": 3, "succeeded": 1, "failed": 1,
        "open": 1, "members": 5, "paid_orders": 4, "gmv": 8000, "refunded_orders": 1,
    }  # fmt: skip
    assert (second["group_size"], second["groups"], second["members"], second["gmv"]) == (3, 0, 0, 0)

    assert report["bargains"]["totals"] == BARGAIN_TOTALS
    (row,) = report["bargains"]["rows"]
    assert (row["title"], row["product"], row["floor_price"], row["helpers_needed"], row["helpers"]) == (
        "Cut the cups", "Tea cups Set of 4", 1000, 2, 2,
    )  # fmt: skip


# Around midnight in Asia/Shanghai (16:00 UTC) the show, three hours back, falls on the day before.
AROUND_SHANGHAI_MIDNIGHT = ["2026-12-04T15:50Z", "2026-12-04T16:10Z", "2026-12-04T18:50Z", "2026-12-04T23:50Z"]


@pytest.fixture(params=[None, *AROUND_SHANGHAI_MIDNIGHT], ids=["now", *AROUND_SHANGHAI_MIDNIGHT])
def clock(request):
    """The test run now, and at frozen instants (ticking) around the brand's midnight."""
    if request.param is None:
        yield timezone.now()
        return
    with time_machine.travel(request.param, tick=True) as traveller:
        yield traveller


def test_the_brand_report_adds_up_the_rooms_that_started_in_the_range(clock, brand, games, console, rival_console):
    day = timezone.localtime(games["t0"], brand.tz).date()
    body = console.get(f"/api/v1/console/reports?start={day}&end={day}").json()
    assert body["lotteries"]["totals"] == LOTTERY_TOTALS  # the room not started yet is not in the range
    assert body["group_buys"]["totals"] == GROUP_BUY_TOTALS
    assert body["bargains"]["totals"] == BARGAIN_TOTALS
    assert body["gift_boxes"]["totals"] == GIFT_BOX_TOTALS

    # The rival brand's report shows its own draw and group only; never this brand's.
    rival = rival_console.get(f"/api/v1/console/reports?start={day}&end={day}").json()
    assert [row["title"] for row in rival["lotteries"]["rows"]] == ["Rival draw"]
    assert rival["lotteries"]["totals"]["entries"] == 1 and rival["group_buys"]["totals"]["gmv"] == 500
    assert rival["bargains"]["rows"] == [] and rival["gift_boxes"]["totals"]["openings"] == 0
    rival_room = rival_console.get(f"/api/v1/console/rooms/{games['rival_room'].pk}/report").json()
    assert rival_room["lotteries"]["totals"]["winners"] == 1 and rival_room["group_buys"]["totals"]["offers"] == 1
    assert rival_console.get(f"/api/v1/console/rooms/{games['room'].pk}/report").status_code == 404


def test_the_exports_carry_the_games_and_offers(brand, games, console):
    room = games["room"]
    response = console.get(f"/api/v1/console/rooms/{room.pk}/report.csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    for line in (["lotteries.entries", "7"], ["group_buys.gmv", "8000"], ["bargains.succeeded", "1"]):
        assert line in rows
    assert ["gift_boxes.openings", "5"] in rows and ["# lotteries"] in rows and ["# group_buys"] in rows

    workbook = load_workbook(io.BytesIO(console.get(f"/api/v1/console/rooms/{room.pk}/report.xlsx").content))
    assert {"lotteries", "gift_boxes", "group_buys", "bargains"} <= set(workbook.sheetnames)
    lotteries = [[c.value for c in row] for row in workbook["lotteries"].iter_rows()]
    assert lotteries[0][:3] == ["id", "room_id", "title"] and [row[2] for row in lotteries[1:]] == [
        "Coupon draw",
        "Scarf draw",
        "Later draw",
    ]
    group_buys = [[c.value for c in row] for row in workbook["group_buys"].iter_rows()]
    header = group_buys[0]
    assert group_buys[1][header.index("paid_orders")] == 4 and group_buys[1][header.index("gmv")] == 8000


def test_the_admin_report_page_shows_the_games_and_offers(brand, games, make_staff):
    client = Client()
    client.force_login(make_staff(brand, Membership.Role.OPERATOR))
    page = client.get(f"/admin/livestream/liveroom/{games['room'].pk}/report/").content.decode()
    for text in ("Lotteries", "Coupon draw", "Gift boxes", "Stay 5 minutes", "Group buys", "Cups for two"):
        assert text in page
    assert "Bargains" in page and "Cut the cups" in page and "¥80.00" in page  # group-buy paid GMV
    assert "Product clicks / customers clicking" in page


def test_the_room_report_runs_the_same_queries_however_big_the_show(
    brand, games, make_customer, django_assert_num_queries
):
    """Ten times the audience, games and offers: not one more query."""
    room, t0 = games["room"], games["t0"]
    c1, *_ = games["customers"]
    (p1, p2, p3) = games["products"]
    crowd = [make_customer(brand) for _ in range(10)]
    with brand_scope(brand):
        more = lottery(brand, room, "Bigger draw", entrants=crowd, winners=[(c, "claimed") for c in crowd[:4]])
        for n, customer in enumerate(crowd):
            ViewingSession.objects.create(
                brand=brand, room=room, customer=customer, socket_id=f"crowd{n}", source_kind="direct",
                joined_at=t0, left_at=t0 + timedelta(minutes=n + 1), seconds=(n + 1) * 60,
            )  # fmt: skip
            for product in (p1, p2, p3):
                ProductClick.objects.create(brand=brand, room=room, product=product, customer=customer, clicks=n + 1)
        offer = games["group_buy"]
        for leader, friend in zip(crowd[::2], crowd[1::2], strict=True):
            group(brand, offer, leader, "succeeded", [(leader, "paid"), (friend, "paid")])
        for customer in crowd:
            bargain(brand, games["bargain_offer"], customer, "active", [1000, 1000], [c1])
        room.refresh_from_db()

    with brand_scope(brand), django_assert_num_queries(REPORT_QUERIES):
        report = reports.room_report(brand=brand, room=room)
    assert report["lotteries"]["totals"]["entries"] == 7 + 10 and more.pk in {
        row["id"] for row in report["lotteries"]["rows"]
    }
    assert report["funnel"]["clicked"] == 3 + 10 and report["group_buys"]["totals"]["paid_orders"] == 4 + 10
    assert report["bargains"]["totals"]["helps"] == 3 + 10
