"""Room entry: a crowd of viewers enters one live room at once (TARGETS.md, bench/entry).

One command:
    .venv/bin/python bench/entry/run.py [--viewers 3000] [--processes 1,2] [--products 100]
                                        [--rate 20] [--clients 2] [--concurrency 256]

It creates a fresh PostgreSQL database and seeds (through the ORM) one brand, one LIVE room
listing P products (3 SKUs each, the first pushed), V viewer customers and 2 commenters with
their tokens. It starts the production processes (DESIGN §11): gunicorn (2 sync workers) for
REST and N uvicorn processes for the websockets, each on its own port, on PostgreSQL + Redis.
For each N of ``--processes`` (by default one round with 1 and one with 2 websocket processes;
gunicorn is warmed up and the room's cache emptied before each, so every round starts with a
crowd's miss), the load (``--clients`` worker processes) makes every viewer enter as a
mini-program does, all starting together, at most ``--concurrency`` per worker under way at
once: ``GET /api/v1/mp/rooms/{id}`` with the customer's token on a new connection (with
``Accept-Encoding: gzip``, as a phone asks), then open ``/ws/rooms/<id>/`` with the same token
(viewers spread over the N processes) and wait for the snapshot. Meanwhile the commenters send
``--rate`` comments/s in all, which every viewer already in receives. Printed per round: the
time until all viewers are in, p50/p99 per viewer (GET start → snapshot), errors (target 0),
comments sent and seen back, and the server CPU per entry (gunicorn + uvicorn processes, the
comments' fan-out to the viewers already in included; PostgreSQL's, machine-wide, apart). Ends
with one JSON line.
"""

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
import urllib.request
from array import array
from collections import Counter
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
    seed_live_room,
    server_env,
    session_cpu_seconds,
    start_gunicorn,
    start_uvicorn,
    stop_process,
)
from bench.ws_load import COMMENT, ERROR, ViewerPool, open_socket  # noqa: E402

ROOM_PATH = "/api/v1/mp/rooms/{room_id}"
REDIS_PREFIX = "siyu-bench-entry"
TARGET_ALL_IN_S = 5.0  # the goal in TARGETS.md; the target is errors = 0


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--viewers", type=int, default=3000, help="viewers entering the room (V)")
    parser.add_argument("--processes", default="1,2", help="websocket processes per round, comma-separated")
    parser.add_argument("--products", type=int, default=100, help="on-sale products in the room (P)")
    parser.add_argument("--rate", type=float, default=20, help="comments per second during the entry (0: none)")
    parser.add_argument("--clients", type=int, default=2, help="load worker processes")
    parser.add_argument("--concurrency", type=int, default=64, help="entries under way at once per load worker")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument(
        "--fanout-mode", choices=["each", "ticks"], default="each", help="the room's fan-out (LiveRoom.fanout_mode)"
    )
    parser.add_argument("--database", default="siyu_bench_entry", help="PostgreSQL database (recreated)")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432", help="PostgreSQL server URL")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/5")
    args = parser.parse_args()
    args.processes = [int(n) for n in args.processes.split(",")]
    return args


def seed(args) -> dict:
    """The live room, its viewers and commenters (bench.common.seed_live_room), and P products with
    3 SKUs each listed in the room, the first one pushed."""
    state = seed_live_room(args.viewers, commenters=2)
    from django.db import connection

    from commerce.models import Product, Sku
    from livestream.models import LiveRoom, RoomProduct
    from tenants.scoping import brand_scope

    room = LiveRoom.unscoped.select_related("brand").get(pk=state["room_id"])
    with brand_scope(room.brand):
        products = Product.objects.bulk_create(
            [
                Product(
                    brand=room.brand,
                    name=f"Bench product {n}",
                    category="bench",
                    price=9900 + n,
                    images=[f"https://img.example/bench-{n}-a.jpg", f"https://img.example/bench-{n}-b.jpg"],
                    status=Product.Status.ON_SHELF,
                    audit_status=Product.AuditStatus.APPROVED,
                )
                for n in range(args.products)
            ]
        )
        Sku.objects.bulk_create(
            [
                Sku(brand=room.brand, product=p, code=f"P{n}-S{s}", spec=f"Size {s}", price=9900 + n, stock=100 * s)
                for n, p in enumerate(products)
                for s in range(3)
            ]
        )
        listings = RoomProduct.objects.bulk_create(
            [RoomProduct(brand=room.brand, room=room, product=p, position=n) for n, p in enumerate(products, 1)]
        )
        LiveRoom.objects.filter(pk=room.pk).update(
            pushed_product=listings[0] if listings else None, fanout_mode=args.fanout_mode
        )
    connection.close()
    return state


