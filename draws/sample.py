"""Deterministic sample draws, end to end, for test vectors, tests, benchmarks and the docs.

Everything here is derived from a text label (keys, secret, salt key, entrants), so a sample draw is
reproducible byte for byte. **Never use this for a real draw**: real secrets, salt keys and signing
keys come from ``secrets``/``os.urandom`` and the service's key store.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from draws.bundle import auditor_bundle, public_record
from draws.engine import (
    ALGORITHM_WEIGHTED,
    DRAND_CHAINS,
    DrawOutcome,
    Entrant,
    FrozenList,
    build_announcement,
    build_freeze,
    build_result,
    commitment_of,
    drand_source,
    format_timestamp,
    freeze_entrants,
    parse_timestamp,
)
from signedjson import b64u_encode, kid_for, sign_payload

TIERS = ("beginner", "promising", "responsible", "ideal")
DEFAULT_TIER_WEIGHTS = {"beginner": 0, "promising": 0, "responsible": 1, "ideal": 3}


def derived(label: str, purpose: str) -> bytes:
    """32 bytes derived from ``label`` for ``purpose`` (deterministic, for samples only)."""
    return hashlib.sha256(f"sample-draw/{purpose}/{label}".encode()).digest()


def sample_signing_key(label: str) -> Ed25519PrivateKey:
    """A deterministic Ed25519 key (samples only)."""
    return Ed25519PrivateKey.from_private_bytes(derived(label, "signing-key"))


def keyset_for(key: Ed25519PrivateKey, created: str = "2026-01-01T00:00:00Z") -> dict[str, Any]:
    """A one-key key set in the format of ``signedjson``."""
    raw = key.public_key().public_bytes_raw()
    return {"keys": [{"kid": kid_for(raw), "alg": "Ed25519", "public_key": b64u_encode(raw), "created": created, "retired": None}]}


def sample_entrants(label: str, count: int, tiers: Sequence[str] = TIERS) -> list[Entrant]:
    """``count`` distinct 10-digit accounts (some with leading zeros) with pseudo-random tiers."""
    out: list[Entrant] = []
    seen: set[str] = set()
    i = 0
    while len(out) < count:
        h = hashlib.sha256(f"{label}/{i}".encode()).digest()
        i += 1
        account = f"{int.from_bytes(h[:8], 'big') % 10**10:010d}"
        if account in seen:
            continue
        seen.add(account)
        out.append(Entrant(account, tiers[h[8] % len(tiers)], 0))
    return out


@dataclass(slots=True)
class SampleDraw:
    """Everything of one sample draw: inputs, signed records, outcome, bundles."""

    label: str
    key: Ed25519PrivateKey
    keyset: dict[str, Any]
    secret: bytes
    salt_key: bytes
    exclusions: list[str]
    frozen: FrozenList
    announcement: dict[str, Any]
    freeze: dict[str, Any]
    result: dict[str, Any]
    entropy_value: dict[str, Any]
    outcome: DrawOutcome

    def public_record(self, with_weights: bool = True) -> dict[str, Any]:
        """The public record of this draw."""
        return public_record(
            self.keyset, self.announcement, self.freeze, self.result,
            weights=self.frozen.weights if with_weights else None,
        )

    def auditor_bundle(self) -> dict[str, Any]:
        """The auditor bundle of this draw."""
        return auditor_bundle(
            self.keyset, self.announcement, self.freeze, self.result, self.frozen, self.salt_key, self.exclusions
        )


def drand_value_for(label: str, round_number: int) -> dict[str, Any]:
    """A *fake* but self-consistent drand round (randomness = SHA-256(signature)): samples only."""
    signature = hashlib.sha512(f"fake-drand/{label}/{round_number}".encode()).digest() + b"\x00" * 32
    return {
        "type": "drand",
        "round": round_number,
        "randomness": hashlib.sha256(signature).hexdigest(),
        "signature": signature.hex(),
    }


def make_sample_draw(
    label: str = "sample",
    entrants: Sequence[Entrant] | None = None,
    count: int = 50,
    tier_weights: dict[str, int] | None = None,
    prizes: Sequence[dict[str, int]] = ({"amount_kopecks": 400_000, "count": 2}, {"amount_kopecks": 100_000, "count": 3}),
    reserves: int = 3,
    algorithm: str = ALGORITHM_WEIGHTED,
    entropy_source: dict[str, Any] | None = None,
    entropy_value: dict[str, Any] | None = None,
    exclusions: Sequence[str] = (),
    announced_at: str = "2026-06-20T09:00:00Z",
    freeze_at: str = "2026-06-30T19:00:00Z",
) -> SampleDraw:
    """Run a complete sample draw (announce, freeze, draw) and sign its records."""
    weights = dict(DEFAULT_TIER_WEIGHTS if tier_weights is None else tier_weights)
    people = list(entrants) if entrants is not None else sample_entrants(label, count)
    excluded = set(exclusions)
    weighted = [Entrant(e.account, e.tier, weights.get(e.tier, 0)) for e in people if e.account not in excluded]
    key = sample_signing_key(label)
    keyset = keyset_for(key)
    secret = derived(label, "secret")
    salt_key = derived(label, "salt-key")
    freeze_unix = parse_timestamp(freeze_at)
    source = entropy_source or drand_source(DRAND_CHAINS["quicknet"], freeze_unix)
    announcement = build_announcement(
        draw_id=f"sample-{label}", name=f"Sample draw {label}", kind="quarterly", snapshot="2026-06",
        announced_at=announced_at, freeze_at=freeze_at, algorithm=algorithm, tier_weights=weights,
        exclusions=list(excluded), prizes=list(prizes), reserves=reserves, commitment=commitment_of(secret),
        entropy_source=source,
    )
    frozen = freeze_entrants(weighted, salt_key)
    frozen_at = format_timestamp(freeze_unix + 1)
    freeze = build_freeze(announcement, frozen, frozen_at)
    if entropy_value is None:
        entropy_value = drand_value_for(label, source["round"])
    from draws.entropy import entropy_available_at  # local: keeps the import list above short

    drawn_at = format_timestamp(max(entropy_available_at(source), freeze_unix + 1) + 60)
    result, outcome = build_result(announcement, freeze, frozen.accounts, frozen.weights, salt_key, secret, entropy_value, drawn_at)
    return SampleDraw(
        label, key, keyset, secret, salt_key, sorted(excluded), frozen,
        sign_payload(key, announcement), sign_payload(key, freeze), sign_payload(key, result),
        dict(entropy_value), outcome,
    )
