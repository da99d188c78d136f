"""Room detail: req/s of GET /api/v1/mp/rooms/{id} with 100 products in the room (TARGETS.md).

One command:  .venv/bin/python bench/room_detail/run.py [--products 100] [--clients 100] [--duration 10]

It creates a fresh PostgreSQL database, seeds a brand, a live room holding P on-sale approved
products (each with S SKUs; one of them pushed) and C customers with tokens, through the
services, and starts the production REST server (gunicorn, 2 sync workers, DESIGN §11) on
PostgreSQL + Redis. C concurrent clients then ask for the room, each request with a customer's
token, for a fixed duration per round. In the same run it measures the reference: a bare Django
view answering a small JSON object on the same server. Both warm up first, then take turns
(reference, room, reference, room); every request says ``Accept-Encoding: gzip``, as browsers and
the WeChat client do. The load comes from ``wrk`` (``apt-get install wrk``) with a
small Lua script handing out the tokens, or from a Python asyncio client when wrk is missing
(which may itself be the bottleneck at these rates). It prints both rates, their p50/p99, the
ratio, the server's CPU per request, the bytes of one answer, the queries of one room-detail
request on a miss (right after a change) and on a hit (answered from the cache), and ends with
one JSON line.
"""

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    HOST,
    clear_redis_prefix,
    cpu_seconds,
    load_average,
    percentile,
    recreate_database,
    server_env,
    start_gunicorn,
    stop_process,
)

ROOM_PATH = "/api/v1/mp/rooms/{room_id}"
REFERENCE_PATH = "/bench/bare-json"
REDIS_PREFIX = "siyu-bench-room"
TARGET_RATIO = 0.5
GOAL_RATIO = 0.7
MAX_QUERIES = 6

# Each wrk thread (its own Lua state) reads the tokens and walks through them from its own
# offset, so consecutive requests come from different customers; done() prints the figures.
WRK_SCRIPT = r"""
local tokens = {}
local position = 0
local threads = 0

function setup(thread)
  thread:set("thread_number", threads)
  threads = threads + 1
end

function init(args)
  for line in io.lines(args[1]) do
    tokens[#tokens + 1] = line
  end
  position = (thread_number or 0) * 7919
end

function request()
  position = position % #tokens + 1
  return wrk.format("GET", wrk.path, {["Authorization"] = "Bearer " .. tokens[position], ["Accept-Encoding"] = "gzip"})
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %.0f, "duration_us": %.0f, "p50_us": %.0f, "p99_us": %.0f, ' ..
    '"connect": %.0f, "read": %.0f, "write": %.0f, "status": %.0f, "timeout": %.0f}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=100, help="on-sale products in the room (P)")
    parser.add_argument("--skus", type=int, default=3, help="SKUs per product (S)")
    parser.add_argument("--clients", type=int, default=100, help="concurrent clients, each a customer (C)")
    parser.add_argument("--duration", type=float, default=10, help="seconds per measured round")
    parser.add_argument("--warm-up", type=float, default=3, help="seconds of unmeasured load on each endpoint first")
    parser.add_argument("--rounds", type=int, default=2, help="measured rounds of each, alternated")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (the client shares the cores)")
    parser.add_argument("--client", choices=["auto", "wrk", "python"], default="auto", help="load generator")
    parser.add_argument("--database", default="siyu_bench_room_detail", help="PostgreSQL database (recreated)")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432", help="PostgreSQL server URL")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/4")
    return parser.parse_args()


# --- set-up ---------------------------------------------------------------------------------------


def seed(args) -> dict:
    """A brand; P products through the product services (created with their SKUs, approved, on
    the shelf); a room created, stocked, started and presenting its first product through the
    room services; C customers with their tokens."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from commerce.services import products as product_services
    from livestream.services import room_products, rooms
    from tenants.auth import CustomerAccessToken
    from tenants.models import Brand, Customer
    from tenants.scoping import brand_scope

    call_command("migrate", verbosity=0)
    clear_redis_prefix(args.redis_url, REDIS_PREFIX)
    brand = Brand.objects.create(slug="bench", name="Bench", appid="wxbench00000001")
    with brand_scope(brand):
        product_ids = []
        for n in range(args.products):
            product = product_services.product_create(
                brand=brand,
                name=f"Bench product {n}",
                category="bench",
                price_type="fixed",
                price=9900 + n,
                images=[f"https://img.example/bench-{n}-a.jpg", f"https://img.example/bench-{n}-b.jpg"],
                skus=[
                    {"code": f"P{n}-S{s}", "spec": f"Size {s}", "price": 9900 + n, "stock": 100 * s}
                    for s in range(args.skus)
                ],
            )
            product_services.product_audit(brand=brand, product=product, approve=True)
            product_services.product_set_shelf(brand=brand, product=product, on_shelf=True)
            product_ids.append(product.pk)
        start = timezone.now() + timedelta(minutes=15)
        room = rooms.room_create(
            brand=brand,
            title="Bench room",
            anchor_name="Bench anchor",
            scheduled_start=start,
            scheduled_end=start + timedelta(hours=3),
        )
        room_products.room_products_add(brand=brand, room=room, product_ids=product_ids)
        room = rooms.room_start(brand=brand, room=room)
        room_products.room_product_push(brand=brand, room=room, product_id=product_ids[0])
        customers = Customer.objects.bulk_create(
            [Customer(brand=brand, openid=f"bench-{n}", nickname=f"bench {n}") for n in range(args.clients)]
        )
    tokens = [str(CustomerAccessToken.for_customer(c)) for c in customers]
    connection.close()
    return {"room_id": room.pk, "brand_id": brand.pk, "tokens": tokens}


