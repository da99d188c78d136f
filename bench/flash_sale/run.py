"""Flash-sale storm: orders/s of one hot SKU through POST /api/v1/mp/orders (TARGETS.md).

One command:  .venv/bin/python bench/flash_sale/run.py [--quantity 5000] [--buyers 200]

It creates a fresh PostgreSQL database, starts the production REST server (gunicorn, 2 sync
workers, DESIGN §11) on PostgreSQL + Redis, and has C distinct customers buy one unit at a
time (each order with its own Idempotency-Key) until the flash sale of Q units is sold out.
In the same run it measures the reference: the minimal purchase in raw SQL (a conditional
update of one hot row plus one insert, one transaction) in a bare Django view on the same
server. It prints both, the ratio, the check that nothing was oversold or left unsold, the
same storm under uvicorn for comparison, and ends with one JSON line.
"""

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    HOST,
    clear_redis_prefix,
    free_port,
    postgres_cpu_seconds,
    recreate_database,
    session_cpu_seconds,
    start_gunicorn,
    start_process,
    stop_process,
)

WARM_UP = 1000  # units sold through each endpoint, unmeasured, before the measured rounds
ADDRESS = {
    "name": "Bench",
    "phone": "13800000000",
    "province": "Shanghai",
    "city": "Shanghai",
    "district": "Jing'an",
    "detail": "1 Bench Rd",
}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quantity", type=int, default=5000, help="flash-sale units (Q)")
    parser.add_argument("--buyers", type=int, default=200, help="concurrent distinct customers (C)")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--rounds", type=int, default=2, help="measured rounds of each, alternated")
    parser.add_argument("--database", default="siyu_bench_flash_sale", help="PostgreSQL database (recreated)")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432", help="PostgreSQL server URL")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/3")
    parser.add_argument("--skip-uvicorn", action="store_true", help="skip the uvicorn comparison")
    return parser.parse_args()


# --- set-up ---------------------------------------------------------------------------------------


def server_env(args) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": f"{args.pg}/{args.database}",
        "REDIS_URL": args.redis_url,
        "REDIS_KEY_PREFIX": "siyu-bench",
        "ROOT_URLCONF": "bench.flash_sale.urls",
        "SECRET_KEY": "bench-" + "k" * 60,
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }


def seed(args) -> dict:
    """A brand, a product with a deep SKU, C customers with tokens; the reference's tables."""
    import django

    django.setup()
    from django.core.cache import cache
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from commerce.models import Product, Sku
    from tenants.auth import CustomerAccessToken
    from tenants.models import Brand, Customer
    from tenants.scoping import brand_scope

    call_command("migrate", verbosity=0)
    cache.clear()
    brand = Brand.objects.create(slug="bench", name="Bench", appid="wxbench00000001", payment_window_minutes=60)
    with brand_scope(brand):
        product = Product.objects.create(
            brand=brand, name="Hot item", price=9900, audit_status="approved", status="on_shelf"
        )
        sku = Sku.objects.create(
            brand=brand, product=product, code="HOT", price=9900, stock=(args.rounds + 2) * (args.quantity + WARM_UP)
        )
        customers = Customer.objects.bulk_create(
            [Customer(brand=brand, openid=f"bench-{n}") for n in range(args.buyers)]
        )
    tokens = [str(CustomerAccessToken.for_customer(c)) for c in customers]
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bench_hot_row (id int PRIMARY KEY, remaining int NOT NULL CHECK (remaining >= 0))")
        cursor.execute("CREATE TABLE bench_purchase (id bigserial PRIMARY KEY, buyer text, created_at timestamptz)")
    connection.close()
    return {"brand": brand, "sku": sku, "tokens": tokens, "now": timezone.now}


def new_flash_sale(state, quantity):
    from django.db import connection

    from commerce.models import FlashSale
    from tenants.scoping import brand_scope

    now = state["now"]()
    with brand_scope(state["brand"]):
        flash_sale = FlashSale.objects.create(
            brand=state["brand"],
            sku=state["sku"],
            price=990,
            quantity=quantity,
            per_customer_limit=quantity,
            starts_at=now - timedelta(minutes=1),
            ends_at=now + timedelta(hours=1),
        )
    connection.close()
    return flash_sale


def reset_reference(quantity):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE bench_purchase")
        cursor.execute("DELETE FROM bench_hot_row")
        cursor.execute("INSERT INTO bench_hot_row VALUES (1, %s)", [quantity])
    connection.close()


def start_server(kind: str, args, env) -> tuple[subprocess.Popen, int]:
    if kind == "gunicorn":
        return start_gunicorn(env, args.workers)
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "config.asgi:application",
        "--workers",
        str(args.workers),
        "--host",
        HOST,
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
        "--backlog",
        "2048",
    ]
    return start_process(command, port, env), port


# --- load -----------------------------------------------------------------------------------------


