"""Start reminders for one room with many subscribers, through the sandbox message client.

    python bench/reminders/run.py                     # 100,000 subscribers
    python bench/reminders/run.py --subscribers 20000

Target (../../../shared/TARGETS.md, ``bench/reminders``): ≤ 10 s end to end, each sent once.

On the production processes' stores (DESIGN §11): PostgreSQL from ``DATABASE_URL`` (default
``postgres://postgres@127.0.0.1:5432/siyu_bench_reminders``, a database this script creates
fresh, migrates, and drops at the end; its name must contain "bench") and Redis from
``REDIS_URL`` (default ``redis://127.0.0.1:6379/2``).

Setup (not measured): one brand, one room starting within the brand's lead time, N customers
each subscribed to it, written in bulk. Measured: the Celery task ``send_start_reminders``
end to end, run the way a worker runs it — through Celery's task tracer (``Task.apply``), in
this process rather than in a separate worker fed by the broker, so that the sandbox outbox
(in-process memory) can be checked afterwards. Then verified: every subscriber appears in the
outbox exactly once, every subscription is ``sent`` in the database, and a second run of the
task sends nothing. Ends with one JSON line.
"""

import argparse
import io
import json
import logging
import os
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
TARGET_S = 10.0
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/siyu_bench_reminders"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/2"


def _reexec_in_venv() -> None:
    """``python bench/reminders/run.py`` works with any python: hop into the project's venv."""
    venv_python = ROOT / ".venv" / "bin" / "python"
    if venv_python.exists() and Path(sys.prefix).resolve() != (ROOT / ".venv").resolve():
        os.execv(str(venv_python), [str(venv_python), *sys.argv])


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=100_000, help="subscribers of the room (default 100,000)")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the bench database at the end")
    parser.add_argument("--profile", action="store_true", help="profile the measured run (pip install pyinstrument)")
    args = parser.parse_args()
    if args.subscribers < 1:
        parser.error("--subscribers must be at least 1")
    return args


# --- the bench database ------------------------------------------------------------------------
def _admin_connection(url: str):
    import psycopg

    parts = urlsplit(url)
    connection = psycopg.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        user=parts.username or "postgres",
        password=parts.password,
        dbname="postgres",
    )
    connection.autocommit = True
    return connection


def database_name(url: str) -> str:
    name = urlsplit(url).path.lstrip("/")
    if not url.startswith(("postgres://", "postgresql://")) or "bench" not in name:
        sys.exit(f"DATABASE_URL must name a PostgreSQL database whose name contains 'bench' (it is dropped): {url}")
    return name


def recreate_database(url: str) -> None:
    name = database_name(url)
    connection = _admin_connection(url)
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    connection.close()


def drop_database(url: str) -> None:
    connection = _admin_connection(url)
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{database_name(url)}" WITH (FORCE)')
    connection.close()


def _profiler():
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.001)
    profiler.start()
    return profiler


