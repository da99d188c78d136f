"""The post-show report (复盘): a room's traffic, promotion and conversion, or a brand's over a
date range, read from what was recorded (viewing sessions, the like series, comments, product
clicks, pushes, orders, the commission ledger, coupon drops, lotteries, gift boxes, group buys and
bargains). A fixed number of queries, whatever the audience.

Each app reads its own figures in its ``selectors`` module (``room_*_figures(brand=, room_ids=)``)
and this module calls them by name: one place lists everything a report holds.
"""

import csv
import io
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Avg, Count, Exists, F, OuterRef, Q, Sum
from django.db.models.functions import TruncMinute
from django.utils import timezone
from openpyxl import Workbook

from commerce.models import Order
from commerce.selectors import (
    room_bargain_figures,
    room_group_buy_figures,
    room_order_figures,
    room_order_headlines,
)
from coupons.selectors import room_coupon_figures
from guides.models import Binding, Guide
from guides.selectors import guide_and_store_names, room_commission_by_guide, share_owners
from livestream.models import (
    AudienceContact,
    Comment,
    FollowUp,
    LiveRoom,
    ProductClick,
    ProductPush,
    ReminderSubscription,
    ViewingSession,
)
from livestream.realtime import UNAVAILABLE, store
from livestream.selectors import room_click_figures, room_gift_box_figures, room_lottery_figures
from livestream.services.live import room_live_checkpoint
from tenants.errors import InvalidInput, NotFound
from tenants.models import Brand, Customer

MAX_RANGE = timedelta(days=366)


def source_of(kind: str, share_guide, share_store) -> str:
    """The entry route a viewer or an order is reported under."""
    if kind == "scene":
        return "guide_share" if share_guide else "store" if share_store else "share"
    return kind or "direct"


def _ratio(part, whole) -> float:
    return round(part / whole, 4) if whole else 0.0


