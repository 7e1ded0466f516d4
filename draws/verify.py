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

Every check prints one line, ``PASS name``, ``FAIL name: reason``, ``SKIP name: reason`` (a check
that the bundle has not enough data for, e.g. the entrant digest in a public record) or ``WARN name:
reason`` (something that matters was not verified). The exit status is 0 when nothing failed and no
WARN is left, 1 when a check failed, 2 when the input could not be read at all, 3 when a WARN is left.

``--keyset`` gives the service's key set obtained independently (``/api/v1/keys``): a key set inside
the bundle proves only that the bundle is self-consistent, so without ``--keyset`` the key set is a
WARN unless ``--trust-embedded-keyset`` is given. ``--partial`` accepts a public record from which
the winners cannot be recomputed (no weights vector). ``--proof`` also checks one customer's
inclusion proof (from their personal cabinet or the public page) against the signed Merkle root.

The same checks are available as functions (:func:`verify_bundle`, :func:`verify_proof`) for the
service's auditor page.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from draws.engine import (
    ALGORITHMS,
    DrawError,
    beacon_note,
    known_chain_problem,
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
from signedjson import SignatureError, verify_envelope

BUNDLE_FORMAT = "loyalty-draw-bundle/1"
PASS, FAIL, SKIP, WARN = "PASS", "FAIL", "SKIP", "WARN"
RECORD_TIME = {  # the field of each record type that says when it was signed
    "draw.announcement": "announced_at",
    "draw.freeze": "frozen_at",
    "draw.result": "drawn_at",
    "draw.cancellation": "cancelled_at",
    "draw.disqualification": "disqualified_at",
}
# Exit statuses of the command line.
EXIT_OK, EXIT_FAILED, EXIT_UNREADABLE, EXIT_INCOMPLETE = 0, 1, 2, 3


@dataclass(frozen=True, slots=True)
class Check:
    """One verification step: ``name``, ``status`` (PASS, FAIL, SKIP or WARN) and a reason.

    WARN means "not verified, and that matters": the key set came from the bundle itself, or the
    winners could not be recomputed. The command line exits non-zero on a WARN unless told that a
    partial check is wanted.
    """

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
        except KeyError as exc:
            self.checks.append(Check(name, FAIL, f"missing field {exc}"))
            return False
        except (DrawError, SignatureError, TypeError, ValueError, IndexError) as exc:
            self.checks.append(Check(name, FAIL, str(exc) or type(exc).__name__))
            return False
        except Exception as exc:  # noqa: BLE001 - a crafted bundle must give a FAIL line, never a traceback
            self.checks.append(Check(name, FAIL, f"malformed input ({type(exc).__name__}: {exc})"))
            return False
        self.checks.append(Check(name, PASS, note or ""))
        return True

    def skip(self, name: str, reason: str) -> None:
        self.checks.append(Check(name, SKIP, reason))

    def warn(self, name: str, reason: str) -> None:
        self.checks.append(Check(name, WARN, reason))


# ------------------------------------------------------------------------------------ shapes first
def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_KEY_TIME = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d{1,6})?Z\Z")


def key_time(text: Any) -> int | None:
    """Unix seconds (rounded down) of a key set time (``...Z`` with optional fraction), None for null."""
    if text is None:
        return None
    match = _KEY_TIME.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"key set time {str(text)[:40]!r} is not YYYY-MM-DDTHH:MM:SS[.ffffff]Z")
    return parse_timestamp(match.group(1) + "Z")


def keyset_problem(keyset: Any) -> str | None:
    """None if ``keyset`` has the shape of section 3 of the algorithm document, else what is wrong."""
    if not isinstance(keyset, dict) or not isinstance(keyset.get("keys"), list):
        return 'a key set must be an object {"keys": [...]}'
    for number, entry in enumerate(keyset["keys"]):
        if not isinstance(entry, dict):
            return f"key set entry {number} is not an object"
        for name in ("kid", "public_key"):
            if not isinstance(entry.get(name), str):
                return f"key set entry {number} has no text {name}"
        for name in ("created", "retired", "compromised"):
            try:
                key_time(entry.get(name))
            except ValueError as exc:
                return f"key set entry {number}: {exc}"
    return None


def _envelope_problem(envelope: Any, name: str) -> str | None:
    if not isinstance(envelope, dict):
        return f"{name} is not a signed envelope (object)"
    if not isinstance(envelope.get("payload"), dict) or not isinstance(envelope.get("signature"), dict):
        return f"{name} needs an object payload and an object signature"
    return None


