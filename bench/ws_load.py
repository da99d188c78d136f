"""A lean websocket load generator for the real-time benches (bench/ws_fanout, bench/likes).

The load competes with the servers for the machine's 2 cores, so it does as little per frame as
it can while still using the ``websockets`` client package:

* ``CountingConnection`` (a ``websockets.asyncio.client.ClientConnection``) sees every frame the
  moment it is parsed and counts it with a prefix check on the bytes, without the message queue,
  a ``recv()`` task per socket, decoding or ``json.loads``. Only comment frames are looked into,
  to read the send time the commenter wrote into the text (``t=<perf_counter_ns>``) — the same
  clock (CLOCK_MONOTONIC) in every process of the machine.
* Viewer sockets live in one or more worker processes (``ViewerPool``), driven over a pipe.
  Each worker publishes its running count of comment frames in shared memory, so the runner can
  tell how far behind the viewers are without asking.
* Like taps are written with the same synchronous path ``websockets.broadcast`` uses
  (``protocol.send_text`` + ``send_data``): no task and no await per frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import threading
import time
from array import array
from collections import Counter

from websockets.asyncio.client import ClientConnection, connect
from websockets.frames import Opcode
from websockets.protocol import State

COMMENT = b'{"type":"comment",'
ERROR = b'{"type":"error",'
TEXT_TIME = b'"text":"t='
perf_counter_ns = time.perf_counter_ns


def run_loop(coro):
    """Run ``coro`` on uvloop when installed (as uvicorn does), else on asyncio's loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


class CountingConnection(ClientConnection):
    """A client connection that hands each text frame to ``on_text`` instead of queueing it.

    The first text frame (the snapshot a joining socket gets) resolves ``ready`` instead."""

    on_text = None
    slot = 0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.ready = asyncio.get_running_loop().create_future()

    def process_event(self, event) -> None:
        if self.response is None:  # the handshake
            return super().process_event(event)
        opcode = event.opcode
        if opcode is Opcode.TEXT:
            if self.ready.done():
                self.on_text(self.slot, event.data)
            else:
                self.ready.set_result(bytes(event.data))
        elif opcode is Opcode.PONG:
            super().process_event(event)

    def connection_lost(self, exc) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("closed before its first frame"))
        super().connection_lost(exc)

    def send_now(self, payload: bytes) -> bool:
        """Write one text frame synchronously (as ``websockets.broadcast`` does); False if closed."""
        if self.protocol.state is not State.OPEN:
            return False
        self.protocol.send_text(payload)
        self.send_data()
        return True


async def open_socket(url: str, on_text, slot: int = 0, timeout: float = 60.0) -> CountingConnection:
    """Connect, wait for the first frame (the snapshot), then route frames to ``on_text``."""

    def create_connection(*args, **kwargs) -> CountingConnection:
        conn = CountingConnection(*args, **kwargs)
        conn.on_text, conn.slot = on_text, slot  # before any frame can arrive
        return conn

    conn = await connect(
        url,
        create_connection=create_connection,
        compression=None,
        proxy=None,
        ping_interval=None,
        open_timeout=timeout,
        close_timeout=5,
        max_size=2**22,
        user_agent_header=None,
    )
    await asyncio.wait_for(conn.ready, timeout)
    return conn


async def http_get(address: str, path: str, token: str, timeout: float = 60.0) -> int:
    """One ``GET`` on a connection of its own, read to the end; answers the status (0 if none)."""
    host, _, port = address.partition(":")
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), timeout)
    try:
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n"
            f"Accept-Encoding: gzip\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
        )
        response = await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()
    return int(response[9:12]) if response.startswith(b"HTTP/1.") else 0


def comment_sent_ns(data) -> int:
    """The ``t=<ns>`` a commenter wrote at the start of a comment's text (0 if there is none)."""
    i = data.find(TEXT_TIME)
    if i < 0:
        return 0
    i += len(TEXT_TIME)
    return int(data[i : data.find(b" ", i)])


# --- viewer worker processes ------------------------------------------------------------------------


