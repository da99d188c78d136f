"""Sell-out: a flash sale of 200 units and 2,000 buyers who all arrive within the first second
(10× demand), through POST /api/v1/mp/orders (TARGETS.md).

One command:  .venv/bin/python -m bench.sell_out.run [--quantity 200] [--buyers 2000] [--duration 5]

It creates a fresh PostgreSQL database, seeds a brand, a SKU, a flash sale of Q units (one per
customer) and B customers with tokens, and starts the production REST server (gunicorn, 2 sync
workers, DESIGN §11) on PostgreSQL + Redis, with the stock gate (commerce.services.stock_gate)
in front of the database. Then:

1. **The storm.** The B buyers arrive at random moments within the first second (a Python asyncio
   client), each placing one order with its own Idempotency-Key. It prints the time until sold out
   (the last order placed), p50/p99 of the orders placed and of the buyers turned away, and
   checks that nothing was oversold or left unsold.
2. **Turned away at full speed.** The buyers keep tapping Buy on the sold-out sale: ``wrk`` posts
   their orders for D seconds, alternated with the reference, a bare Django JSON view on the same
   server (as bench/room_detail), also through ``wrk``. It prints both rates, the ratio, and the
   CPU that the server and PostgreSQL spent per answer (PostgreSQL's should be about nothing:
   the gate answers).

It ends with one JSON line.
"""

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    HOST,
    clear_redis_prefix,
    load_average,
    percentile,
    postgres_cpu_seconds,
    raise_open_files_limit,
    recreate_database,
    server_env,
    session_cpu_seconds,
    start_gunicorn,
    stop_process,
)

ORDERS = "/api/v1/mp/orders"
REFERENCE_PATH = "/bench/bare-json"  # bench/room_detail/urls.py
REDIS_PREFIX = "siyu-bench-sellout"
TARGET_RATIO = 0.5
ADDRESS = {
    "name": "Bench",
    "phone": "13800000000",
    "province": "Shanghai",
    "city": "Shanghai",
    "district": "Jing'an",
    "detail": "1 Bench Rd",
}

# Each wrk thread walks through the buyers' tokens from its own offset; with a body, each request
# is an order (its own Idempotency-Key), without one a GET. Answers are counted by status.
WRK_SCRIPT = r"""
local tokens, position, threads, counter = {}, 0, {}, 0
local body = nil

function setup(thread)
  thread:set("thread_number", #threads)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(args[1]) do tokens[#tokens + 1] = line end
  if args[2] ~= nil and args[2] ~= "" then
    local file = io.open(args[2]); body = file:read("*a"); file:close()
  end
  position = (thread_number or 0) * 7919
  statuses = {}
end

function request()
  position = position % #tokens + 1
  counter = counter + 1
  local headers = {["Authorization"] = "Bearer " .. tokens[position]}
  if body == nil then return wrk.format("GET", wrk.path, headers) end
  headers["Content-Type"] = "application/json"
  headers["Idempotency-Key"] = string.format("wrk-%d-%d", thread_number or 0, counter)
  return wrk.format("POST", wrk.path, headers, body)
end

function response(status, headers, response_body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local counts = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      counts[#counts + 1] = string.format('"%d": %d', status, count)
    end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %.0f, "duration_us": %.0f, "p50_us": %.0f, "p99_us": %.0f, ' ..
    '"errors": %.0f, "statuses": [%s]}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, "{" .. table.concat(counts, "}, {") .. "}"))
end
"""


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quantity", type=int, default=200, help="flash-sale units (Q)")
    parser.add_argument("--buyers", type=int, default=2000, help="buyers arriving in the first second (B)")
    parser.add_argument("--arrival", type=float, default=1.0, help="seconds over which the buyers arrive")
    parser.add_argument("--duration", type=float, default=5, help="seconds of each turned-away / reference round (D)")
    parser.add_argument("--rounds", type=int, default=2, help="turned-away and reference rounds, alternated")
    parser.add_argument("--connections", type=int, default=200, help="wrk connections")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--database", default="siyu_bench_sell_out", help="PostgreSQL database (recreated)")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432", help="PostgreSQL server URL")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/3")
    return parser.parse_args()


