"""What gunicorn refuses before Django sees a request is answered in the error shape too
(config/gunicorn.py): the production REST process, started as the README says, sent raw bytes."""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def gunicorn():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "config/gunicorn.py",
            "config.wsgi",
            "--workers",
            "1",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "error",
        ],
        cwd=ROOT,
        # the embedded default: nothing here reaches a database
        env={**{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}, "DEBUG": "false"},
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert process.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)
    yield port
    process.terminate()
    process.wait(timeout=30)


def send(port, raw: bytes) -> tuple[int, dict, dict]:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(raw)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in header_lines)
    return int(status_line.split()[1]), headers, json.loads(body)


def request(target="/healthz?format=json", headers=""):
    return f"GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{headers}\r\n".encode()


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        (request("/api/v1/mp/rooms?q=" + "x" * 9000), 414, "request_line_too_long"),
        (request(headers="X-Big: " + "y" * 9000 + "\r\n"), 431, "headers_too_large"),
        (request(headers="".join(f"X-{n}: 1\r\n" for n in range(300))), 431, "headers_too_large"),
        (b"NOT A REQUEST LINE\r\n\r\n", 400, "bad_request"),
        (b"GET / HTTP/9.9\r\nHost: x\r\n\r\n", 400, "bad_request"),
        (request(headers="Bad Header: 1\r\n"), 400, "bad_request"),
    ],
    ids=["request-line", "header-size", "header-count", "request-line-junk", "version", "header-name"],
)
def test_gunicorns_refusals_are_in_the_error_shape(gunicorn, raw, status, code):
    answered, headers, body = send(gunicorn, raw)
    assert (answered, body["error"]["code"]) == (status, code), body
    assert headers["content-type"] == "application/json"
    assert set(body["error"]) == {"code", "message", "fields"}


def test_a_long_uri_within_the_proxys_limit_reaches_django(gunicorn):
    answered, headers, body = send(gunicorn, request("/api/v1/nowhere?q=" + "x" * 6000))
    assert answered == 404 and body["error"]["code"] == "not_found"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def nginx(gunicorn, tmp_path_factory):
    """The README's nginx server block, in front of the gunicorn above (the websocket upstream down)."""
    binary = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if binary is None:
        pytest.skip("nginx is not installed")
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```nginx\n(.*?)```", readme, re.S).group(1)
    port = free_port()
    block = block.replace("127.0.0.1:8000", f"127.0.0.1:{gunicorn}").replace(
        "127.0.0.1:8001", f"127.0.0.1:{free_port()}"
    )
    block = block.replace("listen 80;", f"listen 127.0.0.1:{port};")
    prefix = tmp_path_factory.mktemp("nginx")
    temp = " ".join(
        f"{kind}_temp_path {prefix}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (prefix / "nginx.conf").write_text(
        f"daemon off; pid {prefix}/nginx.pid; error_log {prefix}/error.log;\n"
        f"events {{}}\nhttp {{ access_log off; {temp}\n{block}\n}}\n"
    )
    process = subprocess.Popen([binary, "-p", str(prefix), "-c", str(prefix / "nginx.conf")], start_new_session=True)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert process.poll() is None and time.monotonic() < deadline, (prefix / "error.log").read_text()
            time.sleep(0.1)
    yield port
    process.terminate()
    process.wait(timeout=30)


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        (request("/api/v1/mp/rooms?q=" + "x" * 9000), 414, "request_line_too_long"),
        (request(headers="X-Big: " + "y" * 9000 + "\r\n"), 431, "headers_too_large"),
        (b"NOT A REQUEST LINE\r\n\r\n", 400, "bad_request"),
        (b"POST /api/v1/mp/login HTTP/1.1\r\nHost: x\r\nContent-Length: 20000000\r\n\r\n", 413, "body_too_large"),
        (request("/ws/rooms/1"), 503, "unavailable"),
        (request("/api/v1/nowhere?q=" + "x" * 6000), 404, "not_found"),  # Django's, passed through
    ],
    ids=["request-line", "header-size", "request-line-junk", "body-size", "upstream-down", "django"],
)
def test_the_readmes_nginx_answers_its_refusals_in_the_error_shape(nginx, raw, status, code):
    answered, headers, body = send(nginx, raw)
    assert (answered, body["error"]["code"]) == (status, code), body
    assert headers["content-type"] == "application/json"
