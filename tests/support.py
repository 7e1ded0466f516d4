"""Helpers the tests import (fixtures live in conftest.py)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from flask.testing import FlaskClient

FAST_HASH = "scrypt:16384:8:1"  # tests only: the production default (N=2^17) is checked in test_auth
PASSWORD = "correct horse battery"
ROOT = Path(__file__).resolve().parents[1]  # the checkout
# CI sets it: the build there has a C compiler, so the modules setup.py compiles must be compiled.
REQUIRE_COMPILED = os.environ.get("REWARDS_TEST_REQUIRE_COMPILED") == "1"
REDIS_URL = "redis://127.0.0.1:6379/15"  # the tests' Redis database (keys made unique per test)


def redis_up() -> bool:
    """True when a Redis server answers at 127.0.0.1:6379 (the shared rate-limit storage tests)."""
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def login(client: FlaskClient, username: str, password: str = PASSWORD) -> None:
    """Log ``client`` in (fails the test when the login is refused)."""
    response = client.post("/login", data={"username": username, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for ``token``."""
    return {"Authorization": f"Bearer {token}"}


def make_snapshot(session, period: str, tiers: dict[str, str], *, points: dict[str, int] | None = None):  # type: ignore[no-untyped-def]
    """Store an active snapshot of ``period`` directly (tests only; the import service does it for real)."""
    import json
    from collections import Counter

    from rewards.snapshots.models import Snapshot, SnapshotRow

    counts = Counter(tiers.values())
    snap = Snapshot(
        period=period,
        status="active",
        source="import",
        source_name="test",
        loaded_by="test",
        row_count=len(tiers),
        tier_counts=json.dumps(dict(sorted(counts.items())), separators=(",", ":")),
        digest="0" * 64,
    )
    session.add(snap)
    session.flush()
    session.add_all(
        SnapshotRow(snapshot_id=snap.id, account=a, tier=t, points=(points or {}).get(a)) for a, t in tiers.items()
    )
    session.flush()
    return snap