def _minute_key(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def _viewer_figures(sessions) -> dict:
    figures = sessions.aggregate(
        visits=Count("pk"),
        unique_viewers=Count("customer_id", distinct=True),
        anonymous_visits=Count("pk", filter=Q(customer_id__isnull=True)),
        new_customers=Count("customer_id", distinct=True, filter=Q(customer__first_seen_at__gte=F("room__started_at"))),
        average_watch_seconds=Avg("seconds"),
    )
    figures["average_watch_seconds"] = round(figures["average_watch_seconds"] or 0)
    figures["returning_customers"] = figures["unique_viewers"] - figures["new_customers"]
    middle = list(
        sessions.order_by("seconds").values_list("seconds", flat=True)[
            max((figures["visits"] - 1) // 2, 0) : figures["visits"] // 2 + 1
        ]
    )
    figures["median_watch_seconds"] = round(sum(middle) / len(middle)) if middle else 0
    return figures


def _customers_reached(querysets, *, per_room: bool = False):
    """Distinct customers in any of these querysets (each of ``room_id``, ``customer_id``), in
    one query: the whole, or per room. A step of the funnel counts whoever reached it or a later
    step (a buyer who never opened a card still came, and still clicked through to buy), so
    viewers ≥ clicked ≥ ordered ≥ paid at every minute, whatever has been flushed yet."""
    parts, params = [], []
    for queryset in querysets:
        try:
            sql, part_params = (
                queryset.filter(customer_id__isnull=False).values("room_id", "customer_id").query.sql_with_params()
            )
        except EmptyResultSet:  # no rooms at all (an empty range): nobody reached
            continue
        parts.append(sql)
        params.extend(part_params)
    if not parts:
        return {} if per_room else 0
    union = " UNION ".join(parts)
    with connection.cursor() as cursor:
        if per_room:
            cursor.execute(f"SELECT room_id, COUNT(*) FROM ({union}) reach GROUP BY room_id", params)
            return dict(cursor.fetchall())
        cursor.execute(f"SELECT COUNT(DISTINCT customer_id) FROM ({union}) reach", params)
        return cursor.fetchone()[0]


def _online_per_minute(sessions) -> dict[str, int]:
    """Viewers online in each minute: those who joined by its end and had not left before it began."""
    joined = dict(
        sessions.annotate(minute=TruncMinute("joined_at", tzinfo=UTC))
        .values("minute")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("minute", "n")
    )
    left = dict(
        sessions.annotate(minute=TruncMinute("left_at", tzinfo=UTC))
        .values("minute")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("minute", "n")
    )
    if not joined:
        return {}
    minute, last = min(joined), max(left)
    online, series = 0, {}
    while minute <= last:
        online += joined.get(minute, 0)
        series[_minute_key(minute)] = online
        online -= left.get(minute, 0)
        minute += timedelta(minutes=1)
    return series


def _figures(brand: Brand, room_ids: list[int]) -> dict:
    sessions = ViewingSession.objects.filter(brand=brand, room_id__in=room_ids)
    viewers = _viewer_figures(sessions)
    session_routes = list(
        sessions.values("source_kind", "source_scene")
        .annotate(visits=Count("pk"), viewers=Count("customer_id", distinct=True))
        .order_by()
    )
    orders = room_order_figures(brand=brand, room_ids=room_ids)
    totals = orders["totals"]

    sources = defaultdict(lambda: dict.fromkeys(("visits", "viewers", "orders", "paid_orders", "gmv", "buyers"), 0))
    guide_visitors, store_visitors = defaultdict(int), defaultdict(int)
    # Grouped by scene in the database (a hash aggregate), then each scene's guide and store
    # looked up once: a subquery per row took seconds on a big room. A viewer who came in
    # through two shares of one guide counts twice among that guide's visitors.
    scenes = {row["source_scene"] for row in [*session_routes, *orders["by_source"]] if row["source_kind"] == "scene"}
    owners = share_owners(brand=brand, scenes=scenes)
    for row in [*session_routes, *orders["by_source"]]:
        row["share_guide"], row["share_store"] = owners.get(row["source_scene"], (None, None))
    for row in session_routes:
        bucket = sources[source_of(row["source_kind"], row["share_guide"], row["share_store"])]
        bucket["visits"] += row["visits"]
        bucket["viewers"] += row["viewers"]
        if row["share_guide"]:
            guide_visitors[row["share_guide"]] += row["viewers"]
        if row["share_store"]:
            store_visitors[row["share_store"]] += row["viewers"]
    for row in orders["by_source"]:
        bucket = sources[source_of(row["source_kind"], row["share_guide"], row["share_store"])]
        for key in ("orders", "paid_orders", "gmv", "buyers"):
            bucket[key] += row[key]

    commission = room_commission_by_guide(brand=brand, room_ids=room_ids)
    guide_orders = {row["guide_id"]: row for row in orders["by_guide"]}
    store_orders = {row["store_id"]: row for row in orders["by_store"]}
    guide_ids = set(guide_visitors) | set(guide_orders) | set(commission)
    store_ids = set(store_visitors) | set(store_orders)
    guide_names, store_names = guide_and_store_names(brand=brand, guide_ids=guide_ids, store_ids=store_ids)
    empty = {"orders": 0, "paid_orders": 0, "gmv": 0, "buyers": 0}

    def ranked(rows):
        return sorted(rows, key=lambda row: (-row["gmv"], -row["visitors"], row["id"]))

    guides = ranked(
        {
            "id": guide_id,
            "name": guide_names.get(guide_id, ""),
            "visitors": guide_visitors.get(guide_id, 0),
            **{key: guide_orders.get(guide_id, empty)[key] for key in empty},
            "commission": commission.get(guide_id, 0),
        }
        for guide_id in guide_ids
    )
    stores = ranked(
        {
            "id": store_id,
            "name": store_names.get(store_id, ""),
            "visitors": store_visitors.get(store_id, 0),
            **{key: store_orders.get(store_id, empty)[key] for key in empty},
        }
        for store_id in store_ids
    )

    clicks = room_click_figures(brand=brand, room_ids=room_ids)
    clicked_rows = ProductClick.objects.filter(brand=brand, room_id__in=room_ids)
    order_rows = Order.objects.filter(brand=brand, room_id__in=room_ids)
    viewers["unique_viewers"] = _customers_reached([sessions, clicked_rows, order_rows])
    viewers["returning_customers"] = viewers["unique_viewers"] - viewers["new_customers"]
    clickers = _customers_reached([clicked_rows, order_rows])
    products = defaultdict(lambda: {"quantity": 0, "amount": 0, "orders": 0, "clicks": 0, "clickers": 0})
    for row in orders["product_minutes"]:
        product = products[row["product_id"]]
        product["name"] = row["product_name"]
        product["quantity"] += row["units"]
        product["amount"] += row["amount"]
        product["orders"] += row["orders"]
    for row in clicks["by_product"]:  # clicked, sold or not
        product = products[row["product_id"]]
        product.setdefault("name", row["product__name"])
        product["clicks"], product["clickers"] = row["clicks"], row["clickers"]
    top_products = sorted(
        ({"product_id": pk, **values} for pk, values in products.items()),
        key=lambda row: (-row["amount"], -row["clicks"], row["product_id"]),
    )[:20]

    gmv, paid_orders = totals["gmv"], totals["paid_orders"]
    return {
        "viewers": viewers,
        "clicks": {
            "clicks": clicks["clicks"],
            "clickers": clicks["clickers"],
            "click_rate": _ratio(clicks["clickers"], viewers["unique_viewers"]),
        },
        "orders": {
            **totals,
            "conversion": _ratio(totals["buyers"], viewers["unique_viewers"]),
            "average_order_value": gmv // paid_orders if paid_orders else 0,
            "refund_rate_by_count": _ratio(totals["refunded_orders"], paid_orders),
            "refund_rate_by_amount": _ratio(totals["refunded_amount"], gmv),
        },
        "funnel": {
            "viewers": viewers["unique_viewers"],
            "clicked": clickers,
            "ordered": totals["customers_ordering"],
            "paid": totals["buyers"],
        },
        "sources": [{"source": name, **values} for name, values in sorted(sources.items())],
        "guides": guides,
        "stores": stores,
        "top_products": top_products,
        "coupons": room_coupon_figures(brand=brand, room_ids=room_ids),
        # The room's games and offers, each {"totals": {...}, "rows": [one per lottery, box or offer]}.
        "lotteries": room_lottery_figures(brand=brand, room_ids=room_ids),
        "gift_boxes": room_gift_box_figures(brand=brand, room_ids=room_ids),
        "group_buys": room_group_buy_figures(brand=brand, room_ids=room_ids),
        "bargains": room_bargain_figures(brand=brand, room_ids=room_ids),
        "_product_minutes": orders["product_minutes"],
        "_order_minutes": orders["per_minute"],
        "_sessions": sessions,
        "_reach": (sessions, clicked_rows, order_rows),
    }


def _live_counters(rooms: list[LiveRoom]) -> dict[int, dict]:
    """Per room: the peak, like total and per-minute likes, the larger of what the database kept
    and what the live store counts now (a show on air, or ended before the flush ran). The
    database's alone while the live store cannot be reached."""
    ids = [room.pk for room in rooms]
    try:
        live = store()
        peaks, likes = (live.peaks(ids), live.like_totals(ids)) if ids else ({}, {})
        minutes = {room.pk: live.likes_per_minute(room.pk) for room in rooms} if len(rooms) == 1 else {}
    except UNAVAILABLE:
        peaks, likes, minutes = {}, {}, {}
    counters = {}
    for room in rooms:
        series = dict(room.likes_per_minute or {})
        for minute, count in minutes.get(room.pk, {}).items():
            series[minute] = max(count, series.get(minute, 0))
        counters[room.pk] = {
            "peak_online": max(room.peak_online, peaks.get(room.pk, 0)),
            "like_total": max(room.like_total, likes.get(room.pk, 0)),
            "likes_per_minute": series,
        }
    return counters


def room_report(*, brand: Brand, room: LiveRoom) -> dict:
    """Everything the post-show report shows for one room, per minute series and pushes included,
    right at any minute: what the live store holds of the room (sessions of viewers still
    watching, or of those who left before the flush ran; product clicks; the peak and the likes)
    counts as well as what was persisted."""
    room_live_checkpoint(brand=brand, room_ids=[room.pk])
    live = _live_counters([room])[room.pk]
    figures = _figures(brand, [room.pk])
    sessions = figures.pop("_sessions")
    figures.pop("_reach")
    product_minutes = figures.pop("_product_minutes")
    order_minutes = {_minute_key(row["minute"]): row for row in figures.pop("_order_minutes")}

    online = _online_per_minute(sessions)
    comments = dict(
        (_minute_key(minute), n)
        for minute, n in Comment.objects.filter(brand=brand, room=room)
        .annotate(minute=TruncMinute("created_at", tzinfo=UTC))
        .values("minute")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("minute", "n")
    )
    likes = live["likes_per_minute"]
    keys = sorted(set(online) | set(likes) | set(comments) | set(order_minutes))
    minutes = [
        {
            "minute": key,
            "online": online.get(key, 0),
            "likes": likes.get(key, 0),
            "comments": comments.get(key, 0),
            "orders": order_minutes[key]["orders"] if key in order_minutes else 0,
            "paid_orders": order_minutes[key]["paid_orders"] if key in order_minutes else 0,
        }
        for key in keys
    ]
    figures["viewers"]["peak_online"] = max([live["peak_online"], *online.values()])
    figures["pushes"] = _pushes(brand, room, product_minutes)
    return {"room": _room_summary(room, live), **figures, "minutes": minutes}


def _pushes(brand: Brand, room: LiveRoom, product_minutes) -> list[dict]:
    """Each push with what of the pushed product was paid for (by order time) while it was on screen."""
    pushes = list(
        ProductPush.objects.filter(brand=brand, room=room)
        .select_related("product")
        .order_by("started_at", "pk")
        .values("product_id", "product__name", "started_at", "ended_at")
    )
    by_product = defaultdict(list)
    for row in product_minutes:
        by_product[row["product_id"]].append(row)
    rows = []
    for push in pushes:
        end = push["ended_at"] or room.ended_at
        start_minute = push["started_at"].replace(second=0, microsecond=0)
        sold = [
            row
            for row in by_product[push["product_id"]]
            if row["minute"] >= start_minute and (end is None or row["minute"] <= end)
        ]
        rows.append(
            {
                "product_id": push["product_id"],
                "product_name": push["product__name"],
                "started_at": push["started_at"],
                "ended_at": end,
                "quantity": sum(row["units"] for row in sold),
                "amount": sum(row["amount"] for row in sold),
                "orders": sum(row["orders"] for row in sold),
            }
        )
    return rows


def _room_summary(room: LiveRoom, live: dict) -> dict:
    return {
        "id": room.pk,
        "title": room.title,
        "status": room.status,
        "started_at": room.started_at,
        "ended_at": room.ended_at,
        "like_total": live["like_total"],
    }


def brand_report(*, brand: Brand, start: datetime, end: datetime) -> dict:
    """The same figures across the rooms that started in [start, end), with each room's headline
    and the guides' and stores' ranking."""
    if end <= start:
        raise InvalidInput("invalid_range", "The end must be after the start.", fields={"end": ["After start."]})
    if end - start > MAX_RANGE:
        raise InvalidInput("invalid_range", "At most a year at a time.", fields={"end": ["At most 366 days."]})
    rooms = list(
        LiveRoom.objects.filter(brand=brand, started_at__gte=start, started_at__lt=end).order_by("started_at", "pk")
    )
    room_ids = [room.pk for room in rooms]
    room_live_checkpoint(brand=brand, room_ids=room_ids)
    live = _live_counters(rooms)
    figures = _figures(brand, room_ids)
    figures.pop("_sessions"), figures.pop("_product_minutes"), figures.pop("_order_minutes")
    per_room_viewers = _customers_reached(figures.pop("_reach"), per_room=True)
    per_room_orders = room_order_headlines(brand=brand, room_ids=room_ids)
    empty = {"paid_orders": 0, "gmv": 0, "buyers": 0}
    figures["rooms"] = [
        {
            **_room_summary(room, live[room.pk]),
            "unique_viewers": per_room_viewers.get(room.pk, 0),
            **{key: per_room_orders.get(room.pk, empty)[key] for key in empty},
        }
        for room in rooms
    ]
    figures["viewers"]["peak_online"] = max([live[room.pk]["peak_online"] for room in rooms], default=0)
    return {"start": start, "end": end, **figures}


# --- export -----------------------------------------------------------------------------------------


def _local(value, tz):
    if isinstance(value, datetime):
        return value.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")
    return value


def _table(rows: list[dict], columns: list[str], tz) -> list[list]:
    return [columns, *([_local(row.get(column), tz) for column in columns] for row in rows)]


ORDER_COLUMNS = ["orders", "paid_orders", "gmv", "buyers"]
EXPORT_COLUMNS = {
    "rooms": ["id", "title", "started_at", "unique_viewers", "paid_orders", "gmv", "buyers"],
    "sources": ["source", "visits", "viewers", *ORDER_COLUMNS],
    "guides": ["id", "name", "visitors", *ORDER_COLUMNS, "commission"],
    "stores": ["id", "name", "visitors", *ORDER_COLUMNS],
    "top_products": ["product_id", "name", "clicks", "clickers", "quantity", "amount", "orders"],
    "minutes": ["minute", "online", "likes", "comments", "orders", "paid_orders"],
    "pushes": ["product_id", "product_name", "started_at", "ended_at", "quantity", "amount", "orders"],
}
# The games and offers: their totals go in the summary, their rows in a table each.
SECTION_COLUMNS = {
    "lotteries": [
        "id", "room_id", "title", "prize_kind", "prize", "status", "prizes", "entries", "winners",
        "coupons_issued", "issue_failed", "addresses_given", "awaiting_address", "lapsed",
    ],
    "gift_boxes": [
        "id", "room_id", "title", "watch_minutes", "status", "openings", "prizes_won", "coupons", "items", "points",
    ],
    "group_buys": [
        "id", "room_id", "title", "product", "group_size", "price", "groups", "succeeded", "failed", "open",
        "members", "paid_orders", "gmv", "refunded_orders",
    ],
    "bargains": [
        "id", "room_id", "title", "product", "floor_price", "helpers_needed", "started", "succeeded", "purchased",
        "expired", "helps", "helpers",
    ],
}  # fmt: skip


def report_tables(report: dict, tz) -> list[tuple[str, list[list]]]:
    """The report as named tables (a header row, then values; times in the brand's zone, money
    in fen): one sheet each in XLSX, one block each in CSV."""
    summary = [["figure", "value"]]
    for group in ("viewers", "clicks", "orders", "funnel", "coupons"):
        summary += [[f"{group}.{name}", value] for name, value in report[group].items()]
    for name in SECTION_COLUMNS:
        summary += [[f"{name}.{key}", value] for key, value in report[name]["totals"].items()]
    tables = [("summary", summary)]
    for name, columns in EXPORT_COLUMNS.items():
        if name in report:
            tables.append((name, _table(report[name], columns, tz)))
    for name, columns in SECTION_COLUMNS.items():
        tables.append((name, _table(report[name]["rows"], columns, tz)))
    return tables


class _Echo:
    def write(self, value):
        return value


def report_csv(report: dict, tz):
    """CSV lines, one block per table, produced as they are sent."""
    writer = csv.writer(_Echo())
    yield "\ufeff"  # lets spreadsheet programs read the file as UTF-8
    for index, (name, rows) in enumerate(report_tables(report, tz)):
        if index:
            yield writer.writerow([])
        yield writer.writerow([f"# {name}"])
        for row in rows:
            yield writer.writerow(row)


def report_xlsx(report: dict, tz) -> bytes:
    """An XLSX workbook, one sheet per table, written row by row (openpyxl's write-only mode)."""
    workbook = Workbook(write_only=True)
    for name, rows in report_tables(report, tz):
        sheet = workbook.create_sheet(title=name)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --- audience segments (for follow-ups) -------------------------------------------------------------


def segment_guide(guide_id):
    """A guide of the brand in scope, to narrow a segment to the customers bound to them."""
    guide = Guide.objects.filter(pk=guide_id).first()
    if guide is None:
        raise NotFound("guide_not_found", "No such guide.")
    return guide


def segment_customers(*, brand: Brand, room: LiveRoom, segment: str, guide=None):
    """The ids of the room's customers in ``segment`` (see ``FollowUp.Segment``), optionally only
    those bound to ``guide``: a queryset, so the database does the set operations."""
    watched = ViewingSession.objects.filter(brand=brand, room=room, customer_id__isnull=False).values("customer_id")
    paid = Order.objects.filter(brand=brand, room=room, paid_at__isnull=False)
    customers = Customer.objects.filter(brand=brand)
    if segment == FollowUp.Segment.BOUGHT:
        customers = customers.filter(pk__in=watched).filter(pk__in=paid.values("customer_id"))
    elif segment == FollowUp.Segment.WATCHED_NOT_BOUGHT:
        customers = customers.filter(pk__in=watched).exclude(pk__in=paid.values("customer_id"))
    elif segment == FollowUp.Segment.SUBSCRIBED_ABSENT:
        subscribed = ReminderSubscription.objects.filter(brand=brand, room=room).exclude(
            status=ReminderSubscription.Status.CANCELLED
        )
        customers = customers.filter(pk__in=subscribed.values("customer_id")).exclude(pk__in=watched)
    elif segment == FollowUp.Segment.REFUNDED:
        customers = customers.filter(pk__in=paid.filter(refunded_total__gt=0).values("customer_id"))
    else:
        raise InvalidInput(
            "invalid_segment", "No such segment.", fields={"segment": [f"One of {FollowUp.Segment.values}."]}
        )
    if guide is not None:
        customers = customers.filter(pk__in=Binding.objects.filter(brand=brand, guide=guide).values("customer_id"))
    return customers.order_by("pk").values_list("pk", flat=True)


def segment_sizes(*, brand: Brand, room: LiveRoom, guide=None) -> dict[str, int]:
    return {
        segment: segment_customers(brand=brand, room=room, segment=segment, guide=guide).count()
        for segment in FollowUp.Segment.values
    }


FOLLOW_UP_DAYS = 14


def guide_follow_up_list(*, brand: Brand, guide, room_id=None, now=None):
    """A guide's to-do list: their bound customers who watched a show (one of the last
    ``FOLLOW_UP_DAYS`` days, or ``room_id``) and bought nothing in it; each row (room, customer)
    with whether the guide marked them contacted. Newest show first."""
    rooms = LiveRoom.objects.filter(brand=brand, started_at__isnull=False)
    if room_id is not None:
        rooms = rooms.filter(pk=room_id)
    else:
        rooms = rooms.filter(started_at__gte=(now or timezone.now()) - timedelta(days=FOLLOW_UP_DAYS))
    bought = Order.objects.filter(
        brand=brand, room_id=OuterRef("room_id"), customer_id=OuterRef("customer_id"), paid_at__isnull=False
    )
    contacted = AudienceContact.objects.filter(
        brand=brand, room_id=OuterRef("room_id"), customer_id=OuterRef("customer_id")
    )
    return (
        ViewingSession.objects.filter(
            brand=brand,
            room__in=rooms,
            customer__in=Binding.objects.filter(brand=brand, guide=guide).values("customer_id"),
        )
        .filter(~Exists(bought))
        .values("room_id", "room__title", "room__started_at", "customer_id", "customer__nickname")
        .annotate(watched_seconds=Sum("seconds"), contacted=Exists(contacted))
        .order_by("-room__started_at", "-room_id", "customer_id")
    )
