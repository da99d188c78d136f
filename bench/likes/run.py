"""Like storm: like messages/s, each carrying a count of taps, from many viewers (TARGETS.md, bench/likes).

One command:
    .venv/bin/python bench/likes/run.py [--viewers 2000] [--processes 1] [--rate 15] [--count 5]
                                        [--seconds 10] [--clients 2]

It creates a fresh PostgreSQL database, seeds (through the ORM) one brand, one LIVE room and V
viewer customers with their tokens, and starts N production websocket processes (uvicorn on
``config.asgi``, each its own process and port, PostgreSQL + Redis, DESIGN §11). The viewers
(``--clients`` load processes) join the room spread over the N processes, and every viewer
sends ``{"type":"like","data":{"count":k}}`` ``--rate`` times a second for ``--seconds``. While
the storm lasts, this runner does what Celery beat does every ``--flush-every`` seconds (the
live-state flush) and watches the room's like total in Redis grow. Measured: like messages/s and
taps/s ingested (all of them counted in Redis, from the first message sent to the last one
counted); then a final flush, and checked: the Redis total, ``LiveRoom.like_total`` and its
per-minute series all equal the taps sent; the database writes the storm caused (UPDATEs of
``livestream_liveroom`` from ``pg_stat_user_tables``) are at most one per room per flush.

In the same run the same viewers send the same message rate to the reference: one bare
``websockets`` server process that only counts (bench/ws_fanout/reference_server.py --mode
count). ``ratio`` = Siyu's messages/s ÷ the reference's; target ≥ 0.5. Last line: one JSON object.
"""

import argparse
import asyncio
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    HOST,
    clear_redis_prefix,
    free_port,
    load_average,
    raise_open_files_limit,
    recreate_database,
    seed_live_room,
    server_env,
    start_process,
    start_uvicorn,
    stop_process,
)
from bench.ws_load import ViewerPool, merge_reports, process_cpu, run_loop, self_cpu  # noqa: E402

REDIS_PREFIX = "siyu-bench-likes"
RATIO_TARGET = 0.5
FLOOD_SAFE_RATE = 19.0  # the consumer closes a socket that sends over 20 frames/s on average


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--viewers", type=int, default=2000, help="viewer sockets in the room (V)")
    parser.add_argument("--processes", type=int, default=1, help="uvicorn processes serving the sockets (N)")
    parser.add_argument(
        "--rate",
        type=float,
        default=15.0,
        help="like messages per viewer per second (the consumer closes a socket above 20/s)",
    )
    parser.add_argument("--count", type=int, default=5, help="taps per like message (1 to 100)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the storm")
    parser.add_argument("--clients", type=int, default=2, help="load worker processes holding the viewer sockets")
    parser.add_argument(
        "--flush-every", type=float, default=5.0, help="seconds between live-state flushes (the Celery beat schedule)"
    )
    parser.add_argument("--database", default="siyu_bench_likes", help="PostgreSQL database (recreated)")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432", help="PostgreSQL server URL")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/4", help="Redis (a database tests do not use)")
    parser.add_argument("--skip-reference", action="store_true", help="measure Siyu only (no ratio)")
    parser.add_argument(
        "--py-spy",
        metavar="FILE",
        help="record a py-spy profile of Siyu's process 0 during the storm (.svg: flame graph, else collapsed stacks)",
    )
    args = parser.parse_args()
    if not 0 < args.rate <= FLOOD_SAFE_RATE:
        parser.error(f"--rate must be above 0 and at most {FLOOD_SAFE_RATE} (the consumer's flood limit is 20/s)")
    if not 1 <= args.count <= 100:
        parser.error("--count is 1 to 100 (the consumer's limit per message)")
    return args


