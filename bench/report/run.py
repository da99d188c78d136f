"""The post-show report of one big room on PostgreSQL.

    python bench/report/run.py                                  # 100,000 sessions, 20,000 orders
    python bench/report/run.py --sessions 20000 --orders 5000

Target (../../../shared/TARGETS.md, ``bench/report``): < 1 s, with a number of queries that does
not grow with the room.

PostgreSQL from ``DATABASE_URL`` (default ``postgres://postgres@127.0.0.1:5432/siyu_bench_report``,
created fresh, migrated and dropped at the end; its name must contain "bench").

Setup (not measured): one brand, 10 stores, 100 guides each with a share code for the room,
30,000 customers, the room's viewing sessions over a two-hour show (a third through guides'
shares, the rest direct, from a reminder or a festival), orders with one or two lines each
(90 % paid, 5 % of those refunded), commission entries for the guides' orders, 40 product
pushes, comments, and a like series. Then ``ANALYZE``, as autovacuum would after a show.
Measured: ``livestream.reports.room_report`` for that room, run 5 times (the median is the
figure), with its query count; and the query count for a room with ten sessions (the same,
if the count is constant). Ends with one JSON line.
"""

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
TARGET_S = 1.0
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/siyu_bench_report"

from bench.reminders.run import _reexec_in_venv, drop_database, recreate_database  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--keep-db", action="store_true", help="do not drop the bench database at the end")
    return parser.parse_args()