async def http_post(port: int, path: str, headers: dict, body: bytes) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection(HOST, port)
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n{head}\r\n".encode()
        + body
    )
    response = await reader.read()
    writer.close()
    status = int(response[9:12]) if response.startswith(b"HTTP/1.") else 0
    return status, response.partition(b"\r\n\r\n")[2]


async def storm(port: int, path: str, buyers: list[dict], body_for) -> dict:
    """Every buyer buys one unit at a time until told it is sold out."""
    latencies, successes, errors = [], 0, {}
    finished_at = [0.0]

    async def buyer(headers):
        nonlocal successes
        while True:
            sent = time.perf_counter()
            try:
                status, body = await http_post(port, path, {**headers, "Idempotency-Key": uuid.uuid4().hex}, body_for())
            except OSError as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                await asyncio.sleep(0.01)
                continue
            latencies.append(time.perf_counter() - sent)
            if status == 201:
                successes += 1
                finished_at[0] = time.perf_counter()
                continue
            code = json.loads(body).get("error", {}).get("code", "") if body.startswith(b"{") else ""
            if status == 409 and code in ("flash_sale_sold_out", "sold_out"):
                return
            errors[f"{status} {code}"] = errors.get(f"{status} {code}", 0) + 1
            if sum(errors.values()) > 1000:
                return

    started = time.perf_counter()
    await asyncio.gather(*(buyer(headers) for headers in buyers))
    selling = (finished_at[0] or time.perf_counter()) - started
    latencies.sort()
    return {
        "orders": successes,
        "seconds": round(selling, 3),
        "orders_per_s": round(successes / selling, 1) if selling else 0.0,
        "p50_ms": round(statistics.median(latencies) * 1000, 1) if latencies else 0.0,
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1) if latencies else 0.0,
        "requests": len(latencies),
        "errors": errors,
    }


def run_orders(port, state, flash_sale, args) -> dict:
    body = json.dumps(
        {"lines": [{"sku": state["sku"].pk, "quantity": 1, "flash_sale": flash_sale.pk}], "address": ADDRESS}
    ).encode()
    buyers = [{"Authorization": f"Bearer {token}"} for token in state["tokens"]]
    return asyncio.run(storm(port, "/api/v1/mp/orders", buyers, lambda: body))


def with_cpu(server: subprocess.Popen, run) -> dict:
    """``run()``'s figures, and the CPU time that the server's workers and PostgreSQL spent on each
    order meanwhile: steadier than a rate on a shared machine, and it says where the time goes."""
    server_before, database_before = session_cpu_seconds(server.pid), postgres_cpu_seconds()
    result = run()
    orders = result["orders"] or 1
    return {
        **result,
        "server_cpu_ms": round((session_cpu_seconds(server.pid) - server_before) * 1000 / orders, 2),
        "db_cpu_ms": round((postgres_cpu_seconds() - database_before) * 1000 / orders, 2),
    }


def run_reference(port, args) -> dict:
    buyers = [{"X-Buyer": str(n)} for n in range(args.buyers)]
    return asyncio.run(storm(port, "/bench/raw-purchase", buyers, lambda: b"{}"))


def check_flash_sale(flash_sale, quantity) -> dict:
    from django.db import connection
    from django.db.models import Sum

    from commerce.models import FlashSale, OrderLine

    sold_lines = OrderLine.unscoped.filter(flash_sale=flash_sale).aggregate(units=Sum("quantity"))["units"] or 0
    sold = FlashSale.unscoped.get(pk=flash_sale.pk).sold
    connection.close()
    return {
        "oversold": max(sold_lines - quantity, 0, sold - quantity),
        "unsold": max(quantity - sold_lines, 0),
        "sold_units": sold_lines,
    }


def combined(runs: list[dict]) -> dict:
    """The rounds of one endpoint as one: mean rate and percentiles, summed counts and checks."""
    figures = ("orders_per_s", "p50_ms", "p99_ms", "server_cpu_ms", "db_cpu_ms")
    mean = {key: round(statistics.mean(run[key] for run in runs), 2) for key in figures if key in runs[0]}
    errors = {}
    for run in runs:
        for code, count in run["errors"].items():
            errors[code] = errors.get(code, 0) + count
    summed = {key: sum(run[key] for run in runs) for key in ("oversold", "unsold") if key in runs[0]}
    return {**mean, **summed, "errors": errors}


