"""Standalone verifier of published draws: ``python -m draws.verify BUNDLE_OR_RECORD``.

Needs only the Python standard library and ``cryptography`` (no Flask, no database, no network).

Usage::

    python -m draws.verify BUNDLE.json [--keyset KEYSET.json] [--proof PROOF.json]

``BUNDLE.json`` is a public record or an auditor bundle (format ``loyalty-draw-bundle/1``, see
``docs/draw-algorithm.md``)::

    {"format": "loyalty-draw-bundle/1", "kind": "public" | "auditor",
     "keyset": {...}, "announcement": ENVELOPE, "freeze": ENVELOPE, "result": ENVELOPE,
     "disqualifications": [ENVELOPE, ...],            # optional
     "weights": [w0, w1, ...],                         # optional, public: weights in canonical order
     "entrants": {"accounts": [...], "tiers": [...], "weights": [...]},   # auditor only
     "salt_key": "64 hex digits",                       # auditor only
     "exclusions": ["account", ...]}                    # auditor only, optional

Every check prints one line, ``PASS name``, ``FAIL name: reason`` or ``SKIP name: reason`` (a check
that the bundle has not enough data for, e.g. the entrant digest in a public record). The exit status
is 0 when nothing failed, 1 when a check failed, 2 when the input could not be read at all.

``--keyset`` gives the service's key set obtained independently (recommended: a key set inside the
bundle proves only that the bundle is self-consistent). ``--proof`` also checks one customer's
inclusion proof (from their personal cabinet) against the signed Merkle root.

The same checks are available as functions (:func:`verify_bundle`, :func:`verify_proof`) for the
service's auditor page.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from draws.canonical import canonical_json
from draws.engine import (
    ALGORITHMS,
    DrawError,
    derive_seed,
    entropy_available_at,
    entropy_bytes,
    exclusions_digest,
    expand_prizes,
    format_timestamp,
    mask_account,
    parse_timestamp,
    payload_digest,
    run_selection,
    weights_digest,
)
from draws.entrants import entrant_columns_digest
from draws.merkle import InclusionProof, MerkleTree, entrant_leaf_hashes
from draws.signed import SignatureError, verify_envelope

BUNDLE_FORMAT = "loyalty-draw-bundle/1"
PASS, FAIL, SKIP = "PASS", "FAIL", "SKIP"


@dataclass(frozen=True, slots=True)
class Check:
    """One verification step: ``name``, ``status`` (PASS, FAIL or SKIP) and a reason."""

    name: str
    status: str
    reason: str = ""

    @property
    def failed(self) -> bool:
        """True for a FAIL."""
        return self.status == FAIL

    def line(self) -> str:
        """``PASS name`` or ``FAIL name: reason`` (the verifier's output format)."""
        if self.status == PASS and not self.reason:
            return f"PASS {self.name}"
        return f"{self.status} {self.name}: {self.reason}"


class _Failed(Exception):
    """Raised inside a check to turn it into a FAIL with this message."""


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise _Failed(message)


class _Run:
    """Collects checks; a check body raising turns into FAIL, so one bad field never stops the rest."""

    def __init__(self) -> None:
        self.checks: list[Check] = []

    def check(self, name: str, body: Callable[[], str | None]) -> bool:
        try:
            note = body()
        except _Failed as exc:
            self.checks.append(Check(name, FAIL, str(exc)))
            return False
        except (DrawError, SignatureError, KeyError, TypeError, ValueError, IndexError) as exc:
            what = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
            self.checks.append(Check(name, FAIL, what))
            return False
        self.checks.append(Check(name, PASS, note or ""))
        return True

    def skip(self, name: str, reason: str) -> None:
        self.checks.append(Check(name, SKIP, reason))


def _columns(bundle: dict[str, Any]) -> tuple[list[str], list[str], list[int]] | None:
    entrants = bundle.get("entrants")
    if entrants is None:
        return None
    accounts, tiers, weights = entrants["accounts"], entrants["tiers"], entrants["weights"]
    if not (isinstance(accounts, list) and isinstance(tiers, list) and isinstance(weights, list)):
        raise _Failed("entrants must have list columns accounts, tiers, weights")
    if not len(accounts) == len(tiers) == len(weights):
        raise _Failed("entrant columns have different lengths")
    return accounts, tiers, weights


def verify_bundle(bundle: dict[str, Any], keyset: dict[str, Any] | None = None) -> list[Check]:
    """Run every check on a public record or auditor bundle; return them in order.

    ``keyset`` (an independently obtained key set) overrides the one embedded in the bundle.
    """
    run = _Run()
    if not isinstance(bundle, dict) or bundle.get("format") != BUNDLE_FORMAT:
        return [Check("format", FAIL, f"not a {BUNDLE_FORMAT} document")]
    run.checks.append(Check("format", PASS))
    keys = keyset if keyset is not None else bundle.get("keyset")
    if not isinstance(keys, dict):
        run.checks.append(Check("keyset", FAIL, "no key set in the bundle and none given with --keyset"))
        return run.checks
    run.checks.append(
        Check("keyset", PASS, "given with --keyset" if keyset is not None else "embedded in the bundle")
    )

    # 1. signatures -------------------------------------------------------------------------------
    payloads: dict[str, dict[str, Any]] = {}
    for record in ("announcement", "freeze", "result"):

        def sig(record: str = record) -> str | None:
            payload = verify_envelope(bundle[record], keys)
            _require(payload.get("type") == f"draw.{record}", f"payload type is {payload.get('type')!r}")
            payloads[record] = payload
            return None

        run.check(f"signature.{record}", sig)
    if len(payloads) < 3:
        run.skip("rest", "cannot check further without the three signed records")
        return run.checks
    ann, frz, res = payloads["announcement"], payloads["freeze"], payloads["result"]

    # 2. commitment and links ---------------------------------------------------------------------
    def commitment() -> None:
        secret = bytes.fromhex(res["secret"])
        _require(len(secret) == 32, "the revealed secret is not 32 bytes")
        _require(res["commitment"] == ann["commitment"], "result and announcement commitments differ")
        _require(hashlib.sha256(secret).hexdigest() == ann["commitment"], "SHA-256(secret) != commitment")

    run.check("commitment", commitment)

    def links() -> None:
        _require(ann["draw_id"] == frz["draw_id"] == res["draw_id"], "the records name different draws")
        ann_digest = payload_digest(ann)
        _require(frz["announcement_digest"] == ann_digest, "freeze does not reference this announcement")
        _require(res["announcement_digest"] == ann_digest, "result does not reference this announcement")
        _require(res["freeze_digest"] == payload_digest(frz), "result does not reference this freeze")
        _require(res["entrant_digest"] == frz["entrant_digest"], "result and freeze entrant digests differ")
        _require(res["merkle_root"] == frz["merkle_root"], "result and freeze Merkle roots differ")
        _require(res["algorithm"] == ann["algorithm"], "result uses another algorithm than announced")
        _require(ann["algorithm"] in ALGORITHMS, f"unknown algorithm {ann['algorithm']!r}")

    run.check("links", links)

    # 3. timing -----------------------------------------------------------------------------------
    def timing() -> str:
        announced = parse_timestamp(ann["announced_at"])
        freeze_at = parse_timestamp(ann["freeze_at"])
        frozen_at = parse_timestamp(frz["frozen_at"])
        entropy_at = entropy_available_at(ann["entropy_source"])
        drawn_at = parse_timestamp(res["drawn_at"])
        _require(announced < freeze_at, "the announcement is not before the announced freeze time")
        _require(freeze_at <= frozen_at, "the list was frozen before the announced freeze time")
        _require(announced < frozen_at, "the announcement does not precede the freeze")
        _require(frozen_at < entropy_at, "the entropy existed before the list was frozen")
        _require(entropy_at <= drawn_at, "the draw ran before its entropy existed")
        return f"announced {ann['announced_at']} < frozen {frz['frozen_at']} < entropy at {format_timestamp(entropy_at)}"

    run.check("timing", timing)

    # 4. entropy and seed -------------------------------------------------------------------------
    entropy: list[bytes] = []

    def entropy_check() -> None:
        raw = entropy_bytes(ann["entropy_source"], res["entropy"])
        _require(hashlib.sha256(raw).hexdigest() == res["entropy_digest"], "entropy digest mismatch")
        entropy.append(raw)

    run.check("entropy", entropy_check)

    def seed_check() -> None:
        _require(bool(entropy), "no valid entropy to derive the seed from")
        seed = derive_seed(
            ann["algorithm"], bytes.fromhex(res["secret"]), entropy[0], frz["entrant_digest"],
            payload_digest(ann),
        )
        _require(seed.hex() == res["seed"], "the seed does not follow from secret, entropy and digests")

    run.check("seed", seed_check)

    # 5. freeze totals ----------------------------------------------------------------------------
    def totals() -> None:
        tiers: dict[str, dict[str, int]] = frz["tiers"]
        weights = ann["tier_weights"]
        _require(sum(t["count"] for t in tiers.values()) == frz["count"], "tier counts do not add up")
        _require(sum(t["weight"] for t in tiers.values()) == frz["total_weight"], "tier weights do not add up")
        for tier, slot in tiers.items():
            _require(weights.get(tier, 0) > 0, f"tier {tier!r} is not eligible but has entrants")
            _require(slot["weight"] == slot["count"] * weights[tier], f"tier {tier!r} weight != count x weight")
        _require(len(expand_prizes(ann["prizes"])) <= frz["count"], "more prizes than entrants")

    run.check("freeze.totals", totals)

    # 6. entrant list (auditor bundle) and weights vector (public) -------------------------------
    columns: list[tuple[list[str], list[str], list[int]]] = []
    weight_vector: list[list[int]] = []

    if bundle.get("entrants") is None:
        run.skip("entrants.digest", "no entrant list in this record (auditor bundle only)")
    else:

        def digest() -> None:
            cols = _columns(bundle)
            assert cols is not None
            accounts, tiers, weights = cols
            _require(len(accounts) == frz["count"], f"{len(accounts)} entrants but the freeze says {frz['count']}")
            _require(
                all(a < b for a, b in zip(accounts, accounts[1:], strict=False)),
                "accounts are not in canonical (strictly increasing) order",
            )
            tier_weights = ann["tier_weights"]
            for account, tier, weight in zip(accounts, tiers, weights, strict=True):
                if weight != tier_weights.get(tier) or weight < 1:
                    raise _Failed(f"entrant {mask_account(account)} has weight {weight} for tier {tier!r}")
            _require(entrant_columns_digest(accounts, tiers, weights) == frz["entrant_digest"], "entrant digest mismatch")
            columns.append(cols)

        run.check("entrants.digest", digest)

    given_weights = bundle.get("weights")
    if columns:
        weight_vector.append(columns[0][2])
    elif isinstance(given_weights, list):
        weight_vector.append(given_weights)
    if weight_vector:

        def weights_check() -> None:
            w = weight_vector[0]
            _require(len(w) == frz["count"], "weights vector length != entrant count")
            _require(all(isinstance(x, int) and not isinstance(x, bool) and x >= 1 for x in w), "bad weight")
            _require(weights_digest(w) == frz["weights_digest"], "weights digest mismatch")
            _require(sum(w) == frz["total_weight"], "weights do not add up to the total weight")

        if not run.check("weights.digest", weights_check):
            weight_vector.clear()
    else:
        run.skip("weights.digest", "no weights vector or entrant list in this record")

    leaves: list[list[bytes]] = []
    if columns and bundle.get("salt_key"):

        def merkle() -> None:
            salt_key = bytes.fromhex(bundle["salt_key"])
            _require(len(salt_key) == 32, "the salt key must be 32 bytes")
            accounts, _, weights = columns[0]
            hashes = entrant_leaf_hashes(salt_key, accounts, weights)
            _require(MerkleTree(hashes).root().hex() == frz["merkle_root"], "Merkle root mismatch")
            leaves.append(hashes)

        run.check("entrants.merkle_root", merkle)
    else:
        run.skip("entrants.merkle_root", "needs the entrant list and the salt key (auditor bundle)")

    if bundle.get("exclusions") is not None and columns:

        def exclusions() -> None:
            excluded = bundle["exclusions"]
            _require(exclusions_digest(excluded) == ann["exclusions_digest"], "exclusion list digest mismatch")
            found = set(excluded).intersection(columns[0][0])
            _require(not found, f"{len(found)} excluded account(s) are entrants")

        run.check("exclusions", exclusions)
    else:
        run.skip("exclusions", "needs the exclusion list and the entrant list (auditor bundle)")

    # 7. winners and reserves recomputed ----------------------------------------------------------
    if weight_vector and entropy:
        selection: list[tuple[list[int], list[int]]] = []

        def recompute() -> None:
            amounts = expand_prizes(ann["prizes"])
            outcome = run_selection(
                ann["algorithm"], bytes.fromhex(res["seed"]), weight_vector[0], len(amounts), ann["reserves"],
                entropy_source=ann["entropy_source"], entropy=entropy[0],
            )
            selection.append((outcome.winners, outcome.reserves))
            published = res["winners"]
            _require(len(published) == len(outcome.winners), "number of winners differs")
            for i, (row, index) in enumerate(zip(published, outcome.winners, strict=True)):
                _require(row["prize_index"] == i, f"winner {i} has prize index {row['prize_index']}")
                _require(row["amount_kopecks"] == amounts[i], f"prize {i} amount differs from the announcement")
                _require(row["entrant_index"] == index, f"prize {i}: published entrant {row['entrant_index']}, recomputed {index}")
                _check_person(row, index, columns, leaves, f"prize {i}")

        def recompute_reserves() -> None:
            _require(bool(selection), "winners could not be recomputed")
            expected = selection[0][1]
            published = res["reserves"]
            _require(len(published) == len(expected), "number of reserves differs")
            for i, (row, index) in enumerate(zip(published, expected, strict=True)):
                _require(row["reserve_index"] == i, f"reserve {i} has index {row['reserve_index']}")
                _require(row["entrant_index"] == index, f"reserve {i}: published entrant {row['entrant_index']}, recomputed {index}")
                _check_person(row, index, columns, leaves, f"reserve {i}")

        run.check("winners", recompute)
        run.check("reserves", recompute_reserves)
    else:
        reason = "needs the weights vector or the entrant list" if entropy else "entropy is invalid"
        run.skip("winners", reason)
        run.skip("reserves", reason)

    # 8. disqualifications ------------------------------------------------------------------------
    dqs = bundle.get("disqualifications") or []
    if dqs:
        run.check("disqualifications", lambda: _check_disqualifications(dqs, keys, res))
    return run.checks


def _check_person(
    row: dict[str, Any],
    index: int,
    columns: list[tuple[list[str], list[str], list[int]]],
    leaves: list[list[bytes]],
    label: str,
) -> None:
    if columns:
        account = columns[0][0][index]
        _require(row["account_masked"] == mask_account(account), f"{label}: masked account does not match")
    if leaves:
        _require(row["leaf_hash"] == leaves[0][index].hex(), f"{label}: leaf hash does not match")


def _check_disqualifications(envelopes: Sequence[dict[str, Any]], keys: dict[str, Any], res: dict[str, Any]) -> str:
    holders: list[int | None] = [w["entrant_index"] for w in res["winners"]]
    reserves = [r["entrant_index"] for r in res["reserves"]]
    used = 0
    result_digest = payload_digest(res)
    for number, envelope in enumerate(envelopes):
        dq = verify_envelope(envelope, keys)
        _require(dq.get("type") == "draw.disqualification", f"record {number} is not a disqualification")
        _require(dq["draw_id"] == res["draw_id"] and dq["result_digest"] == result_digest, f"disqualification {number} is for another result")
        _require(dq["sequence"] == number, f"disqualification {number} is out of sequence")
        _require(bool(str(dq.get("reason", "")).strip()), f"disqualification {number} has no reason")
        prize = dq["prize_index"]
        _require(0 <= prize < len(holders) and holders[prize] is not None, f"disqualification {number}: no holder of prize {prize}")
        _require(dq["entrant_index"] == holders[prize], f"disqualification {number}: not the current holder of prize {prize}")
        if used < len(reserves):
            _require(
                dq["replacement_reserve_index"] == used and dq["replacement_entrant_index"] == reserves[used],
                f"disqualification {number}: the prize must pass to reserve {used}",
            )
            holders[prize] = reserves[used]
            used += 1
        else:
            _require(dq["replacement_entrant_index"] is None, f"disqualification {number}: no reserve is left")
            holders[prize] = None
    return f"{len(envelopes)} disqualification(s), prizes passed to reserves in published order"


def verify_proof(bundle: dict[str, Any], proof: dict[str, Any], keyset: dict[str, Any] | None = None) -> list[Check]:
    """Check one customer's inclusion proof against the signed freeze record of ``bundle``."""
    run = _Run()
    keys = keyset if keyset is not None else bundle.get("keyset")
    frozen: list[dict[str, Any]] = []

    def freeze_sig() -> None:
        _require(isinstance(keys, dict), "no key set")
        payload = verify_envelope(bundle["freeze"], keys)  # type: ignore[arg-type]
        _require(payload.get("type") == "draw.freeze", "not a freeze record")
        frozen.append(payload)

    if not run.check("proof.freeze_signature", freeze_sig):
        return run.checks

    def inclusion() -> str:
        parsed = InclusionProof.from_json(proof)
        frz = frozen[0]
        _require(parsed.draw_id == frz["draw_id"], "the proof is for another draw")
        _require(parsed.tree_size == frz["count"], "the proof is for a tree of another size")
        _require(parsed.verify(bytes.fromhex(frz["merkle_root"])), "the proof does not lead to the published root")
        leaf = parsed.leaf_hash().hex()
        status = "an entrant"
        try:
            res = verify_envelope(bundle["result"], keys)  # type: ignore[arg-type]
            for row in res.get("winners", []):
                if row["leaf_hash"] == leaf:
                    status = f"winner of prize {row['prize_index']} ({row['amount_kopecks']} kopecks)"
            for row in res.get("reserves", []):
                if row["leaf_hash"] == leaf:
                    status = f"reserve {row['reserve_index']}"
        except (SignatureError, KeyError):
            pass
        return f"{mask_account(parsed.account)} is entrant {parsed.leaf_index} of {parsed.tree_size}: {status}"

    run.check("proof.inclusion", inclusion)
    return run.checks


def _load(path: str) -> Any:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m draws.verify", description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", help="public draw record or auditor bundle (JSON)")
    parser.add_argument("--keyset", help="the service's key set, obtained independently (JSON)")
    parser.add_argument("--proof", help="a customer's inclusion proof to check (JSON)")
    args = parser.parse_args(argv)
    try:
        bundle = _load(args.bundle)
        keyset = _load(args.keyset) if args.keyset else None
        proof = _load(args.proof) if args.proof else None
    except (OSError, ValueError) as exc:
        print(f"FAIL input: {exc}")
        return 2
    checks = verify_bundle(bundle, keyset)
    if proof is not None:
        checks += verify_proof(bundle, proof, keyset)
    for check in checks:
        print(check.line())
    failed = sum(c.failed for c in checks)
    passed = sum(c.status == PASS for c in checks)
    skipped = sum(c.status == SKIP for c in checks)
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


def canonical_dump(document: Any) -> bytes:
    """Canonical JSON bytes of a bundle, for writing files that re-download identically."""
    return canonical_json(document)


if __name__ == "__main__":
    sys.exit(main())
