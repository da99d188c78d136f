"""The reference of the real-time benches: one bare ``websockets`` server process, the ceiling a
Python process reaches on this machine (TARGETS.md).

    python bench/ws_fanout/reference_server.py --port 8765 --mode broadcast   # bench/ws_fanout
    python bench/ws_fanout/reference_server.py --port 8765 --mode count       # bench/likes

* ``broadcast``: every text frame a client sends goes to every connected client (itself
  included) with ``websockets.broadcast``: no parsing, no queue, no per-viewer encoding.
* ``count``: every frame a client sends is counted, nothing else. A socket on ``/stats`` gets
  ``{"messages": n}`` for each frame it sends, so the runner can watch the count grow.

Each socket first gets a small ``snapshot`` frame, like a viewer joining a room. Runs on uvloop
when it is installed, like uvicorn.
"""

import argparse
import asyncio
import json

from websockets.asyncio.server import broadcast, serve

HELLO = '{"type":"snapshot","data":{}}'


async def main(port: int, mode: str) -> None:
    clients = set()
    counted = [0]

    async def handler(ws):
        if ws.request.path.startswith("/stats"):
            async for _ in ws:
                await ws.send(json.dumps({"messages": counted[0]}))
            return
        await ws.send(HELLO)
        if mode == "count":
            async for _ in ws:
                counted[0] += 1
            return
        clients.add(ws)
        try:
            async for message in ws:
                broadcast(clients, message)
        finally:
            clients.discard(ws)

    async with serve(handler, "127.0.0.1", port, compression=None, backlog=4096, max_size=2**20):
        await asyncio.get_running_loop().create_future()


def run():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mode", choices=("broadcast", "count"), default="broadcast")
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        asyncio.run(main(args.port, args.mode))
    else:
        uvloop.run(main(args.port, args.mode))


if __name__ == "__main__":
    run()