def count_queries(room_id: int, token: str, products: int, brand_id: int) -> dict:
    """The queries of one room-detail request through the whole stack (middleware included), in
    this process: on a miss (right after a change bumped the room's version, so the shared part
    is built again) and on a hit (the next request, answered from the cache)."""
    import warnings

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from livestream import room_state

    warnings.filterwarnings("ignore", message="No directory at")  # whitenoise: no collected static files here
    client = Client()
    path = ROOM_PATH.format(room_id=room_id)
    client.get(path, HTTP_AUTHORIZATION=f"Bearer {token}")  # imports, connection, the brand's state
    counts = {}
    room_state._bump(brand_id, (room_id,), ())  # what a change's commit does
    for name in ("miss", "hit"):
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path, HTTP_AUTHORIZATION=f"Bearer {token}")
        assert response.status_code == 200, response.content[:300]
        counts[name] = len(captured)
    assert len(response.json()["products"]) == products, "the room does not show every product"
    connection.close()
    return counts


def check_endpoint(port: int, path: str, token: str, encoding: str = "identity") -> bytes:
    """One request over HTTP before the load: it must answer 200."""
    headers = {"Authorization": f"Bearer {token}", "Accept-Encoding": encoding}
    request = urllib.request.Request(f"http://{HOST}:{port}{path}", headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200, response.status
        return response.read()


def server_pids(process: subprocess.Popen) -> list[int]:
    """The gunicorn master and its workers (Linux /proc)."""
    try:
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
    except OSError:
        children = []
    return [process.pid, *map(int, children)]


# --- load -----------------------------------------------------------------------------------------


def run_wrk(port: int, path: str, seconds: float, args, files: dict) -> dict:
    command = [
        "wrk",
        "--threads",
        str(args.threads),
        "--connections",
        str(args.clients),
        "--duration",
        f"{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "--script",
        files["script"],
        f"http://{HOST}:{port}{path}",
        "--",
        files["tokens"],
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next(line for line in output.splitlines() if line.startswith("BENCH_JSON "))
    figures = json.loads(line.removeprefix("BENCH_JSON "))
    seconds = figures["duration_us"] / 1e6
    ok = figures["requests"] - figures["status"]
    errors = {key: figures[key] for key in ("connect", "read", "write", "status", "timeout") if figures[key]}
    return {
        "requests": figures["requests"],
        "req_per_s": round(ok / seconds, 1) if seconds else 0.0,
        "p50_ms": round(figures["p50_us"] / 1000, 1),
        "p99_ms": round(figures["p99_us"] / 1000, 1),
        "errors": errors,
    }


async def http_get(port: int, path: str, token: str) -> int:
    reader, writer = await asyncio.open_connection(HOST, port)
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
    )
    response = await reader.read()
    writer.close()
    return int(response[9:12]) if response.startswith(b"HTTP/1.") else 0


async def python_load(port: int, path: str, tokens: list[str], seconds: float) -> dict:
    """Each client asks again as soon as it has its answer, until the time is up."""
    latencies, errors = [], {}
    stop_at = time.perf_counter() + seconds

    async def client(token):
        while time.perf_counter() < stop_at:
            sent = time.perf_counter()
            try:
                status = await http_get(port, path, token)
            except OSError as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                await asyncio.sleep(0.01)
                continue
            if status == 200:
                latencies.append(time.perf_counter() - sent)
            else:
                errors[str(status)] = errors.get(str(status), 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(client(token) for token in tokens))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies) + sum(errors.values()),
        "req_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "errors": errors,
    }


def load(port: int, path: str, seconds: float, args, state, files, pids) -> dict:
    cpu_before = sum(cpu_seconds(pid) for pid in pids)
    if args.client == "wrk":
        result = run_wrk(port, path, seconds, args, files)
    else:
        result = asyncio.run(python_load(port, path, state["tokens"], seconds))
    cpu = sum(cpu_seconds(pid) for pid in pids) - cpu_before
    result["server_cpu_ms_per_request"] = round(cpu * 1000 / result["requests"], 3) if result["requests"] else 0.0
    return result


def combined(runs: list[dict]) -> dict:
    """The rounds of one endpoint as one: mean rate, percentiles and CPU, summed errors."""
    keys = ("req_per_s", "p50_ms", "p99_ms", "server_cpu_ms_per_request")
    mean = {key: round(statistics.mean(run[key] for run in runs), 3 if key.startswith("server") else 1) for key in keys}
    errors = {}
    for run in runs:
        for code, count in run["errors"].items():
            errors[code] = errors.get(code, 0) + count
    return {**mean, "errors": errors}