class Commenter:
    """A commenter socket sending paced comments, counting its own coming back and error frames."""

    def __init__(self, index: int):
        self.index, self.sent, self.seen, self.rejected, self.conn = index, 0, 0, 0, None

    def on_text(self, _slot, data) -> None:
        if data.startswith(COMMENT) and f"c={self.index} ".encode() in data:
            self.seen += 1
        elif data.startswith(ERROR):
            self.rejected += 1

    async def paced(self, every: float, stop: asyncio.Event) -> None:
        start, n = time.perf_counter(), 0
        while not stop.is_set():
            delay = start + n * every - time.perf_counter()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                if stop.is_set():
                    return
            text = f"t={time.perf_counter_ns()} c={self.index} s={n} entering"
            if self.conn.send_now(json.dumps({"type": "comment", "data": {"text": text}}).encode()):
                self.sent += 1
            n += 1


async def enter_round(args, state, gunicorn_port: int, ws_ports: list[int]) -> dict:
    n = len(ws_ports)
    room = state["room_id"]
    path = ROOM_PATH.format(room_id=room)
    entries = [
        (i % n, f"{HOST}:{gunicorn_port}", path, f"ws://{HOST}:{ws_ports[i % n]}/ws/rooms/{room}/?token={token}")
        for i, token in enumerate(state["viewer_tokens"])
    ]
    pool = ViewerPool(args.clients, n)
    commenters = [Commenter(k) for k in range(max(len(state["commenters"]), n))]
    stop = asyncio.Event()
    try:
        # The commenters' sockets (one or more on each process) also warm the processes up.
        for k, c in enumerate(commenters):
            token = state["commenters"][k % len(state["commenters"])]["token"]
            c.conn = await open_socket(f"ws://{HOST}:{ws_ports[k % n]}/ws/rooms/{room}/?token={token}", c.on_text)
        flow = [asyncio.create_task(c.paced(len(commenters) / args.rate, stop)) for c in commenters if args.rate > 0]
        await asyncio.sleep(1.0)  # the comments flow before the crowd arrives
        shares = [entries[i :: args.clients] for i in range(args.clients)]
        start_ns = time.perf_counter_ns() + 300_000_000  # every worker starts at the same moment
        results = await pool.ask_each("enter", [(share, args.concurrency, start_ns) for share in shares])
        await asyncio.sleep(1.0)
        stop.set()
        await asyncio.gather(*flow)
        await asyncio.sleep(0.5)
        await pool.ask_all("close")
        for c in commenters:
            await c.conn.close()
    finally:
        await pool.stop()
    took = array("q")
    errors: Counter = Counter()
    for r in results:
        took.frombytes(r["took"])
        errors.update(r["errors"])
    took = sorted(took)
    done = max((r["done_ns"] for r in results), default=start_ns)
    return {
        "entered": sum(r["entered"] for r in results),
        "all_in_s": round((done - start_ns) / 1e9, 3),
        "p50_ms": round(percentile(took, 0.5) / 1e6, 1),
        "p99_ms": round(percentile(took, 0.99) / 1e6, 1),
        "max_ms": round((took[-1] if took else 0) / 1e6, 1),
        "errors": dict(errors),
        "error_count": sum(errors.values()),
        "comments_sent": sum(c.sent for c in commenters),
        "comments_seen_back": sum(c.seen for c in commenters),
        "comments_rejected": sum(c.rejected for c in commenters),
    }


