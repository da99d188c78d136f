"""Browser tests: real Chromium (Playwright) against the project's ASGI app on a live server.

Django's ``live_server`` is WSGI and has no websockets, so ``serve.py`` runs ``config.asgi`` under
uvicorn in a subprocess, on a copy of this worker's test database (SQLite: the in-memory test
database backed up to a file; PostgreSQL: the test database itself, flushed afterwards) and, with
Redis, under a key prefix of its own. It seeds the demo data, so the tests drive the very show
``make run`` serves. The tests touch no ORM: they act through the pages and the public API.
"""

import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection, connections

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
FAILURES_DIR = Path(settings.BASE_DIR) / "var" / "browser-failures"
PASSWORD = "siyu-demo-2026"  # seed_demo's
TIMEOUT_MS = 10_000


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _database_url(tmp_dir: Path) -> str:
    db = connection.settings_dict
    # pytest-django sets test databases up only for tests marked django_db: never serve (and
    # flush) the developer's own database.
    test_database = connection.is_in_memory_db() if connection.vendor == "sqlite" else db["NAME"].startswith("test_")
    assert test_database, "Browser test modules need pytestmark = pytest.mark.django_db."
    if connection.vendor == "sqlite":
        path = tmp_dir / "browser.sqlite3"
        connection.ensure_connection()
        target = sqlite3.connect(path)
        connection.connection.backup(target)
        target.close()
        return f"sqlite:///{path}"
    connection.close()  # the server's connections are the only ones while it runs
    auth = quote(db["USER"] or "") + (":" + quote(db["PASSWORD"]) if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class LiveServer:
    def __init__(self, url: str):
        self.url = url

    def api(self, method: str, path: str, *, token=None, brand=None, **kwargs):
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if brand:
            headers["X-Brand"] = str(brand)
        response = httpx.request(method, self.url + path, headers=headers, timeout=10, **kwargs)
        assert response.status_code < 300, (method, path, response.status_code, response.text[:500])
        return response.json() if response.content else None

    def staff_token(self, username: str) -> str:
        return self.api("POST", "/api/v1/staff/login", json={"username": username, "password": PASSWORD})["access"]


@pytest.fixture(scope="module")
def live_asgi(django_db_setup, django_db_blocker, tmp_path_factory):
    tmp_dir = tmp_path_factory.mktemp("browser")
    with django_db_blocker.unblock():
        database_url = _database_url(tmp_dir)
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_KEY_PREFIX": settings.REDIS_KEY_PREFIX + "browser",  # apart from this worker's keys
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "THROTTLE_LOGIN": "1000/min",
        "CELERY_TASK_ALWAYS_EAGER": "true",  # nothing queued on the developer's broker
        "CONN_MAX_AGE": "0",
    }
    env.pop("PYTEST_XDIST_WORKER", None)
    log = open(tmp_dir / "server.log", "w+")  # noqa: SIM115 - the server writes to it until teardown
    server = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("serve.py")), "--port", str(port)],
        env=env,
        cwd=settings.BASE_DIR,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                log.seek(0)
                pytest.fail(f"The live server exited ({server.returncode}):\n{log.read()[-4000:]}")
            try:
                if httpx.get(url + "/healthz?format=json", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("The live server did not answer within 60 s.")
            time.sleep(0.2)
        yield LiveServer(url)
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
        _clean_up(settings.REDIS_KEY_PREFIX + "browser", django_db_blocker)


def _clean_up(redis_prefix: str, django_db_blocker):
    if connection.vendor != "sqlite":  # the SQLite server had a copy; this one was shared
        with django_db_blocker.unblock():
            call_command("flush", interactive=False, verbosity=0)
            connection.close()
    if settings.REDIS_URL:
        import redis

        client = redis.Redis.from_url(settings.REDIS_URL)
        keys = list(client.scan_iter(match=f"{redis_prefix}*", count=1000))
        if keys:
            client.delete(*keys)


@pytest.fixture(scope="module")
def chromium(live_asgi):
    # After the live server (and torn down before it): the server's set-up and clean-up use this
    # process's database connection, which must happen outside Playwright's event loop.
    if not Path(CHROMIUM).exists():
        message = f"No Chromium at {CHROMIUM} (apt-get install chromium; .ci/run does)."
        if os.environ.get("SIYU_REQUIRE_BROWSER"):  # CI: a missing browser is a failure, not a skip
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the only database work here is
    # pytest-django opening and rolling back each test's transaction, which is safe (Playwright's
    # documentation gives the same advice for Django).
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
            # Connections opened while Playwright's loop ran (each test's transaction) live in
            # that loop's context: close them here, or PostgreSQL cannot drop the test database.
            connections.close_all()
    finally:
        if previous is None:
            del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def open_page(chromium, live_asgi, request):
    """Open a page in a browser context of its own (its own cookies and storage: its own user).
    A failing test leaves a screenshot of each of its pages in var/browser-failures/."""
    opened = []

    def open_(path: str, *, name: str, mobile: bool = False):
        size = {"width": 390, "height": 844} if mobile else {"width": 1280, "height": 800}
        context = chromium.new_context(viewport=size, is_mobile=mobile, has_touch=mobile)
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.js_errors = errors
        page.goto(live_asgi.url + path)
        opened.append((name, context, page))
        return page

    yield open_
    reports = [getattr(request.node, f"report_{when}", None) for when in ("setup", "call")]
    failed = any(report is not None and report.failed for report in reports)
    for name, context, page in opened:
        if failed:
            FAILURES_DIR.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(FAILURES_DIR / f"{request.node.name}-{name}.png"), full_page=True)
        context.close()