# --- set-up ---------------------------------------------------------------------------------------


def seed(args) -> dict:
    """A brand, a SKU with deep stock, a warm-up sale and the sale of Q units, B customers with tokens."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from commerce.models import FlashSale, Product, Sku
    from tenants.auth import CustomerAccessToken
    from tenants.models import Brand, Customer
    from tenants.scoping import brand_scope

    call_command("migrate", verbosity=0)
    brand = Brand.objects.create(slug="bench", name="Bench", appid="wxbench00000001", payment_window_minutes=60)
    now = timezone.now()
    with brand_scope(brand):
        product = Product.objects.create(
            brand=brand, name="Lipstick", price=9900, audit_status="approved", status="on_shelf"
        )
        sku = Sku.objects.create(brand=brand, product=product, code="HOT", price=9900, stock=100_000)
        sales = [
            FlashSale.objects.create(
                brand=brand,
                sku=sku,
                price=990,
                quantity=quantity,
                per_customer_limit=1,
                starts_at=now - timedelta(minutes=1),
                ends_at=now + timedelta(hours=1),
            )
            for quantity in (args.quantity, args.quantity)  # a warm-up sale, then the measured one
        ]
        customers = Customer.objects.bulk_create(
            [Customer(brand=brand, openid=f"buyer-{n}") for n in range(args.buyers)]
        )
    state = {
        "sku_id": sku.pk,
        "warm_up_id": sales[0].pk,
        "sale_id": sales[1].pk,
        "tokens": [str(CustomerAccessToken.for_customer(c)) for c in customers],
    }
    connection.close()
    return state


def order_body(state, sale_id) -> bytes:
    return json.dumps(
        {"lines": [{"sku": state["sku_id"], "quantity": 1, "flash_sale": sale_id}], "address": ADDRESS}
    ).encode()


def check_sale(sale_id: int, quantity: int) -> dict:
    from django.db import connection
    from django.db.models import Sum

    from commerce.models import FlashSale, OrderLine

    lines = OrderLine.unscoped.filter(flash_sale_id=sale_id).aggregate(units=Sum("quantity"))["units"] or 0
    sold = FlashSale.unscoped.get(pk=sale_id).sold
    connection.close()
    return {
        "sold_units": lines,
        "oversold": max(lines - quantity, sold - quantity, 0),
        "unsold": max(quantity - lines, 0),
    }


# --- the storm ------------------------------------------------------------------------------------


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


async def storm(port: int, tokens: list[str], body: bytes, arrival: float) -> dict:
    """Each buyer arrives at a random moment within ``arrival`` seconds and places one order."""
    sold, turned_away, errors = [], [], {}
    started = time.perf_counter()
    rng = random.Random(20)

    async def buyer(token, at):
        await asyncio.sleep(at)
        sent = time.perf_counter()
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex}
        try:
            status, answer = await http_post(port, ORDERS, headers, body)
        except OSError as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
            return
        done = time.perf_counter()
        code = json.loads(answer).get("error", {}).get("code", "") if answer.startswith(b"{") else ""
        if status == 201:
            sold.append((done - sent, done - started))
        elif status == 409 and code == "flash_sale_sold_out":
            turned_away.append((done - sent, done - started))
        else:
            errors[f"{status} {code}"] = errors.get(f"{status} {code}", 0) + 1

    await asyncio.gather(*(buyer(token, rng.uniform(0, arrival)) for token in tokens))
    elapsed = time.perf_counter() - started

    def figures(answers):
        latencies = sorted(latency for latency, _ in answers)
        return {
            "answers": len(answers),
            "p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
            "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        }

    away_times = sorted(at for _, at in turned_away)
    away_span = away_times[-1] - away_times[0] if len(away_times) > 1 else 0.0
    return {
        "sold": figures(sold),
        "turned_away": figures(turned_away),
        "sold_out_after_s": round(max((at for _, at in sold), default=0.0), 3),
        "storm_s": round(elapsed, 3),
        "storm_turned_away_per_s": round(len(turned_away) / away_span, 1) if away_span else 0.0,
        "errors": errors,
    }


# --- turned away at full speed, and the reference -------------------------------------------------


def run_wrk(port: int, path: str, args, files: dict, body_file: str = "") -> dict:
    command = [
        "wrk",
        "--threads",
        str(args.threads),
        "--connections",
        str(args.connections),
        "--duration",
        f"{max(1, round(args.duration))}s",
        "--timeout",
        "10s",
        "--script",
        files["script"],
        f"http://{HOST}:{port}{path}",
        "--",
        files["tokens"],
        body_file,
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next(line for line in output.splitlines() if line.startswith("BENCH_JSON "))
    figures = json.loads(line.removeprefix("BENCH_JSON "))
    statuses = {}
    for entry in figures["statuses"]:
        for status, count in entry.items():
            statuses[status] = statuses.get(status, 0) + count
    return {"seconds": figures["duration_us"] / 1e6, "statuses": statuses, "errors": figures["errors"],
            "p50_ms": round(figures["p50_us"] / 1000, 1), "p99_ms": round(figures["p99_us"] / 1000, 1)}  # fmt: skip


def measured(server, run, expected_status: str) -> dict:
    """``run()``'s rate of ``expected_status`` answers, and the CPU per answer of the server and of PostgreSQL."""
    server_before, database_before = session_cpu_seconds(server.pid), postgres_cpu_seconds()
    result = run()
    answers = result["statuses"].get(expected_status, 0)
    others = {status: count for status, count in result["statuses"].items() if status != expected_status}
    per = 1000 / answers if answers else 0.0
    return {
        "per_s": round(answers / result["seconds"], 1) if result["seconds"] else 0.0,
        "p50_ms": result["p50_ms"],
        "p99_ms": result["p99_ms"],
        "server_cpu_ms": round((session_cpu_seconds(server.pid) - server_before) * per, 3),
        "db_cpu_ms": round((postgres_cpu_seconds() - database_before) * per, 3),
        "other_answers": others,
        "errors": result["errors"],
    }