def bundle_problems(bundle: Any) -> list[str]:
    """Shape errors of a bundle (empty when every present part has the documented shape)."""
    if not isinstance(bundle, dict):
        return ["the document is not a JSON object"]
    if bundle.get("format") != BUNDLE_FORMAT:
        return [f"not a {BUNDLE_FORMAT} document"]
    problems: list[str] = []
    required = ["announcement"] + (["result"] if "cancellation" not in bundle else [])
    for name in ("announcement", "freeze", "result", "cancellation"):
        if name in bundle and bundle[name] is not None:
            problem = _envelope_problem(bundle[name], name)
            if problem:
                problems.append(problem)
        elif name in required:
            problems.append(f"{name} is missing")
    dqs = bundle.get("disqualifications")
    if dqs is not None:
        if not isinstance(dqs, list):
            problems.append("disqualifications must be a list")
        else:
            problems += [p for i, e in enumerate(dqs) if (p := _envelope_problem(e, f"disqualification {i}"))]
    weights = bundle.get("weights")
    if weights is not None and (not isinstance(weights, list) or not all(_is_int(w) for w in weights)):
        problems.append("weights must be a list of integers")
    entrants = bundle.get("entrants")
    if entrants is not None:
        if not isinstance(entrants, dict) or not all(isinstance(entrants.get(c), list) for c in ("accounts", "tiers", "weights")):
            problems.append("entrants must have list columns accounts, tiers, weights")
        elif not (
            all(isinstance(a, str) for a in entrants["accounts"])
            and all(isinstance(t, str) for t in entrants["tiers"])
            and all(_is_int(w) for w in entrants["weights"])
        ):
            problems.append("entrants: accounts and tiers must be texts, weights integers")
    salt_key = bundle.get("salt_key")
    if salt_key is not None and not isinstance(salt_key, str):
        problems.append("salt_key must be hexadecimal text")
    exclusions = bundle.get("exclusions")
    if exclusions is not None and (not isinstance(exclusions, list) or not all(isinstance(a, str) for a in exclusions)):
        problems.append("exclusions must be a list of account texts")
    return problems


def _key_entry(keys: dict[str, Any], kid: Any) -> dict[str, Any] | None:
    return next((e for e in keys["keys"] if e.get("kid") == kid), None)


def verify_signed(envelope: dict[str, Any], keys: dict[str, Any], record_type: str) -> dict[str, Any]:
    """The payload of ``envelope`` if it is a ``record_type`` record signed by a key of ``keys`` that
    was neither compromised at or before, nor retired before, the record's own signing time."""
    payload = verify_envelope(envelope, keys)
    _require(payload.get("type") == record_type, f"payload type is {payload.get('type')!r}, expected {record_type!r}")
    entry = _key_entry(keys, envelope["signature"].get("kid"))
    assert entry is not None  # verify_envelope found it
    signed_at = parse_timestamp(payload[RECORD_TIME[record_type]])
    compromised, retired = key_time(entry.get("compromised")), key_time(entry.get("retired"))
    kid = entry["kid"]
    if compromised is not None and compromised <= signed_at:
        raise _Failed(f"signed by key {kid}, compromised at {entry['compromised']}, at or before this record's time")
    if retired is not None and signed_at > retired:
        raise _Failed(f"signed by key {kid} after its retirement ({entry['retired']})")
    return payload