def liveroom_updates(pg_url: str, database: str) -> int:
    """Rows of livestream_liveroom updated so far, as PostgreSQL's statistics count them."""
    import psycopg

    conn = psycopg.connect(f"{pg_url}/{database}", autocommit=True)
    with conn.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT n_tup_upd FROM pg_stat_user_tables WHERE relname = 'livestream_liveroom'")
        row = cursor.fetchone()
    conn.close()
    return int(row[0]) if row else 0


class Flusher:
    """What Celery beat does for live rooms (``livestream.flush_live_state``), on one thread of
    this runner, every ``every`` seconds while the storm lasts, and once more at the end."""

    def __init__(self, every: float):
        self.every = every
        self.executor = ThreadPoolExecutor(max_workers=1)  # one thread: one database connection
        self.flushes = 0
        self.rooms_written = 0

    def _flush(self) -> None:
        from livestream.services.live import live_flush

        self.rooms_written += live_flush()["rooms"]
        self.flushes += 1

    async def flush(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self.executor, self._flush)

    async def run(self, stop: asyncio.Event) -> None:
        while True:
            try:
                await asyncio.wait_for(stop.wait(), self.every)
                return
            except TimeoutError:
                await self.flush()

    @staticmethod
    def _close() -> None:
        from django.db import connection

        connection.close()  # this thread's connection: its statistics reach pg_stat_user_tables

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self.executor, self._close)
        self.executor.shutdown()