def seed_room(brand, *, sessions: int, orders: int, customers, guides, products, skus, title: str):
    from django.contrib.auth import get_user_model  # noqa: F401  (app registry ready)
    from django.utils import timezone

    from commerce.models import Order, OrderLine
    from guides.models import CommissionEntry, ShareCode
    from livestream.models import Comment, LiveRoom, ProductPush, ViewingSession

    rng = random.Random(11)
    start = timezone.now() - timedelta(hours=3)
    end = start + timedelta(hours=2)
    room = LiveRoom.objects.create(
        brand=brand,
        title=title,
        anchor_name="Bench",
        scheduled_start=start,
        scheduled_end=end,
        started_at=start,
        ended_at=end,
        status="ended",
        peak_online=1,
        likes_per_minute={(start + timedelta(minutes=m)).strftime("%Y-%m-%dT%H:%M"): 100 + m for m in range(120)},
    )
    scenes = []
    for guide in guides:
        share = ShareCode.objects.create(
            brand=brand, scene=f"{title[:8]}-{guide.pk}", guide=guide, target="room", room=room, title="t", page="p"
        )
        scenes.append(share.scene)
    show_seconds = 7200

    def source():
        roll = rng.random()
        if roll < 0.33:
            return "scene", rng.choice(scenes)
        return ("", "") if roll < 0.7 else ("reminder", "") if roll < 0.9 else ("festival", "")

    rows = []
    for n in range(sessions):
        joined = rng.randrange(show_seconds)
        seconds = min(int(rng.expovariate(1 / 600)), show_seconds - joined)
        kind, scene = source()
        rows.append(
            ViewingSession(
                brand=brand,
                room=room,
                customer=rng.choice(customers) if rng.random() < 0.95 else None,
                socket_id=f"{room.pk}-{n}",
                source_kind=kind,
                source_scene=scene,
                joined_at=start + timedelta(seconds=joined),
                left_at=start + timedelta(seconds=joined + seconds),
                seconds=seconds,
            )
        )
    ViewingSession.objects.bulk_create(rows, batch_size=5000)

    placed, lines = [], []
    for n in range(orders):
        kind, scene = source()
        at = start + timedelta(seconds=rng.randrange(show_seconds))
        paid = rng.random() < 0.9
        chosen = rng.sample(skus, rng.choice((1, 2)))
        total = sum(sku.price for sku in chosen)
        guide = rng.choice(guides) if kind == "scene" else None
        placed.append(
            Order(
                brand=brand,
                number=f"{room.pk}-{n}",
                customer=rng.choice(customers),
                status="paid" if paid else "cancelled",
                room=room,
                source_kind=kind,
                source_scene=scene,
                guide=guide,
                store_id=guide.store_id if guide else None,
                items_total=total,
                payable=total,
                refunded_total=total if paid and rng.random() < 0.05 else 0,
                expires_at=at + timedelta(minutes=15),
                paid_at=at if paid else None,
            )
        )
        lines.append(chosen)
    Order.objects.bulk_create(placed, batch_size=5000)
    Order.objects.filter(room=room).update(created_at=start + timedelta(minutes=30))
    line_rows, entries = [], []
    for order, chosen in zip(placed, lines, strict=True):
        for sku in chosen:
            line_rows.append(
                OrderLine(
                    brand=brand,
                    order=order,
                    product_id=sku.product_id,
                    sku=sku,
                    product_name="Bench product",
                    unit_price=sku.price,
                    quantity=1,
                )
            )
        if order.guide_id and order.paid_at:
            entries.append(
                CommissionEntry(
                    brand=brand, guide_id=order.guide_id, kind="accrue", amount=order.payable // 20, order=order
                )
            )
    OrderLine.objects.bulk_create(line_rows, batch_size=5000)
    CommissionEntry.objects.bulk_create(entries, batch_size=5000)
    ProductPush.objects.bulk_create(
        [
            ProductPush(
                brand=brand,
                room=room,
                product=products[m % len(products)],
                started_at=start + timedelta(minutes=3 * m),
                ended_at=start + timedelta(minutes=3 * m + 3),
            )
            for m in range(40)
        ]
    )
    Comment.objects.bulk_create(
        [
            Comment(
                id=room.pk * 10_000_000 + n,
                brand=brand,
                room=room,
                customer=rng.choice(customers),
                text="好",
                created_at=start + timedelta(seconds=rng.randrange(show_seconds)),
            )
            for n in range(sessions // 5)
        ],
        batch_size=5000,
    )
    return room


def setup(sessions: int, orders: int):
    from django.contrib.auth import get_user_model

    from commerce.models import Product, Sku
    from guides.models import Guide, Store
    from tenants.models import Brand, Customer

    brand = Brand.objects.create(slug="bench", name="Bench", appid="wxbench000000test")
    stores = Store.objects.bulk_create([Store(brand=brand, code=f"S{n}", name=f"Store {n}") for n in range(10)])
    users = get_user_model().objects.bulk_create(
        [get_user_model()(username=f"guide{n}", password="!") for n in range(100)]
    )
    guides = Guide.objects.bulk_create(
        [Guide(brand=brand, user=user, name=user.username, store=stores[n % 10]) for n, user in enumerate(users)]
    )
    customers = Customer.objects.bulk_create(
        [Customer(brand=brand, openid=f"o{n:08d}") for n in range(30_000)], batch_size=5000
    )
    products = Product.objects.bulk_create(
        [
            Product(brand=brand, name=f"Product {n}", price=1000 + n, status="on_shelf", audit_status="approved")
            for n in range(50)
        ]
    )
    skus = Sku.objects.bulk_create(
        [Sku(brand=brand, product=p, code=f"K{p.pk}", price=p.price, stock=1000) for p in products]
    )
    big = seed_room(
        brand,
        sessions=sessions,
        orders=orders,
        customers=customers,
        guides=guides,
        products=products,
        skus=skus,
        title="Big show",
    )
    small = seed_room(
        brand,
        sessions=10,
        orders=3,
        customers=customers[:5],
        guides=guides[:2],
        products=products,
        skus=skus,
        title="Small show",
    )
    return brand, big, small


def run(sessions: int, orders: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from livestream.reports import room_report
    from tenants.scoping import brand_scope, platform_scope

    t0 = time.perf_counter()
    with platform_scope():
        brand, big, small = setup(sessions, orders)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"setup: {sessions:,} sessions and {orders:,} orders in {time.perf_counter() - t0:.1f} s (not measured)")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} before the run")

    timings = []
    with brand_scope(brand):
        for _ in range(5):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                report = room_report(brand=brand, room=big)
                timings.append(time.perf_counter() - started)
        with CaptureQueriesContext(connection) as small_queries:
            room_report(brand=brand, room=small)
    seconds = statistics.median(timings)
    print(
        f"report: {report['viewers']['visits']:,} visits, {report['viewers']['unique_viewers']:,} viewers, "
        f"{report['orders']['orders']:,} orders, GMV {report['orders']['gmv'] / 100:,.2f} yuan, "
        f"{len(report['minutes'])} minutes, {len(report['guides'])} guides"
    )
    print(
        f"time: median {seconds * 1000:.0f} ms of 5 runs (min {min(timings) * 1000:.0f}, max {max(timings) * 1000:.0f})"
    )
    for query in sorted(queries.captured_queries, key=lambda q: -float(q["time"]))[:5]:
        print(f"  {float(query['time']) * 1000:6.0f} ms  {query['sql'][:150]}")
    print(f"queries: {len(queries)} for the big room, {len(small_queries)} for a room of ten sessions")
    print(f"target: < {TARGET_S:g} s, constant queries")
    return {
        "bench": "report",
        "sessions": sessions,
        "orders": orders,
        "seconds": round(seconds, 3),
        "queries": len(queries),
        "queries_small_room": len(small_queries),
        "target_s": TARGET_S,
        "meets_target": seconds < TARGET_S and len(queries) == len(small_queries),
    }


def main() -> int:
    _reexec_in_venv()
    args = parse_args()
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    url = os.environ["DATABASE_URL"]
    recreate_database(url)
    try:
        import django
        from django.core.management import call_command
        from django.db import connections

        django.setup()
        call_command("migrate", verbosity=0)
        try:
            figures = run(args.sessions, args.orders)
        finally:
            connections.close_all()
    finally:
        if not args.keep_db:
            drop_database(url)
    print(json.dumps(figures))
    return 0 if figures["meets_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
