"""Helpers shared by the benches: a fresh PostgreSQL database, server processes on free ports,
their CPU time, percentiles, and a Redis namespace of our own (the benches of TARGETS.md)."""

import os
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def recreate_database(pg_url: str, name: str) -> None:
    """Drop and create ``name`` on the PostgreSQL server at ``pg_url`` (its name must say bench)."""
    try:  # whichever PostgreSQL driver Django uses here
        import psycopg as driver
    except ImportError:
        import psycopg2 as driver

    assert "bench" in name, "a bench only recreates databases whose name contains 'bench'"
    conn = driver.connect(f"{pg_url}/postgres")
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    conn.close()


def raise_open_files_limit(wanted: int = 20000) -> int:
    """Thousands of sockets need thousands of descriptors (children inherit the limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(wanted, hard) if hard != resource.RLIM_INFINITY else wanted
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server process exited with {process.returncode} before listening on {port}")
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    stop_process(process)
    raise RuntimeError(f"nothing listening on {port} after {timeout} s")


def start_process(command: list[str], port: int, env: dict | None = None) -> subprocess.Popen:
    """Start a server in its own session (so it can be stopped with its children) and wait for it."""
    process = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    wait_for_port(port, process)
    return process


def start_gunicorn(env: dict, workers: int = 2) -> tuple[subprocess.Popen, int]:
    """The production REST server (DESIGN §11): gunicorn's sync workers on ``config.wsgi``."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "config.wsgi",
        "--workers",
        str(workers),
        "--bind",
        f"{HOST}:{port}",
        "--backlog",
        "2048",
        "--log-level",
        "warning",
    ]
    return start_process(command, port, env), port


def start_uvicorn(env: dict, port: int | None = None) -> tuple[subprocess.Popen, int]:
    """One production websocket process (DESIGN §11): uvicorn on ``config.asgi``, legacy websockets."""
    port = port or free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "config.asgi:application",
        "--host",
        HOST,
        "--port",
        str(port),
        "--ws",
        "websockets",
        "--log-level",
        "warning",
        "--no-access-log",
        "--backlog",
        "4096",
    ]
    return start_process(command, port, env), port


def stop_process(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


def _stat(pid) -> tuple[str, list[str]] | None:
    """A process's command name and the /proc stat fields after it (state, ppid, pgrp, session,
    …, utime at 11, stime at 12); None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            head, _, tail = stat.read().rpartition(")")
    except OSError:
        return None
    return head.partition("(")[2], tail.split()


def _cpu_ticks(fields: list[str]) -> int:
    return int(fields[11]) + int(fields[12])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    stat = _stat(pid)
    return _cpu_ticks(stat[1]) / CLOCK_TICKS if stat else 0.0


def cpu_seconds_where(match) -> float:
    """User + system CPU time so far of every process whose command name and stat fields satisfy
    ``match(fields, name)``."""
    stats = (_stat(entry) for entry in os.listdir("/proc") if entry.isdigit())
    return sum(_cpu_ticks(fields) for name, fields in filter(None, stats) if match(fields, name)) / CLOCK_TICKS


def session_cpu_seconds(session_id: int) -> float:
    """CPU time so far of a server started by ``start_process`` (its own session): all its workers."""
    return cpu_seconds_where(lambda fields, name: int(fields[3]) == session_id)


def postgres_cpu_seconds() -> float:
    """CPU time so far of every PostgreSQL process on this machine (the benches' database server)."""
    return cpu_seconds_where(lambda fields, name: name == "postgres")


def syscalls(pid: int) -> tuple[int, int]:
    """Read and write system calls a process made so far, all threads (Linux /proc/<pid>/io)."""
    try:
        with open(f"/proc/{pid}/io") as io:
            fields = dict(line.split(": ") for line in io.read().splitlines())
    except OSError:
        return 0, 0
    return int(fields["syscr"]), int(fields["syscw"])


def percentile(sorted_values, fraction: float) -> float:
    """The value below which ``fraction`` of the (already sorted) values lie; 0 when there are none."""
    if not len(sorted_values):
        return 0.0
    index = min(len(sorted_values) - 1, max(0, int(round(fraction * len(sorted_values))) - 1))
    return sorted_values[index]


def clear_redis_prefix(url: str, prefix: str) -> int:
    """Delete every key of our namespace (the bench's own Redis database, its own prefix)."""
    import redis

    client = redis.Redis.from_url(url)
    removed = 0
    batch = []
    for key in client.scan_iter(match=f"{prefix}*", count=1000):
        batch.append(key)
        if len(batch) >= 1000:
            removed += client.delete(*batch)
            batch = []
    if batch:
        removed += client.delete(*batch)
    client.close()
    return removed


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def server_env(database_url: str, redis_url: str, redis_prefix: str, **extra) -> dict:
    """The environment of the production processes (DESIGN §11) on the bench's stores."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": redis_prefix,  # pub/sub channels are global to Redis: a namespace of our own
        "SECRET_KEY": "bench-" + "k" * 60,
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PYTHONWARNINGS": "ignore",  # uvicorn's deprecation notice of --ws websockets, a missing staticfiles/
        **extra,
    }


def seed_live_room(viewers: int, commenters: int = 0) -> dict:
    """Migrate, then one brand (no blocked words, a comment rate no bench reaches), one LIVE room,
    ``viewers`` and ``commenters`` customers with their tokens — through the ORM."""
    import django

    django.setup()
    from datetime import timedelta

    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from livestream.models import LiveRoom
    from tenants.auth import CustomerAccessToken
    from tenants.models import Brand, Customer
    from tenants.scoping import brand_scope

    call_command("migrate", verbosity=0)
    brand = Brand.objects.create(
        slug="bench", name="Bench", appid="wxbench00000001", blocked_words="", comments_per_minute=30000
    )
    now = timezone.now()
    with brand_scope(brand):
        room = LiveRoom.objects.create(
            brand=brand,
            title="Bench room",
            anchor_name="Bench",
            status="live",
            started_at=now,
            scheduled_start=now - timedelta(minutes=1),
            scheduled_end=now + timedelta(hours=2),
        )
        viewer_rows = Customer.objects.bulk_create(
            [Customer(brand=brand, openid=f"viewer-{n}", nickname=f"viewer {n}") for n in range(viewers)]
        )
        commenter_rows = Customer.objects.bulk_create(
            [Customer(brand=brand, openid=f"commenter-{n}", nickname=f"commenter {n}") for n in range(commenters)]
        )
    state = {
        "room_id": room.pk,
        "viewer_tokens": [str(CustomerAccessToken.for_customer(c)) for c in viewer_rows],
        "commenters": [
            {"token": str(CustomerAccessToken.for_customer(c)), "id": c.pk, "nickname": c.nickname}
            for c in commenter_rows
        ],
    }
    connection.close()
    return state
