"""Comment fan-out: deliveries/s of comments to C viewers in one room (TARGETS.md, bench/ws_fanout).

One command:
    .venv/bin/python bench/ws_fanout/run.py [--viewers 2000] [--processes 1] [--commenters 4]
                                            [--seconds 10] [--rate 20] [--clients 2]

It creates a fresh PostgreSQL database, seeds (through the ORM) one brand, one LIVE room, C
viewer customers and K commenter customers with their tokens, and starts N production websocket
processes (uvicorn on ``config.asgi``, each its own process and port, PostgreSQL + Redis, DESIGN
§11). The load (this runner: commenters; ``--clients`` worker processes: the viewers) opens C
viewer sockets spread over the N processes, waits for each snapshot, then runs two phases:

* saturated: the K commenters send as fast as the server takes comments — each keeps at most
  ``--window`` comments unanswered (a comment is *accepted* when its author's socket receives
  it back), stays under the server's flood limit, and all pause while the viewers are more than
  ``--backlog`` comments behind, so nothing piles up past a socket's send buffer. Counted:
  accepted comments, deliveries to viewers, deliveries/s, lost (accepted × C − received) and
  send→receive latency (the send time travels in the comment text: ``t=<perf_counter_ns>``);
* paced: a busy room, ``--rate`` comments/s in all: p50/p99 send→receive latency, lost.

In the same run the same load goes to the reference: one bare ``websockets`` broadcast server
process (bench/ws_fanout/reference_server.py), whose commenters send frames shaped and sized
like Siyu's comment events. Printed: both, ``ratio`` = Siyu's saturated deliveries/s ÷ the
reference's, per-process deliveries, CPU use of servers and load, and one JSON line last.
Targets: saturated ratio ≥ 0.7 with nothing lost; paced p99 ≤ 250 ms; with 2 processes, a
comment reaches viewers on both and nothing is lost.
"""

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    HOST,
    clear_redis_prefix,
    free_port,
    load_average,
    percentile,
    raise_open_files_limit,
    recreate_database,
    seed_live_room,
    server_env,
    start_process,
    start_uvicorn,
    stop_process,
    syscalls,
)
from bench.ws_load import (  # noqa: E402
    COMMENT,
    ERROR,
    TEXT_TIME,
    ViewerPool,
    merge_reports,
    open_socket,
    process_cpu,
    run_loop,
    self_cpu,
)

REDIS_PREFIX = "siyu-bench-fanout"
FLOOD_SAFE_RATE = 19.0  # frames/s a commenter sends at most (the consumer closes a socket above 20/s)
RATIO_TARGET, P99_TARGET_MS = 0.7, 250.0


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--viewers", type=int, default=2000, help="viewer sockets in the room (C)")
    parser.add_argument("--processes", type=int, default=1, help="uvicorn processes serving the sockets (N)")
    parser.add_argument("--commenters", type=int, default=4, help="commenter sockets (K)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    parser.add_argument("--rate", type=float, default=20.0, help="paced phase: comments/s in all")
    parser.add_argument("--clients", type=int, default=2, help="load worker processes holding the viewer sockets")
    parser.add_argument("--window", type=int, default=4, help="saturated: unanswered comments per commenter")
    parser.add_argument(
        "--backlog", type=int, default=8, help="saturated: commenters pause while viewers are this many comments behind"
    )
    parser.add_argument("--database", default="siyu_bench_ws_fanout", help="PostgreSQL database (recreated)")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432", help="PostgreSQL server URL")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/4", help="Redis (a database tests do not use)")
    parser.add_argument("--skip-reference", action="store_true", help="measure Siyu only (no ratio)")
    parser.add_argument(
        "--py-spy",
        metavar="PREFIX",
        help="record py-spy profiles of the reference and of Siyu's process 0 during the saturated "
        "phase into PREFIX-<target>.svg (flame graph), or .txt (collapsed stacks) if PREFIX "
        "ends with .txt",
    )
    parser.add_argument("--py-spy-native", action="store_true", help="py-spy: include native frames")
    args = parser.parse_args()
    if args.rate / args.commenters > FLOOD_SAFE_RATE:
        parser.error(f"--rate/--commenters must stay under {FLOOD_SAFE_RATE} comments/s per commenter")
    return args


# --- the commenters ---------------------------------------------------------------------------------