def main():
    args = parse_args()
    if args.client == "auto":
        args.client = "wrk" if shutil.which("wrk") else "python"
    env = server_env(f"{args.pg}/{args.database}", args.redis_url, REDIS_PREFIX, ROOT_URLCONF="bench.room_detail.urls")
    os.environ.update({k: v for k, v in env.items() if k != "ROOT_URLCONF"})
    recreate_database(args.pg, args.database)
    state = seed(args)
    queries = count_queries(state["room_id"], state["tokens"][0], args.products, state["brand_id"])
    room_path = ROOM_PATH.format(room_id=state["room_id"])
    print(
        f"room_detail bench: {args.products} products × {args.skus} SKUs, C={args.clients} clients "
        f"({args.client}{f', {args.threads} thread(s)' if args.client == 'wrk' else ''}), {args.workers} workers, "
        f"{args.duration:g} s rounds, PostgreSQL + Redis, {os.cpu_count()} cores, load average {load_average()}"
    )
    if args.client == "python":
        print("wrk not found: the Python client is used and may itself be the bottleneck at these rates")

    with tempfile.TemporaryDirectory(prefix="room-detail-bench-") as folder:
        files = {"script": str(Path(folder) / "tokens.lua"), "tokens": str(Path(folder) / "tokens.txt")}
        Path(files["script"]).write_text(WRK_SCRIPT)
        Path(files["tokens"]).write_text("\n".join(state["tokens"]) + "\n")
        server, port = start_gunicorn(env, args.workers)
        try:
            body = check_endpoint(port, room_path, state["tokens"][0])
            gzipped = check_endpoint(port, room_path, state["tokens"][0], "gzip")
            check_endpoint(port, REFERENCE_PATH, state["tokens"][0])
            pids = server_pids(server)
            # Both endpoints warm up first (imports, connections, prepared statements), then take
            # turns, so neither is measured cold nor always right after the other.
            for path in (REFERENCE_PATH, room_path):
                load(port, path, args.warm_up, args, state, files, pids)
            rounds = {"reference": [], "room": []}
            for _ in range(args.rounds):
                rounds["reference"].append(load(port, REFERENCE_PATH, args.duration, args, state, files, pids))
                rounds["room"].append(load(port, room_path, args.duration, args, state, files, pids))
        finally:
            stop_process(server)

    for number, (ref, room) in enumerate(zip(rounds["reference"], rounds["room"], strict=True), start=1):
        print(
            f"round {number}: reference {ref['req_per_s']:.1f} req/s (p99 {ref['p99_ms']} ms), "
            f"room detail {room['req_per_s']:.1f} req/s (p99 {room['p99_ms']} ms)"
        )
    ref, room = combined(rounds["reference"]), combined(rounds["room"])
    ratio = round(room["req_per_s"] / ref["req_per_s"], 3) if ref["req_per_s"] else 0.0
    print(
        f"reference (bare JSON view, gunicorn): {ref['req_per_s']:>8.1f} req/s  p50 {ref['p50_ms']} ms  "
        f"p99 {ref['p99_ms']} ms  server CPU {ref['server_cpu_ms_per_request']} ms/request  errors {ref['errors']}"
    )
    print(
        f"GET {ROOM_PATH} (gunicorn): {room['req_per_s']:>8.1f} req/s  p50 {room['p50_ms']} ms  "
        f"p99 {room['p99_ms']} ms  server CPU {room['server_cpu_ms_per_request']} ms/request  "
        f"errors {room['errors']}  ({len(gzipped):,} bytes gzipped)"
    )
    print(
        f"ratio {ratio} (target ≥ {TARGET_RATIO}, goal {GOAL_RATIO})  queries on a miss {queries['miss']} "
        f"(target ≤ {MAX_QUERIES}), on a hit {queries['hit']} (goal 0)  {len(body):,} bytes per answer "
        f"({len(gzipped):,} gzipped, as the load asks)  "
        f"load average {load_average()}"
    )
    summary = {
        "req_per_s": room["req_per_s"],
        "p50_ms": room["p50_ms"],
        "p99_ms": room["p99_ms"],
        "ref_req_per_s": ref["req_per_s"],
        "ref_p50_ms": ref["p50_ms"],
        "ref_p99_ms": ref["p99_ms"],
        "ratio": ratio,
        "queries": queries["miss"],
        "queries_miss": queries["miss"],
        "queries_hit": queries["hit"],
        "bytes": len(body),
        "bytes_gzip": len(gzipped),
        "products": args.products,
        "clients": args.clients,
        "client": args.client,
        "errors": {"reference": ref["errors"], "room": room["errors"]},
        "meets_target": ratio >= TARGET_RATIO and queries["miss"] <= MAX_QUERIES and not room["errors"],
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
