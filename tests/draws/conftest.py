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
from draws.drand import SCHEME_UNCHAINED_G1
from draws.sample import cosign_freeze, sample_witness_key, witness_entry
from draws.secretbox import SecretBox
from rewards.config import DEFAULTS
from rewards.db import db
from rewards.signing.keystore import KeyStore
from tests.draws.beacon import TestBeacon
from tests.support import make_snapshot

T0 = datetime(2026, 6, 20, 9, 0, tzinfo=UTC)
BEACON = TestBeacon(SCHEME_UNCHAINED_G1, seed="draw-services")
TEST_CHAIN = {**BEACON.chain.as_json(), "relays": ["http://127.0.0.1:9/never-asked"]}
WITNESSES = [("Аудитор", sample_witness_key("kit", 0)), ("Observer", sample_witness_key("kit", 1))]


def drand_value(round_number: int, label: str = "x") -> dict[str, Any]:
    """A round of the test beacon, really signed (``label`` is ignored: kept for old call sites)."""
    return BEACON.value(round_number)


def forged_drand_value(round_number: int, label: str = "x") -> dict[str, Any]:
    """A self-consistent but forged drand round (randomness = SHA-256(signature), signature made up)."""
    signature = hashlib.sha512(f"{label}/{round_number}".encode()).digest()[:48]
    return {"type": "drand", "round": round_number, "randomness": hashlib.sha256(signature).hexdigest(),
            "signature": signature.hex()}


def kit_verify(bundle: dict[str, Any], keyset: dict[str, Any] | None = None) -> list[Any]:
    """The verifier as an auditor of the kit's draws runs it: the witnesses' own keys, the test chain."""
    from draws.verify import verify_bundle

    return verify_bundle(bundle, keyset, witnesses=witness_entries(), drand_chains=[BEACON.chain.as_json()])


def witness_entries() -> list[dict[str, str]]:
    """The kit's two witnesses as announced (name, kid, public key)."""
    return [witness_entry(name, key) for name, key in WITNESSES]


@dataclass
class DrawKit:
    """Everything the services need, plus helpers to walk a draw through its life."""

    app: Flask
    signer: KeyStore
    box: SecretBox
    chains: dict[str, Any] = field(default_factory=lambda: {**DEFAULTS["DRAND_CHAINS"], "test": TEST_CHAIN})
    timezone: str = "Asia/Yekaterinburg"

    def draft(self, **overrides: Any) -> str:
        data = {
            "name": "Summer draw", "kind": "quarterly", "tier_weights": {"responsible": 1, "ideal": 3},
            "prizes": [{"amount_kopecks": 400_000, "count": 2}, {"amount_kopecks": 100_000, "count": 1}],
            "reserves": 2, "freeze_at": T0 + timedelta(days=10), "entropy": {"type": "drand", "chain": "test"},
            "snapshot_period": "2026-05", "witnesses": witness_entries(), "quorum": 2,
        }
        data.update(overrides)
        draw = services.create_draft(db.session, services.DraftInput(**data), actor="marketing",
                                     chains=self.chains, yearly_cap_kopecks=400_000, now=T0)
        db.session.commit()
        return draw.public_id

    def announce(self, pid: str) -> None:
        services.announce(db.session, pid, actor="marketing", signer=self.signer, box=self.box, chains=self.chains,
                          now=T0 + timedelta(minutes=5))
        db.session.commit()

    def freeze(self, pid: str, cosign: bool = True) -> None:
        draw = services.get_draw(db.session, pid)
        services.freeze(db.session, pid, actor="marketing", signer=self.signer, box=self.box, timezone=self.timezone,
                        now=draw.freeze_at + timedelta(seconds=30))
        db.session.commit()
        if cosign:
            self.cosign(pid)

    def cosignatures(self, pid: str, at: datetime | None = None) -> list[dict[str, Any]]:
        """Each witness's cosignature of the freeze, made at ``at`` (default: a minute after the freeze)."""
        import json

        from draws.encoding import format_timestamp

        draw = services.get_draw(db.session, pid)
        ann, frz = json.loads(draw.announcement)["payload"], json.loads(draw.freeze_record)["payload"]
        moment = at or draw.frozen_at + timedelta(minutes=1)
        return [cosign_freeze(key, name, ann, frz, format_timestamp(int(moment.timestamp()))) for name,
                key in WITNESSES]

    def cosign(self, pid: str, at: datetime | None = None) -> None:
        """Store every witness's cosignature (made at ``at``)."""
        for envelope in self.cosignatures(pid, at):
            services.add_cosignature(db.session, pid, envelope, actor="marketing",
                                     now=services.get_draw(db.session, pid).frozen_at + timedelta(minutes=2))
        db.session.commit()

    def entropy_for(self, pid: str) -> tuple[dict[str, Any], datetime]:
        import json

        from draws.engine import entropy_available_at

        source = json.loads(services.get_draw(db.session, pid).entropy_source)
        at = datetime.fromtimestamp(entropy_available_at(source), UTC) + timedelta(seconds=5)
        if source["type"] != "drand":
            return {"type": "rfc3797", "sources": [["1", "2", "3"]] * len(source["sources"])}, at
        return BEACON.value(source["round"]), at

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
def app(app_factory: Any) -> Flask:
    """The app of a draw test: its drand chains include the test beacon's."""
    return app_factory(DRAND_CHAINS={**DEFAULTS["DRAND_CHAINS"], "test": TEST_CHAIN})


def cosign_package(package: dict[str, Any], at: datetime | None = None) -> list[dict[str, Any]]:
    """Each kit witness's cosignature of a freeze package (from the API or the public page)."""
    from draws.encoding import format_timestamp, parse_timestamp

    ann, frz = package["announcement"]["payload"], package["freeze"]["payload"]
    when = format_timestamp(int(at.timestamp())) if at else format_timestamp(parse_timestamp(frz["frozen_at"]) + 60)
    return [cosign_freeze(key, name, ann, frz, when) for name, key in WITNESSES]


@pytest.fixture
def kit(app: Flask) -> Iterator[DrawKit]:
    """A kit inside an app context held for the test (service tests; page tests use make_kit)."""
    with app.app_context():
        yield make_kit(app)