def combined(runs: list[dict]) -> dict:
    keys = ("per_s", "p50_ms", "p99_ms", "server_cpu_ms", "db_cpu_ms")
    merged = {key: round(statistics.mean(run[key] for run in runs), 3) for key in keys}
    others, errors = {}, sum(run["errors"] for run in runs)
    for run in runs:
        for status, count in run["other_answers"].items():
            others[status] = others.get(status, 0) + count
    return {**merged, "other_answers": others, "errors": errors}


def main():
    args = parse_args()
    raise_open_files_limit()
    database_url = f"{args.pg}/{args.database}"
    env = server_env(database_url, args.redis_url, REDIS_PREFIX, ROOT_URLCONF="bench.room_detail.urls")
    os.environ.update({k: v for k, v in env.items() if k != "ROOT_URLCONF"})
    recreate_database(args.pg, args.database)
    clear_redis_prefix(args.redis_url, REDIS_PREFIX)  # the gate of an earlier run's (same ids)
    state = seed(args)
    print(
        f"sell_out bench: Q={args.quantity} units, B={args.buyers} buyers within {args.arrival} s, "
        f"{args.workers} workers, PostgreSQL + Redis, {os.cpu_count()} cores, load {load_average()}"
    )
    with tempfile.TemporaryDirectory() as folder:
        files = {"script": f"{folder}/bench.lua", "tokens": f"{folder}/tokens.txt", "body": f"{folder}/body.json"}
        Path(files["script"]).write_text(WRK_SCRIPT)
        Path(files["tokens"]).write_text("\n".join(state["tokens"]) + "\n")
        Path(files["body"]).write_bytes(order_body(state, state["sale_id"]))
        warm_up_args = argparse.Namespace(**{**vars(args), "duration": 1})

        server, port = start_gunicorn(env, args.workers)
        try:
            # Warm up (imports, connections, prepared statements, the gate's script): the reference,
            # and a storm on a sale of its own.
            run_wrk(port, REFERENCE_PATH, warm_up_args, files)
            asyncio.run(storm(port, state["tokens"], order_body(state, state["warm_up_id"]), args.arrival))

            result = asyncio.run(storm(port, state["tokens"], order_body(state, state["sale_id"]), args.arrival))
            after_storm = check_sale(state["sale_id"], args.quantity)

            rounds = {"reference": [], "turned_away": []}
            for _ in range(args.rounds):
                rounds["reference"].append(measured(server, lambda: run_wrk(port, REFERENCE_PATH, args, files), "200"))
                rounds["turned_away"].append(
                    measured(server, lambda: run_wrk(port, ORDERS, args, files, files["body"]), "409")
                )
            after_all = check_sale(state["sale_id"], args.quantity)
        finally:
            stop_process(server)

    ref, away = combined(rounds["reference"]), combined(rounds["turned_away"])
    ratio = round(away["per_s"] / ref["per_s"], 3) if ref["per_s"] else 0.0
    sold, turned = result["sold"], result["turned_away"]
    print(
        f"storm: {sold['answers']} sold, sold out after {result['sold_out_after_s']} s; "
        f"sold p50 {sold['p50_ms']} ms p99 {sold['p99_ms']} ms; {turned['answers']} turned away, "
        f"p50 {turned['p50_ms']} ms p99 {turned['p99_ms']} ms ({result['storm_turned_away_per_s']}/s as they "
        f"arrived); errors {result['errors']}"
    )
    print(f"storm check: {after_storm}; after the turned-away rounds: {after_all}")
    for number, (r, a) in enumerate(zip(rounds["reference"], rounds["turned_away"], strict=True), start=1):
        print(
            f"round {number}: reference {r['per_s']}/s (p99 {r['p99_ms']} ms), turned away {a['per_s']}/s "
            f"(p99 {a['p99_ms']} ms); CPU per answer: server {r['server_cpu_ms']} vs {a['server_cpu_ms']} ms, "
            f"PostgreSQL {r['db_cpu_ms']} vs {a['db_cpu_ms']} ms; other answers {a['other_answers']}"
        )
    print(
        f"ratio {ratio} (target ≥ {TARGET_RATIO})  oversold {after_all['oversold']}  unsold {after_all['unsold']}  "
        f"sold out after {result['sold_out_after_s']} s"
    )
    summary = {
        "ratio": ratio,
        "turned_away_per_s": away["per_s"],
        "ref_per_s": ref["per_s"],
        "sold_out_after_s": result["sold_out_after_s"],
        "sold": sold["answers"],
        "sold_p50_ms": sold["p50_ms"],
        "sold_p99_ms": sold["p99_ms"],
        "turned_away": turned["answers"],
        "turned_away_p50_ms": turned["p50_ms"],
        "turned_away_p99_ms": turned["p99_ms"],
        "storm_turned_away_per_s": result["storm_turned_away_per_s"],
        "turned_away_p99_ms_full_speed": away["p99_ms"],
        "server_cpu_ms": away["server_cpu_ms"],
        "db_cpu_ms": away["db_cpu_ms"],
        "ref_server_cpu_ms": ref["server_cpu_ms"],
        "oversold": after_all["oversold"],
        "unsold": after_all["unsold"],
        "errors": sum(result["errors"].values()) + away["errors"] + sum(away["other_answers"].values()),
        "quantity": args.quantity,
        "buyers": args.buyers,
        "meets_target": ratio >= TARGET_RATIO and after_all["oversold"] == 0 and after_all["unsold"] == 0,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