class Commenter:
    """One commenter socket: sends comments stamped ``t=<ns> c=<index> s=<seq>`` and counts its
    own comments coming back (accepted) and error frames (rejected)."""

    def __init__(self, index: int, info: dict, room_id: int, reference: bool):
        self.index, self.info, self.room_id, self.reference = index, info, room_id, reference
        self.conn = None
        self.seq = 0
        self.reset()

    def reset(self):
        self.sent = self.accepted = self.rejected = 0
        self.errors: dict[str, int] = {}

    @property
    def outstanding(self) -> int:
        return self.sent - self.accepted - self.rejected

    async def open(self, url: str):
        self.conn = await open_socket(url, self.on_text)

    def on_text(self, _slot, data) -> None:
        if data.startswith(COMMENT):
            i = data.find(b" c=", data.find(TEXT_TIME))
            if i > 0 and int(data[i + 3 : data.find(b" ", i + 3)]) == self.index:
                self.accepted += 1
        elif data.startswith(ERROR):
            self.rejected += 1
            code = json.loads(data)["data"].get("code", "?")
            self.errors[code] = self.errors.get(code, 0) + 1

    def frame(self) -> bytes:
        self.seq += 1
        text = f"t={time.perf_counter_ns()} c={self.index} s={self.seq}"
        if not self.reference:
            return json.dumps({"type": "comment", "data": {"text": text}}, separators=(",", ":")).encode()
        # The reference broadcasts what it gets: send it a frame shaped and sized like Siyu's comment event.
        data = {
            "id": 1_000_000 + self.seq,
            "room_id": self.room_id,
            "customer": {"id": self.info["id"], "nickname": self.info["nickname"], "avatar_url": ""},
            "text": text,
            "at": datetime.now(UTC).isoformat(),
        }
        return json.dumps({"type": "comment", "data": data}, ensure_ascii=False, separators=(",", ":")).encode()

    def send(self) -> None:
        if self.conn.send_now(self.frame()):
            self.sent += 1

    async def saturate(self, until: float, window: int, room_for_more) -> None:
        """As fast as comments come back: at most ``window`` unanswered, under the flood limit."""
        interval, next_at = 1.0 / FLOOD_SAFE_RATE, 0.0
        while (now := time.perf_counter()) < until:
            if self.outstanding >= window or not room_for_more():
                await asyncio.sleep(0.002)
            elif now < next_at:
                await asyncio.sleep(next_at - now)
            else:
                next_at = max(next_at, now) + interval
                self.send()

    async def paced(self, start: float, until: float, every: float) -> None:
        """One comment every ``every`` seconds from ``start`` (absolute times: no drift)."""
        n = 0
        while (at := start + n * every) < until:
            delay = at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            self.send()
            n += 1


# --- one target (the reference or Siyu) -------------------------------------------------------------


class Target:
    """The reference or Siyu: its commenters, how many viewers it has (per server process), its pids."""

    def __init__(self, name, commenters, server_pids, slots):
        self.name, self.commenters, self.server_pids, self.slots = name, commenters, server_pids, slots
        self.viewers, self.per_slot_viewers = 0, None

    async def connect(self, pool: ViewerPool, viewer_urls, commenter_urls):
        started = time.perf_counter()
        connected = await pool.connect(viewer_urls)
        await asyncio.gather(*(c.open(url) for c, url in zip(self.commenters, commenter_urls, strict=True)))
        self.viewers = connected["connected"]
        if self.viewers == len(viewer_urls):  # which sockets failed is not tracked
            self.per_slot_viewers = [sum(1 for slot, _ in viewer_urls if slot == s) for s in self.slots]
        print(
            f"  {self.name}: {self.viewers}/{len(viewer_urls)} viewers and {len(self.commenters)} commenters "
            f"connected in {time.perf_counter() - started:.1f} s"
            + (f"; errors {connected['errors']}" if connected["errors"] else ""),
            flush=True,
        )

    async def close(self):
        await asyncio.gather(*(c.conn.close() for c in self.commenters), return_exceptions=True)