class _Tally:
    """What one worker's viewers received since the last reset."""

    def __init__(self, slots: int, shared, index: int):
        self.slots, self.shared, self.index = slots, shared, index
        self.reset()

    def reset(self):
        self.per_slot = [0] * self.slots
        self.total = 0
        self.other = 0
        self.last_ns = 0
        self.latencies = array("q")
        self.shared[self.index] = 0

    def on_text(self, slot: int, data) -> None:
        if data.startswith(COMMENT):
            now = perf_counter_ns()
            self.per_slot[slot] += 1
            self.total += 1
            self.shared[self.index] = self.total
            self.last_ns = now
            sent = comment_sent_ns(data)
            if sent:
                self.latencies.append(now - sent)
        else:
            self.other += 1


class _Worker:
    def __init__(self, pipe, index: int, slots: int, shared):
        self.pipe, self.index = pipe, index
        self.tally = _Tally(slots, shared, index)
        self.conns: list[CountingConnection] = []

    async def serve(self):
        loop = asyncio.get_running_loop()
        inbox: asyncio.Queue = asyncio.Queue()

        def read_commands():  # a thread: the pipe stays blocking (large reports go through it)
            while True:
                try:
                    message = self.pipe.recv()
                except EOFError:
                    message = ("exit", ())
                loop.call_soon_threadsafe(inbox.put_nowait, message)
                if message[0] == "exit":
                    return

        threading.Thread(target=read_commands, daemon=True).start()
        while True:
            command, args = await inbox.get()
            if command == "exit":
                await self.close()
                self.pipe.send(None)
                return
            try:
                result = await getattr(self, command)(*args)
            except Exception as exc:  # report, keep serving
                result = {"exception": f"{type(exc).__name__}: {exc}"}
            self.pipe.send(result)

    async def connect(self, urls: list[tuple[int, str]], concurrency: int):
        errors: Counter = Counter()
        gate = asyncio.Semaphore(concurrency)
        before = len(self.conns)

        async def one(slot, url):
            async with gate:
                for attempt in range(3):
                    try:
                        self.conns.append(await open_socket(url, self.tally.on_text, slot))
                        return
                    except Exception as exc:
                        errors[f"{type(exc).__name__}: {str(exc)[:80]}"] += 1
                        await asyncio.sleep(0.2 * (attempt + 1))

        await asyncio.gather(*(one(slot, url) for slot, url in urls))
        return {"connected": len(self.conns) - before, "errors": dict(errors)}

    async def enter(self, entries: list[tuple[int, str, str, str]], concurrency: int, start_ns: int):
        """Viewers entering a room, as a mini-program does: ``GET`` the room over HTTP (a new
        connection each, as from a new phone), then open the websocket and wait for its snapshot.
        ``entries`` are (slot, http "host:port", path, websocket URL); they all start at
        ``start_ns`` (perf_counter_ns), at most ``concurrency`` under way at once. Answers each
        viewer's time from the start of its GET to its snapshot, and when the last one was in."""
        errors: Counter = Counter()
        gate = asyncio.Semaphore(concurrency)
        took, done_ns, before = array("q"), [0], len(self.conns)
        delay = (start_ns - perf_counter_ns()) / 1e9
        if delay > 0:
            await asyncio.sleep(delay)

        async def one(slot, address, path, url):
            async with gate:
                began = perf_counter_ns()
                try:
                    status = await http_get(address, path, url.partition("token=")[2])
                    if status != 200:
                        errors[f"GET {status}"] += 1
                        return
                    self.conns.append(await open_socket(url, self.tally.on_text, slot))
                except Exception as exc:
                    errors[f"{type(exc).__name__}: {str(exc)[:80]}"] += 1
                    return
                now = perf_counter_ns()
                took.append(now - began)
                done_ns[0] = max(done_ns[0], now)

        await asyncio.gather(*(one(*entry) for entry in entries))
        return {
            "entered": len(self.conns) - before,
            "errors": dict(errors),
            "took": took.tobytes(),
            "done_ns": done_ns[0],
        }

    async def reset(self):
        self.tally.reset()

    async def report(self):
        t = self.tally
        closed = sum(1 for c in self.conns if c.protocol.state is not State.OPEN)
        return {
            "per_slot": t.per_slot,
            "total": t.total,
            "other": t.other,
            "last_ns": t.last_ns,
            "latencies": t.latencies.tobytes(),
            "closed": closed,
        }

    async def send_likes(self, payload: bytes, rate: float, seconds: float, start_ns: int, slots=None):
        """Every socket (of ``slots``) sends ``payload`` ``rate`` times a second, evenly (round robin),
        for ``seconds``, starting at ``start_ns`` (perf_counter_ns)."""
        conns = [c for c in self.conns if c.protocol.state is State.OPEN and (slots is None or c.slot in slots)]
        if not conns:
            return {"sent": 0, "failed": 0, "seconds": 0.0}
        delay = (start_ns - perf_counter_ns()) / 1e9
        if delay > 0:
            await asyncio.sleep(delay)
        n, sent, failed, i = len(conns), 0, 0, 0
        per_second = n * rate
        started = time.perf_counter()
        while True:
            elapsed = time.perf_counter() - started
            if elapsed >= seconds:
                break
            due = int(elapsed * per_second) + 1 - sent - failed
            for _ in range(due):
                if conns[i].send_now(payload):
                    sent += 1
                else:
                    failed += 1
                i = i + 1 if i + 1 < n else 0
            await asyncio.sleep(0.004)
        return {"sent": sent, "failed": failed, "seconds": time.perf_counter() - started}

    async def close(self):
        conns, self.conns = self.conns, []
        await asyncio.gather(*(c.close() for c in conns), return_exceptions=True)
        return len(conns)


