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
from draws.encoding import format_timestamp, parse_timestamp
from draws.engine import (
    ALGORITHM_WEIGHTED,
    DrawOutcome,
    Entrant,
    FrozenList,
    build_announcement,
    build_freeze,
    build_head,
    build_result,
    commitment_of,
    drand_source,
    entropy_available_at,
    freeze_entrants,
    payload_digest,
    salt_commitment_of,
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


def keyset_for(key: Ed25519PrivateKey, created: str = "2023-01-01T00:00:00Z") -> dict[str, Any]:
    """A one-key key set in the format of ``signedjson``."""
    raw = key.public_key().public_bytes_raw()
    return {"keys": [{"kid": kid_for(raw), "alg": "Ed25519", "public_key": b64u_encode(raw), "created": created,
                      "retired": None}]}


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


# Real League of Entropy quicknet rounds (../shared/notes/drand-vectors.md): a sample draw frozen just
# after genesis announces round 3, whose real signature is below, so samples verify by BLS too.
QUICKNET_ROUNDS = {
    2: "b6b6a585449b66eb12e875b64fcbab3799861a00e4dbf092d99e969a5eac57dd3f798acf61e705fe4f093db926626807",
    3: "b3fab6df720b68cc47175f2c777e86d84187caab5770906f515ff1099cb01e4deaa027075d860823e49477b93c72bd64",
}
SAMPLE_ANNOUNCED_AT = "2023-08-23T15:00:00Z"
SAMPLE_FREEZE_AT = "2023-08-23T15:09:30Z"  # quicknet round 2 is at 15:09:30, so round 3 (15:09:33) is announced


def quicknet_value(round_number: int) -> dict[str, Any]:
    """The real quicknet round ``round_number`` (2 or 3) as an entropy value."""
    signature = QUICKNET_ROUNDS[round_number]
    return {"type": "drand", "round": round_number, "randomness": hashlib.sha256(bytes.fromhex(signature)).hexdigest(),
            "signature": signature}


def sample_witness_key(label: str, number: int) -> Ed25519PrivateKey:
    """A deterministic witness key (samples only)."""
    return Ed25519PrivateKey.from_private_bytes(derived(f"{label}/{number}", "witness-key"))


def witness_entry(name: str, key: Ed25519PrivateKey) -> dict[str, str]:
    """The public entry of a witness: ``{"name", "kid", "public_key"}``."""
    raw = key.public_key().public_bytes_raw()
    return {"name": name, "kid": kid_for(raw), "public_key": b64u_encode(raw)}


def cosign_freeze(key: Ed25519PrivateKey, name: str, announcement: dict[str, Any], freeze: dict[str, Any],
                  cosigned_at: str) -> dict[str, Any]:
    """A witness's cosignature of a freeze payload at ``cosigned_at`` (section 4.3)."""
    raw = key.public_key().public_bytes_raw()
    return sign_payload(key, {
        "type": "draw.cosignature", "version": 2, "draw_id": freeze["draw_id"],
        "announcement_digest": payload_digest(announcement), "freeze_digest": payload_digest(freeze),
        "witness": {"name": name, "kid": kid_for(raw)}, "cosigned_at": cosigned_at,
    })


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
    head: dict[str, Any]
    witness_keys: list[tuple[str, Ed25519PrivateKey]]

    @property
    def witnesses(self) -> list[dict[str, str]]:
        """The witnesses' public entries, as an auditor obtains them from the witnesses themselves."""
        return [witness_entry(name, key) for name, key in self.witness_keys]

    def public_record(self, with_weights: bool = True) -> dict[str, Any]:
        """The public record of this draw."""
        return public_record(
            self.keyset, self.announcement, self.freeze, self.result,
            weights=self.frozen.weights if with_weights else None, head=self.head,
        )

    def auditor_bundle(self) -> dict[str, Any]:
        """The auditor bundle of this draw."""
        return auditor_bundle(
            self.keyset, self.announcement, self.freeze, self.result, self.frozen, self.salt_key, self.exclusions,
            head=self.head,
        )


def make_sample_draw(
    label: str = "sample",
    entrants: Sequence[Entrant] | None = None,
    count: int = 50,
    tier_weights: dict[str, int] | None = None,
    prizes: Sequence[dict[str, int]] = ({"amount_kopecks": 400_000, "count": 2},
                                        {"amount_kopecks": 100_000, "count": 3}),
    reserves: int = 3,
    algorithm: str = ALGORITHM_WEIGHTED,
    entropy_source: dict[str, Any] | None = None,
    entropy_value: dict[str, Any] | None = None,
    exclusions: Sequence[str] = (),
    announced_at: str = SAMPLE_ANNOUNCED_AT,
    freeze_at: str = SAMPLE_FREEZE_AT,
    witnesses: int = 2,
    quorum: int | None = None,
) -> SampleDraw:
    """Run a complete version 2 sample draw (announce, freeze, cosign, draw) and sign its records.

    By default the entropy is the real quicknet round 3 and ``witnesses`` sample witnesses (all of
    them the quorum) cosign the freeze one second after it; ``witnesses=0`` makes an unwitnessed draw.
    """
    from draws.drand import KNOWN_CHAINS  # py_ecc loads only when samples are made

    weights = dict(DEFAULT_TIER_WEIGHTS if tier_weights is None else tier_weights)
    people = list(entrants) if entrants is not None else sample_entrants(label, count)
    excluded = set(exclusions)
    weighted = [Entrant(e.account, e.tier, weights.get(e.tier, 0)) for e in people if e.account not in excluded]
    key = sample_signing_key(label)
    keyset = keyset_for(key)
    secret = derived(label, "secret")
    salt_key = derived(label, "salt-key")
    freeze_unix = parse_timestamp(freeze_at)
    source = entropy_source or drand_source(KNOWN_CHAINS["quicknet"], freeze_unix, 0)
    witness_keys = [(f"Witness {n + 1}", sample_witness_key(label, n)) for n in range(witnesses)]
    witness_set = {"quorum": len(witness_keys) if quorum is None else quorum,
                   "keys": [witness_entry(name, k) for name, k in witness_keys], "unwitnessed": not witness_keys}
    announcement = build_announcement(
        draw_id=f"sample-{label}", name=f"Sample draw {label}", kind="quarterly",
        snapshot={"period": "2026-06", "digest": derived(label, "snapshot").hex()},
        announced_at=announced_at, freeze_at=freeze_at, algorithm=algorithm, tier_weights=weights,
        exclusions=list(excluded), prizes=list(prizes), reserves=reserves, commitment=commitment_of(secret),
        salt_commitment=salt_commitment_of(salt_key), entropy_source=source, witnesses=witness_set,
    )
    frozen = freeze_entrants(weighted, salt_key)
    freeze = build_freeze(announcement, frozen, freeze_at)
    cosignatures = [cosign_freeze(k, name, announcement, freeze, format_timestamp(freeze_unix + 1))
                    for name, k in witness_keys]
    if entropy_value is None:
        if source.get("type") != "drand":
            raise ValueError("give the entropy value of a sample draw whose source is not drand")
        entropy_value = quicknet_value(source["round"])
    drawn_at = format_timestamp(max(entropy_available_at(source), freeze_unix + 1) + 60)
    result, outcome = build_result(announcement, freeze, frozen.accounts, frozen.weights, salt_key, secret,
                                   entropy_value, drawn_at, cosignatures)
    return SampleDraw(
        label, key, keyset, secret, salt_key, sorted(excluded), frozen,
        sign_payload(key, announcement), sign_payload(key, freeze), sign_payload(key, result),
        dict(entropy_value), outcome, sign_payload(key, build_head(result, [], drawn_at)), witness_keys,
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
