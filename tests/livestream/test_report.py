"""The post-show report against a small hand-made show whose every figure is known."""

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from commerce.models import Order, OrderLine, Sku
from conftest import assert_error
from coupons.models import Coupon, CouponDrop
from guides.models import CommissionEntry, ShareCode
from livestream import reports
from livestream.models import Comment, LiveRoom, ProductClick, ProductPush, ViewingSession
from tenants.errors import InvalidInput
from tenants.models import Customer
from tenants.scoping import brand_scope
from tests.coupons.conftest import make_template
from tests.guides.conftest import make_guide, make_store

MINUTE = timedelta(minutes=1)


def minute_key(moment):
    return moment.strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def show(brand, make_room, make_product, make_customer):
    """An ended show: 5 visits (3 customers and 1 anonymous), 5 product clicks by 2 customers
    (one product clicked, never sold), 3 orders (2 paid, one refunded in part), 2 pushes, 3
    comments, a coupon drop."""
    t0 = (timezone.now() - timedelta(hours=3)).replace(second=0, microsecond=0)
    room = make_room(brand, status="ended")
    LiveRoom.unscoped.filter(pk=room.pk).update(
        started_at=t0, ended_at=t0 + 60 * MINUTE, peak_online=2, likes_per_minute={minute_key(t0 + MINUTE): 5}
    )
    room.refresh_from_db()
    store = make_store(brand, code="S1")
    guide = make_guide(brand, "lin", store=store)
    with brand_scope(brand):
        ShareCode.objects.create(brand=brand, scene="gA", guide=guide, target="room", room=room, title="t", page="p")
        ShareCode.objects.create(brand=brand, scene="sA", store=store, target="store", title="t", page="p")
        c1, c2, c3 = (make_customer(brand) for _ in range(3))
        Customer.objects.filter(pk=c1.pk).update(first_seen_at=t0 - timedelta(days=10))  # came before: returning
        p1, p2, p3 = make_product(brand, "Silk scarf"), make_product(brand, "Tea set"), make_product(brand, "Paper fan")
        sku1 = Sku.objects.create(brand=brand, product=p1, code="P1", price=5000, stock=10)
        sku2 = Sku.objects.create(brand=brand, product=p2, code="P2", price=3000, stock=10)

        def session(n, customer, kind, scene, start, minutes):
            ViewingSession.objects.create(
                brand=brand, room=room, customer=customer, socket_id=f"s{n}", source_kind=kind, source_scene=scene,
                joined_at=t0 + start * MINUTE, left_at=t0 + (start + minutes) * MINUTE, seconds=minutes * 60,
            )  # fmt: skip

        session(1, c1, "scene", "gA", 0, 10)
        session(2, c1, "", "", 20, 1)
        session(3, c2, "scene", "sA", 5, 30)
        session(4, c3, "reminder", "", 1, 3)
        session(5, None, "festival", "", 2, 1)

        def order(n, customer, kind, scene, at, sku, quantity, *, paid, refunded=0, guide=None, store=None):
            placed = Order.objects.create(
                brand=brand, number=f"N{n}", customer=customer, room=room, source_kind=kind, source_scene=scene,
                guide=guide, store=store, items_total=sku.price * quantity, payable=sku.price * quantity,
                refunded_total=refunded, expires_at=t0 + at * MINUTE + 15 * MINUTE,
                paid_at=t0 + at * MINUTE if paid else None, status="paid" if paid else "pending_payment",
            )  # fmt: skip
            Order.objects.filter(pk=placed.pk).update(created_at=t0 + at * MINUTE)
            OrderLine.objects.create(
                brand=brand, order=placed, product=sku.product, sku=sku, product_name=sku.product.name,
                unit_price=sku.price, quantity=quantity,
            )  # fmt: skip
            return placed

        o1 = order(1, c1, "scene", "gA", 6, sku1, 2, paid=True, guide=guide, store=store)
        order(2, c2, "scene", "sA", 30, sku2, 1, paid=True, refunded=1000, store=store)
        order(3, c3, "reminder", "", 8, sku1, 1, paid=False)
        CommissionEntry.objects.create(brand=brand, guide=guide, kind="accrue", amount=500, order=o1)
        for customer, product, clicks in ((c1, p1, 2), (c1, p3, 1), (c2, p1, 1), (c2, p2, 1)):
            ProductClick.objects.create(brand=brand, room=room, product=product, customer=customer, clicks=clicks)
        ProductPush.objects.create(
            brand=brand, room=room, product=p1, started_at=t0 + 5 * MINUTE, ended_at=t0 + 15 * MINUTE
        )
        ProductPush.objects.create(brand=brand, room=room, product=p2, started_at=t0 + 25 * MINUTE)
        for n, at in enumerate((1, 1, 6), start=1):
            Comment.objects.create(id=n, brand=brand, room=room, customer=c1, text="hi", created_at=t0 + at * MINUTE)
        template = make_template(brand)
        drop = CouponDrop.objects.create(brand=brand, room=room, template=template, quantity=10, claimed=2)
        for customer, status in ((c1, "used"), (c2, "available")):
            Coupon.objects.create(
                brand=brand, template=template, customer=customer, source="drop", drop=drop, status=status,
                valid_from=t0, valid_until=t0 + timedelta(days=7),
            )  # fmt: skip
    return {
        "room": room,
        "t0": t0,
        "guide": guide,
        "store": store,
        "products": (p1, p2, p3),
        "customers": (c1, c2, c3),
    }


