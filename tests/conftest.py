"""Shared fixtures: an app per test on SQLite and on PostgreSQL, clients, users and API keys.

Database tests run twice, once per backend. PostgreSQL is at REWARDS_TEST_PG_URL (default: the local
server's database ``test``); when it cannot be reached those runs are skipped with the reason, unless
REWARDS_TEST_REQUIRE_PG=1 (CI), where they fail instead.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from rewards import create_app
from rewards.db import db
from tasks import stale_compiled_modules  # the checkout's own helper (tasks.py rebuilds with it too)
from tests.support import FAST_HASH, PASSWORD, login

PG_URL = os.environ.get("REWARDS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("REWARDS_TEST_REQUIRE_PG") == "1"

_pg_state: dict[str, Any] = {}
# The test signing key's creation time: before every record the tests sign (they use fixed past
# times, and a verifier refuses a record dated before its key existed).
KEYS_CREATED = datetime(2020, 1, 1, tzinfo=UTC)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Refuse to test old code: an editable install compiles some modules in place (setup.py)."""
    stale = stale_compiled_modules()
    if stale:
        raise pytest.UsageError(
            f"{', '.join(stale)} changed after it was compiled, and Python would import the compiled copy: "
            "reinstall (python3 tasks.py setup, or pip install --no-deps -e .), or delete its .so files"
        )


def pg_unavailable_reason() -> str | None:
    """None when PostgreSQL answers, else why not."""
    if "reason" not in _pg_state:
        try:
            engine = create_engine(PG_URL)
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            engine.dispose()
            _pg_state["reason"] = None
        except Exception as exc:  # noqa: BLE001 - any failure means "not available"
            _pg_state["reason"] = f"PostgreSQL not reachable at {PG_URL}: {type(exc).__name__}"
    return _pg_state["reason"]


def _worker_schema() -> str:
    # Unique per process: parallel test runs (xdist workers, or two checkouts) never share a schema.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return f"t_{re.sub(r'[^A-Za-z0-9]', '_', worker)}_{os.getpid()}"


def pg_engine_options() -> dict[str, Any]:
    """Engine options that put this test worker in its own schema (parallel workers never collide)."""
    return {"connect_args": {"options": f"-csearch_path={_worker_schema()}"}}


def _reset_pg_schema() -> None:
    engine = create_engine(PG_URL)
    with engine.begin() as conn:
        schema = _worker_schema()
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine.dispose()


@pytest.fixture(scope="session", autouse=True)
def _drop_pg_schema_at_end() -> Iterator[None]:
    """Remove this process's PostgreSQL schema when the session ends."""
    yield
    if _pg_schema_ready.get("done") or _pg_state.get("reason") is None and "reason" in _pg_state:
        try:
            engine = create_engine(PG_URL)
            with engine.begin() as conn:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {_worker_schema()} CASCADE"))
            engine.dispose()
        except Exception:  # noqa: BLE001 - cleanup is best effort
            pass


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """The database engine of this run of the test."""
    if request.param == "postgresql":
        reason = pg_unavailable_reason()
        if reason:
            if REQUIRE_PG:
                pytest.fail(reason + " (REWARDS_TEST_REQUIRE_PG=1)")
            pytest.skip(reason + "; set REWARDS_TEST_PG_URL to run the PostgreSQL pass")
    return request.param


def make_config(backend: str, tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    """A test config for ``backend`` with everything under ``tmp_path``."""
    cfg: dict[str, Any] = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "KEYS_DIR": str(tmp_path / "keys"),
        "PASSWORD_HASH_METHOD": FAST_HASH,
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "JOBS_URL": "memory://",  # each job runs at once inside the request that starts it
        "JOBS_DIR": str(tmp_path / "jobs"),
        "JOBS_NICE": 0,  # consumers the tests start must not starve behind the test workers' own CPU use
    }
    if backend == "sqlite":
        cfg["DATABASE_URL"] = f"sqlite:///{tmp_path / 'test.sqlite3'}"
    else:
        cfg["DATABASE_URL"] = PG_URL
        cfg["SQLALCHEMY_ENGINE_OPTIONS"] = pg_engine_options()
    cfg.update(overrides)
    return cfg


_pg_schema_ready: dict[str, bool] = {}


def prepare_schema(app: Flask) -> None:
    """Create the schema: a fresh file on SQLite; on PostgreSQL once per worker, emptied per test."""
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            db.create_all()
            return
        if not _pg_schema_ready.get("done"):
            _reset_pg_schema()
            db.create_all()
            _pg_schema_ready["done"] = True
        else:
            tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
            with db.engine.begin() as conn:
                conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
def app_factory(backend: str, tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """Build an app on this test's database with extra settings; its schema is ready."""
    apps: list[Flask] = []

    def build(**overrides: Any) -> Flask:
        app = create_app(make_config(backend, tmp_path, **overrides))
        if not apps:
            prepare_schema(app)
            from rewards.signing.keystore import KeyStore

            KeyStore(app.config["KEYS_DIR"]).generate(created_at=KEYS_CREATED)
        apps.append(app)
        return app

    yield build
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(app_factory: Callable[..., Flask]) -> Flask:
    """The app of this test."""
    return app_factory()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client (a browser without JavaScript)."""
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> Any:
    """A CLI runner."""
    return app.test_cli_runner()


@pytest.fixture
def make_user(app: Flask) -> Callable[..., str]:
    """Create a staff user; returns the user name (the password is ``PASSWORD``)."""

    def make(role: str, username: str | None = None) -> str:
        from rewards.auth.services import create_user

        name = username or f"{role}-user"
        with app.app_context():
            create_user(db.session, name, PASSWORD, role, method=FAST_HASH, actor="test")
            db.session.commit()
        return name

    return make


@pytest.fixture
def logged_in(app: Flask, make_user: Callable[..., str]) -> Callable[[str], FlaskClient]:
    """A new client logged in as a new user of ``role``."""

    def make(role: str) -> FlaskClient:
        c = app.test_client()
        login(c, make_user(role, f"{role}-{os.urandom(3).hex()}"))
        return c

    return make


@pytest.fixture
def api_token(app: Flask) -> Callable[..., str]:
    """Create an API client with scopes; returns its bearer token."""

    def make(*scopes: str, name: str | None = None) -> str:
        from rewards.apikeys.services import create_client

        with app.app_context():
            _client, token = create_client(db.session, name or f"client-{os.urandom(3).hex()}", list(scopes),
                                           actor="test")
            db.session.commit()
        return token

    return make