# --- the bench ---------------------------------------------------------------------------------
def _copy_text(value) -> str:
    """A value in PostgreSQL's COPY text format."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def copy_rows(template, field: str, values) -> None:
    """Insert one row per value with COPY: ``template``'s columns, ``field`` set to each value.

    Every column comes from the model (defaults and ``auto_now_add`` included), so a column
    added later needs no change here; 100,000 rows take about a second instead of ~10 s.
    """
    from django.db import connection

    model = type(template)
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    row = []
    for f in fields:
        value = f.pre_save(template, add=True)
        row.append(None if f.attname == field else _copy_text(f.get_db_prep_save(value, connection)))
    at = [f.attname for f in fields].index(field)
    lines = ("\t".join(row[:at] + [_copy_text(value)] + row[at + 1 :]) + "\n" for value in values)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.copy_expert(f"COPY {table} ({columns}) FROM STDIN", io.StringIO("".join(lines)))


def setup(subscribers: int):
    """One brand, one room starting in 5 minutes (lead time 10), ``subscribers`` subscriptions."""
    from django.db import connection
    from django.utils import timezone

    from livestream.models import LiveRoom, ReminderSubscription
    from tenants.models import Brand, Customer

    brand = Brand.objects.create(slug="bench", name="Bench", appid="wxbench000000test", reminder_lead_minutes=10)
    start = timezone.now() + timedelta(minutes=5)
    room = LiveRoom.objects.create(
        brand=brand,
        title="Autumn collection launch night",
        anchor_name="Lin Wei",
        scheduled_start=start,
        scheduled_end=start + timedelta(hours=2),
    )
    copy_rows(Customer(brand=brand, openid=""), "openid", (f"oBench{n:08d}" for n in range(subscribers)))
    customer_ids = Customer.unscoped.filter(brand=brand).order_by("pk").values_list("pk", flat=True)
    copy_rows(ReminderSubscription(brand=brand, room=room, customer_id=0), "customer_id", customer_ids.iterator())
    with connection.cursor() as cursor:  # statistics and hint bits, as autovacuum leaves a long-lived table
        cursor.execute(f"VACUUM ANALYZE {Customer._meta.db_table}, {ReminderSubscription._meta.db_table}")
    return brand, room


def run(subscribers: int, profile: bool = False) -> dict:
    from django.db import connection
    from django.db.models import Count

    from livestream.models import ReminderSubscription
    from livestream.services import reminders
    from livestream.tasks import send_start_reminders
    from tenants.wechat.sandbox import SandboxMiniProgramClient

    t0 = time.perf_counter()
    _, room = setup(subscribers)
    print(f"setup: {subscribers:,} customers and subscriptions in {time.perf_counter() - t0:.1f} s (not measured)")

    logging.getLogger("celery").setLevel(logging.WARNING)  # no "Task ... succeeded" line per run
    load = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} cores, load average {load:.2f} before the run (other work slows this bench)")
    print(
        f"measuring: the Celery task {send_start_reminders.name} through Celery's task tracer (Task.apply), "
        f"in this process, on PostgreSQL {connection.pg_version // 10000} with WECHAT_BACKEND=sandbox"
    )
    SandboxMiniProgramClient.reset()
    outbox = SandboxMiniProgramClient.outbox
    profiler = _profiler() if profile else None
    started = time.perf_counter()
    first = send_start_reminders.apply().get()
    seconds = time.perf_counter() - started
    if profiler is not None:
        profiler.stop()
        print(profiler.output_text(color=False, show_all=False))

    sent = len(outbox)
    distinct = len({message.openid for message in outbox})
    statuses = ReminderSubscription.unscoped.filter(room=room).values("status").annotate(n=Count("pk"))
    by_status = Counter({row["status"]: row["n"] for row in statuses})
    second = send_start_reminders.apply().get()
    second_run_sent = second["sent"] + (len(outbox) - sent)
    sent_once = sent == distinct == subscribers and by_status == Counter({"sent": subscribers})
    rate = sent / seconds if seconds else 0.0

    print(f"task result: {first}")
    print(f"subscription statuses after the run: {dict(by_status)}")
    print(
        f"sent {sent:,} messages ({distinct:,} distinct openids) in {seconds:.2f} s: {rate:,.0f} messages/s, "
        f"{first['batches']} batches of up to {reminders.BATCH_SIZE:,}"
    )
    print(f"second run: sent {second_run_sent} more ({second})")
    print(f"target: ≤ {TARGET_S:g} s end to end, each sent once")
    return {
        "subscribers": subscribers,
        "seconds": round(seconds, 3),
        "messages_per_s": round(rate, 1),
        "sent_once": sent_once,
        "second_run_sent": second_run_sent,
        "target_s": TARGET_S,
        "meets_target": sent_once and second_run_sent == 0 and seconds <= TARGET_S,
    }


def main() -> int:
    _reexec_in_venv()
    args = parse_args()
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    os.environ.setdefault("REDIS_URL", DEFAULT_REDIS_URL)
    os.environ.setdefault("REDIS_KEY_PREFIX", "siyu_bench_reminders")
    os.environ["WECHAT_BACKEND"] = "sandbox"
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    url = os.environ["DATABASE_URL"]
    sys.path.insert(0, str(ROOT))

    recreate_database(url)
    try:
        import django
        from django.core.management import call_command
        from django.db import connections

        django.setup()
        call_command("migrate", verbosity=0)
        try:
            figures = run(args.subscribers, profile=args.profile)
        finally:
            connections.close_all()
    finally:
        if not args.keep_db:
            drop_database(url)
    print(json.dumps(figures))
    return 0 if figures["meets_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
