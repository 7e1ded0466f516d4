"""Standalone verifier of published draws: ``python -m draws.verify BUNDLE_OR_RECORD``.

Needs only the Python standard library, ``cryptography`` and, for the drand beacon's BLS signature,
``py_ecc`` (no Flask, no database, no network). It reads like ``docs/draw-algorithm.md``: one check
function per section of that document, named after it (``check_8_witnesses`` checks section 8), run
in the document's order, and every output line names its section::

    PASS §3.3 signature.announcement
    FAIL §8 witnesses: 0 of 2 required cosignatures count: ... cosigned after the entropy existed

Usage::

    python -m draws.verify BUNDLE.json --keyset KEYSET.json --witnesses WITNESSES.json
                           [--drand-chain CHAIN.json ...] [--proof PROOF.json]
                           [--trust-embedded-keyset] [--accept-unwitnessed] [--partial]

``--keyset`` is the service's key set obtained independently (``/api/v1/keys``); ``--witnesses`` is
the list of witness keys the auditor obtained from the witnesses themselves
(``{"witnesses": [{"name", "kid", "public_key"}]}``): a cosignature counts only if its key is in that
list too, so a re-signed announcement naming other witnesses fails. ``--drand-chain`` adds a drand
chain's full info (``draws.drand.DrandChain.as_json``) to the two League of Entropy networks the
verifier knows. Each check prints ``PASS``, ``FAIL``, ``SKIP`` (not enough data in this record, and
nothing is lost by it) or ``WARN`` (something that matters was not verified). Exit status: 0 when
nothing failed and no WARN is left, 1 when a check failed, 2 when the input could not be read at all,
3 when a WARN is left (``--trust-embedded-keyset``, ``--accept-unwitnessed`` and ``--partial`` accept
the key set, witness and winners WARNs).

The same checks are functions (:func:`verify_bundle`, :func:`verify_proof`) for the service's pages.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from operator import lt
from typing import Any

from draws.encoding import format_timestamp, parse_timestamp
from draws.engine import (
    ALGORITHM_RFC3797,
    ALGORITHMS,
    CANCEL_REASONS,
    DrawError,
    beacon_note,
    derive_seed,
    entropy_available_at,
    entropy_bytes,
    exclusions_digest,
    expand_prizes,
    mask_account,
    payload_digest,
    run_selection,
    salt_commitment_of,
    validate_witnesses,
    weights_digest,
)
from draws.entrants import entrant_columns_digest
from draws.entropy import chain_for, known_chain_problem
from draws.frozen import merkle_root_compact
from draws.merkle import InclusionProof, entrant_leaf_hashes, order_keys
from signedjson import SignatureError, verify_envelope

BUNDLE_FORMAT = "loyalty-draw-bundle/1"
PASS, FAIL, SKIP, WARN = "PASS", "FAIL", "SKIP", "WARN"
RECORD_TIME = {  # the field of each record type that says when it was signed
    "draw.announcement": "announced_at",
    "draw.freeze": "frozen_at",
    "draw.result": "drawn_at",
    "draw.head": "issued_at",
    "draw.cancellation": "cancelled_at",
    "draw.disqualification": "disqualified_at",
}
EXIT_OK, EXIT_FAILED, EXIT_UNREADABLE, EXIT_INCOMPLETE = 0, 1, 2, 3
WAIVERS = {"keyset": "trust_embedded_keyset", "witnesses": "accept_unwitnessed", "winners": "partial",
           "reserves": "partial"}


@dataclass(frozen=True, slots=True)
class Check:
    """One verification step: ``name``, ``status`` (PASS, FAIL, SKIP or WARN), a reason, and the
    section of ``docs/draw-algorithm.md`` that defines it."""

    name: str
    status: str
    reason: str = ""
    section: str = ""

    @property
    def failed(self) -> bool:
        """True for a FAIL."""
        return self.status == FAIL

    def line(self) -> str:
        """``PASS §8 witnesses`` or ``FAIL §8 witnesses: reason`` (the verifier's output format)."""
        where = f"§{self.section} " if self.section else ""
        return f"{self.status} {where}{self.name}" + (f": {self.reason}" if self.reason else "")


class Failed(Exception):
    """Raised inside a check to turn it into a FAIL with this message."""


def require(condition: bool, message: str) -> None:
    """FAIL the running check with ``message`` unless ``condition`` holds."""
    if not condition:
        raise Failed(message)


@dataclass
class Audit:
    """What the checks have established so far about one bundle, and the checks made."""

    bundle: dict[str, Any]
    keys: dict[str, Any]
    trusted_witnesses: list[dict[str, Any]] | None = None
    drand_chains: list[dict[str, Any]] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    disqualifications: list[dict[str, Any]] = field(default_factory=list)
    entropy: bytes | None = None
    weights: list[int] | None = None
    columns: tuple[list[str], list[str], list[int]] | None = None
    leaves: Sequence[bytes] | None = None
    selection: tuple[list[int], list[int]] | None = None

    @property
    def version(self) -> int:
        """The protocol version of the announcement (1 or 2)."""
        version = self.records.get("announcement", {}).get("version", 1)
        return version if version in (1, 2) else 1

    def check(self, name: str, section: str, body: Callable[[], str | None]) -> bool:
        """Run ``body``; a PASS with its note, or a FAIL with the reason it raised."""
        try:
            note = body()
        except Failed as exc:
            return self._add(name, FAIL, str(exc), section)
        except KeyError as exc:
            return self._add(name, FAIL, f"missing field {exc}", section)
        except (DrawError, SignatureError, TypeError, ValueError, IndexError, AttributeError) as exc:
            return self._add(name, FAIL, str(exc) or type(exc).__name__, section)
        except Exception as exc:  # noqa: BLE001 - a crafted bundle must give a FAIL line, never a traceback
            return self._add(name, FAIL, f"malformed input ({type(exc).__name__}: {exc})", section)
        return self._add(name, PASS, note or "", section)

    def note(self, name: str, section: str, status: str, reason: str) -> None:
        """Record a SKIP or WARN."""
        self._add(name, status, reason, section)

    def _add(self, name: str, status: str, reason: str, section: str) -> bool:
        self.checks.append(Check(name, status, reason, section))
        return status == PASS


# ----------------------------------------------------------------------------------- shapes first
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
    """None if ``keyset`` has the shape of section 3.2 of the algorithm document, else what is wrong."""
    if not isinstance(keyset, dict) or not isinstance(keyset.get("keys"), list):
        return 'a key set must be an object {"keys": [...]}'
    for number, entry in enumerate(keyset["keys"]):
        if not isinstance(entry, dict):
            return f"key set entry {number} is not an object"
        for name in ("kid", "public_key"):
            if not isinstance(entry.get(name), str):
                return f"key set entry {number} has no text {name}"
        if entry.get("created") is None:
            return f"key set entry {number} has no created time"
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


def _list_of(value: Any, kind: Callable[[Any], bool]) -> bool:
    return isinstance(value, list) and all(kind(item) for item in value)


def _is_text(value: Any) -> bool:
    return isinstance(value, str)


def _column_problems(bundle: dict[str, Any]) -> list[str]:
    problems = []
    if bundle.get("weights") is not None and not _list_of(bundle["weights"], _is_int):
        problems.append("weights must be a list of integers")
    entrants = bundle.get("entrants")
    if entrants is not None:
        if not isinstance(entrants, dict) or not all(
            isinstance(entrants.get(c), list) for c in ("accounts", "tiers", "weights")
        ):
            problems.append("entrants must have list columns accounts, tiers, weights")
        elif not (_list_of(entrants["accounts"], _is_text) and _list_of(entrants["tiers"], _is_text)
                  and _list_of(entrants["weights"], _is_int)):
            problems.append("entrants: accounts and tiers must be texts, weights integers")
    if bundle.get("salt_key") is not None and not _is_text(bundle["salt_key"]):
        problems.append("salt_key must be hexadecimal text")
    if bundle.get("exclusions") is not None and not _list_of(bundle["exclusions"], _is_text):
        problems.append("exclusions must be a list of account texts")
    return problems


def bundle_problems(bundle: Any) -> list[str]:
    """Shape errors of a bundle (empty when every present part has the documented shape)."""
    if not isinstance(bundle, dict):
        return ["the document is not a JSON object"]
    if bundle.get("format") != BUNDLE_FORMAT:
        return [f"not a {BUNDLE_FORMAT} document"]
    problems: list[str] = []
    required = ["announcement"] + (["freeze", "result"] if "cancellation" not in bundle else [])
    for name in ("announcement", "freeze", "result", "head", "cancellation"):
        if bundle.get(name) is not None:
            problem = _envelope_problem(bundle[name], name)
            if problem:
                problems.append(problem)
        elif name in required:
            problems.append(f"{name} is missing")
    for name in ("disqualifications", "cosignatures"):
        items = bundle.get(name)
        if items is not None:
            if not isinstance(items, list):
                problems.append(f"{name} must be a list")
            else:
                problems += [p for i, e in enumerate(items) if (p := _envelope_problem(e, f"{name}[{i}]"))]
    return problems + _column_problems(bundle)


def _key_entry(keys: dict[str, Any], kid: Any) -> dict[str, Any] | None:
    return next((e for e in keys["keys"] if e.get("kid") == kid), None)


def verify_signed(envelope: dict[str, Any], keys: dict[str, Any], record_type: str) -> dict[str, Any]:
    """The payload of ``envelope`` if it is a ``record_type`` record signed by a key of ``keys`` that
    was valid at the record's own time (section 3.3): created at or before it, not compromised at or
    before it, not retired before it."""
    payload = verify_envelope(envelope, keys)
    require(payload.get("type") == record_type, f"payload type is {payload.get('type')!r}, expected {record_type!r}")
    entry = _key_entry(keys, envelope["signature"].get("kid"))
    assert entry is not None  # verify_envelope found it
    signed_at = parse_timestamp(payload[RECORD_TIME[record_type]])
    created, compromised, retired = (key_time(entry.get(n)) for n in ("created", "compromised", "retired"))
    kid = entry["kid"]
    if created is not None and signed_at < created:
        raise Failed(f"signed by key {kid}, created at {entry['created']}, after this record's time (backdated)")
    if compromised is not None and compromised <= signed_at:
        raise Failed(f"signed by key {kid}, compromised at {entry['compromised']}, at or before this record's time")
    if retired is not None and signed_at > retired:
        raise Failed(f"signed by key {kid} after its retirement ({entry['retired']})")
    return payload


# --------------------------------------------------------------------------------- the sections
def check_16_format(audit: Audit) -> bool:
    """§16: the document is a bundle and every part has its documented shape."""
    problems = bundle_problems(audit.bundle)
    if problems:
        audit.note("format", "16", FAIL, "; ".join(problems[:5]))
        return False
    audit.note("format", "16", PASS, "")
    return True


def check_3_2_keyset(audit: Audit, given: bool) -> bool:
    """§3.2: a usable key set; one from the bundle itself is a WARN (it proves only self-consistency)."""
    problem = keyset_problem(audit.keys)
    if problem:
        audit.note("keyset", "3.2", FAIL, problem)
        return False
    if given:
        audit.note("keyset", "3.2", PASS, "given with --keyset")
    else:
        audit.note("keyset", "3.2", WARN, "embedded in the bundle, so it proves nothing about who signed: fetch the "
                   "service's key set (/api/v1/keys) independently and pass it with --keyset")
    return True


def check_3_3_signatures(audit: Audit, names: Sequence[str]) -> bool:
    """§3.3: each record is signed by a key of the key set that was valid at the record's time."""
    for name in names:
        envelope = audit.bundle.get(name)
        if envelope is None:
            if name == "head" and audit.version >= 2 and "result" in names:
                audit.note("signature.head", "3.3", FAIL, "a version 2 draw's record must carry its signed head (4.5)")
            continue

        def sig(name: str = name, envelope: dict[str, Any] = envelope) -> None:
            audit.records[name] = verify_signed(envelope, audit.keys, f"draw.{name}")

        audit.check(f"signature.{name}", "3.3", sig)
    return all(
        n in audit.records
        for n in names
        if n in ("announcement", "freeze", "result") or audit.bundle.get(n) is not None
    )


def check_4_1_announcement(audit: Audit) -> None:
    """§4.1: a version 2 announcement names its snapshot's digest, its witness set and quorum, and a
    drand source pins the full chain info and the delay from which the round follows."""
    ann = audit.records["announcement"]
    if audit.version < 2:
        audit.note("announcement", "23", SKIP,
                   "version 1 announcement: no snapshot digest, delay or witnesses to check")
        return

    def body() -> str:
        snapshot = ann["snapshot"]
        require(isinstance(snapshot, dict) and re.fullmatch(r"[0-9a-f]{64}", str(snapshot.get("digest"))) is not None,
                "the snapshot's content digest is missing")
        validate_witnesses(ann["witnesses"])
        source = ann["entropy_source"]
        if source.get("type") == "drand":
            from draws.entropy import check_drand_source

            check_drand_source(source, parse_timestamp(ann["freeze_at"]))
        require(isinstance(ann.get("salt_commitment"), str) and len(ann["salt_commitment"]) == 64,
                "the salt commitment is missing")
        require(re.fullmatch(r"\d{4}-\d{2}", str(snapshot.get("period"))) is not None,
                "the snapshot period is not YYYY-MM")
        return f"snapshot {snapshot.get('period')} ({snapshot['digest'][:16]}...), quorum {ann['witnesses']['quorum']}"

    audit.check("announcement", "4.1", body)


def check_4_links(audit: Audit) -> None:
    """§4: every record names its predecessors by digest, for the same draw and algorithm."""
    ann, frz, res = audit.records["announcement"], audit.records["freeze"], audit.records["result"]

    def body() -> None:
        require(ann["draw_id"] == frz["draw_id"] == res["draw_id"], "the records name different draws")
        require(ann.get("version", 1) == frz.get("version", 1) == res.get("version", 1),
                "the records mix protocol versions")
        ann_digest = payload_digest(ann)
        require(frz["announcement_digest"] == ann_digest, "freeze does not reference this announcement")
        require(res["announcement_digest"] == ann_digest, "result does not reference this announcement")
        require(res["freeze_digest"] == payload_digest(frz), "result does not reference this freeze")
        require(res["entrant_digest"] == frz["entrant_digest"], "result and freeze entrant digests differ")
        require(res["merkle_root"] == frz["merkle_root"], "result and freeze Merkle roots differ")
        require(res["algorithm"] == ann["algorithm"], "result uses another algorithm than announced")
        require(ann["algorithm"] in ALGORITHMS, f"unknown algorithm {ann['algorithm']!r}")

    audit.check("links", "4", body)


def check_4_8_timing(audit: Audit) -> None:
    """§4.8: announced < freeze_at <= frozen_at < entropy time <= drawn_at (each the signer's claim;
    section 8 ties the freeze to the witnesses' clocks)."""
    ann, frz, res = audit.records["announcement"], audit.records["freeze"], audit.records["result"]

    def body() -> str:
        announced, freeze_at = parse_timestamp(ann["announced_at"]), parse_timestamp(ann["freeze_at"])
        frozen_at, drawn_at = parse_timestamp(frz["frozen_at"]), parse_timestamp(res["drawn_at"])
        entropy_at = entropy_available_at(ann["entropy_source"])
        require(announced < freeze_at, "the announcement is not before the announced freeze time")
        require(freeze_at <= frozen_at, "the list was frozen before the announced freeze time")
        require(frozen_at < entropy_at, "the entropy existed before the list was frozen")
        require(entropy_at <= drawn_at, "the draw ran before its entropy existed")
        return (
            f"announced {ann['announced_at']} < frozen {frz['frozen_at']} < entropy at {format_timestamp(entropy_at)}"
        )

    audit.check("timing", "4.8", body)


def check_7_entropy(audit: Audit) -> None:
    """§7: the value belongs to the announced source, its digest matches; for drand the chain is a
    known one (7.1) and the round's BLS signature verifies against that chain's public key."""
    ann, res = audit.records["announcement"], audit.records["result"]
    source = ann.get("entropy_source")

    def value() -> None:
        raw = entropy_bytes(source, res["entropy"], verify_beacon=False)
        require(hashlib.sha256(raw).hexdigest() == res["entropy_digest"], "entropy digest mismatch")
        audit.entropy = raw

    audit.check("entropy", "7", value)
    if not isinstance(source, dict) or source.get("type") != "drand":
        if isinstance(source, dict):
            audit.note("entropy.beacon", "7.2", SKIP, beacon_note(source))
        return

    def chain() -> str:
        problem = known_chain_problem(source.get("chain"), audit.drand_chains)
        require(problem is None, str(problem))
        return f"{source['chain'].get('name')} ({source['chain']['chain_hash'][:16]}...)"

    known = audit.check("entropy.chain", "7.1", chain)

    def beacon() -> str:
        from draws.drand import BeaconInvalid, check_value

        require(known, "the chain is not a known one, so its public key cannot be trusted")
        try:
            check_value(chain_for(source["chain"], audit.drand_chains), res["entropy"])
        except BeaconInvalid as exc:
            raise Failed(f"drand round {res['entropy'].get('round')} is not signed by the chain: {exc}") from exc
        return f"round {source['round']}: BLS signature verified against the chain's public key"

    audit.check("entropy.beacon", "7.1", beacon)


def check_8_witnesses(audit: Audit) -> None:
    """§8: at least ``quorum`` distinct announced witnesses cosigned this freeze, each with its own
    clock's time at or after the announced freeze time and before the entropy existed, with keys the
    auditor supplied (``--witnesses``); an unwitnessed draw says so."""
    ann, frz, res = audit.records["announcement"], audit.records["freeze"], audit.records["result"]
    if audit.version < 2:
        audit.note("witnesses", "23", WARN,
                   "version 1 record: no witnesses, so the freeze time is only the signer's claim")
        return
    witnesses = ann.get("witnesses") or {}
    if witnesses.get("unwitnessed"):
        audit.note("witnesses", "8", WARN, "UNWITNESSED draw (quorum 0): nobody outside the service attests when the "
                   "list was frozen; whoever holds the signing key could have re-frozen it after seeing the entropy")
        return

    def body() -> str:
        from draws.witness import witness_quorum

        cosignatures = list(res.get("cosignatures") or [])
        extra = audit.bundle.get("cosignatures") or []
        quorum = witness_quorum(cosignatures + [c for c in extra if c not in cosignatures], ann, frz,
                                audit.trusted_witnesses)
        names = ", ".join(c["payload"]["witness"]["name"] for c in quorum.counted)
        require(quorum.met, f"{len(quorum.counted)} of {quorum.quorum} required cosignatures count"
                + (": " + "; ".join(quorum.problems[:5]) if quorum.problems else ""))
        return (
            f"{len(quorum.counted)} of {quorum.quorum} required cosignatures ({names}), each before the entropy existed"
        )

    passed = audit.check("witnesses", "8", body)
    if passed and audit.trusted_witnesses is None:
        audit.checks[-1] = Check("witnesses", WARN, audit.checks[-1].reason + "; checked only against the keys the "
                                 "announcement names: pass the witnesses' own keys with --witnesses", "8")


def check_9_commitments_and_seed(audit: Audit) -> None:
    """§9: ``SHA-256(secret)`` is the commitment; the seed follows from the secret, the entropy and
    the digests; with the salt key (auditor bundle) its commitment holds too."""
    ann, frz, res = audit.records["announcement"], audit.records["freeze"], audit.records["result"]

    def commitment() -> None:
        secret = bytes.fromhex(res["secret"])
        require(len(secret) == 32, "the revealed secret is not 32 bytes")
        require(res["commitment"] == ann["commitment"], "result and announcement commitments differ")
        require(hashlib.sha256(secret).hexdigest() == ann["commitment"], "SHA-256(secret) != commitment")

    audit.check("commitment", "9", commitment)

    def seed() -> None:
        require(audit.entropy is not None, "no valid entropy to derive the seed from")
        value = derive_seed(ann["algorithm"], bytes.fromhex(res["secret"]), audit.entropy or b"", frz["entrant_digest"],
                            payload_digest(ann))
        require(value.hex() == res["seed"], "the seed does not follow from secret, entropy and digests")

    audit.check("seed", "9", seed)
    if audit.version >= 2 and audit.bundle.get("salt_key") is not None:

        def salt() -> None:
            key = bytes.fromhex(audit.bundle["salt_key"])
            require(len(key) == 32, "the salt key must be 32 bytes")
            require(salt_commitment_of(key) == ann["salt_commitment"], "the salt key does not match its commitment")

        audit.check("salt_key", "9", salt)


def check_5_entrants(audit: Audit) -> None:
    """§5: tier totals add up; with the list (auditor bundle) its order, weights and digest; the
    weights vector (public) matches its digest; exclusions (5.5)."""
    ann, frz = audit.records["announcement"], audit.records["freeze"]

    def totals() -> None:
        tiers: dict[str, dict[str, int]] = frz["tiers"]
        weights = ann["tier_weights"]
        require(sum(t["count"] for t in tiers.values()) == frz["count"], "tier counts do not add up")
        require(sum(t["weight"] for t in tiers.values()) == frz["total_weight"], "tier weights do not add up")
        for tier, slot in tiers.items():
            require(weights.get(tier, 0) > 0, f"tier {tier!r} is not eligible but has entrants")
            require(slot["weight"] == slot["count"] * weights[tier], f"tier {tier!r} weight != count x weight")
        require(len(expand_prizes(ann["prizes"])) <= frz["count"], "more prizes than entrants")

    audit.check("freeze.totals", "5.4", totals)
    if audit.bundle.get("entrants") is None:
        audit.note("entrants.digest", "5.3", SKIP, "no entrant list in this record (auditor bundle only)")
    else:
        audit.check("entrants.digest", "5.3", lambda: _entrant_list(audit))
    if audit.columns is not None:
        audit.weights = audit.columns[2]
    elif isinstance(audit.bundle.get("weights"), list):
        audit.weights = audit.bundle["weights"]
    if audit.weights is None:
        audit.note("weights.digest", "5.4", SKIP, "no weights vector or entrant list in this record")
    elif not audit.check("weights.digest", "5.4", lambda: _weights_vector(audit)):
        audit.weights = None
    _check_6_merkle(audit)
    if audit.bundle.get("exclusions") is not None and audit.columns is not None:

        def exclusions() -> None:
            excluded = audit.bundle["exclusions"]
            require(exclusions_digest(excluded) == ann["exclusions_digest"], "exclusion list digest mismatch")
            require(len(set(excluded)) == ann["exclusions_count"],
                    "the exclusion list does not have the announced count")
            found = set(excluded).intersection(audit.columns[0] if audit.columns else ())
            require(not found, f"{len(found)} excluded account(s) are entrants")

        audit.check("exclusions", "5.5", exclusions)
    else:
        audit.note("exclusions", "5.5", SKIP, "needs the exclusion list and the entrant list (auditor bundle)")


def _entrant_list(audit: Audit) -> str:
    ann, frz = audit.records["announcement"], audit.records["freeze"]
    entrants = audit.bundle["entrants"]
    accounts, tiers, weights = entrants["accounts"], entrants["tiers"], entrants["weights"]
    # JSON gives one tier string per entrant (~60 bytes each, 200 MB at 3.6 M): keep one per tier instead.
    if all(map(str.__instancecheck__, tiers)):  # (bundle_problems refused any other type already)
        entrants["tiers"] = tiers = list(map(sys.intern, tiers))
    require(len(accounts) == len(tiers) == len(weights), "entrant columns have different lengths")
    require(len(accounts) == frz["count"], f"{len(accounts)} entrants but the freeze says {frz['count']}")
    if audit.version >= 2:
        require(audit.bundle.get("salt_key") is not None,
                "a version 2 list is ordered by keyed hashes: the salt key is needed")
        # Strictly increasing keys also mean no account appears twice (equal accounts, equal keys).
        require(_keys_increase(bytes.fromhex(audit.bundle["salt_key"]), accounts),
                "entrants are not in canonical order (strictly increasing HMAC-SHA256(salt_key, account))")
    else:
        require(all(a < b for a, b in zip(accounts, accounts[1:], strict=False)),
                "accounts are not in canonical (strictly increasing) order")
    tier_weights = ann["tier_weights"]
    for account, tier, weight in zip(accounts, tiers, weights, strict=True):
        if weight != tier_weights.get(tier) or weight < 1:
            raise Failed(f"entrant {mask_account(account, audit.version)} has weight {weight} for tier {tier!r}")
    digest = entrant_columns_digest(accounts, tiers, weights, audit.version)
    require(digest == frz["entrant_digest"], "entrant digest mismatch")
    audit.columns = (accounts, tiers, weights)
    return f"{len(accounts)} entrants in canonical order"


_BLOCK = 1 << 16  # entrants hashed at a time: lists of millions are checked without a list of their keys


def _keys_increase(salt_key: bytes, accounts: Sequence[str]) -> bool:
    """Are the accounts' order keys strictly increasing? Computed a block at a time."""
    last = b""
    for at in range(0, len(accounts), _BLOCK):
        keys = order_keys(salt_key, accounts[at:at + _BLOCK])
        if not (last < keys[0] and all(map(lt, keys, islice(keys, 1, None)))):
            return False
        last = keys[-1]
    return True


class LeafHashes(Sequence[bytes]):
    """The salted leaf hashes of a list, as one buffer of 32-byte records (computed a block at a time)."""

    def __init__(self, salt_key: bytes, accounts: Sequence[str], weights: Sequence[int]) -> None:
        self.data = bytearray()
        for at in range(0, len(accounts), _BLOCK):
            self.data += b"".join(entrant_leaf_hashes(salt_key, accounts[at:at + _BLOCK], weights[at:at + _BLOCK]))

    def __len__(self) -> int:
        return len(self.data) // 32

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if not 0 <= index < len(self):
            raise IndexError(index)
        return bytes(self.data[32 * index:32 * index + 32])


def _weights_vector(audit: Audit) -> None:
    frz = audit.records["freeze"]
    w = audit.weights or []
    require(len(w) == frz["count"], "weights vector length != entrant count")
    require(all(_is_int(x) and x >= 1 for x in w), "bad weight")
    require(weights_digest(w) == frz["weights_digest"], "weights digest mismatch")
    require(sum(w) == frz["total_weight"], "weights do not add up to the total weight")


def _check_6_merkle(audit: Audit) -> None:
    """§6: the salted leaves of the list lead to the signed Merkle root."""
    if audit.columns is None or not audit.bundle.get("salt_key"):
        audit.note("entrants.merkle_root", "6", SKIP, "needs the entrant list and the salt key (auditor bundle)")
        return

    def body() -> None:
        salt_key = bytes.fromhex(audit.bundle["salt_key"])
        require(len(salt_key) == 32, "the salt key must be 32 bytes")
        accounts, _, weights = audit.columns or ([], [], [])
        hashes = LeafHashes(salt_key, accounts, weights)
        require(merkle_root_compact(hashes.data).hex() == audit.records["freeze"]["merkle_root"],
                "Merkle root mismatch")
        audit.leaves = hashes

    audit.check("entrants.merkle_root", "6", body)


def check_12_selection(audit: Audit) -> None:
    """§12 (§13 in RFC 3797 mode): winners and reserves recomputed from the seed and the weights."""
    ann, res = audit.records["announcement"], audit.records["result"]
    section = "13" if ann.get("algorithm") == ALGORITHM_RFC3797 else "12"
    if audit.entropy is None:
        for name in ("winners", "reserves"):
            audit.note(name, section, SKIP, "entropy is invalid")
        return
    if audit.weights is None:
        reason = "winners not verified: this record has no weights vector or entrant list to recompute them from"
        for name in ("winners", "reserves"):
            audit.note(name, section, WARN, reason)
        return

    def winners() -> None:
        amounts = expand_prizes(ann["prizes"])
        outcome = run_selection(ann["algorithm"], bytes.fromhex(res["seed"]), audit.weights or [], len(amounts),
                                ann["reserves"], entropy_source=ann["entropy_source"], entropy=audit.entropy or b"")
        audit.selection = (outcome.winners, outcome.reserves)
        published = res["winners"]
        require(len(published) == len(outcome.winners), "number of winners differs")
        for i, (row, index) in enumerate(zip(published, outcome.winners, strict=True)):
            require(row["prize_index"] == i, f"winner {i} has prize index {row['prize_index']}")
            require(row["amount_kopecks"] == amounts[i], f"prize {i} amount differs from the announcement")
            require(row["entrant_index"] == index,
                    f"prize {i}: published entrant {row['entrant_index']}, recomputed {index}")
            _check_person(audit, row, index, f"prize {i}")

    def reserves() -> None:
        require(audit.selection is not None, "winners could not be recomputed")
        expected = audit.selection[1] if audit.selection else []
        published = res["reserves"]
        require(len(published) == len(expected), "number of reserves differs")
        for i, (row, index) in enumerate(zip(published, expected, strict=True)):
            require(row["reserve_index"] == i, f"reserve {i} has index {row['reserve_index']}")
            require(row["entrant_index"] == index,
                    f"reserve {i}: published entrant {row['entrant_index']}, recomputed {index}")
            _check_person(audit, row, index, f"reserve {i}")

    audit.check("winners", section, winners)
    audit.check("reserves", section, reserves)


def _check_person(audit: Audit, row: dict[str, Any], index: int, label: str) -> None:
    if audit.columns is not None:
        account = audit.columns[0][index]
        require(row["account_masked"] == mask_account(account, audit.version),
                f"{label}: masked account does not match")
    if audit.leaves is not None:
        require(row["leaf_hash"] == audit.leaves[index].hex(), f"{label}: leaf hash does not match")


def check_14_disqualifications(audit: Audit) -> None:
    """§14: each disqualification is signed, in sequence (version 2: chained, counted, later than the
    draw), for the current holder, and passes the prize to the next unused reserve."""
    envelopes = audit.bundle.get("disqualifications") or []
    if not envelopes:
        return
    audit.check("disqualifications", "14", lambda: _disqualifications(audit, envelopes))


def _disqualifications(audit: Audit, envelopes: Sequence[dict[str, Any]]) -> str:
    res = audit.records["result"]
    holders: list[int | None] = [w["entrant_index"] for w in res["winners"]]
    reserves = [r["entrant_index"] for r in res["reserves"]]
    used = 0
    result_digest = payload_digest(res)
    previous: dict[str, Any] | None = None
    for number, envelope in enumerate(envelopes):
        try:
            dq = verify_signed(envelope, audit.keys, "draw.disqualification")
        except (Failed, SignatureError, DrawError) as exc:
            raise Failed(f"disqualification {number}: {exc}") from exc
        require(dq["draw_id"] == res["draw_id"] and dq["result_digest"] == result_digest,
                f"disqualification {number} is for another result")
        require(dq["sequence"] == number, f"disqualification {number} is out of sequence")
        require(bool(str(dq.get("reason", "")).strip()), f"disqualification {number} has no reason")
        require(parse_timestamp(dq["disqualified_at"]) > parse_timestamp(res["drawn_at"]),
                f"disqualification {number} is dated {dq['disqualified_at']}, not after the draw ({res['drawn_at']})")
        require(
            previous is None or parse_timestamp(dq["disqualified_at"]) >= parse_timestamp(previous["disqualified_at"]),
            f"disqualification {number} is dated {dq['disqualified_at']}, before the one it follows",
        )
        if audit.version >= 2:
            require(dq.get("count") == number + 1,
                    f"disqualification {number} does not state the running count {number + 1}")
            expected = payload_digest(previous) if previous is not None else None
            require(dq.get("previous_digest") == expected,
                    f"disqualification {number} does not chain to the one before")
        prize = dq["prize_index"]
        require(0 <= prize < len(holders) and holders[prize] is not None,
                f"disqualification {number}: no holder of prize {prize}")
        require(dq["entrant_index"] == holders[prize],
                f"disqualification {number}: not the current holder of prize {prize}")
        if used < len(reserves):
            require(dq["replacement_reserve_index"] == used and dq["replacement_entrant_index"] == reserves[used],
                    f"disqualification {number}: the prize must pass to reserve {used}")
            holders[prize] = reserves[used]
            used += 1
        else:
            require(dq["replacement_entrant_index"] is None and dq["replacement_reserve_index"] is None,
                    f"disqualification {number}: no reserve is left")
            holders[prize] = None
        audit.disqualifications.append(dq)
        previous = dq
    return f"{len(envelopes)} disqualification(s), prizes passed to reserves in published order"


def check_4_5_head(audit: Audit) -> None:
    """§4.5: the signed head counts every disqualification and names the last one: a record that
    leaves the last disqualification out is caught."""
    head = audit.records.get("head")
    if audit.version < 2 or head is None:
        return
    res = audit.records["result"]

    def body() -> str:
        require(head["draw_id"] == res["draw_id"] and head["result_digest"] == payload_digest(res),
                "the head is for another result")
        envelopes = audit.bundle.get("disqualifications") or []
        require(
            head["disqualifications"] == len(envelopes),
            f"the signed head counts {head['disqualifications']} disqualification(s), the record has {len(envelopes)}",
        )
        if envelopes:
            require(len(audit.disqualifications) == len(envelopes), "the disqualifications did not verify")
            require(head["last_disqualification_digest"] == payload_digest(audit.disqualifications[-1]),
                    "the head names another last disqualification")
        else:
            require(head["last_disqualification_digest"] is None, "the head names a disqualification the record lacks")
        latest = max([res["drawn_at"]] + [d["disqualified_at"] for d in audit.disqualifications], key=parse_timestamp)
        require(parse_timestamp(head["issued_at"]) >= parse_timestamp(latest),
                f"the head ({head['issued_at']}) is older than the draw or the last disqualification ({latest})")
        return f"{head['disqualifications']} disqualification(s) as of {head['issued_at']}"

    audit.check("head", "4.5", body)


def check_4_7_cancellation(audit: Audit) -> None:
    """§4.7: a cancelled draw's record: the cancellation is signed, references the announcement,
    states the right entropy time, and a frozen draw was cancelled before its entropy existed, unless
    it could never run because its witnesses' quorum was not reached (version 2)."""
    if audit.bundle.get("result") is not None:
        audit.note("cancellation", "4.7", FAIL, "a drawn draw cannot be cancelled, yet this record has a result")
        return
    names = (
        ("announcement", "freeze", "cancellation")
        if audit.bundle.get("freeze") is not None
        else ("announcement", "cancellation")
    )
    if not check_3_3_signatures(audit, names) or "cancellation" not in audit.records:
        audit.note("cancellation", "4.7", SKIP, "cannot check further without the signed announcement and cancellation")
        return
    ann, cancel = audit.records["announcement"], audit.records["cancellation"]
    frz = audit.records.get("freeze")

    def links() -> None:
        digest = payload_digest(ann)
        require(cancel["draw_id"] == ann["draw_id"], "the cancellation names another draw")
        require(cancel["announcement_digest"] == digest, "the cancellation does not reference this announcement")
        if frz is not None:
            require(frz["draw_id"] == ann["draw_id"] and frz["announcement_digest"] == digest,
                    "the freeze does not reference this announcement")

    audit.check("links", "4", links)
    audit.check("cancellation.timing", "4.7", lambda: _cancellation_timing(audit, ann, cancel, frz))


def _cancellation_timing(audit: Audit, ann: dict[str, Any], cancel: dict[str, Any], frz: dict[str, Any] | None) -> str:
    entropy_at = entropy_available_at(ann["entropy_source"])
    cancelled_at = parse_timestamp(cancel["cancelled_at"])
    require(parse_timestamp(ann["announced_at"]) <= cancelled_at, "cancelled before it was announced")
    require(cancel.get("entropy_available_at") == format_timestamp(entropy_at),
            f"the cancellation must state entropy_available_at = {format_timestamp(entropy_at)}")
    require(cancel.get("version", 1) == ann.get("version", 1),
            "the cancellation and the announcement differ in version")
    if cancel.get("version", 1) >= 2:
        require(cancel.get("reason_code") in CANCEL_REASONS,
                f"unknown reason_code {str(cancel.get('reason_code'))[:40]!r}")
    was_frozen = frz is not None or cancel.get("state_before") == "frozen"
    if cancelled_at < entropy_at:
        return f"cancelled at {cancel['cancelled_at']}, before the entropy existed ({format_timestamp(entropy_at)})"
    if not was_frozen:
        return (f"cancelled at {cancel['cancelled_at']}, after the entropy time, but before any list was frozen: "
                "no winners existed to be known")
    if cancel.get("reason_code") == "witness_quorum_not_reached" and frz is not None:
        from draws.witness import witness_quorum

        quorum = witness_quorum(list(cancel.get("cosignatures") or []), ann, frz, audit.trusted_witnesses)
        require(not quorum.met, "cancelled for a missing witness quorum, yet the listed cosignatures reach it")
        return (
            f"the freeze gathered {len(quorum.counted)} of {quorum.quorum} cosignatures before the entropy existed, "
            "so the draw could never run (a witness whose timely cosignature is not listed can prove otherwise)"
        )
    raise Failed(f"a frozen draw was cancelled at {cancel['cancelled_at']}, after its entropy existed "
                 f"({format_timestamp(entropy_at)}): whoever held the secret could know the winners")


# ------------------------------------------------------------------------------------ entry points
def verify_bundle(
    bundle: dict[str, Any],
    keyset: dict[str, Any] | None = None,
    *,
    witnesses: Sequence[Mapping[str, Any]] | None = None,
    drand_chains: Sequence[Mapping[str, Any]] = (),
) -> list[Check]:
    """Run every check on a public record or auditor bundle, in the document's order.

    ``keyset`` (obtained independently) overrides the one embedded in the bundle; ``witnesses`` is
    the auditor's own list of witness keys; ``drand_chains`` adds chains (full info) to the known ones.
    """
    trusted = [dict(w) for w in witnesses] if witnesses is not None else None
    audit = Audit(bundle, {}, trusted, [dict(c) for c in drand_chains])
    if not check_16_format(audit):
        return audit.checks
    keys = keyset if keyset is not None else bundle.get("keyset")
    if keys is None:
        audit.note("keyset", "3.2", FAIL, "no key set in the bundle and none given with --keyset")
        return audit.checks
    audit.keys = keys
    if not check_3_2_keyset(audit, keyset is not None):
        return audit.checks
    if "cancellation" in bundle:
        check_4_7_cancellation(audit)
        return audit.checks
    if not check_3_3_signatures(audit, ("announcement", "freeze", "result", "head")):
        audit.note("rest", "3.3", SKIP, "cannot check further without the three signed records")
        return audit.checks
    check_4_1_announcement(audit)
    check_4_links(audit)
    check_4_8_timing(audit)
    check_5_entrants(audit)
    check_7_entropy(audit)
    check_8_witnesses(audit)
    check_9_commitments_and_seed(audit)
    check_12_selection(audit)
    check_14_disqualifications(audit)
    check_4_5_head(audit)
    return audit.checks


def verify_proof(bundle: dict[str, Any], proof: dict[str, Any], keyset: dict[str, Any] | None = None) -> list[Check]:
    """§6: one customer's inclusion proof against the signed freeze record of ``bundle``."""
    keys = keyset if keyset is not None else (bundle.get("keyset") if isinstance(bundle, dict) else None)
    audit = Audit(bundle if isinstance(bundle, dict) else {}, keys or {})

    def freeze_sig() -> None:
        require(keyset_problem(keys) is None, f"no usable key set: {keyset_problem(keys)}")
        require(isinstance(audit.bundle.get("freeze"), dict), "the record has no freeze record")
        audit.records["freeze"] = verify_signed(audit.bundle["freeze"], audit.keys, "draw.freeze")

    if not audit.check("proof.freeze_signature", "6", freeze_sig):
        return audit.checks
    audit.check("proof.inclusion", "6", lambda: _inclusion(audit, proof))
    return audit.checks


def _inclusion(audit: Audit, proof: dict[str, Any]) -> str:
    parsed = InclusionProof.from_json(proof)
    frz = audit.records["freeze"]
    require(parsed.draw_id == frz["draw_id"], "the proof is for another draw")
    require(parsed.tree_size == frz["count"], "the proof is for a tree of another size")
    require(parsed.verify(bytes.fromhex(frz["merkle_root"])), "the proof does not lead to the published root")
    leaf = parsed.leaf_hash().hex()
    status = "an entrant"
    try:
        res = verify_signed(audit.bundle["result"], audit.keys, "draw.result")
    except Exception:  # noqa: BLE001 - no (valid) result yet: the proof still shows the entry
        res = {}
    for row in res.get("winners", []):
        if row["leaf_hash"] == leaf:
            status = f"winner of prize {row['prize_index']} ({row['amount_kopecks']} kopecks)"
    for row in res.get("reserves", []):
        if row["leaf_hash"] == leaf:
            status = f"reserve {row['reserve_index']}"
    version = frz.get("version", 1)
    return f"{mask_account(parsed.account, version)} is entrant {parsed.leaf_index} of {parsed.tree_size}: {status}"


def exit_status(
    checks: Sequence[Check], *, trust_embedded_keyset: bool = False, accept_unwitnessed: bool = False,
    partial: bool = False,
) -> int:
    """The command line's exit status: 1 if any check failed; 3 if a WARN was not waived; else 0."""
    if any(c.failed for c in checks):
        return EXIT_FAILED
    waived = {"trust_embedded_keyset": trust_embedded_keyset, "accept_unwitnessed": accept_unwitnessed,
              "partial": partial}
    if any(c.status == WARN and not waived.get(WAIVERS.get(c.name, ""), False) for c in checks):
        return EXIT_INCOMPLETE
    return EXIT_OK


class Unreadable(Exception):
    """An input file that cannot be used at all (exit status 2)."""


def load_json(path: str, what: str) -> Any:
    """A JSON object from ``path``, or :class:`Unreadable` saying why not."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise Unreadable(f"cannot read the {what} {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise Unreadable(f"the {what} {path} is not a JSON object")
    return data


def _witness_list(path: str) -> list[dict[str, Any]]:
    data = load_json(path, "witness list")
    entries = data.get("witnesses")
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and {"kid", "public_key"} <= e.keys() for e in entries
    ):
        raise Unreadable(f'the witness list {path} must be {{"witnesses": [{{"name", "kid", "public_key"}}, ...]}}')
    return entries


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m draws.verify", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("bundle", help="public draw record or auditor bundle (JSON)")
    parser.add_argument("--keyset", help="the service's key set, obtained independently, e.g. from /api/v1/keys (JSON)")
    parser.add_argument("--witnesses", help='the witnesses\' keys, obtained from them: {"witnesses": [...]} (JSON)')
    parser.add_argument("--drand-chain", action="append", default=[], help="a drand chain's full info to trust (JSON)")
    parser.add_argument("--trust-embedded-keyset", action="store_true",
                        help="accept the key set inside the bundle (only proves self-consistency)")
    parser.add_argument("--accept-unwitnessed", action="store_true",
                        help="accept a draw without witnesses (or witnessed only by keys its announcement names)")
    parser.add_argument("--partial", action="store_true",
                        help="a partial check is enough: do not fail when the winners cannot be recomputed")
    parser.add_argument("--proof", help="a customer's inclusion proof to check (JSON)")
    args = parser.parse_args(argv)
    try:
        bundle = load_json(args.bundle, "bundle")
        keyset = load_json(args.keyset, "key set") if args.keyset else None
        proof = load_json(args.proof, "proof") if args.proof else None
        witnesses = _witness_list(args.witnesses) if args.witnesses else None
        chains = [load_json(path, "drand chain") for path in args.drand_chain]
        if keyset is not None and keyset_problem(keyset):
            raise Unreadable(f"the key set {args.keyset} is not usable: {keyset_problem(keyset)}")
    except Unreadable as exc:
        print(f"FAIL input: {exc}")
        return EXIT_UNREADABLE
    try:
        checks = verify_bundle(bundle, keyset, witnesses=witnesses, drand_chains=chains)
        if proof is not None:
            checks += verify_proof(bundle, proof, keyset)
    except Exception as exc:  # noqa: BLE001 - last resort: a message, never a traceback
        print(f"FAIL input: the bundle could not be checked ({type(exc).__name__}: {exc})")
        return EXIT_UNREADABLE
    for check in checks:
        print(check.line())
    counts = {status: sum(c.status == status for c in checks) for status in (PASS, FAIL, WARN, SKIP)}
    print(f"{counts[PASS]} passed, {counts[FAIL]} failed, {counts[WARN]} warnings, {counts[SKIP]} skipped")
    status = exit_status(checks, trust_embedded_keyset=args.trust_embedded_keyset,
                         accept_unwitnessed=args.accept_unwitnessed, partial=args.partial)
    if status == EXIT_INCOMPLETE:
        print("INCOMPLETE: see the WARN lines (use --keyset and --witnesses, or --trust-embedded-keyset / "
              "--accept-unwitnessed / --partial to accept them)")
    return status


if __name__ == "__main__":
    sys.exit(main())
