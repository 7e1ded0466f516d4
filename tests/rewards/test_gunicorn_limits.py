"""A real gunicorn with ``gunicorn.conf.py``: oversized requests and wrong methods get the error shape,
and the access log keeps no query string.

Without the app's own limits gunicorn answered a long URL or a big header with its HTML 414/431
(``limit_request_line`` 4094 by default), a 405 came without ``Allow``, and the access log wrote the
whole request line (a token in a query string with it).
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from rewards.inputguard import MAX_HEADER_BYTES, MAX_HEADER_COUNT, MAX_URI_BYTES
from tests.conftest import make_config

ROOT = Path(__file__).resolve().parents[2]
FIELDS = {"code", "status", "message", "errors", "request_id"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def access_log(tmp_path: Path) -> Path:
    return tmp_path / "access.log"


@pytest.fixture
def server(app: Flask, tmp_path: Path, access_log: Path) -> Iterator[int]:
    """gunicorn serving this test's database on a free local port, one worker."""
    instance = tmp_path / "instance"
    instance.mkdir()
    cfg = make_config("sqlite", tmp_path)
    cfg.pop("TESTING")
    (instance / "config.py").write_text("".join(f"{k} = {v!r}\n" for k, v in cfg.items()), encoding="utf-8")
    port = _free_port()
    env = {**os.environ, "REWARDS_INSTANCE_PATH": str(instance), "REWARDS_BIND": f"127.0.0.1:{port}",
           "REWARDS_WORKERS": "1"}
    log = access_log.open("wb")
    child = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"),
                              "rewards:create_app()"],
                             cwd=ROOT, env=env, stdout=log, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if child.poll() is not None or time.monotonic() > deadline:
                    output = child.stderr.read().decode()[-2000:] if child.stderr else ""
                    raise RuntimeError(f"gunicorn did not start: {output}") from None
                time.sleep(0.1)
        yield port
    finally:
        child.terminate()
        child.wait(timeout=30)
        log.close()


def _request(
    port: int, method: str, target: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def _shape(status: int, headers: dict[str, str], body: bytes, code: int) -> dict[str, object]:
    assert status == code, body[:300]
    assert headers["Content-Type"] == "application/json", body[:300]
    parsed = json.loads(body)
    assert set(parsed) == FIELDS and parsed["code"] == code
    return parsed


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # the limits are before any database work
def test_oversized_requests_get_the_error_shape(server: int) -> None:
    long_query = "/api/v1/draws?x=" + "a" * (MAX_URI_BYTES + 100)  # 4,196 bytes: gunicorn's default took 4,094
    _shape(*_request(server, "GET", long_query), 414)
    near_gunicorn = "/api/v1/draws?x=" + "a" * 8000
    _shape(*_request(server, "GET", near_gunicorn), 414)
    _shape(*_request(server, "GET", "/api/v1/draws", {"X-Big": "b" * (MAX_HEADER_BYTES + 10)}), 431)
    _shape(*_request(server, "GET", "/api/v1/draws", {f"X-H{i}": "v" for i in range(MAX_HEADER_COUNT + 20)}), 431)
    status, headers, body = _request(server, "GET", "/login?x=" + "a" * (MAX_URI_BYTES + 100))
    assert status == 414 and headers["Content-Type"].startswith("text/html")
    assert f"<code>{headers['X-Request-Id']}</code>".encode() in body  # the service's error page, not gunicorn's


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_405_names_the_allowed_methods(server: int) -> None:
    status, headers, body = _request(server, "DELETE", "/api/v1/draws")
    _shape(status, headers, body, 405)
    assert set(headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
    status, headers, _body = _request(server, "PUT", "/login")
    assert status == 405 and "POST" in headers["Allow"]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_access_log_keeps_no_query_string(server: int, access_log: Path) -> None:
    status, headers, _body = _request(server, "GET", "/api/v1/draws?token=SECRET-IN-QUERY&account=7400000001",
                                      {"Referer": "https://example.org/page?token=SECRET-IN-REFERRER"})
    assert status == 401
    deadline = time.monotonic() + 10
    while headers["X-Request-Id"] not in access_log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    logged = access_log.read_text()
    assert '"GET /api/v1/draws HTTP/1.1" 401' in logged and headers["X-Request-Id"] in logged
    assert "SECRET" not in logged and "7400000001" not in logged