def main():
    args = parse_args()
    env = server_env(args)
    os.environ.update({k: v for k, v in env.items() if k not in ("ROOT_URLCONF",)})
    recreate_database(args.pg, args.database)
    clear_redis_prefix(args.redis_url, f"{env['REDIS_KEY_PREFIX']}:")  # the stock gate of an earlier run (same ids)
    state = seed(args)
    print(
        f"flash_sale bench: Q={args.quantity} units, C={args.buyers} buyers, {args.workers} workers, "
        f"PostgreSQL + Redis, {os.cpu_count()} cores"
    )

    server, port = start_server("gunicorn", args, env)
    try:
        # Both endpoints warm up first (imports, connections, prepared statements), then take turns,
        # so neither is measured cold nor always right after the other.
        reset_reference(WARM_UP)
        run_reference(port, args)
        run_orders(port, state, new_flash_sale(state, WARM_UP), args)
        rounds = {"reference": [], "gunicorn": []}
        for _ in range(args.rounds):
            reset_reference(args.quantity)
            rounds["reference"].append(with_cpu(server, lambda: run_reference(port, args)))
            flash_sale = new_flash_sale(state, args.quantity)
            rounds["gunicorn"].append(
                {
                    **with_cpu(server, lambda: run_orders(port, state, flash_sale, args)),  # noqa: B023
                    **check_flash_sale(flash_sale, args.quantity),
                }
            )
        results = {name: combined(runs) for name, runs in rounds.items()}
    finally:
        stop_process(server)
    for number, (ref, real) in enumerate(zip(rounds["reference"], rounds["gunicorn"], strict=True), start=1):
        print(
            f"round {number}: reference {ref['orders_per_s']:.1f}/s (p99 {ref['p99_ms']} ms), "
            f"orders {real['orders_per_s']:.1f}/s (p99 {real['p99_ms']} ms); CPU per order: server "
            f"{ref['server_cpu_ms']} vs {real['server_cpu_ms']} ms, "
            f"PostgreSQL {ref['db_cpu_ms']} vs {real['db_cpu_ms']} ms"
        )
    if not args.skip_uvicorn:
        # Under ASGI each request's sync view runs on a pool thread with its own connection, so
        # persistent connections would pile up to the pool's size per process (past PostgreSQL's
        # 100): uvicorn connects per request, as DESIGN §11 says it must.
        # Past PostgreSQL's connection limit its requests fail with 500s, counted in its errors below
        # rather than logged one traceback each.
        server, port = start_server("uvicorn", args, {**env, "CONN_MAX_AGE": "0", "LOG_LEVEL": "CRITICAL"})
        try:
            flash_sale = new_flash_sale(state, args.quantity)
            results["uvicorn"] = {
                **run_orders(port, state, flash_sale, args),
                **check_flash_sale(flash_sale, args.quantity),
            }
        finally:
            stop_process(server)

    ref, real = results["reference"], results["gunicorn"]
    ratio = round(real["orders_per_s"] / ref["orders_per_s"], 3) if ref["orders_per_s"] else 0.0
    print(
        f"reference (raw SQL purchase, gunicorn): {ref['orders_per_s']:>8.1f} purchases/s  "
        f"p50 {ref['p50_ms']} ms  p99 {ref['p99_ms']} ms  errors {ref['errors']}  "
        f"CPU/purchase: server {ref['server_cpu_ms']} ms, PostgreSQL {ref['db_cpu_ms']} ms"
    )
    print(
        f"POST /api/v1/mp/orders (gunicorn):      {real['orders_per_s']:>8.1f} orders/s     "
        f"p50 {real['p50_ms']} ms  p99 {real['p99_ms']} ms  errors {real['errors']}  "
        f"CPU/order: server {real['server_cpu_ms']} ms, PostgreSQL {real['db_cpu_ms']} ms"
    )
    if "uvicorn" in results:
        uv = results["uvicorn"]
        print(
            f"POST /api/v1/mp/orders (uvicorn):       {uv['orders_per_s']:>8.1f} orders/s     "
            f"p50 {uv['p50_ms']} ms  p99 {uv['p99_ms']} ms  oversold {uv['oversold']} unsold {uv['unsold']}  "
            f"errors {uv['errors']}"
        )
    print(
        f"ratio {ratio} (target ≥ 0.6)  oversold {real['oversold']}  unsold {real['unsold']}  "
        f"p99 {real['p99_ms']} ms (target ≤ 250)"
    )
    summary = {
        "orders_per_s": real["orders_per_s"],
        "p50_ms": real["p50_ms"],
        "p99_ms": real["p99_ms"],
        "oversold": real["oversold"],
        "unsold": real["unsold"],
        "ref_orders_per_s": ref["orders_per_s"],
        "ratio": ratio,
        "server_cpu_ms": real["server_cpu_ms"],
        "db_cpu_ms": real["db_cpu_ms"],
        "ref_server_cpu_ms": ref["server_cpu_ms"],
        "ref_db_cpu_ms": ref["db_cpu_ms"],
        "uvicorn_orders_per_s": results.get("uvicorn", {}).get("orders_per_s"),
        "quantity": args.quantity,
        "buyers": args.buyers,
        "meets_target": ratio >= 0.6 and real["oversold"] == 0 and real["unsold"] == 0 and real["p99_ms"] <= 250,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