async def run_phase(phase, pool, target: Target, args, profile=None):
    commenters, viewers, server_pids = target.commenters, target.viewers, target.server_pids
    await pool.ask_all("reset")
    for c in commenters:
        c.reset()
    cpu_before = {"server": process_cpu(server_pids), "clients": process_cpu(pool.pids), "runner": self_cpu()}
    calls_before = [sum(x) for x in zip(*(syscalls(pid) for pid in server_pids), strict=True)]
    backlog = args.backlog * viewers

    def room_for_more() -> bool:  # the viewers are less than --backlog comments behind
        return sum(c.sent - c.rejected for c in commenters) * viewers - pool.delivered() < backlog

    spy = None
    if profile:
        import subprocess

        kind = "flamegraph" if profile.endswith(".svg") else "raw"  # raw: collapsed stacks, one per line
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
                "--format",
                kind,
                *(["--native"] if args.py_spy_native else ["--nonblocking"]),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    start_ns = time.perf_counter_ns()
    start = start_ns / 1e9
    until = start + args.seconds
    if phase == "saturated":
        await asyncio.gather(*(c.saturate(until, args.window, room_for_more) for c in commenters))
    else:
        every = len(commenters) / args.rate
        await asyncio.gather(*(c.paced(start + k / args.rate, until, every) for k, c in enumerate(commenters)))
    sent_done = time.perf_counter()

    # Drain: until every comment came back to its author and reached every viewer, or nothing moves for 5 s.
    last_progress, last_seen = time.perf_counter(), -1
    while True:
        accepted = sum(c.accepted for c in commenters)
        delivered = pool.delivered()
        if all(c.outstanding == 0 for c in commenters) and delivered >= accepted * viewers:
            break
        if delivered != last_seen:
            last_seen, last_progress = delivered, time.perf_counter()
        elif time.perf_counter() - last_progress > 5:
            break
        await asyncio.sleep(0.01)
    drained = time.perf_counter()
    if spy is not None:
        spy.wait(timeout=60)
    report = merge_reports(await pool.ask_all("report"), pool.slots)
    report["per_slot"] = [report["per_slot"][s] for s in target.slots]
    accepted = sum(c.accepted for c in commenters)
    elapsed = max((report["last_ns"] / 1e9) - start, 1e-9) if report["last_ns"] else drained - start
    cpu = {
        "server": process_cpu(server_pids) - cpu_before["server"],
        "clients": process_cpu(pool.pids) - cpu_before["clients"],
        "runner": self_cpu() - cpu_before["runner"],
    }
    calls_after = [sum(x) for x in zip(*(syscalls(pid) for pid in server_pids), strict=True)]
    calls = [after - before for after, before in zip(calls_after, calls_before, strict=True)]
    lat = report["latencies"]
    expected = accepted * viewers
    result = {
        "sent": sum(c.sent for c in commenters),
        "accepted": accepted,
        "rejected": sum(c.rejected for c in commenters),
        "errors": {k: v for c in commenters for k, v in c.errors.items()},
        "unanswered": sum(c.outstanding for c in commenters),
        "deliveries": report["total"],
        "expected": expected,
        "lost": expected - report["total"],
        "seconds": round(elapsed, 3),
        "send_seconds": round(sent_done - start, 3),
        "deliveries_per_s": round(report["total"] / elapsed, 1) if report["total"] else 0.0,
        "comments_per_s": round(accepted / elapsed, 1) if accepted else 0.0,
        "p50_ms": round(percentile(lat, 0.50) / 1e6, 1),
        "p99_ms": round(percentile(lat, 0.99) / 1e6, 1),
        "max_ms": round(lat[-1] / 1e6, 1) if lat else 0.0,
        "mean_ms": round(statistics.fmean(lat) / 1e6, 1) if lat else 0.0,
        "per_process_deliveries": report["per_slot"],
        "per_process_lost": (
            [accepted * n - got for n, got in zip(target.per_slot_viewers, report["per_slot"], strict=True)]
            if target.per_slot_viewers
            else None
        ),
        "other_frames": report["other"],
        "closed_sockets": report["closed"],
        "cpu_percent": {k: round(100 * v / (drained - start), 1) for k, v in cpu.items()},
        "deliveries_per_server_cpu_s": round(report["total"] / cpu["server"]) if cpu["server"] else None,
        "server_syscalls_per_delivery": {
            "read": round(calls[0] / max(report["total"], 1), 3),
            "write": round(calls[1] / max(report["total"], 1), 3),
        },
    }
    return result


def describe(name: str, phase: str, r: dict) -> str:
    return (
        f"  {name:<9} {phase:<9} accepted {r['accepted']:>5} ({r['comments_per_s']:>6.1f}/s)  deliveries "
        f"{r['deliveries']:>8} = {r['deliveries_per_s']:>9.1f}/s  lost {r['lost']:>4}  p50 {r['p50_ms']:>6.1f} ms  "
        f"p99 {r['p99_ms']:>7.1f} ms  max {r['max_ms']:>7.1f} ms  cpu% {r['cpu_percent']}  "
        f"deliveries per server cpu-s {r['deliveries_per_server_cpu_s']}  server syscalls per delivery "
        f"{r['server_syscalls_per_delivery']}"
        + (f"  rejected {r['errors']}" if r["rejected"] else "")
        + (f"  closed sockets {r['closed_sockets']}" if r["closed_sockets"] else "")
    )


