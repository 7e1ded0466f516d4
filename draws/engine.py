"""The draw engine: the public entry point of the pure draw core (stdlib + ``cryptography`` only).

This module is written for an auditor; ``docs/draw-algorithm.md`` is the normative text and names
the same steps. In order:

1. **Announcement.** The service draws a 256-bit secret and publishes ``commitment =
   SHA-256(secret)`` inside a signed announcement (every parameter, the entropy source fixed in
   advance). ``announcement_digest = SHA-256(canonical_json(announcement payload))``.
2. **Freeze.** Entrants are validated, weight-0 entrants dropped, the rest sorted canonically
   (``draws.entrants``); the entrant digest, weights digest, per-tier totals and Merkle root
   (``draws.merkle``) are signed in the freeze record.
3. **Seed.** ``seed = SHA-256(lp("loyalty-draw/seed") || lp(algorithm) || lp(secret) ||
   lp(entropy bytes) || lp(entrant digest, 32 bytes) || lp(announcement digest, 32 bytes))`` where
   ``lp`` is the 4-byte big-endian length prefix (``draws.encoding``) and the entropy bytes are the
   canonical bytes of the announced source's value (``draws.entropy``).
4. **Selection.** Algorithm ``weighted-hmac-sha256-fenwick/1`` (default): the HMAC-SHA256 stream of
   ``draws.stream`` keyed by the seed, ``uniform_below`` by rejection, weighted selection without
   replacement (``draws.fenwick``): one selection per prize in prize order, then the reserves.
   Algorithm ``rfc3797-md5/1``: unweighted RFC 3797 selection (``draws.rfc3797``) with the key
   string ``[public numbers key] || decimal(int(seed)) || "./"`` -- the RFC key with the seed added as
   one last source, so that the committed secret and the frozen list still bind the result.
5. **Result.** Winners (prize ``i`` to selection ``i``) and reserves, as entrant indices in canonical
   order, with masked accounts and leaf hashes for the public record.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, cast

from draws.cap import DEFAULT_YEARLY_CAP_KOPECKS, capped_accounts, exceeds_yearly_cap, largest_prize
from draws.encoding import format_timestamp, lp, parse_timestamp, u64
from draws.entrants import (
    Entrant,
    canonical_entrants,
    check_weight,
    entrant_digest,
    mask_account,
    tier_totals,
    weights_digest,
)
from draws.entropy import (
    beacon_note,
    check_drand_source,
    drand_source,
    entropy_available_at,
    entropy_bytes,
    known_chain_problem,
    rfc3797_source,
)
from draws.errors import (
    N_,
    BadAccount,
    BadPrize,
    BadTimestamp,
    BadWeight,
    BadWitnesses,
    DrawError,
    EmptyEntrantList,
    EntropyMismatch,
    MalformedEntropy,
    PoolTooLarge,
    ProofError,
    TooManyPrizes,
    WitnessQuorumNotMet,
)
from draws.fenwick import FenwickTree, select_weighted, select_weighted_naive
from draws.frozen import FrozenList, freeze_batches
from draws.merkle import (
    InclusionProof,
    MerkleTree,
    entrant_leaf_hashes,
    entrant_salt,
    leaf_bytes,
    leaf_hash,
    merkle_root,
    order_keys,
    verify_inclusion,
)
from draws.rfc3797 import MAX_POOL, canonical_key, parse_public_numbers, rfc3797_select, rfc3797_steps
from draws.stats import SimulationReport, simulate
from draws.stream import ByteStream, first_blocks, stream_block
from signedjson import canonical_json, sha256_hex

__all__ = [
    "ALGORITHMS", "ALGORITHM_RFC3797", "ALGORITHM_WEIGHTED", "BadAccount", "BadPrize", "BadTimestamp", "BadWeight",
    "BadWitnesses", "ByteStream", "CANCEL_REASONS", "DEFAULT_YEARLY_CAP_KOPECKS", "DrawError", "DrawOutcome",
    "EmptyEntrantList", "Entrant", "EntropyMismatch", "FREEZE_PACKAGE_FORMAT", "FenwickTree", "FrozenList",
    "InclusionProof", "MAX_PRIZE_COUNT", "MAX_PRIZE_KOPECKS", "MalformedEntropy", "MerkleTree", "PROTOCOL_VERSION",
    "PoolTooLarge", "ProofError", "Replacement", "SimulationReport", "TooManyPrizes", "WitnessQuorumNotMet",
    "announcement_digest", "beacon_note", "build_announcement", "build_cancellation", "build_disqualification",
    "build_freeze", "build_head", "build_result", "canonical_entrants", "canonical_key", "capped_accounts",
    "commitment_of", "derive_seed", "drand_source", "entrant_digest", "entrant_leaf_hashes", "entrant_salt",
    "entropy_available_at", "entropy_bytes", "exceeds_yearly_cap", "exclusions_digest", "expand_prizes",
    "first_blocks", "format_timestamp", "freeze_batches", "freeze_columns", "freeze_entrants", "freeze_package",
    "keyed_order", "known_chain_problem", "largest_prize", "leaf_bytes", "leaf_hash", "mask_account", "merkle_root",
    "next_replacement", "order_keys", "parse_public_numbers", "parse_timestamp", "payload_digest",
    "rfc3797_key_for", "rfc3797_select", "rfc3797_source", "rfc3797_steps", "run_selection", "salt_commitment_of",
    "select_weighted", "select_weighted_naive", "simulate", "stream_block", "tier_totals", "validate_prizes",
    "validate_witnesses", "verify_inclusion", "weights_digest", "witness_quorum",
]

ALGORITHM_WEIGHTED = "weighted-hmac-sha256-fenwick/1"
ALGORITHM_RFC3797 = "rfc3797-md5/1"
ALGORITHMS = (ALGORITHM_WEIGHTED, ALGORITHM_RFC3797)
PROTOCOL_VERSION = 2  # records written now; the verifier also reads version 1
SEED_TAG = b"loyalty-draw/seed"
SALT_TAG = b"loyalty-draw/salt/v2"
FREEZE_PACKAGE_FORMAT = "loyalty-draw-freeze/2"
MAX_WITNESSES = 16
CANCEL_REASONS = ("staff", "witness_quorum_not_reached")
EXCLUSIONS_TAG = b"loyalty-draw/exclusions/v1"
MAX_PRIZE_KOPECKS = 400_000
MAX_PRIZE_COUNT = 100_000  # total prizes of one draw (sum of the counts); bounds memory and time


# --------------------------------------------------------------------------------------------- inputs
def validate_prizes(prizes: Sequence[Mapping[str, Any]]) -> list[dict[str, int]]:
    """Check an ordered prize list ``[{"amount_kopecks": A, "count": C}, ...]`` and return it.

    Each amount must be an integer 1..400,000 kopecks, each count an integer >= 1, the list
    non-empty and the total count at most :data:`MAX_PRIZE_COUNT`. Raises :class:`BadPrize` with
    the offending line otherwise. Nothing is expanded here, so a huge count costs nothing.
    """
    if isinstance(prizes, (str, bytes)) or not isinstance(prizes, Sequence):
        raise BadPrize(N_("the prizes must be a list of {amount_kopecks, count}"))
    if not prizes:
        raise BadPrize(N_("a draw needs at least one prize"))
    if len(prizes) > MAX_PRIZE_COUNT:
        raise BadPrize(N_("at most %(max_prize_count)s prizes in one draw"), max_prize_count=MAX_PRIZE_COUNT)
    clean: list[dict[str, int]] = []
    total = 0
    for number, prize in enumerate(prizes, start=1):
        try:
            amount, count = prize["amount_kopecks"], prize["count"]
        except (KeyError, TypeError) as exc:
            raise BadPrize(N_("prize line %(number)s needs amount_kopecks and count"), number=number) from exc
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise BadPrize(N_("prize line %(number)s: the amount must be an integer number of kopecks"), number=number)
        if amount <= 0:
            raise BadPrize(N_("prize line %(number)s: the amount must be positive, got %(amount)s"),
                           number=number, amount=amount)
        if amount > MAX_PRIZE_KOPECKS:
            raise BadPrize(
                f"prize line {number}: {amount} kopecks exceeds the maximum prize of {MAX_PRIZE_KOPECKS}"
            )
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise BadPrize(N_("prize line %(number)s: the count must be an integer >= 1, got %(count)s"),
                           number=number, count=repr(count))
        total += count
        if total > MAX_PRIZE_COUNT:
            raise BadPrize(N_("prize line %(number)s: more than %(max_prize_count)s prizes in total in one draw"),
                           number=number, max_prize_count=MAX_PRIZE_COUNT)
        clean.append({"amount_kopecks": amount, "count": count})
    return clean


def expand_prizes(prizes: Sequence[Mapping[str, Any]]) -> list[int]:
    """The amounts of the individual prizes, in prize order (prize ``i`` is ``result[i]``)."""
    return [p["amount_kopecks"] for p in validate_prizes(prizes) for _ in range(p["count"])]


def exclusions_digest(accounts: Sequence[str]) -> str:
    """Hex SHA-256 of ``lp(tag) || u64(count) || lp(utf8(a)) ...`` over the sorted, distinct accounts."""
    distinct = sorted(set(accounts))
    return hashlib.sha256(
        lp(EXCLUSIONS_TAG) + u64(len(distinct)) + b"".join(lp(a.encode("utf-8")) for a in distinct)
    ).hexdigest()


def commitment_of(secret: bytes) -> str:
    """The published commitment: lower-case hex ``SHA-256(secret)``."""
    return hashlib.sha256(secret).hexdigest()


def payload_digest(payload: Mapping[str, Any]) -> str:
    """Hex SHA-256 of the canonical JSON of a record payload."""
    return sha256_hex(canonical_json(payload))


announcement_digest = payload_digest


def derive_seed(
    algorithm: str, secret: bytes, entropy: bytes, entrant_digest_hex: str, announcement_digest_hex: str
) -> bytes:
    """The 32-byte draw seed (see module docstring, step 3)."""
    if algorithm not in ALGORITHMS:
        raise DrawError(N_("unknown algorithm %(algorithm)s"), algorithm=repr(algorithm))
    if len(secret) != 32:
        raise DrawError(N_("the revealed secret must be 32 bytes"))
    return hashlib.sha256(
        lp(SEED_TAG)
        + lp(algorithm.encode("ascii"))
        + lp(secret)
        + lp(entropy)
        + lp(bytes.fromhex(entrant_digest_hex))
        + lp(bytes.fromhex(announcement_digest_hex))
    ).digest()


# --------------------------------------------------------------------------------------------- freeze
def freeze_entrants(
    entrants: Sequence[Entrant | tuple[str, str, int]], salt_key: bytes, version: int = PROTOCOL_VERSION
) -> FrozenList:
    """Canonicalise ``entrants`` (validate, drop weight 0, sort) and freeze them (:func:`freeze_columns`)."""
    canon = canonical_entrants(entrants)
    return freeze_columns(
        [e.account for e in canon], [e.tier for e in canon], [e.weight for e in canon], salt_key, version
    )


def keyed_order(
    salt_key: bytes, accounts: list[str], tiers: list[str], weights: list[int]
) -> tuple[list[str], list[str], list[int], list[bytes]]:
    """The columns re-ordered by ascending order key ``HMAC-SHA256(salt_key, utf8(account))``, with
    the keys (version 2's canonical order; ties are impossible for distinct accounts but would fall
    back to the account's bytes)."""
    keys = order_keys(salt_key, accounts)
    if len(accounts) < 2:
        return list(accounts), list(tiers), list(weights), keys
    pick = itemgetter(*sorted(range(len(accounts)), key=keys.__getitem__))  # one C-level gather per column
    return list(pick(accounts)), list(pick(tiers)), list(pick(weights)), list(pick(keys))


def freeze_columns(
    accounts: Sequence[str], tiers: Sequence[str], weights: Sequence[int], salt_key: bytes,
    version: int = PROTOCOL_VERSION,
) -> FrozenList:
    """Freeze a list given as columns: digest, weights digest, totals, salted Merkle tree.

    The columns are validated (accounts, tiers, weights, no duplicates; weight-0 entrants dropped) and
    put in the canonical order of ``version``: by the account's UTF-8 bytes (1) or by its order key
    (2). Raises :class:`EmptyEntrantList` when no entrant of positive weight remains. The list is held
    in compact buffers (``draws.frozen``); a list read in batches goes through :func:`freeze_batches`.
    """
    return freeze_batches([(accounts, tiers, weights)], salt_key, version)


# --------------------------------------------------------------------------------------------- select
def _all_positive_ints(values: Sequence[object]) -> bool:
    """True if every value is an ``int`` (``bool`` and other subclasses refused) of at least 1, checked
    in C-level passes (the draw step checks a million weights)."""
    if not values:
        return True
    if set(map(type, values)) != {int}:
        return False
    return min(cast("Sequence[int]", values)) >= 1

@dataclass(frozen=True, slots=True)
class DrawOutcome:
    """Result of a selection: indices into the canonical list and how much stream was used."""

    winners: list[int]
    reserves: list[int]
    blocks_used: int
    bytes_consumed: int
    rejections: int
    rfc3797_key: str | None = None


def rfc3797_key_for(entropy_source: Mapping[str, Any], entropy: bytes, seed: bytes) -> str:
    """The RFC 3797 key string of a draw in ``rfc3797-md5/1`` mode (see module docstring, step 4)."""
    public = entropy.decode("ascii") if entropy_source.get("type") == "rfc3797" else ""
    return f"{public}{int.from_bytes(seed, 'big')}./"


def run_selection(
    algorithm: str,
    seed: bytes,
    weights: Sequence[int],
    prize_count: int,
    reserve_count: int,
    *,
    entropy_source: Mapping[str, Any] | None = None,
    entropy: bytes = b"",
) -> DrawOutcome:
    """Select winners for ``prize_count`` prizes, then up to ``reserve_count`` reserves.

    Raises :class:`EmptyEntrantList` and :class:`TooManyPrizes`. Reserves are limited to the
    entrants left after the prizes (documented: ``min(reserve_count, n - prize_count)``).
    """
    n = len(weights)
    if n == 0:
        raise EmptyEntrantList()
    if prize_count < 1:
        raise BadPrize(N_("a draw needs at least one prize"))
    if prize_count > n:
        raise TooManyPrizes(N_("%(prize_count)s prizes but only %(n)s eligible entrants"), prize_count=prize_count, n=n)
    if reserve_count < 0:
        raise DrawError(N_("the number of reserves cannot be negative"))
    reserves = min(reserve_count, n - prize_count)
    if not _all_positive_ints(weights):
        raise BadWeight(N_("every frozen entrant must have an integer weight >= 1"))
    if algorithm == ALGORITHM_WEIGHTED:
        stream = ByteStream(seed)
        chosen = select_weighted(weights, prize_count + reserves, stream)
        return DrawOutcome(
            chosen[:prize_count], chosen[prize_count:], stream.blocks_generated, stream.bytes_consumed,
            stream.rejections,
        )
    if algorithm == ALGORITHM_RFC3797:
        if any(w != 1 for w in weights):
            raise BadWeight(N_("RFC 3797 mode is unweighted: every eligible tier must have weight 1"))
        if n > MAX_POOL:
            raise PoolTooLarge(N_("RFC 3797 mode supports at most %(max_pool)s entrants, the list has %(n)s"),
                               max_pool=MAX_POOL, n=n)
        key = rfc3797_key_for(entropy_source or {}, entropy, seed)
        chosen = [p - 1 for p in rfc3797_select(key, n, prize_count + reserves)]
        return DrawOutcome(chosen[:prize_count], chosen[prize_count:], 0, 0, 0, key)
    raise DrawError(N_("unknown algorithm %(algorithm)s"), algorithm=repr(algorithm))


# -------------------------------------------------------------------------------------------- records
def salt_commitment_of(salt_key: bytes) -> str:
    """The announcement's commitment to the salt key: hex ``SHA-256(lp("loyalty-draw/salt/v2") || salt_key)``."""
    return hashlib.sha256(lp(SALT_TAG) + salt_key).hexdigest()


def validate_witnesses(witnesses: Mapping[str, Any]) -> dict[str, Any]:
    """Check a witness set ``{"quorum": k, "keys": [{"name", "kid", "public_key"}], "unwitnessed": bool}``.

    The shape rules are ``draws.witness.witness_set_problem``'s (names and kids distinct, each kid the
    first 16 hex digits of SHA-256 of its 32-byte key, ``0 <= k <= len(keys)``); besides, at most
    :data:`MAX_WITNESSES` keys, and ``unwitnessed`` is true exactly when ``k = 0`` (a draw without
    witnesses must say so).
    """
    from draws.witness import witness_set_problem

    problem = witness_set_problem(witnesses)
    if problem:
        raise BadWitnesses(problem)
    if len(witnesses["keys"]) > MAX_WITNESSES:
        raise BadWitnesses(N_("at most %(max_witnesses)s witnesses"), max_witnesses=MAX_WITNESSES)
    unwitnessed = witnesses.get("unwitnessed", False)
    if not isinstance(unwitnessed, bool) or unwitnessed != (witnesses["quorum"] == 0):
        raise BadWitnesses(N_("a draw with quorum 0 must be marked unwitnessed, and only such a draw"))
    keys = [{"name": w["name"], "kid": w["kid"], "public_key": w["public_key"]} for w in witnesses["keys"]]
    return {"quorum": witnesses["quorum"], "keys": keys, "unwitnessed": unwitnessed}


def _check_snapshot(snapshot: Mapping[str, Any]) -> dict[str, str]:
    period, digest = snapshot.get("period"), snapshot.get("digest")
    if not isinstance(period, str) or not re.fullmatch(r"\d{4}-\d{2}", period):
        raise DrawError(N_("the snapshot period must be YYYY-MM"))
    if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise DrawError(N_("the snapshot digest must be 64 lower-case hex digits"))
    return {"period": period, "digest": digest}


def build_announcement(
    *,
    draw_id: str,
    name: str,
    kind: str,
    snapshot: Mapping[str, Any],
    announced_at: str,
    freeze_at: str,
    algorithm: str,
    tier_weights: Mapping[str, int],
    exclusions: Sequence[str],
    prizes: Sequence[Mapping[str, Any]],
    reserves: int,
    commitment: str,
    salt_commitment: str,
    entropy_source: Mapping[str, Any],
    witnesses: Mapping[str, Any],
    yearly_cap_kopecks: int = DEFAULT_YEARLY_CAP_KOPECKS,
) -> dict[str, Any]:
    """The version 2 announcement payload (to be signed). Validates everything an announcement fixes:
    the snapshot (period and content digest), the entropy source (a drand source pins the full chain
    info, the delay and the round that follows from them), the witness set and quorum."""
    if algorithm not in ALGORITHMS:
        raise DrawError(N_("unknown algorithm %(algorithm)s"), algorithm=repr(algorithm))
    announced, freeze = parse_timestamp(announced_at), parse_timestamp(freeze_at)
    if freeze <= announced:
        raise BadTimestamp(N_("the freeze time must be after the announcement"))
    weights = {tier: check_weight(w, f"weight of tier {tier!r}") for tier, w in sorted(tier_weights.items())}
    if not any(weights.values()):
        raise BadWeight(N_("at least one tier must have a positive weight"))
    if algorithm == ALGORITHM_RFC3797 and any(w > 1 for w in weights.values()):
        raise BadWeight(N_("RFC 3797 mode is unweighted: tier weights must be 0 or 1"))
    if isinstance(reserves, bool) or not isinstance(reserves, int) or reserves < 0:
        raise DrawError(N_("the number of reserves must be a non-negative integer"))
    source = dict(entropy_source)
    if source.get("type") == "drand":
        check_drand_source(source, freeze)
    if entropy_available_at(source) <= freeze:
        raise EntropyMismatch(N_("the entropy source must come to exist strictly after the freeze time"))
    return {
        "type": "draw.announcement",
        "version": PROTOCOL_VERSION,
        "draw_id": draw_id,
        "name": name,
        "kind": kind,
        "snapshot": _check_snapshot(snapshot),
        "announced_at": announced_at,
        "freeze_at": freeze_at,
        "algorithm": algorithm,
        "tier_weights": weights,
        "exclusions_count": len(set(exclusions)),
        "exclusions_digest": exclusions_digest(exclusions),
        "yearly_cap_kopecks": yearly_cap_kopecks,
        "prizes": validate_prizes(prizes),
        "reserves": reserves,
        "commitment": commitment,
        "salt_commitment": salt_commitment,
        "entropy_source": source,
        "witnesses": validate_witnesses(witnesses),
    }


def build_freeze(announcement: Mapping[str, Any], frozen: FrozenList, frozen_at: str) -> dict[str, Any]:
    """The freeze payload (to be signed) for an announced draw and its frozen list."""
    if parse_timestamp(frozen_at) < parse_timestamp(announcement["freeze_at"]):
        raise BadTimestamp(N_("the list cannot be frozen before the announced freeze time"))
    if parse_timestamp(frozen_at) >= entropy_available_at(announcement["entropy_source"]):
        raise EntropyMismatch(N_("too late to freeze: the announced entropy already exists"))
    prize_count = len(expand_prizes(announcement["prizes"]))
    if prize_count > frozen.count:
        raise TooManyPrizes(N_("%(prize_count)s prizes but only %(n)s eligible entrants"),
                            prize_count=prize_count, n=frozen.count)
    return {
        "type": "draw.freeze",
        "version": announcement.get("version", 1),
        "draw_id": announcement["draw_id"],
        "announcement_digest": payload_digest(announcement),
        "frozen_at": frozen_at,
        "count": frozen.count,
        "total_weight": frozen.total_weight,
        "tiers": frozen.totals,
        "entrant_digest": frozen.digest,
        "weights_digest": frozen.weights_digest,
        "merkle_root": frozen.root.hex(),
    }


def freeze_package(keyset: Mapping[str, Any], announcement: Mapping[str, Any],
                   freeze: Mapping[str, Any]) -> dict[str, Any]:
    """What a witness cosigns: ``{"format": "loyalty-draw-freeze/2", keyset, announcement, freeze}``
    (the two signed envelopes and the key set that verifies them)."""
    return {"format": FREEZE_PACKAGE_FORMAT, "keyset": dict(keyset), "announcement": dict(announcement),
            "freeze": dict(freeze)}


def witness_quorum(
    cosignatures: Sequence[Mapping[str, Any]], announcement: Mapping[str, Any], freeze: Mapping[str, Any],
    trusted: Sequence[Mapping[str, Any]] | None = None,
) -> Any:
    """The cosignatures that count towards the announced quorum (``draws.witness.witness_quorum``)."""
    from draws.witness import witness_quorum as quorum_of

    return quorum_of(list(cosignatures), dict(announcement), dict(freeze),
                     list(trusted) if trusted is not None else None)


def build_result(
    announcement: Mapping[str, Any],
    freeze: Mapping[str, Any],
    accounts: Sequence[str],
    weights: Sequence[int],
    salt_key: bytes,
    secret: bytes,
    entropy_value: Mapping[str, Any],
    drawn_at: str,
    cosignatures: Sequence[Mapping[str, Any]] = (),
) -> tuple[dict[str, Any], DrawOutcome]:
    """Run the draw and return the result payload (to be signed) with the raw outcome.

    ``accounts`` and ``weights`` are the frozen list's columns in canonical order; the caller
    vouches that their digest is the freeze record's ``entrant_digest`` (the service checks the
    stored list against it before calling). Checks first, before anything is selected: the secret
    against the commitment, the salt key against its commitment, the witness quorum (``cosignatures``
    of the freeze, each timed before the entropy existed), and the entropy against the announced
    source (for drand: the BLS signature against the pinned chain). Leaf hashes are computed for the
    selected entrants only.
    """
    version = announcement.get("version", 1)
    if commitment_of(secret) != announcement["commitment"]:
        raise DrawError(N_("the secret does not match the published commitment"))
    if version >= 2 and salt_commitment_of(salt_key) != announcement["salt_commitment"]:
        raise DrawError(N_("the salt key does not match the published salt commitment"))
    if len(accounts) != freeze["count"] or len(weights) != freeze["count"]:
        raise DrawError(N_("the entrant list is not the frozen one"))
    counted: list[dict[str, Any]] = []
    if version >= 2:
        quorum = witness_quorum(cosignatures, announcement, freeze)
        if not quorum.met:
            raise WitnessQuorumNotMet(
                f"{len(quorum.counted)} valid cosignature(s) of the freeze, {quorum.quorum} needed"
                + (": " + "; ".join(quorum.problems[:5]) if quorum.problems else "")
            )
        counted = sorted((dict(c) for c in quorum.counted), key=lambda c: c["payload"]["witness"]["kid"])
    source = announcement["entropy_source"]
    entropy = entropy_bytes(source, dict(entropy_value))
    if parse_timestamp(drawn_at) < entropy_available_at(source):
        raise EntropyMismatch(N_("the draw cannot run before the announced entropy exists"))
    algorithm = announcement["algorithm"]
    ann_digest = payload_digest(announcement)
    seed = derive_seed(algorithm, secret, entropy, freeze["entrant_digest"], ann_digest)
    amounts = expand_prizes(announcement["prizes"])
    outcome = run_selection(
        algorithm, seed, weights, len(amounts), announcement["reserves"],
        entropy_source=source, entropy=entropy,
    )

    def public(index: int) -> dict[str, Any]:
        account = accounts[index]
        return {
            "entrant_index": index,
            "account_masked": mask_account(account, version),
            "leaf_hash": leaf_hash(leaf_bytes(entrant_salt(salt_key, account), account, weights[index])).hex(),
        }

    payload = {
        "type": "draw.result",
        "version": version,
        "draw_id": announcement["draw_id"],
        "algorithm": algorithm,
        "announcement_digest": ann_digest,
        "freeze_digest": payload_digest(freeze),
        "commitment": announcement["commitment"],
        "secret": secret.hex(),
        "entropy": dict(entropy_value),
        "entropy_digest": hashlib.sha256(entropy).hexdigest(),
        "entrant_digest": freeze["entrant_digest"],
        "merkle_root": freeze["merkle_root"],
        "seed": seed.hex(),
        "drawn_at": drawn_at,
        "winners": [
            {"prize_index": i, "amount_kopecks": amounts[i], **public(index)}
            for i, index in enumerate(outcome.winners)
        ],
        "reserves": [{"reserve_index": i, **public(index)} for i, index in enumerate(outcome.reserves)],
    }
    if version >= 2:
        payload["cosignatures"] = counted
    return payload, outcome


def build_cancellation(
    announcement: Mapping[str, Any], *, state_before: str, reason: str, cancelled_at: str,
    reason_code: str = "staff", cosignatures: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The cancellation payload (to be signed). ``reason_code`` is ``staff`` (a person cancelled it,
    before the entropy existed) or ``witness_quorum_not_reached`` (the freeze did not gather its
    quorum before the entropy existed: the draw can never run); the latter lists the cosignatures
    the service held, so a witness whose cosignature is missing can show it."""
    if reason_code not in CANCEL_REASONS:
        raise DrawError(N_("unknown cancellation reason code %(reason_code)s"), reason_code=repr(reason_code))
    if not isinstance(reason, str) or not reason.strip():
        raise DrawError(N_("a cancellation needs a reason"))
    entropy_at = entropy_available_at(announcement["entropy_source"])
    payload = {
        "type": "draw.cancellation",
        "version": announcement.get("version", 1),
        "draw_id": announcement["draw_id"],
        "announcement_digest": payload_digest(announcement),
        "reason": reason.strip(),
        "state_before": state_before,
        "cancelled_at": cancelled_at,
        "entropy_available_at": format_timestamp(entropy_at),
    }
    if payload["version"] >= 2:
        payload["reason_code"] = reason_code
        payload["cosignatures"] = [dict(c) for c in cosignatures]
    return payload


# ------------------------------------------------------------------------------------- after the draw
@dataclass(frozen=True, slots=True)
class Replacement:
    """Who takes a prize after a disqualification (``None`` fields when the reserves ran out)."""

    prize_index: int
    disqualified_entrant_index: int
    reserve_index: int | None
    entrant_index: int | None


def next_replacement(
    holders: Sequence[int | None], reserves: Sequence[int], reserves_used: int, prize_index: int
) -> Replacement:
    """The replacement rule: the disqualified holder of ``prize_index`` is replaced by the **next
    reserve in published order not yet used** (``reserves[reserves_used]``); when every reserve has
    been used the prize stays unawarded. A promoted reserve who is in turn disqualified is replaced
    the same way, by the next reserve.
    """
    if not 0 <= prize_index < len(holders):
        raise DrawError(N_("there is no prize %(prize_index)s"), prize_index=prize_index)
    holder = holders[prize_index]
    if holder is None:
        raise DrawError(N_("prize %(prize_index)s has no holder to disqualify"), prize_index=prize_index)
    if reserves_used < len(reserves):
        return Replacement(prize_index, holder, reserves_used, reserves[reserves_used])
    return Replacement(prize_index, holder, None, None)


def build_disqualification(
    result: Mapping[str, Any], previous: Mapping[str, Any] | None, replacement: Replacement, reason: str,
    disqualified_at: str,
) -> dict[str, Any]:
    """The disqualification payload (to be signed). ``previous`` is the draw's last disqualification
    payload (None for the first): version 2 chains them (``previous_digest``), numbers them
    (``sequence`` from 0) and signs the running ``count``; a disqualification must be later than the
    draw (``disqualified_at > drawn_at``)."""
    if not reason or not reason.strip():
        raise DrawError(N_("a disqualification needs a reason"))
    if parse_timestamp(disqualified_at) <= parse_timestamp(result["drawn_at"]):
        raise BadTimestamp(N_("a disqualification must be later than the draw"))
    if previous is not None and parse_timestamp(disqualified_at) < parse_timestamp(previous["disqualified_at"]):
        raise BadTimestamp(N_("a disqualification cannot be dated before the one it follows"))
    sequence = 0 if previous is None else previous["sequence"] + 1
    payload = {
        "type": "draw.disqualification",
        "version": result.get("version", 1),
        "draw_id": result["draw_id"],
        "result_digest": payload_digest(result),
        "sequence": sequence,
        "prize_index": replacement.prize_index,
        "entrant_index": replacement.disqualified_entrant_index,
        "reason": reason.strip(),
        "replacement_reserve_index": replacement.reserve_index,
        "replacement_entrant_index": replacement.entrant_index,
        "disqualified_at": disqualified_at,
    }
    if payload["version"] >= 2:
        payload["count"] = sequence + 1
        payload["previous_digest"] = payload_digest(previous) if previous is not None else None
    return payload


def build_head(result: Mapping[str, Any], disqualifications: Sequence[Mapping[str, Any]],
               issued_at: str) -> dict[str, Any]:
    """The head of a published draw (to be signed each time it changes: at publication and at every
    disqualification): how many disqualifications exist and the digest of the last one, so that a
    record that leaves the last one out is detected."""
    issued = parse_timestamp(issued_at)
    latest = max(
        [parse_timestamp(result["drawn_at"])] + [parse_timestamp(d["disqualified_at"]) for d in disqualifications]
    )
    if issued < latest:
        raise BadTimestamp(N_("the head cannot be older than the draw or the last disqualification it counts"))
    return {
        "type": "draw.head",
        "version": PROTOCOL_VERSION,
        "draw_id": result["draw_id"],
        "result_digest": payload_digest(result),
        "disqualifications": len(disqualifications),
        "last_disqualification_digest": payload_digest(disqualifications[-1]) if disqualifications else None,
        "issued_at": issued_at,
    }