REPORT_QUERIES = 28  # a room's report, whatever its audience (test_report_sections.py grows one)


def test_room_report_figures(brand, show, django_assert_num_queries):
    room, t0 = show["room"], show["t0"]
    with brand_scope(brand), django_assert_num_queries(REPORT_QUERIES):
        report = reports.room_report(brand=brand, room=room)

    assert report["viewers"] == {
        "visits": 5,
        "unique_viewers": 3,
        "anonymous_visits": 1,
        "new_customers": 2,
        "returning_customers": 1,
        "average_watch_seconds": 540,
        "median_watch_seconds": 180,
        "peak_online": 3,  # minute 2: c1 (0–10), c3 (1–4) and the anonymous viewer (2–3)
    }
    minutes = {row["minute"]: row for row in report["minutes"]}
    # online: c1 0–10, c3 1–4, anon 2–3, c2 5–35, c1 again 20–21
    assert minutes[minute_key(t0)]["online"] == 1
    assert minutes[minute_key(t0 + 2 * MINUTE)]["online"] == 3
    assert minutes[minute_key(t0 + 5 * MINUTE)]["online"] == 2
    assert minutes[minute_key(t0 + 20 * MINUTE)]["online"] == 2
    assert minutes[minute_key(t0 + 35 * MINUTE)]["online"] == 1
    assert report["viewers"]["peak_online"] == 3
    assert minutes[minute_key(t0 + MINUTE)]["likes"] == 5
    assert minutes[minute_key(t0 + MINUTE)]["comments"] == 2
    assert minutes[minute_key(t0 + 6 * MINUTE)] | {} == {
        "minute": minute_key(t0 + 6 * MINUTE), "online": 2, "likes": 0, "comments": 1, "orders": 1, "paid_orders": 1,
    }  # fmt: skip

    assert report["orders"] == {
        "orders": 3,
        "paid_orders": 2,
        "gmv": 13000,
        "buyers": 2,
        "customers_ordering": 3,
        "refunded_orders": 1,
        "refunded_amount": 1000,
        "conversion": 0.6667,
        "average_order_value": 6500,
        "refund_rate_by_count": 0.5,
        "refund_rate_by_amount": 0.0769,
    }
    assert report["clicks"] == {"clicks": 5, "clickers": 2, "click_rate": 0.6667}
    # Each step counts whoever reached it or a later one: c3 ordered without opening a card.
    assert report["funnel"] == {"viewers": 3, "clicked": 3, "ordered": 3, "paid": 2}
    sources = {row.pop("source"): row for row in report["sources"]}
    assert sources == {
        "guide_share": {"visits": 1, "viewers": 1, "orders": 1, "paid_orders": 1, "gmv": 10000, "buyers": 1},
        "store": {"visits": 1, "viewers": 1, "orders": 1, "paid_orders": 1, "gmv": 3000, "buyers": 1},
        "direct": {"visits": 1, "viewers": 1, "orders": 0, "paid_orders": 0, "gmv": 0, "buyers": 0},
        "reminder": {"visits": 1, "viewers": 1, "orders": 1, "paid_orders": 0, "gmv": 0, "buyers": 0},
        "festival": {"visits": 1, "viewers": 0, "orders": 0, "paid_orders": 0, "gmv": 0, "buyers": 0},
    }
    # The breakdowns add up to the totals.
    for key in ("orders", "paid_orders", "gmv"):
        assert sum(row[key] for row in sources.values()) == report["orders"][key]
    assert sum(row["visits"] for row in sources.values()) == report["viewers"]["visits"]
    guide, store = show["guide"], show["store"]
    assert report["guides"] == [
        {"id": guide.pk, "name": "Lin", "visitors": 1, "orders": 1, "paid_orders": 1, "gmv": 10000, "buyers": 1,
         "commission": 500},
    ]  # fmt: skip
    assert report["stores"] == [
        {"id": store.pk, "name": "Store S1", "visitors": 2, "orders": 2, "paid_orders": 2, "gmv": 13000, "buyers": 2},
    ]
    p1, p2, p3 = show["products"]
    assert [
        (row["product_id"], row["name"], row["quantity"], row["amount"], row["orders"], row["clicks"], row["clickers"])
        for row in report["top_products"]
    ] == [
        (p1.pk, "Silk scarf", 2, 10000, 1, 3, 2),
        (p2.pk, "Tea set", 1, 3000, 1, 1, 1),
        (p3.pk, "Paper fan", 0, 0, 0, 1, 1),  # clicked, never sold
    ]
    assert [(row["product_id"], row["quantity"], row["amount"]) for row in report["pushes"]] == [
        (p1.pk, 2, 10000),
        (p2.pk, 1, 3000),
    ]
    assert report["pushes"][1]["ended_at"] == room.ended_at  # still on screen when the show ended
    assert report["coupons"] == {"drops": 1, "dropped": 10, "claimed": 2, "used": 1}