async def load(args, state, siyu_ports, siyu_pids, ref_port, ref_pid) -> dict:
    """Both targets connected at once (idle sockets cost nothing), phases interleaved: the reference
    and Siyu measure under the same background load of the machine, as close in time as can be."""
    n = len(siyu_ports)
    pool = ViewerPool(args.clients, n + 1)  # slots 0..n-1: Siyu's processes; slot n: the reference
    room = state["room_id"]
    make = lambda reference: [Commenter(k, info, room, reference) for k, info in enumerate(state["commenters"])]  # noqa: E731
    siyu = Target("siyu", make(False), siyu_pids, list(range(n)))
    ref = Target("reference", make(True), [ref_pid], [n]) if ref_port else None
    results = {}
    try:
        if ref:
            await ref.connect(
                pool, [(n, f"ws://{HOST}:{ref_port}/")] * args.viewers, [f"ws://{HOST}:{ref_port}/"] * args.commenters
            )
        urls = [
            (i % n, f"ws://{HOST}:{siyu_ports[i % n]}/ws/rooms/{room}/?token={token}")
            for i, token in enumerate(state["viewer_tokens"])
        ]
        commenter_urls = [
            f"ws://{HOST}:{siyu_ports[k % n]}/ws/rooms/{room}/?token={c['token']}"
            for k, c in enumerate(state["commenters"])
        ]
        await siyu.connect(pool, urls, commenter_urls)
        await asyncio.sleep(1.0)  # let the joins' heartbeats and first broadcasts settle
        for phase in ("saturated", "paced"):
            for target in (ref, siyu):
                if target is None:
                    continue
                profile = None
                if args.py_spy and phase == "saturated":
                    base, ext = (args.py_spy[:-4], "txt") if args.py_spy.endswith(".txt") else (args.py_spy, "svg")
                    profile = f"{base}-{target.name}.{ext}"
                result = await run_phase(phase, pool, target, args, profile)
                results.setdefault(target.name, {"viewers": target.viewers})[phase] = result
                print(describe(target.name, phase, result), flush=True)
                await asyncio.sleep(0.5)
        for target in (ref, siyu):
            if target:
                await target.close()
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
    state = seed_live_room(args.viewers, args.commenters)
    print(
        f"ws_fanout bench: C={args.viewers} viewers, N={args.processes} uvicorn process(es), "
        f"K={args.commenters} commenters, {args.seconds:g} s per phase, paced {args.rate:g} comments/s, "
        f"load in {args.clients} client process(es) + this runner, {os.cpu_count()} cores, "
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
                    "broadcast",
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

    s_sat, s_paced = results["siyu"]["saturated"], results["siyu"]["paced"]
    ref = results.get("reference")
    ref_sat = ref["saturated"]["deliveries_per_s"] if ref else None
    ratio = round(s_sat["deliveries_per_s"] / ref_sat, 3) if ref_sat else None
    lost = s_sat["lost"] + s_paced["lost"]
    both = all(n > 0 for n in s_sat["per_process_deliveries"]) and all(n > 0 for n in s_paced["per_process_deliveries"])
    print(
        f"ratio {ratio} (target ≥ {RATIO_TARGET})  lost {lost} (target 0)  paced p99 {s_paced['p99_ms']} ms "
        f"(target ≤ {P99_TARGET_MS:g})  per-process deliveries {s_sat['per_process_deliveries']} "
        f"(saturated), {s_paced['per_process_deliveries']} (paced)"
        + (f"; reaches viewers on every process: {both}" if args.processes > 1 else "")
    )
    meets = (
        ratio is not None
        and ratio >= RATIO_TARGET
        and lost == 0
        and s_paced["p99_ms"] <= P99_TARGET_MS
        and s_sat["accepted"] > 0
        and (both or args.processes == 1)
    )
    summary = {
        "viewers": results["siyu"]["viewers"],
        "processes": args.processes,
        "commenters": args.commenters,
        "clients": args.clients,
        "seconds": args.seconds,
        "comments_accepted": s_sat["accepted"],
        "deliveries_per_s": s_sat["deliveries_per_s"],
        "ref_deliveries_per_s": ref_sat,
        "ratio": ratio,
        "lost": lost,
        "saturated_lost": s_sat["lost"],
        "paced_lost": s_paced["lost"],
        "saturated_p50_ms": s_sat["p50_ms"],
        "saturated_p99_ms": s_sat["p99_ms"],
        "paced_rate": args.rate,
        "paced_comments": s_paced["accepted"],
        "paced_p50_ms": s_paced["p50_ms"],
        "paced_p99_ms": s_paced["p99_ms"],
        "ref_paced_p50_ms": ref["paced"]["p50_ms"] if ref else None,
        "ref_paced_p99_ms": ref["paced"]["p99_ms"] if ref else None,
        "per_process_deliveries": s_sat["per_process_deliveries"],
        "paced_per_process_deliveries": s_paced["per_process_deliveries"],
        "per_process_lost": s_sat["per_process_lost"],
        "paced_per_process_lost": s_paced["per_process_lost"],
        "reaches_every_process": both,
        "cpu_percent": s_sat["cpu_percent"],
        "ref_cpu_percent": ref["saturated"]["cpu_percent"] if ref else None,
        "meets_target": meets,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
