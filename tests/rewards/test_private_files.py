"""Secrets and personal data on disk: the SQLite files 0600, the instance folder 0700, production by
default, and no typed user name in the log."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from rewards import create_app
from rewards.auth.views import name_tag
from rewards.config import load_file
from rewards.db import db
from rewards.instance import init
from tests.conftest import make_config


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """The common umask 022, under which files are created world-readable unless made otherwise."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("loose_umask")
def test_sqlite_database_and_its_wal_files_are_owner_only(tmp_path: Path) -> None:
    database = tmp_path / "data" / "rewards.sqlite3"
    database.parent.mkdir()
    app = create_app(make_config("sqlite", tmp_path, DATABASE_URL=f"sqlite:///{database}"))
    with app.app_context():
        db.create_all()
        with db.engine.connect() as conn:  # a write with the connection open: -wal and -shm exist
            conn.execute(text("INSERT INTO users (username, password_hash, role, active, session_version, created_at)"
                              " VALUES ('x', 'h', 'admin', 1, 1, '2026-01-01 00:00:00')"))
            conn.commit()
            for suffix in ("", "-wal", "-shm"):
                path = Path(str(database) + suffix)
                assert path.exists() and _mode(path) == 0o600, (suffix, oct(_mode(path)))
        db.engine.dispose()


@pytest.mark.usefixtures("loose_umask")
def test_an_existing_world_readable_database_is_tightened(tmp_path: Path) -> None:
    database = tmp_path / "old.sqlite3"
    database.touch(mode=0o644)
    os.chmod(database, 0o644)
    app = create_app(make_config("sqlite", tmp_path, DATABASE_URL=f"sqlite:///{database}"))
    assert _mode(database) == 0o600
    with app.app_context():
        db.engine.dispose()


@pytest.mark.usefixtures("loose_umask")
def test_instance_init_is_private_and_production(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "instance"
    assert init(folder)
    assert _mode(folder) == 0o700 and _mode(folder / "config.py") == 0o600
    settings = load_file(folder / "config.py")
    assert set(settings) == {"SECRET_KEY"}  # no ENV: production is the default
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o755)
    os.chmod(loose, 0o755)
    init(loose)
    assert _mode(loose) == 0o700
    monkeypatch.setenv("REWARDS_INSTANCE_PATH", str(folder))
    for key in [
        k
        for k in os.environ
        if k.startswith("REWARDS_") and k != "REWARDS_INSTANCE_PATH" and not k.startswith("REWARDS_TEST_")
    ]:
        monkeypatch.delenv(key)
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'p.sqlite3'}"})
    assert app.config["ENV"] == "production" and app.config["SESSION_COOKIE_SECURE"] is True


def test_tasks_run_asks_for_development(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("tasks_under_test", Path(__file__).resolve().parents[2] / "tasks.py")
    assert spec is not None and spec.loader is not None
    tasks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tasks)
    seen: list[dict[str, str] | None] = []
    monkeypatch.delenv("REWARDS_ENV", raising=False)
    monkeypatch.setattr(tasks, "setup", lambda: None)
    monkeypatch.setattr(tasks, "sh", lambda *args, env=None, check=True: seen.append(env) or 0)
    started: list[dict[str, str]] = []

    class Consumer:  # the job consumer tasks.run starts beside the web server
        def __init__(self, args: list[str], cwd: Any, env: dict[str, str]) -> None:
            started.append(env)

        def terminate(self) -> None: ...

        def wait(self, timeout: float) -> int:
            return 0

    monkeypatch.setattr(tasks.subprocess, "Popen", Consumer)
    monkeypatch.setattr(tasks.subprocess, "run", lambda args, cwd, env, check: seen.append(env))
    tasks.run([])
    assert len(seen) == 2 and len(started) == 1
    assert all(env is not None and env["REWARDS_ENV"] == "development" for env in seen + started)


@pytest.mark.usefixtures("backend")
def test_failed_login_logs_a_hash_of_the_name(app, client, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    typed = "Correct-Horse-Battery-9"  # a password typed into the user name box
    with caplog.at_level(logging.WARNING):
        assert client.post("/login", data={"username": typed, "password": "x"}).status_code == 401
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert typed.lower() not in logged.lower() and "Horse" not in logged
    with app.test_request_context():
        tag = name_tag(typed)
    assert f"#{tag}" in logged and len(tag) == 12