async def storm(name, pool, slots, args, read_ingested, server_pids, flusher=None, profile=None) -> dict:
    """Send the storm to the sockets of ``slots``; watch ``read_ingested()`` (messages counted by the
    server) until it has them all, or nothing moves for 5 s."""
    await pool.ask_all("reset")
    payload = json.dumps({"type": "like", "data": {"count": args.count}}, separators=(",", ":")).encode()
    cpu_before = {"server": process_cpu(server_pids), "clients": process_cpu(pool.pids), "runner": self_cpu()}
    base = await read_ingested()
    spy = None
    if profile:
        import subprocess

        spy = subprocess.Popen(
            [
                str(ROOT / ".venv/bin/py-spy"),
                "record",
                "-o",
                profile,
                "--pid",
                str(server_pids[0]),
                "--duration",
                str(int(args.seconds)),
                "--rate",
                "200",
                "--nonblocking",
                "--format",
                "flamegraph" if profile.endswith(".svg") else "raw",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    start_ns = time.perf_counter_ns() + 50_000_000  # every worker starts at the same moment
    start = start_ns / 1e9
    sending = asyncio.ensure_future(pool.ask_all("send_likes", payload, args.rate, args.seconds, start_ns, slots))
    stop_flushing = asyncio.Event()
    flushing = asyncio.ensure_future(flusher.run(stop_flushing)) if flusher else None
    value, changed_at, at_send_end, sent = base, start, None, None
    while True:
        now = time.perf_counter()
        current = await read_ingested()
        if current != value:
            value, changed_at = current, now
        if sent is None and sending.done():
            sent = sum(r["sent"] for r in sending.result())
            at_send_end = value - base
        if sent is not None and (value - base >= sent or now - changed_at > 5):
            break
        await asyncio.sleep(0.02)
    drained = time.perf_counter()
    if flushing:
        stop_flushing.set()
        await flushing
    if spy is not None:
        spy.wait(timeout=60)
    results = sending.result()
    cpu = {
        "server": process_cpu(server_pids) - cpu_before["server"],
        "clients": process_cpu(pool.pids) - cpu_before["clients"],
        "runner": self_cpu() - cpu_before["runner"],
    }
    report = merge_reports(await pool.ask_all("report"), pool.slots)
    ingested = value - base
    elapsed = max(changed_at - start, 1e-9)
    send_seconds = max((r["seconds"] for r in results), default=0.0)
    result = {
        "sent": sent,
        "failed_sends": sum(r["failed"] for r in results),
        "ingested": ingested,
        "missing": sent - ingested,
        "seconds": round(elapsed, 3),
        "send_seconds": round(send_seconds, 3),
        "sent_per_s": round(sent / send_seconds, 1) if send_seconds else 0.0,
        "messages_per_s": round(ingested / elapsed, 1),
        "taps_per_s": round(ingested * args.count / elapsed, 1),
        "behind_at_send_end": sent - at_send_end,
        "closed_sockets": report["closed"],
        "cpu_percent": {k: round(100 * v / (drained - start), 1) for k, v in cpu.items()},
        "messages_per_server_cpu_s": round(ingested / cpu["server"]) if cpu["server"] else None,
    }
    print(
        f"  {name:<9} sent {sent} messages ({result['sent_per_s']:.1f}/s) ingested {ingested} in "
        f"{result['seconds']} s = {result['messages_per_s']:.1f} messages/s, {result['taps_per_s']:.1f} taps/s; "
        f"{result['behind_at_send_end']} behind when the sending stopped; cpu% {result['cpu_percent']}; "
        f"messages per server cpu-s {result['messages_per_server_cpu_s']}"
        + (f"; closed sockets {report['closed']}" if report["closed"] else ""),
        flush=True,
    )
    return result


async def load(args, state, siyu_ports, siyu_pids, ref_port, ref_pid) -> dict:
    from livestream import realtime
    from livestream.models import LiveRoom

    n = len(siyu_ports)
    room = state["room_id"]
    pool = ViewerPool(args.clients, n + 1)  # slots 0..n-1: Siyu's processes; slot n: the reference
    results = {}
    try:
        started = time.perf_counter()
        if ref_port:
            connected = await pool.connect([(n, f"ws://{HOST}:{ref_port}/")] * args.viewers)
            print(
                f"  reference: {connected['connected']}/{args.viewers} viewers connected in "
                f"{time.perf_counter() - started:.1f} s",
                flush=True,
            )
        started = time.perf_counter()
        urls = [
            (i % n, f"ws://{HOST}:{siyu_ports[i % n]}/ws/rooms/{room}/?token={token}")
            for i, token in enumerate(state["viewer_tokens"])
        ]
        connected = await pool.connect(urls)
        print(
            f"  siyu: {connected['connected']}/{args.viewers} viewers connected in "
            f"{time.perf_counter() - started:.1f} s"
            + (f"; errors {connected['errors']}" if connected["errors"] else ""),
            flush=True,
        )
        results["viewers"] = connected["connected"]
        await asyncio.sleep(1.0)

        if ref_port:
            from websockets.asyncio.client import connect

            stats = await connect(f"ws://{HOST}:{ref_port}/stats", proxy=None, compression=None)

            async def ref_count() -> int:
                await stats.send("?")
                return json.loads(await stats.recv())["messages"]

            results["reference"] = await storm("reference", pool, [n], args, ref_count, [ref_pid])
            await stats.close()
            await asyncio.sleep(1.0)

        store = realtime.store()

        async def siyu_count() -> int:  # like messages the room counted (all of them carry --count taps)
            return store.like_totals([room]).get(room, 0) // args.count

        flusher = Flusher(args.flush_every)
        db_before = liveroom_updates(args.pg, args.database)
        results["siyu"] = await storm(
            "siyu", pool, list(range(n)), args, siyu_count, siyu_pids, flusher, profile=args.py_spy
        )
        await flusher.flush()  # the last flush after the storm
        await flusher.close()
        await asyncio.sleep(1.0)  # the statistics of the flusher's connection reach pg_stat_user_tables
        db_writes = liveroom_updates(args.pg, args.database) - db_before
        sent_taps = results["siyu"]["sent"] * args.count
        redis_taps = store.like_totals([room]).get(room, 0)
        row = await asyncio.to_thread(lambda: LiveRoom.unscoped.values("like_total", "likes_per_minute").get(pk=room))
        results["check"] = {
            "sent_taps": sent_taps,
            "redis_taps": redis_taps,
            "db_like_total": row["like_total"],
            "db_likes_per_minute_sum": sum(row["likes_per_minute"].values()),
            "db_writes": db_writes,
            "flushes": flusher.flushes,
            "rooms_written": flusher.rooms_written,
        }
        await pool.ask_all("close")
    finally:
        await pool.stop()
    return results


def main():
    args = parse_args()
    raise_open_files_limit()
    env = server_env(f"{args.pg}/{args.database}", args.redis_url, REDIS_PREFIX)
    os.environ.update(env)
    recreate_database(args.pg, args.database)
    clear_redis_prefix(args.redis_url, REDIS_PREFIX)
    state = seed_live_room(args.viewers)
    print(
        f"likes bench: V={args.viewers} viewers, N={args.processes} uvicorn process(es), {args.rate:g} like "
        f"messages/s per viewer ({args.viewers * args.rate:,.0f}/s offered) of {args.count} taps, "
        f"{args.seconds:g} s, "
        f"flush every {args.flush_every:g} s, load in {args.clients} client process(es), {os.cpu_count()} cores, "
        f"load average {load_average()}",
        flush=True,
    )
    servers = []
    try:
        siyu = [start_uvicorn(env) for _ in range(args.processes)]
        servers += [p for p, _ in siyu]
        ref_port = ref_process = None
        if not args.skip_reference:
            ref_port = free_port()
            ref_process = start_process(
                [
                    sys.executable,
                    str(ROOT / "bench/ws_fanout/reference_server.py"),
                    "--port",
                    str(ref_port),
                    "--mode",
                    "count",
                ],
                ref_port,
            )
            servers.append(ref_process)
        results = run_loop(
            load(
                args,
                state,
                [port for _, port in siyu],
                [p.pid for p, _ in siyu],
                ref_port,
                ref_process.pid if ref_process else None,
            )
        )
    finally:
        for process in servers:
            stop_process(process)
        clear_redis_prefix(args.redis_url, REDIS_PREFIX)

    s, check, ref = results["siyu"], results["check"], results.get("reference")
    ratio = round(s["messages_per_s"] / ref["messages_per_s"], 3) if ref and ref["messages_per_s"] else None
    total_ok = (
        check["sent_taps"] == check["redis_taps"] == check["db_like_total"] == check["db_likes_per_minute_sum"]
        and s["missing"] == 0
        and s["closed_sockets"] == 0
    )
    writes_ok = check["db_writes"] <= check["flushes"]  # one room: at most one write per flush
    print(
        f"check: taps sent {check['sent_taps']}, in Redis {check['redis_taps']}, LiveRoom.like_total "
        f"{check['db_like_total']}, per-minute sum {check['db_likes_per_minute_sum']} -> total_ok {total_ok}; "
        f"database writes {check['db_writes']} over {check['flushes']} flushes (rooms written "
        f"{check['rooms_written']}) -> ≤ 1 per room per flush: {writes_ok}"
    )
    print(f"ratio {ratio} (target ≥ {RATIO_TARGET})")
    summary = {
        "viewers": results["viewers"],
        "processes": args.processes,
        "rate_per_viewer": args.rate,
        "count": args.count,
        "seconds": args.seconds,
        "sent_per_s": s["sent_per_s"],
        "messages_per_s": s["messages_per_s"],
        "taps_per_s": s["taps_per_s"],
        "ref_messages_per_s": ref["messages_per_s"] if ref else None,
        "ref_sent_per_s": ref["sent_per_s"] if ref else None,
        "ratio": ratio,
        "messages_per_server_cpu_s": s["messages_per_server_cpu_s"],
        "ref_messages_per_server_cpu_s": ref["messages_per_server_cpu_s"] if ref else None,
        "db_writes": check["db_writes"],
        "flushes": check["flushes"],
        "total_ok": total_ok,
        "cpu_percent": s["cpu_percent"],
        "ref_cpu_percent": ref["cpu_percent"] if ref else None,
        "meets_target": ratio is not None and ratio >= RATIO_TARGET and total_ok and writes_ok,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