def verify_bundle(bundle: dict[str, Any], keyset: dict[str, Any] | None = None) -> list[Check]:
    """Run every check on a public record or auditor bundle; return them in order.

    ``keyset`` (an independently obtained key set) overrides the one embedded in the bundle; without
    it the ``keyset`` check is a WARN (the embedded key set proves only self-consistency: whoever
    re-signs a bundle can embed their own key).
    """
    run = _Run()
    problems = bundle_problems(bundle)
    if problems:
        return [Check("format", FAIL, "; ".join(problems[:5]))]
    run.checks.append(Check("format", PASS))
    keys = keyset if keyset is not None else bundle.get("keyset")
    if keys is None:
        run.checks.append(Check("keyset", FAIL, "no key set in the bundle and none given with --keyset"))
        return run.checks
    problem = keyset_problem(keys)
    if problem:
        run.checks.append(Check("keyset", FAIL, problem))
        return run.checks
    if keyset is not None:
        run.checks.append(Check("keyset", PASS, "given with --keyset"))
    else:
        run.warn("keyset", "embedded in the bundle, so it proves nothing about who signed: fetch the service's "
                 "key set (/api/v1/keys) independently and pass it with --keyset")
    if "cancellation" in bundle:
        _verify_cancelled(run, bundle, keys)
        return run.checks

    # 1. signatures -------------------------------------------------------------------------------
    payloads: dict[str, dict[str, Any]] = {}
    for record in ("announcement", "freeze", "result"):

        def sig(record: str = record) -> str | None:
            _require(bundle.get(record) is not None, f"the {record} record is missing")
            payloads[record] = verify_signed(bundle[record], keys, f"draw.{record}")
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
    source = ann.get("entropy_source")
    if isinstance(source, dict) and source.get("type") == "drand":

        def chain_check() -> str:
            problem = known_chain_problem(source.get("chain"))
            _require(problem is None, str(problem))
            return f"{source['chain'].get('name')} ({source['chain']['chain_hash'][:16]}...)"

        run.check("entropy.chain", chain_check)
    if isinstance(source, dict):
        run.skip("entropy.beacon", beacon_note(source))

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
            entrants = bundle["entrants"]
            accounts, tiers, weights = entrants["accounts"], entrants["tiers"], entrants["weights"]
            cols = (accounts, tiers, weights)
            _require(len(accounts) == len(tiers) == len(weights), "entrant columns have different lengths")
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
    elif not entropy:
        run.skip("winners", "entropy is invalid")
        run.skip("reserves", "entropy is invalid")
    else:
        reason = "winners not verified: this record has no weights vector or entrant list to recompute them from"
        run.warn("winners", reason)
        run.warn("reserves", reason)

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
        try:
            dq = verify_signed(envelope, keys, "draw.disqualification")
        except (_Failed, SignatureError, DrawError) as exc:
            raise _Failed(f"disqualification {number}: {exc}") from exc
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
        _require(keyset_problem(keys) is None, f"no usable key set: {keyset_problem(keys)}")
        _require(isinstance(bundle, dict) and isinstance(bundle.get("freeze"), dict), "the record has no freeze record")
        frozen.append(verify_signed(bundle["freeze"], keys, "draw.freeze"))  # type: ignore[arg-type]

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
            res = verify_signed(bundle["result"], keys, "draw.result")  # type: ignore[arg-type]
            for row in res.get("winners", []):
                if row["leaf_hash"] == leaf:
                    status = f"winner of prize {row['prize_index']} ({row['amount_kopecks']} kopecks)"
            for row in res.get("reserves", []):
                if row["leaf_hash"] == leaf:
                    status = f"reserve {row['reserve_index']}"
        except Exception:  # noqa: BLE001 - no (valid) result yet: the proof still shows the entry
            pass
        return f"{mask_account(parsed.account)} is entrant {parsed.leaf_index} of {parsed.tree_size}: {status}"

    run.check("proof.inclusion", inclusion)
    return run.checks


