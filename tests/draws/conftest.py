"""Fixtures for the draw services: a key store, a secret box, chains, a snapshot, a clock."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from draws import services
from draws.secretbox import SecretBox
from rewards.config import DEFAULTS
from rewards.db import db
from rewards.signing.keystore import KeyStore
from tests.support import make_snapshot

T0 = datetime(2026, 6, 20, 9, 0, tzinfo=UTC)


def drand_value(round_number: int, label: str = "x") -> dict[str, Any]:
    """A self-consistent fake drand round (randomness = SHA-256(signature))."""
    signature = hashlib.sha512(f"{label}/{round_number}".encode()).digest() + bytes(32)
    return {"type": "drand", "round": round_number, "randomness": hashlib.sha256(signature).hexdigest(), "signature": signature.hex()}


@dataclass
class DrawKit:
    """Everything the services need, plus helpers to walk a draw through its life."""

    app: Flask
    signer: KeyStore
    box: SecretBox
    chains: dict[str, Any] = field(default_factory=lambda: dict(DEFAULTS["DRAND_CHAINS"]))
    timezone: str = "Asia/Yekaterinburg"

    def draft(self, **overrides: Any) -> str:
        data = {
            "name": "Summer draw", "kind": "quarterly", "tier_weights": {"responsible": 1, "ideal": 3},
            "prizes": [{"amount_kopecks": 400_000, "count": 2}, {"amount_kopecks": 100_000, "count": 1}],
            "reserves": 2, "freeze_at": T0 + timedelta(days=10), "entropy": {"type": "drand", "chain": "quicknet"},
            "snapshot_period": "2026-05",
        }
        data.update(overrides)
        draw = services.create_draft(db.session, services.DraftInput(**data), actor="marketing",
                                     chains=self.chains, yearly_cap_kopecks=400_000, now=T0)
        db.session.commit()
        return draw.public_id

    def announce(self, pid: str) -> None:
        services.announce(db.session, pid, actor="marketing", signer=self.signer, box=self.box, chains=self.chains, now=T0 + timedelta(minutes=5))
        db.session.commit()

    def freeze(self, pid: str) -> None:
        draw = services.get_draw(db.session, pid)
        services.freeze(db.session, pid, actor="marketing", signer=self.signer, box=self.box, timezone=self.timezone,
                        now=draw.freeze_at + timedelta(seconds=30))
        db.session.commit()

    def entropy_for(self, pid: str) -> tuple[dict[str, Any], datetime]:
        import json

        from draws.engine import entropy_available_at

        source = json.loads(services.get_draw(db.session, pid).entropy_source)
        at = datetime.fromtimestamp(entropy_available_at(source), UTC) + timedelta(seconds=5)
        return drand_value(source["round"]), at

    def draw(self, pid: str) -> None:
        value, at = self.entropy_for(pid)
        services.run_draw(db.session, pid, value, actor="marketing", signer=self.signer, box=self.box, now=at)
        db.session.commit()

    def publish(self, pid: str) -> None:
        services.publish(db.session, pid, actor="marketing", timezone=self.timezone, now=T0 + timedelta(days=12))
        db.session.commit()

    def full(self, **overrides: Any) -> str:
        pid = self.draft(**overrides)
        self.announce(pid)
        self.freeze(pid)
        self.draw(pid)
        self.publish(pid)
        return pid


def snapshot_tiers(n: int) -> dict[str, str]:
    tiers = ("beginner", "promising", "responsible", "ideal")
    return {f"{7400000000 + i * 37:010d}": tiers[i % 4] for i in range(n)}


def make_kit(app: Flask) -> DrawKit:
    """A kit on ``app`` with a 40-account snapshot of 2026-05 (call inside an app context)."""
    make_snapshot(db.session, "2026-05", snapshot_tiers(40))
    db.session.commit()
    return DrawKit(app, KeyStore(app.config["KEYS_DIR"]), SecretBox(Path(app.config["KEYS_DIR"]) / "draw-secrets.key"))


@pytest.fixture
def kit(app: Flask) -> Iterator[DrawKit]:
    """A kit inside an app context held for the test (service tests; page tests use make_kit)."""
    with app.app_context():
        yield make_kit(app)