def warm_up(port: int, state: dict, workers: int) -> None:
    """Every gunicorn worker has answered the room once (imports, connections) before the crowd."""
    path = ROOM_PATH.format(room_id=state["room_id"])
    for token in state["viewer_tokens"][: 10 * workers]:
        request = urllib.request.Request(f"http://{HOST}:{port}{path}", headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200, response.status


def main():
    args = parse_args()
    limit = raise_open_files_limit(4 * args.viewers + 1000)
    env = server_env(f"{args.pg}/{args.database}", args.redis_url, REDIS_PREFIX, WEB_CONCURRENCY="1")
    os.environ.update(env)
    recreate_database(args.pg, args.database)
    clear_redis_prefix(args.redis_url, REDIS_PREFIX)
    state = seed(args)
    print(
        f"entry bench: {args.viewers} viewers enter one live room ({args.products} products × 3 SKUs) while "
        f"{args.rate:g} comments/s flow; gunicorn {args.workers} workers + {args.processes} websocket process(es); "
        f"{args.clients} load processes × {args.concurrency} at once; open files limit {limit}; "
        f"{os.cpu_count()} cores, load average {load_average()}",
        flush=True,
    )
    rounds = {}
    gunicorn, gunicorn_port = start_gunicorn(env, args.workers)
    try:
        for n in args.processes:
            warm_up(gunicorn_port, state, args.workers)
            clear_redis_prefix(args.redis_url, REDIS_PREFIX)  # a cold room cache: the crowd's miss
            servers = [start_uvicorn(env) for _ in range(n)]
            try:
                pids = [gunicorn.pid, *(s.pid for s, _ in servers)]
                before = {pid: session_cpu_seconds(pid) for pid in pids}
                pg_before = postgres_cpu_seconds()
                result = asyncio.run(enter_round(args, state, gunicorn_port, [port for _, port in servers]))
                cpu = {pid: session_cpu_seconds(pid) - before[pid] for pid in pids}
                pg = postgres_cpu_seconds() - pg_before
            finally:
                for server, _ in servers:
                    stop_process(server)
            entered = max(result["entered"], 1)
            result["rest_cpu_ms_per_entry"] = round(cpu[gunicorn.pid] * 1000 / entered, 3)
            result["ws_cpu_ms_per_entry"] = round(sum(cpu[s.pid] for s, _ in servers) * 1000 / entered, 3)
            result["server_cpu_ms_per_entry"] = round(
                result["rest_cpu_ms_per_entry"] + result["ws_cpu_ms_per_entry"], 3
            )
            result["postgres_cpu_ms_per_entry"] = round(pg * 1000 / entered, 3)
            rounds[str(n)] = result
            print(
                f"{n} websocket process(es): {result['entered']}/{args.viewers} in after {result['all_in_s']} s "
                f"(goal ≤ {TARGET_ALL_IN_S:g} s)  per viewer p50 {result['p50_ms']} ms  p99 {result['p99_ms']} ms  "
                f"max {result['max_ms']} ms  errors {result['error_count']} {result['errors'] or ''}  "
                f"server CPU per entry {result['server_cpu_ms_per_entry']} ms (REST {result['rest_cpu_ms_per_entry']}, "
                f"websocket {result['ws_cpu_ms_per_entry']}; PostgreSQL, machine-wide, "
                f"{result['postgres_cpu_ms_per_entry']})  comments sent {result['comments_sent']}, seen back "
                f"{result['comments_seen_back']}, refused {result['comments_rejected']}  load average {load_average()}",
                flush=True,
            )
    finally:
        stop_process(gunicorn)
    errors = sum(r["error_count"] for r in rounds.values())
    summary = {
        "viewers": args.viewers,
        "products": args.products,
        "rate": args.rate,
        "rounds": rounds,
        "all_in_s": {n: r["all_in_s"] for n, r in rounds.items()},
        "p99_ms": {n: r["p99_ms"] for n, r in rounds.items()},
        "server_cpu_ms_per_entry": {n: r["server_cpu_ms_per_entry"] for n, r in rounds.items()},
        "errors": errors,
        "meets_target": errors == 0 and all(r["entered"] == args.viewers for r in rounds.values()),
        "meets_goal": errors == 0 and all(r["all_in_s"] <= TARGET_ALL_IN_S for r in rounds.values()),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