def _verify_cancelled(run: _Run, bundle: dict[str, Any], keys: dict[str, Any]) -> None:
    """Checks of a cancelled draw's record: announcement, optional freeze, the signed cancellation,
    and that a frozen draw was cancelled before its entropy existed (else it could be a re-roll:
    whoever holds the secret knows the winners once the entropy exists)."""
    payloads: dict[str, dict[str, Any]] = {}
    for record in ("announcement", "freeze", "cancellation"):
        if bundle.get(record) is None:
            if record != "freeze":
                run.checks.append(Check(f"signature.{record}", FAIL, f"the {record} record is missing"))
            continue

        def sig(record: str = record) -> None:
            payloads[record] = verify_signed(bundle[record], keys, f"draw.{record}")

        run.check(f"signature.{record}", sig)
    if bundle.get("result") is not None:
        run.checks.append(Check("cancellation", FAIL, "a drawn draw cannot be cancelled, yet this record has a result"))
        return
    if "announcement" not in payloads or "cancellation" not in payloads:
        run.skip("cancellation", "cannot check further without the signed announcement and cancellation")
        return
    ann, cancel = payloads["announcement"], payloads["cancellation"]
    frz = payloads.get("freeze")

    def links() -> None:
        digest = payload_digest(ann)
        _require(cancel["draw_id"] == ann["draw_id"], "the cancellation names another draw")
        _require(cancel["announcement_digest"] == digest, "the cancellation does not reference this announcement")
        if frz is not None:
            _require(frz["draw_id"] == ann["draw_id"] and frz["announcement_digest"] == digest,
                     "the freeze does not reference this announcement")

    run.check("links", links)

    def timing() -> str:
        entropy_at = entropy_available_at(ann["entropy_source"])
        cancelled_at = parse_timestamp(cancel["cancelled_at"])
        _require(parse_timestamp(ann["announced_at"]) <= cancelled_at, "cancelled before it was announced")
        _require(
            cancel.get("entropy_available_at") == format_timestamp(entropy_at),
            f"the cancellation must state entropy_available_at = {format_timestamp(entropy_at)}",
        )
        was_frozen = frz is not None or cancel.get("state_before") == "frozen"
        if cancelled_at >= entropy_at:
            _require(not was_frozen, f"a frozen draw was cancelled at {cancel['cancelled_at']}, after its entropy "
                     f"existed ({format_timestamp(entropy_at)}): whoever held the secret could know the winners")
            return (f"cancelled at {cancel['cancelled_at']}, after the entropy time, but before any list was frozen: "
                    "no winners existed to be known")
        return f"cancelled at {cancel['cancelled_at']}, before the entropy existed ({format_timestamp(entropy_at)})"

    run.check("cancellation.timing", timing)


def exit_status(checks: Sequence[Check], *, trust_embedded_keyset: bool = False, partial: bool = False) -> int:
    """The command line's exit status for ``checks``: 1 if any failed; 3 if a WARN was not waived
    (the key set came from the bundle without ``--trust-embedded-keyset``, or the winners were not
    recomputed without ``--partial``); else 0."""
    if any(c.failed for c in checks):
        return EXIT_FAILED
    for check in checks:
        if check.status != WARN:
            continue
        if check.name == "keyset" and trust_embedded_keyset:
            continue
        if check.name in ("winners", "reserves") and partial:
            continue
        return EXIT_INCOMPLETE
    return EXIT_OK


class _Unreadable(Exception):
    """An input file that cannot be used at all (exit status 2)."""


def _load(path: str, what: str) -> Any:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _Unreadable(f"cannot read the {what} {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise _Unreadable(f"the {what} {path} is not a JSON object")
    return data


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m draws.verify", description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", help="public draw record or auditor bundle (JSON)")
    parser.add_argument("--keyset", help="the service's key set, obtained independently, e.g. from /api/v1/keys (JSON)")
    parser.add_argument("--trust-embedded-keyset", action="store_true",
                        help="accept the key set inside the bundle (only proves self-consistency)")
    parser.add_argument("--partial", action="store_true",
                        help="a partial check is enough: do not fail when the winners cannot be recomputed")
    parser.add_argument("--proof", help="a customer's inclusion proof to check (JSON)")
    args = parser.parse_args(argv)
    try:
        bundle = _load(args.bundle, "bundle")
        keyset = _load(args.keyset, "key set") if args.keyset else None
        proof = _load(args.proof, "proof") if args.proof else None
        if keyset is not None and keyset_problem(keyset):
            raise _Unreadable(f"the key set {args.keyset} is not usable: {keyset_problem(keyset)}")
    except _Unreadable as exc:
        print(f"FAIL input: {exc}")
        return EXIT_UNREADABLE
    try:
        checks = verify_bundle(bundle, keyset)
        if proof is not None:
            checks += verify_proof(bundle, proof, keyset)
    except Exception as exc:  # noqa: BLE001 - last resort: a message, never a traceback
        print(f"FAIL input: the bundle could not be checked ({type(exc).__name__}: {exc})")
        return EXIT_UNREADABLE
    for check in checks:
        print(check.line())
    counts = {status: sum(c.status == status for c in checks) for status in (PASS, FAIL, WARN, SKIP)}
    print(f"{counts[PASS]} passed, {counts[FAIL]} failed, {counts[WARN]} warnings, {counts[SKIP]} skipped")
    status = exit_status(checks, trust_embedded_keyset=args.trust_embedded_keyset, partial=args.partial)
    if status == EXIT_INCOMPLETE:
        print("INCOMPLETE: see the WARN lines (use --keyset, or --trust-embedded-keyset / --partial to accept them)")
    return status


if __name__ == "__main__":
    sys.exit(main())