def test_room_report_api_and_exports(brand, show, console):
    room = show["room"]
    body = console.get(f"/api/v1/console/rooms/{room.pk}/report").json()
    assert body["orders"]["gmv"] == 13000 and body["room"]["id"] == room.pk

    response = console.get(f"/api/v1/console/rooms/{room.pk}/report.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert ["orders.gmv", "13000"] in rows and ["# sources"] in rows and ["# pushes"] in rows
    assert ["funnel.clicked", "3"] in rows and ["clicks.clicks", "5"] in rows

    response = console.get(f"/api/v1/console/rooms/{room.pk}/report.xlsx")
    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(response.content))
    assert {"summary", "sources", "guides", "stores", "minutes", "pushes"} <= set(workbook.sheetnames)
    assert [c.value for c in workbook["guides"][2]][1:6:4] == ["Lin", 10000]
    products = [[c.value for c in row] for row in workbook["top_products"].iter_rows()]
    assert products[0][:4] == ["product_id", "name", "clicks", "clickers"]
    assert [row[1:4] for row in products[1:]] == [["Silk scarf", 3, 2], ["Tea set", 1, 1], ["Paper fan", 1, 1]]


def test_brand_report_over_a_range(brand, show, console, make_room):
    day = timezone.localtime(show["t0"], brand.tz).date()
    body = console.get(f"/api/v1/console/reports?start={day}&end={day}").json()
    assert [row["id"] for row in body["rooms"]] == [show["room"].pk]
    assert body["rooms"][0]["gmv"] == body["orders"]["gmv"] == 13000
    assert body["guides"][0]["gmv"] == 10000 and body["stores"][0]["visitors"] == 2
    assert body["funnel"] == {"viewers": 3, "clicked": 3, "ordered": 3, "paid": 2}  # c3 ordered: clicked through
    earlier = console.get(f"/api/v1/console/reports?start={day - timedelta(days=9)}&end={day - timedelta(days=1)}")
    assert earlier.json()["rooms"] == [] and earlier.json()["orders"]["gmv"] == 0
    assert console.get(f"/api/v1/console/reports.xlsx?start={day}&end={day}").status_code == 200

    assert_error(
        console.get(f"/api/v1/console/reports?start={day}&end={day - timedelta(days=1)}"), 400, "invalid_range"
    )
    assert_error(console.get("/api/v1/console/reports?start=yesterday"), 400, "invalid")


def test_another_brand_sees_nothing(brand, show, rival_console):
    room = show["room"]
    for path in (f"rooms/{room.pk}/report", f"rooms/{room.pk}/report.csv", f"rooms/{room.pk}/report.xlsx"):
        assert_error(rival_console.get(f"/api/v1/console/{path}"), 404, "room_not_found")
    day = timezone.localtime(show["t0"], brand.tz).date()
    body = rival_console.get(f"/api/v1/console/reports?start={day}&end={day}").json()
    assert body["rooms"] == [] and body["orders"]["gmv"] == 0 and body["viewers"]["visits"] == 0
    assert body["guides"] == [] and body["stores"] == [] and body["top_products"] == []
    assert body["clicks"] == {"clicks": 0, "clickers": 0, "click_rate": 0.0} and body["funnel"]["clicked"] == 0


def test_entry_routes_without_an_id_are_recorded_as_their_own_source(brand, show):
    from livestream.sources import resolve_entry_source

    room = show["room"]
    for kind in ("reminder", "follow_up", "group_chat", "official_account"):
        assert resolve_entry_source(room, kind).kind == kind
        assert reports.source_of(kind, None, None) == kind
    with pytest.raises(InvalidInput):
        resolve_entry_source(room, "group_chat:123")
    assert reports.source_of("scene", None, None) == "share"  # a scene that names no share of the brand
    assert reports.source_of("", None, None) == "direct"
