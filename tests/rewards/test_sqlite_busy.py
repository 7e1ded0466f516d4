"""SQLite under concurrent staff actions: 10 at once (exports, uploads, page views) against a real
threaded HTTP server; none is a 500. Each succeeds, is queued (an upload's job), or, while another
process holds SQLite's one write lock past the busy timeout, gets 503 "busy, try again" in the page's
language with Retry-After.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from werkzeug.serving import make_server

from rewards.db import db
from tests.support import PASSWORD, make_snapshot

BUSY_RU = "База данных занята другим изменением"
OK = {200, 302}


@pytest.fixture
def server(app_factory: Callable[..., Flask], backend: str, tmp_path: Path, make_user: Any) -> Iterator[dict[str, Any]]:
    if backend != "sqlite":
        pytest.skip("a SQLite matter: PostgreSQL has row locks, no database-wide write lock")
    app = app_factory(SQLITE_BUSY_TIMEOUT_MS=1000, JOBS_URL=f"sqlite:///{tmp_path / 'queue.sqlite3'}")
    with app.app_context():
        snap = make_snapshot(db.session, "2026-09", {f"{n:09d}": ("ideal", "beginner")[n % 2] for n in range(2000)})
        db.session.commit()
        snapshot_id = snap.id
    make_user("marketing", "anna")
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield {
            "url": f"http://127.0.0.1:{http.server_port}",
            "snapshot": snapshot_id,
            "file": app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"),
        }
    finally:
        http.shutdown()
        thread.join(10)


def _browser(url: str) -> requests.Session:
    browser = requests.Session()
    answer = browser.post(f"{url}/login", data={"username": "anna", "password": PASSWORD}, allow_redirects=False)
    assert answer.status_code == 302, answer.text
    return browser


def _actions(
    server: dict[str, Any], round_no: int
) -> list[tuple[str, Callable[[requests.Session], requests.Response]]]:
    url, snap = server["url"], server["snapshot"]

    def upload(i: int) -> Callable[[requests.Session], requests.Response]:
        body = "account;tier;points\n" + "".join(f"{n:09d};ideal;{n % 48}\n" for n in range(500))
        return lambda b: b.post(
            f"{url}/snapshots/upload",
            data={"period": f"20{10 + round_no}-{i + 1:02d}"},  # past months (a future one is refused)
            files={"file": (f"u{i}.csv", body.encode())},
            allow_redirects=False,
        )

    def get(path: str) -> Callable[[requests.Session], requests.Response]:
        return lambda b: b.get(f"{url}{path}", allow_redirects=False)

    return [
        *[(f"export {i}", get(f"/snapshots/{snap}/export/full")) for i in range(3)],  # a GET that records the export
        *[(f"upload {i}", upload(i)) for i in range(3)],
        ("flags export", get("/flags/export.csv")),
        ("dashboard", get("/")),
        ("event log", get("/audit/")),
        ("jobs", get("/jobs/")),
    ]


def _run_all(
    server: dict[str, Any], round_no: int, hold: Callable[[threading.Barrier], None] | None = None
) -> list[tuple[str, requests.Response]]:
    actions = _actions(server, round_no)
    browsers = [_browser(server["url"]) for _ in actions]
    go = threading.Barrier(len(actions) + (1 if hold else 0))

    def run(
        item: tuple[tuple[str, Callable[[requests.Session], requests.Response]], requests.Session],
    ) -> tuple[str, requests.Response]:
        (name, action), browser = item
        go.wait()
        answer = action(browser)
        answer.content  # noqa: B018 - read a streamed export to its end
        return name, answer

    with ThreadPoolExecutor(len(actions) + 1) as pool:
        if hold:
            held = pool.submit(hold, go)
        results = list(pool.map(run, zip(actions, browsers, strict=True)))
        if hold:
            held.result()
        return results


def _check(results: list[tuple[str, requests.Response]]) -> None:
    for name, answer in results:
        assert answer.status_code != 500, f"{name}: 500 {answer.text[:500]}"
        if answer.status_code == 503:
            assert BUSY_RU in answer.text and answer.headers["Retry-After"] == "5", f"{name}: {answer.text[:500]}"
        else:
            assert answer.status_code in OK, f"{name}: {answer.status_code} {answer.text[:300]}"
        if name.startswith("upload") and answer.status_code == 302:
            assert re.search(r"/jobs/\d+", answer.headers["Location"]), answer.headers  # queued for the consumer


def test_ten_parallel_staff_actions_succeed_or_are_queued(server: dict[str, Any]) -> None:
    results = _run_all(server, 1)
    _check(results)
    assert all(a.status_code in OK for _, a in results), [(n, a.status_code) for n, a in results]


def test_while_another_process_holds_the_write_lock_writers_are_told_busy(server: dict[str, Any]) -> None:
    def hold(go: threading.Barrier) -> None:
        # another process (a consumer's import) writing for longer than the busy timeout; the staff
        # actions start once it holds the lock
        other = sqlite3.connect(server["file"], isolation_level=None, timeout=10)
        other.execute("BEGIN IMMEDIATE")
        go.wait()
        threading.Event().wait(3)
        other.execute("ROLLBACK")
        other.close()

    results = _run_all(server, 2, hold)
    _check(results)
    statuses = {name: a.status_code for name, a in results}
    assert 503 in statuses.values(), statuses  # the busy path was taken (uploads wait 1 s for a 3 s lock)
    for name in ("dashboard", "event log", "jobs", "flags export"):
        assert statuses[name] == 200, statuses  # readers never wait for the writer (WAL)
    # once the lock is gone the same staff actions go through
    _check(again := _run_all(server, 3))
    assert all(a.status_code in OK for _, a in again), [(n, a.status_code) for n, a in again]