def _worker_main(pipe, index: int, slots: int, shared):
    run_loop(_Worker(pipe, index, slots, shared).serve())


class ViewerPool:
    """``count`` worker processes holding viewer sockets; ``slots`` = the server processes."""

    def __init__(self, count: int, slots: int):
        context = multiprocessing.get_context("spawn")
        self.slots = slots
        self.shared = context.RawArray("q", count)
        self.pipes, self.processes = [], []
        for index in range(count):
            ours, theirs = context.Pipe()
            process = context.Process(target=_worker_main, args=(theirs, index, slots, self.shared), daemon=True)
            process.start()
            self.pipes.append(ours)
            self.processes.append(process)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def delivered(self) -> int:
        return sum(self.shared)

    async def _ask(self, index: int, command: str, *args):
        pipe = self.pipes[index]
        pipe.send((command, args))
        result = await asyncio.get_running_loop().run_in_executor(None, pipe.recv)
        if isinstance(result, dict) and "exception" in result:
            raise RuntimeError(f"viewer worker {index}: {result['exception']}")
        return result

    async def ask_all(self, command: str, *args) -> list:
        return await asyncio.gather(*(self._ask(i, command, *args) for i in range(len(self.pipes))))

    async def ask_each(self, command: str, per_worker_args: list[tuple]) -> list:
        return await asyncio.gather(*(self._ask(i, command, *a) for i, a in enumerate(per_worker_args)))

    async def connect(self, urls: list[tuple[int, str]], concurrency: int = 48) -> dict:
        """Spread (slot, url) pairs over the workers; answers how many connected and the errors."""
        shares = [urls[i :: len(self.pipes)] for i in range(len(self.pipes))]
        results = await self.ask_each("connect", [(share, concurrency) for share in shares])
        errors: Counter = Counter()
        for r in results:
            errors.update(r["errors"])
        return {"connected": sum(r["connected"] for r in results), "errors": dict(errors)}

    async def stop(self):
        for index in range(len(self.pipes)):
            with contextlib.suppress(Exception):  # terminated below
                await asyncio.wait_for(self._ask(index, "exit"), 30)
        for process in self.processes:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()


def merge_reports(reports: list[dict], slots: int) -> dict:
    per_slot = [sum(r["per_slot"][s] for r in reports) for s in range(slots)]
    latencies = array("q")
    for r in reports:
        latencies.frombytes(r["latencies"])
    return {
        "per_slot": per_slot,
        "total": sum(per_slot),
        "other": sum(r["other"] for r in reports),
        "last_ns": max((r["last_ns"] for r in reports), default=0),
        "latencies": sorted(latencies),
        "closed": sum(r["closed"] for r in reports),
    }


def process_cpu(pids) -> float:
    from bench.common import cpu_seconds

    return sum(cpu_seconds(pid) for pid in pids)


def self_cpu() -> float:
    times = os.times()
    return times.user + times.system
