"""The live server of the browser tests: the project's ASGI app under uvicorn with ``--ws
websockets``, as production runs it, on the database and Redis the environment names.

Run by tests/browser/conftest.py in a subprocess (Django's live_server is WSGI: no websockets).
It seeds the demo data first (the same ``seed_demo`` as ``make run``), and with Redis it also
plays Celery beat's part of persisting the live state (comments, likes) every second, so the
console can act on a comment moments after it was written.
"""

import argparse
import io
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def persist_live_state_forever():
    from django.db import close_old_connections

    from livestream.services.live import live_flush

    while True:
        time.sleep(1)
        close_old_connections()
        try:
            live_flush()
        except Exception as exc:  # a failed flush is retried on the next tick
            print(f"live flush failed: {exc!r}", file=sys.stderr)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("seed_demo", stdout=io.StringIO())
    if settings.REDIS_URL:
        threading.Thread(target=persist_live_state_forever, daemon=True).start()

    import uvicorn

    uvicorn.run("config.asgi:application", host="127.0.0.1", port=args.port, ws="websockets", log_level="warning")


if __name__ == "__main__":
    main()
