"""Generate the version 2 draw test vectors (``tests/draws/vectors/v2-*.json``).

Run: ``PYTHONPATH=. python tests/draws/make_vectors.py [OUT_DIR]``. The files are committed; the tests
(``test_vectors.py``) rebuild every record from each file's ``inputs`` with the engine's public
functions and run the verifier on each bundle, so a change of output is a change of algorithm and must
come with a new algorithm version. Re-running this script writes byte-identical files.

Every file has the format ``loyalty-draw-vector/2``::

    {"format", "name", "description",
     "inputs":   everything needed to rebuild the draw: private keys (raw 32-byte Ed25519 seeds, hex),
                 secret, salt key, the snapshot rows [account, tier], exclusions, announcement
                 parameters, witness keys and cosignature times, the entropy value, record times;
     "expected": the values an implementation must reproduce (digests, order keys, keyed order, seed,
                 stream blocks, winners, reserves, masks, leaf hashes, check codes, ...);
     "bundle":   the whole signed auditor bundle (or public record of a cancelled draw);
     "verifier": {"keyset", "witnesses", "drand_chains"}: what to pass to ``draws.verify.verify_bundle``,
                 "checks": the expected ``Check.line()`` prefixes ("PASS §8 witnesses") in order and
                 "reasons": {prefix: text the reason must contain} for the lines that do not PASS;
     "cases":    optional variants [{"name", "description", "bundle", "verifier", ...}] (attacks,
                 other key sets, ...)}

The script refuses to write anything when the engine or the verifier disagree with what a case is
meant to show (each case declares which lines must not PASS; every other line must PASS), or with
the values fixed by hand below (masks, RFC 3797 keys, real drand randomness).

The version 1 files (``weighted-*.json``, ``rfc3797-*.json``, ``merkle-7.json``) are fixtures of
records the engine no longer writes: they are not regenerated here.
"""

from __future__ import annotations

import copy
import hashlib
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from draws.bundle import auditor_bundle
from draws.checkcode import check_code
from draws.drand import KNOWN_CHAINS, round_message
from draws.encoding import format_timestamp, parse_timestamp
from draws.engine import (
    ALGORITHM_RFC3797,
    ALGORITHM_WEIGHTED,
    Entrant,
    WitnessQuorumNotMet,
    build_announcement,
    build_cancellation,
    build_disqualification,
    build_freeze,
    build_head,
    build_result,
    canonical_key,
    commitment_of,
    derive_seed,
    drand_source,
    entrant_salt,
    entropy_available_at,
    entropy_bytes,
    expand_prizes,
    first_blocks,
    freeze_entrants,
    leaf_bytes,
    leaf_hash,
    mask_account,
    next_replacement,
    order_keys,
    payload_digest,
    rfc3797_source,
    rfc3797_steps,
    run_selection,
    salt_commitment_of,
    witness_quorum,
)
from draws.rfc3797 import canonical_value
from draws.sample import DEFAULT_TIER_WEIGHTS, derived, sample_entrants
from draws.stream import ByteStream, acceptance_limit, words_needed
from draws.verify import FAIL, PASS, SKIP, WARN, verify_bundle, verify_proof
from signedjson import b64u_encode, canonical_json, kid_for, sign_payload
from tests.draws.drand_vectors import MAINNET_SIGNATURES, QUICKNET_SIGNATURES, mainnet_value, quicknet_value

OUT = Path(__file__).with_name("vectors")
FORMAT = "loyalty-draw-vector/2"
QUICKNET = KNOWN_CHAINS["quicknet"]
MAINNET = KNOWN_CHAINS["mainnet"]


ANNOUNCED_AT = "2023-08-23T15:00:00Z"
FREEZE_AT = "2023-08-23T15:09:30Z"  # quicknet round 2 is at 15:09:30, so round 3 (15:09:33) is announced
SMALL = [
    ("7400012345", "ideal"),
    ("0740012345", "responsible"),
    ("740012345", "responsible"),
    ("0000000001", "ideal"),
    ("7400099999", "promising"),
    ("1234567890", "ideal"),
    ("5555555555", "responsible"),
    ("0999999999", "beginner"),
    ("3141592653", "ideal"),
    ("2718281828", "responsible"),
    ("1618033988", "responsible"),
    ("6022140760", "ideal"),
]


class Refused(SystemExit):
    """The engine or the verifier disagrees with a vector: nothing is written."""


def require(condition: bool, message: str) -> None:
    """Refuse to write the vectors unless ``condition`` holds."""
    if not condition:
        raise Refused(f"refusing to write the vectors: {message}")


# ------------------------------------------------------------------------------------------- keys
def raw_hex(key: Ed25519PrivateKey) -> str:
    """The raw 32-byte private key (Ed25519 seed) as hex."""
    return key.private_bytes_raw().hex()


def key_of(text: str) -> Ed25519PrivateKey:
    """The private key of a raw hex seed."""
    return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(text))


def new_key(label: str, purpose: str) -> Ed25519PrivateKey:
    """A deterministic key (vectors only: never use such a key for a real draw)."""
    return Ed25519PrivateKey.from_private_bytes(derived(label, purpose))


def public_entry(key: Ed25519PrivateKey, name: str) -> dict[str, str]:
    """A witness's public entry ``{"name", "kid", "public_key"}``."""
    raw = key.public_key().public_bytes_raw()
    return {"name": name, "kid": kid_for(raw), "public_key": b64u_encode(raw)}


def key_entry(
    key: Ed25519PrivateKey, created: str, retired: str | None = None, compromised: str | None = None
) -> dict[str, Any]:
    """A key set entry (section 3.2)."""
    raw = key.public_key().public_bytes_raw()
    entry: dict[str, Any] = {
        "kid": kid_for(raw),
        "alg": "Ed25519",
        "public_key": b64u_encode(raw),
        "created": created,
        "retired": retired,
    }
    if compromised is not None:
        entry["compromised"] = compromised
    return entry


def cosign(
    key: Ed25519PrivateKey,
    name: str,
    announcement: Mapping[str, Any],
    freeze: Mapping[str, Any],
    cosigned_at: str,
) -> dict[str, Any]:
    """A witness's cosignature envelope of a freeze payload (section 8)."""
    return sign_payload(
        key,
        {
            "type": "draw.cosignature",
            "version": 2,
            "draw_id": freeze["draw_id"],
            "announcement_digest": payload_digest(announcement),
            "freeze_digest": payload_digest(freeze),
            "witness": {"name": name, "kid": public_entry(key, name)["kid"]},
            "cosigned_at": cosigned_at,
        },
    )


def shifted(timestamp: str, seconds: int) -> str:
    return format_timestamp(parse_timestamp(timestamp) + seconds)


# ----------------------------------------------------------------------------------------- inputs
def draw_inputs(
    label: str,
    rows: Sequence[tuple[str, str]],
    *,
    tier_weights: Mapping[str, int] = DEFAULT_TIER_WEIGHTS,
    prizes: Sequence[Mapping[str, int]] = (
        {"amount_kopecks": 400_000, "count": 1},
        {"amount_kopecks": 150_000, "count": 2},
    ),
    reserves: int = 3,
    algorithm: str = ALGORITHM_WEIGHTED,
    entropy_source: Mapping[str, Any] | None = None,
    entropy: Mapping[str, Any] | None = None,
    exclusions: Sequence[str] = (),
    announced_at: str = ANNOUNCED_AT,
    freeze_at: str = FREEZE_AT,
    witnesses: int = 2,
    quorum: int | None = None,
    keyset_created: str = "2023-01-01T00:00:00Z",
) -> dict[str, Any]:
    """The inputs of one honest draw: each witness cosigns one second after the freeze (in order),
    the draw runs 60 s after the entropy exists, the head is issued with the result."""
    key = new_key(label, "signing-key")
    source = (
        dict(entropy_source)
        if entropy_source is not None
        else drand_source(QUICKNET, parse_timestamp(freeze_at), 0)
    )
    if entropy is None:
        entropy = quicknet_value(source["round"])
    witness_keys = [(f"Witness {n + 1}", new_key(f"{label}/{n}", "witness-key")) for n in range(witnesses)]
    entropy_at = entropy_available_at(source)
    drawn_at = format_timestamp(entropy_at + 60)
    return {
        "signing_key": raw_hex(key),
        "keyset": {"keys": [key_entry(key, keyset_created)]},
        "secret": derived(label, "secret").hex(),
        "salt_key": derived(label, "salt-key").hex(),
        "announcement": {
            "draw_id": f"vector-{label}",
            "name": f"Test vector {label}",
            "kind": "quarterly",
            "snapshot": {"period": "2026-06", "digest": derived(label, "snapshot").hex()},
            "announced_at": announced_at,
            "freeze_at": freeze_at,
            "algorithm": algorithm,
            "tier_weights": dict(tier_weights),
            "exclusions": sorted(set(exclusions)),
            "prizes": [dict(p) for p in prizes],
            "reserves": reserves,
            "entropy_source": source,
            "yearly_cap_kopecks": 400_000,
        },
        "witnesses": [{"name": name, "private_key": raw_hex(k)} for name, k in witness_keys],
        "quorum": len(witness_keys) if quorum is None else quorum,
        "entrants": [[a, t] for a, t in rows],
        "frozen_at": freeze_at,
        "cosignatures": [
            {"witness": name, "cosigned_at": shifted(freeze_at, 1 + n)}
            for n, (name, _) in enumerate(witness_keys)
        ],
        "entropy": dict(entropy),
        "drawn_at": drawn_at,
        "disqualifications": [],
        "head_issued_at": drawn_at,
    }


# ------------------------------------------------------------------------------------------- build
class Built:
    """Every record of a draw built from its inputs (payloads and signed envelopes)."""

    def __init__(self, inputs: Mapping[str, Any]) -> None:
        self.inputs = inputs
        self.key = key_of(inputs["signing_key"])
        self.head_key = key_of(inputs.get("head_signing_key", inputs["signing_key"]))
        self.keyset = inputs["keyset"]
        self.secret = bytes.fromhex(inputs["secret"])
        self.salt_key = bytes.fromhex(inputs["salt_key"])
        self.witness_keys = {w["name"]: key_of(w["private_key"]) for w in inputs["witnesses"]}
        a = inputs["announcement"]
        witness_set = {
            "quorum": inputs["quorum"],
            "keys": [public_entry(k, n) for n, k in self.witness_keys.items()],
            "unwitnessed": inputs["quorum"] == 0,
        }
        self.announcement = build_announcement(
            **{k: v for k, v in a.items()},
            commitment=commitment_of(self.secret),
            salt_commitment=salt_commitment_of(self.salt_key),
            witnesses=witness_set,
        )
        excluded = set(a["exclusions"])
        weights = a["tier_weights"]
        self.eligible = [
            Entrant(acc, tier, weights.get(tier, 0))
            for acc, tier in inputs["entrants"]
            if acc not in excluded
        ]
        self.frozen = freeze_entrants(self.eligible, self.salt_key)
        self.freeze = build_freeze(self.announcement, self.frozen, inputs["frozen_at"])
        self.cosignatures = [
            cosign(
                self.witness_keys[c["witness"]],
                c["witness"],
                self.announcement,
                self.freeze,
                c["cosigned_at"],
            )
            for c in inputs["cosignatures"]
        ]
        self.result: dict[str, Any] | None = None
        self.disqualifications: list[dict[str, Any]] = []
        self.head: dict[str, Any] | None = None
        if "cancellation" in inputs:
            c = inputs["cancellation"]
            listed = [self.cosignatures[i] for i in c.get("cosignatures", [])]
            self.cancellation = build_cancellation(
                self.announcement,
                state_before=c["state_before"],
                reason=c["reason"],
                cancelled_at=c["cancelled_at"],
                reason_code=c["reason_code"],
                cosignatures=listed,
            )
            return
        self.result, self.outcome = self.draw(self.cosignatures)
        holders: list[int | None] = list(self.outcome.winners)
        used = 0
        self.replacements = []
        for d in inputs["disqualifications"]:
            replacement = next_replacement(holders, self.outcome.reserves, used, d["prize_index"])
            self.replacements.append(replacement)
            previous = self.disqualifications[-1] if self.disqualifications else None
            self.disqualifications.append(
                build_disqualification(self.result, previous, replacement, d["reason"], d["disqualified_at"])
            )
            holders[d["prize_index"]] = replacement.entrant_index
            used += replacement.reserve_index is not None
        self.holders = holders
        self.head = build_head(self.result, self.disqualifications, inputs["head_issued_at"])

    def draw(self, cosignatures: list[dict[str, Any]]) -> Any:
        """``build_result`` over this draw's records and inputs, with the given cosignatures."""
        return build_result(
            self.announcement,
            self.freeze,
            self.frozen.accounts,
            self.frozen.weights,
            self.salt_key,
            self.secret,
            self.inputs["entropy"],
            self.inputs["drawn_at"],
            cosignatures,
        )

    def signed(self, payload: Mapping[str, Any], key: Ed25519PrivateKey | None = None) -> dict[str, Any]:
        return sign_payload(key or self.key, dict(payload))

    def bundle(self) -> dict[str, Any]:
        """The auditor bundle (or, for a cancelled draw, its public record)."""
        if self.result is None:
            record = {
                "format": "loyalty-draw-bundle/1",
                "kind": "public",
                "keyset": self.keyset,
                "announcement": self.signed(self.announcement),
            }
            if self.inputs["cancellation"]["state_before"] == "frozen":
                record["freeze"] = self.signed(self.freeze)
            record["cancellation"] = self.signed(self.cancellation)
            return record
        assert self.head is not None
        return auditor_bundle(
            self.keyset,
            self.signed(self.announcement),
            self.signed(self.freeze),
            self.signed(self.result),
            self.frozen,
            self.salt_key,
            self.inputs["announcement"]["exclusions"],
            [self.signed(d, self.head_key) for d in self.disqualifications]
            if "head_signing_key" in self.inputs
            else [self.signed(d) for d in self.disqualifications],
            head=self.signed(self.head, self.head_key),
        )


def person(built: Built, index: int) -> dict[str, Any]:
    account = built.frozen.accounts[index]
    return {
        "entrant_index": index,
        "account": account,
        "account_masked": mask_account(account),
        "leaf_hash": built.frozen.leaf_hashes[index].hex(),
    }


def expected_of(built: Built, *, few: int = 5, code_accounts: Sequence[str] = ()) -> dict[str, Any]:
    """The values an implementation must reproduce for an honest draw."""
    ann, frz, inputs = built.announcement, built.freeze, built.inputs
    firsts = [acc for acc, _ in inputs["entrants"][:few]]
    out: dict[str, Any] = {
        "announcement_digest": payload_digest(ann),
        "commitment": ann["commitment"],
        "salt_commitment": ann["salt_commitment"],
        "exclusions_digest": ann["exclusions_digest"],
        "order_keys": {
            acc: k.hex() for acc, k in zip(firsts, order_keys(built.salt_key, firsts), strict=True)
        },
        "eligible_count": frz["count"],
        "total_weight": frz["total_weight"],
        "tiers": frz["tiers"],
        "entrant_digest": frz["entrant_digest"],
        "weights_digest": frz["weights_digest"],
        "merkle_root": frz["merkle_root"],
        "freeze_digest": payload_digest(frz),
    }
    if frz["count"] <= 30:
        out["keyed_order"] = list(built.frozen.accounts)
        out["leaf_hashes"] = [h.hex() for h in built.frozen.leaf_hashes]
    out["cosignature_digests"] = [payload_digest(c["payload"]) for c in built.cosignatures]
    if built.result is None:
        out["cancellation_digest"] = payload_digest(built.cancellation)
        return out
    res = built.result
    entropy = entropy_bytes(ann["entropy_source"], res["entropy"], verify_beacon=False)
    seed = derive_seed(ann["algorithm"], built.secret, entropy, frz["entrant_digest"], payload_digest(ann))
    require(seed.hex() == res["seed"], "derive_seed disagrees with build_result")
    amounts = expand_prizes(ann["prizes"])
    out.update(
        {
            "entropy_bytes": entropy.hex(),
            "entropy_digest": res["entropy_digest"],
            "seed": seed.hex(),
            "stream_blocks": first_blocks(seed, 4),
            "bytes_consumed": built.outcome.bytes_consumed,
            "rejections": built.outcome.rejections,
            "rfc3797_key": built.outcome.rfc3797_key,
            "winners": [
                {"prize_index": i, "amount_kopecks": amounts[i], **person(built, idx)}
                for i, idx in enumerate(built.outcome.winners)
            ],
            "reserves": [
                {"reserve_index": i, **person(built, idx)} for i, idx in enumerate(built.outcome.reserves)
            ],
            "result_digest": payload_digest(res),
            "head_digest": payload_digest(built.head),
        }
    )
    codes = list(code_accounts) or [built.frozen.accounts[built.outcome.winners[0]], "9999999999"]
    out["check_codes"] = {acc: check_code(built.salt_key, ann["draw_id"], acc) for acc in codes}
    if built.disqualifications:
        out["disqualifications"] = [
            {
                "sequence": d["sequence"],
                "prize_index": d["prize_index"],
                "entrant_index": d["entrant_index"],
                "replacement_reserve_index": d["replacement_reserve_index"],
                "replacement_entrant_index": d["replacement_entrant_index"],
                "count": d["count"],
                "digest": payload_digest(d),
            }
            for d in built.disqualifications
        ]
        out["holders"] = built.holders
    return out


# ----------------------------------------------------------------------------------------- verifier
def label(check: Any) -> str:
    return (
        f"{check.status} §{check.section} {check.name}" if check.section else f"{check.status} {check.name}"
    )


def verdict(
    bundle: Mapping[str, Any],
    intent: Mapping[str, str | tuple[str, str]],
    *,
    keyset: Mapping[str, Any] | None,
    witnesses: Sequence[Mapping[str, Any]] | None,
    drand_chains: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """Run the verifier and check it says what the case is meant to show.

    ``intent`` maps ``"§8 witnesses"`` to the status it must have (or to ``(status, text the reason
    must contain)``); every other check must PASS.
    """
    checks = verify_bundle(
        copy.deepcopy(dict(bundle)),
        copy.deepcopy(dict(keyset)) if keyset is not None else None,
        witnesses=witnesses,
        drand_chains=drand_chains,
    )
    seen: dict[str, Any] = {}
    reasons: dict[str, str] = {}
    for c in checks:
        where = f"§{c.section} {c.name}"
        require(where not in seen, f"the verifier reports {where} twice")
        seen[where] = c
        want = intent.get(where, PASS)
        status, text = want if isinstance(want, tuple) else (want, "")
        require(c.status == status, f"{where} is {c.line()!r}, the vector expects {status}")
        if text:
            require(text in c.reason, f"{where}: reason {c.reason!r} lacks {text!r}")
            reasons[label(c)] = text
    missing = set(intent) - set(seen)
    require(not missing, f"the verifier did not report {sorted(missing)}")
    return {
        "keyset": keyset,
        "witnesses": None if witnesses is None else [dict(w) for w in witnesses],
        "drand_chains": [dict(c) for c in drand_chains],
        "checks": [label(c) for c in checks],
        "reasons": reasons,
    }


def witness_list(built: Built, names: Sequence[str] | None = None) -> list[dict[str, str]]:
    """The auditor's witness list: the keys obtained from the witnesses themselves."""
    return [public_entry(k, n) for n, k in built.witness_keys.items() if names is None or n in names]


def honest_verdict(built: Built, intent: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return verdict(built.bundle(), intent or {}, keyset=built.keyset, witnesses=witness_list(built))


def vector(
    name: str,
    description: str,
    built: Built,
    expected: dict[str, Any],
    verifier: dict[str, Any],
    cases: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    out = {
        "format": FORMAT,
        "name": name,
        "description": description,
        "inputs": built.inputs,
        "expected": expected,
        "bundle": built.bundle(),
        "verifier": verifier,
    }
    if cases:
        out["cases"] = list(cases)
    return out


def resigned_result(
    built: Built, payload: dict[str, Any], *, disqualifications: Sequence[dict[str, Any]] = ()
) -> dict[str, Any]:
    """The auditor bundle of ``built`` with another result payload (what an operator holding the key can
    publish), its head rebuilt over it."""
    bundle = built.bundle()
    bundle["result"] = built.signed(payload)
    bundle["disqualifications"] = [built.signed(d) for d in disqualifications]
    bundle["head"] = built.signed(
        build_head(payload, list(disqualifications), built.inputs["head_issued_at"])
    )
    return bundle


def forged_result(
    built: Built,
    *,
    freeze: Mapping[str, Any] | None = None,
    frozen: Any = None,
    entropy: Mapping[str, Any] | None = None,
    cosignatures: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """A result payload computed as ``build_result`` does but without its refusals (an operator's forgery)."""
    ann = built.announcement
    frz = dict(freeze or built.freeze)
    frozen = frozen or built.frozen
    value = dict(entropy or built.inputs["entropy"])
    raw = entropy_bytes(ann["entropy_source"], value, verify_beacon=False)
    seed = derive_seed(ann["algorithm"], built.secret, raw, frz["entrant_digest"], payload_digest(ann))
    amounts = expand_prizes(ann["prizes"])
    outcome = run_selection(
        ann["algorithm"],
        seed,
        frozen.weights,
        len(amounts),
        ann["reserves"],
        entropy_source=ann["entropy_source"],
        entropy=raw,
    )

    def public(index: int) -> dict[str, Any]:
        account = frozen.accounts[index]
        return {
            "entrant_index": index,
            "account_masked": mask_account(account),
            "leaf_hash": leaf_hash(
                leaf_bytes(entrant_salt(built.salt_key, account), account, frozen.weights[index])
            ).hex(),
        }

    return {
        "type": "draw.result",
        "version": 2,
        "draw_id": ann["draw_id"],
        "algorithm": ann["algorithm"],
        "announcement_digest": payload_digest(ann),
        "freeze_digest": payload_digest(frz),
        "commitment": ann["commitment"],
        "secret": built.secret.hex(),
        "entropy": value,
        "entropy_digest": hashlib.sha256(raw).hexdigest(),
        "entrant_digest": frz["entrant_digest"],
        "merkle_root": frz["merkle_root"],
        "seed": seed.hex(),
        "drawn_at": built.inputs["drawn_at"],
        "winners": [
            {"prize_index": i, "amount_kopecks": amounts[i], **public(x)}
            for i, x in enumerate(outcome.winners)
        ],
        "reserves": [{"reserve_index": i, **public(x)} for i, x in enumerate(outcome.reserves)],
        "cosignatures": [dict(c) for c in (built.result or {}).get("cosignatures", [])]
        if cosignatures is None
        else [dict(c) for c in cosignatures],
    }


# --------------------------------------------------------------------------------------------- files
def weighted_small() -> dict[str, Any]:
    built = Built(draw_inputs("v2-small", SMALL))
    require(
        forged_result(built) == built.result, "the generator's result replica disagrees with build_result"
    )
    return vector(
        "v2-weighted-small",
        "12 accounts (leading zeros matter: 0740012345 and 740012345 are two accounts), weights responsible=1 "
        "ideal=3, promising and beginner 0 (dropped); keyed entrant order; real quicknet round 3; two witnesses, "
        "quorum 2, each cosigning before the round existed.",
        built,
        expected_of(built, few=12),
        honest_verdict(built),
    )


def exclusions_weight0() -> dict[str, Any]:
    rows = [(e.account, e.tier) for e in sample_entrants("v2-exclusions", 24)]
    ideal = next(a for a, t in rows if t == "ideal")
    beginner = next(a for a, t in rows if t == "beginner")
    exclusions = [
        ideal,
        beginner,
        "0000000000",
    ]  # an eligible account, a weight-0 one, and one not in the snapshot
    built = Built(draw_inputs("v2-exclusions", rows, exclusions=exclusions))
    expected = expected_of(built)
    weights = DEFAULT_TIER_WEIGHTS
    dropped = sorted(a for a, t in rows if weights[t] == 0 and a not in exclusions)
    require(
        all(a not in built.frozen.accounts for a in dropped + exclusions),
        "a weight-0 or excluded account was frozen",
    )
    require(built.announcement["exclusions_count"] == 3, "the exclusion count is not 3")
    expected.update({"dropped_weight_0": dropped, "excluded": sorted(exclusions), "exclusions_count": 3})
    bad = built.bundle()
    bad["exclusions"] = sorted(set(exclusions) - {ideal})
    cases = [
        {
            "name": "exclusion-list-short",
            "description": "The auditor bundle's exclusion list lacks one account: its digest is not the announced "
                           "one.",
            "bundle": bad,
            "verifier": verdict(
                bad,
                {"§5.5 exclusions": (FAIL, "digest mismatch")},
                keyset=built.keyset,
                witnesses=witness_list(built),
            ),
        }
    ]
    return vector(
        "v2-exclusions-weight0",
        "24 sample accounts with all four tiers; beginner and promising have weight 0 and are not in the frozen list; "
        "three exclusions: an ideal account (removed), a beginner account (removed anyway) and an account that is "
        "not in the snapshot. The exclusions digest covers the three sorted distinct accounts.",
        built,
        expected,
        honest_verdict(built),
        cases,
    )


def disqualifications() -> dict[str, Any]:
    rows = [(e.account, e.tier) for e in sample_entrants("v2-disq", 20)]
    inputs = draw_inputs(
        "v2-disq",
        rows,
        prizes=[{"amount_kopecks": 400_000, "count": 1}, {"amount_kopecks": 100_000, "count": 2}],
        reserves=2,
    )
    inputs["disqualifications"] = [
        {"prize_index": 1, "reason": "employee of the retailer", "disqualified_at": "2023-08-24T09:00:00Z"},
        {
            "prize_index": 1,
            "reason": "account closed before the draw",
            "disqualified_at": "2023-08-24T10:00:00Z",
        },
        {"prize_index": 0, "reason": "duplicate customer", "disqualified_at": "2023-08-25T10:00:00Z"},
    ]
    inputs["head_issued_at"] = "2023-08-25T10:00:00Z"
    built = Built(inputs)
    require(
        [r.reserve_index for r in built.replacements] == [0, 1, None],
        "the replacements are not reserve 0, 1, none",
    )
    require(built.holders[0] is None, "prize 0 should stay unawarded once the reserves ran out")
    keyset, trusted = built.keyset, witness_list(built)
    cut = built.bundle()
    cut["disqualifications"] = cut["disqualifications"][:-1]
    backdated = dict(built.disqualifications[0], disqualified_at=built.result["drawn_at"])
    back = built.bundle()
    back["disqualifications"] = [built.signed(backdated)]
    back["head"] = built.signed(build_head(built.result, [backdated], "2023-08-24T09:00:00Z"))
    cases = [
        {
            "name": "last-disqualification-removed",
            "description": "The record without its last disqualification, with the signed head (count 3) it was "
                           "published "
            "with: the head counts 3, the record has 2.",
            "bundle": cut,
            "verifier": verdict(
                cut,
                {"§4.5 head": (FAIL, "counts 3 disqualification(s), the record has 2")},
                keyset=keyset,
                witnesses=trusted,
            ),
        },
        {
            "name": "backdated-disqualification",
            "description": "One disqualification dated at the draw's own time (drawn_at), re-signed with a head over "
                           "it: a "
            "disqualification must be later than the draw.",
            "bundle": back,
            "verifier": verdict(
                back,
                {
                    "§14 disqualifications": (FAIL, "not after the draw"),
                    "§4.5 head": (FAIL, "the disqualifications did not verify"),
                },
                keyset=keyset,
                witnesses=trusted,
            ),
        },
    ]
    return vector(
        "v2-disqualifications",
        "Three prizes, two reserves, three disqualifications: prize 1 passes to reserve 0, then (its new holder "
        "disqualified) to reserve 1; prize 0's holder is then disqualified with no reserve left, so prize 0 stays "
        "unawarded. Each disqualification is chained (previous_digest), numbered (sequence) and counted (count); the "
        "signed head counts 3 and names the last.",
        built,
        expected_of(built),
        verdict(built.bundle(), {}, keyset=keyset, witnesses=trusted),
        cases,
    )


def cancelled() -> dict[str, Any]:
    rows = [(e.account, e.tier) for e in sample_entrants("v2-cancelled", 12)]
    inputs = draw_inputs("v2-cancelled", rows)
    inputs["cancellation"] = {
        "state_before": "frozen",
        "reason": "the snapshot of June was incomplete",
        "cancelled_at": "2023-08-23T15:09:32Z",
        "reason_code": "staff",
        "cosignatures": [],
    }
    built = Built(inputs)
    keyset, trusted = built.keyset, witness_list(built)
    early_inputs = copy.deepcopy(inputs)
    early_inputs["cancellation"] = {
        "state_before": "announced",
        "reason": "the prize budget was withdrawn",
        "cancelled_at": "2023-08-23T15:05:00Z",
        "reason_code": "staff",
        "cosignatures": [],
    }
    early = Built(early_inputs)
    late_payload = dict(built.cancellation, cancelled_at="2023-08-23T15:09:40Z")
    late = built.bundle()
    late["cancellation"] = built.signed(late_payload)
    cases = [
        {
            "name": "cancelled-before-freeze",
            "description": "Cancelled by staff while announced (no freeze record).",
            "inputs": early_inputs,
            "bundle": early.bundle(),
            "verifier": verdict(early.bundle(), {}, keyset=keyset, witnesses=trusted),
        },
        {
            "name": "cancelled-after-entropy",
            "description": "The frozen draw cancelled by staff after its round existed (15:09:40 > 15:09:33): whoever "
                           "held "
            "the secret could know the winners, so the verifier FAILs it.",
            "bundle": late,
            "verifier": verdict(
                late,
                {"§4.7 cancellation.timing": (FAIL, "after its entropy existed")},
                keyset=keyset,
                witnesses=trusted,
            ),
        },
    ]
    return vector(
        "v2-cancelled",
        "A frozen draw cancelled by staff (reason_code staff) at 15:09:32, before quicknet round 3 existed "
        "(15:09:33). Its public record holds the announcement, the freeze and the cancellation; no result.",
        built,
        expected_of(built),
        verdict(built.bundle(), {}, keyset=keyset, witnesses=trusted),
        cases,
    )


def quorum_not_reached() -> dict[str, Any]:
    rows = [(e.account, e.tier) for e in sample_entrants("v2-quorum", 12)]
    inputs = draw_inputs("v2-quorum", rows, witnesses=3, quorum=2)
    inputs["cosignatures"] = [
        {"witness": "Witness 1", "cosigned_at": "2023-08-23T15:09:31Z"},
        {"witness": "Witness 2", "cosigned_at": "2023-08-23T15:09:35Z"},
    ]  # too late
    inputs["cancellation"] = {
        "state_before": "frozen",
        "reason_code": "witness_quorum_not_reached",
        "cancelled_at": "2023-08-23T15:10:33Z",
        "reason": "the witnesses' quorum was not reached before the entropy existed: 1 of 2 valid cosignatures",
        "cosignatures": [0, 1],
    }
    built = Built(inputs)
    trusted = witness_list(built)
    quorum = witness_quorum(built.cosignatures, built.announcement, built.freeze, trusted)
    require(not quorum.met and len(quorum.counted) == 1, "the quorum should not be reached")
    try:
        built.draw(built.cosignatures)
        raise Refused("build_result ran a draw without its quorum")
    except WitnessQuorumNotMet as exc:
        refusal = str(exc)
    expected = expected_of(built)
    expected["draw_step"] = {
        "refused": True,
        "counted": 1,
        "quorum": 2,
        "message_contains": "1 valid cosignature(s) of the freeze, 2 needed",
    }
    require(expected["draw_step"]["message_contains"] in refusal, f"unexpected refusal {refusal!r}")
    reached = copy.deepcopy(inputs)
    reached["cosignatures"][1]["cosigned_at"] = "2023-08-23T15:09:32Z"
    lying = Built(reached)
    cases = [
        {
            "name": "quorum-was-reached",
            "description": "The same cancellation, but the listed cosignatures reach the quorum (both timely): a draw "
                           "that "
            "could have run was cancelled after its round existed, so the verifier FAILs it.",
            "inputs": reached,
            "bundle": lying.bundle(),
            "verifier": verdict(
                lying.bundle(),
                {"§4.7 cancellation.timing": (FAIL, "yet the listed cosignatures reach it")},
                keyset=lying.keyset,
                witnesses=witness_list(lying),
            ),
        }
    ]
    return vector(
        "v2-quorum-not-reached",
        "Three witnesses, quorum 2: Witness 1 cosigned in time, Witness 2 only after quicknet round 3 existed, "
        "Witness 3 never. The draw step refuses to run; the service cancels publicly after the round time with "
        "reason_code witness_quorum_not_reached, listing the two cosignatures it held.",
        built,
        expected,
        verdict(built.bundle(), {}, keyset=built.keyset, witnesses=trusted),
        cases,
    )


def keys_retired_compromised() -> dict[str, Any]:
    rows = [(e.account, e.tier) for e in sample_entrants("v2-keys", 12)]
    inputs = draw_inputs("v2-keys", rows)
    old = key_of(inputs["signing_key"])
    new = new_key("v2-keys", "signing-key-2")
    rotated = "2023-08-24T00:00:00Z"
    inputs["head_signing_key"] = raw_hex(new)
    inputs["keyset"] = {
        "keys": [key_entry(old, "2023-01-01T00:00:00Z", retired=rotated), key_entry(new, rotated)]
    }
    inputs["disqualifications"] = [
        {"prize_index": 2, "reason": "employee of the retailer", "disqualified_at": "2023-08-25T12:00:00Z"}
    ]
    inputs["head_issued_at"] = "2023-08-25T12:00:00Z"
    built = Built(inputs)
    trusted = witness_list(built)
    bundle = built.bundle()

    def with_keyset(keyset: dict[str, Any], source: dict[str, Any] | None = None) -> dict[str, Any]:
        out = copy.deepcopy(source or bundle)
        out["keyset"] = keyset
        return out

    compromised = {
        "keys": [
            key_entry(old, "2023-01-01T00:00:00Z", retired=rotated, compromised="2023-08-23T15:10:00Z"),
            key_entry(new, rotated),
        ]
    }
    late_created = {
        "keys": [key_entry(old, "2023-08-23T15:05:00Z", retired=rotated), key_entry(new, rotated)]
    }
    after_retirement = copy.deepcopy(bundle)
    after_retirement["disqualifications"] = [built.signed(built.disqualifications[0], old)]
    cases = [
        {
            "name": "compromised-key",
            "description": "The same records; the key set says the first key was compromised at 15:10:00, before the "
                           "result "
            "(15:10:33) it signed: the result cannot be trusted.",
            "bundle": with_keyset(compromised),
            "verifier": verdict(
                with_keyset(compromised),
                {"§3.3 signature.result": (FAIL, "compromised at 2023-08-23T15:10:00Z"), "§3.3 rest": SKIP},
                keyset=compromised,
                witnesses=trusted,
            ),
        },
        {
            "name": "record-before-key-created",
            "description": "The key set says the first key was created at 15:05:00, after the announcement (15:00:00) "
                           "it "
            "signed: a backdated record.",
            "bundle": with_keyset(late_created),
            "verifier": verdict(
                with_keyset(late_created),
                {"§3.3 signature.announcement": (FAIL, "backdated"), "§3.3 rest": SKIP},
                keyset=late_created,
                witnesses=trusted,
            ),
        },
        {
            "name": "signed-after-retirement",
            "description": "The disqualification of 2023-08-25 signed with the first key, retired on 2023-08-24.",
            "bundle": after_retirement,
            "verifier": verdict(
                after_retirement,
                {
                    "§14 disqualifications": (FAIL, "after its retirement"),
                    "§4.5 head": (FAIL, "the disqualifications did not verify"),
                },
                keyset=built.keyset,
                witnesses=trusted,
            ),
        },
    ]
    return vector(
        "v2-keys-retired-compromised",
        "Key rotation: the first key (created 2023-01-01, retired 2023-08-24) signed the announcement, freeze and "
        "result; the second key (created 2023-08-24) signed the later disqualification and head. A retired key still "
        "verifies what it signed before its retirement: everything PASSes.",
        built,
        expected_of(built),
        verdict(bundle, {}, keyset=built.keyset, witnesses=trusted),
        cases,
    )


def proofs() -> dict[str, Any]:
    rows = [(e.account, e.tier) for e in sample_entrants("v2-proofs", 20)]
    built = Built(draw_inputs("v2-proofs", rows))
    acc = built.frozen.accounts
    winner, reserve = acc[built.outcome.winners[0]], acc[built.outcome.reserves[0]]
    plain = next(a for a in acc if a not in {acc[i] for i in built.outcome.winners + built.outcome.reserves})
    bundle = built.bundle()
    draw_id = built.announcement["draw_id"]
    items = []
    for account, status in (
        (winner, "winner of prize 0 (400000 kopecks)"),
        (reserve, "reserve 0"),
        (plain, "an entrant"),
    ):
        proof = built.frozen.proof_for(draw_id, account, built.salt_key).as_json()
        require(
            proof["salt"] == entrant_salt(built.salt_key, account).hex(),
            "the proof's salt is not the entrant salt",
        )
        lines = [c.line() for c in verify_proof(bundle, proof, built.keyset)]
        require(
            lines[0] == "PASS §6 proof.freeze_signature"
            and lines[1].startswith("PASS §6 proof.inclusion")
            and lines[1].endswith(status),
            f"verify_proof says {lines}",
        )
        items.append(
            {
                "account": account,
                "proof": proof,
                "leaf_hash": built.frozen.leaf_hashes[proof["leaf_index"]].hex(),
                "check_code": check_code(built.salt_key, draw_id, account),
                "verifier": lines,
            }
        )
    tampered = dict(items[2]["proof"], weight=items[2]["proof"]["weight"] + 1)
    tampered_lines = [c.line() for c in verify_proof(bundle, tampered, built.keyset)]
    require(
        tampered_lines[1].startswith("FAIL §6 proof.inclusion"), f"a tampered proof passed: {tampered_lines}"
    )
    expected = expected_of(built, code_accounts=[winner, reserve, plain, "0000000000"])
    expected["proofs"] = items
    expected["tampered_proof"] = {
        "proof": tampered,
        "verifier": [line.split(":")[0] for line in tampered_lines],
    }
    expected["non_entrant"] = {
        "account": "0000000000",
        "check_code": check_code(built.salt_key, draw_id, "0000000000"),
    }
    return vector(
        "v2-proofs",
        "Inclusion proofs with their salts (HMAC-SHA256(salt_key, account)[:16]) for the winner of prize 0, reserve 0 "
        "and "
        "an entrant who won nothing; a tampered proof (weight + 1) that fails; check codes for the three and for a "
        "non-entrant (every account has a code).",
        built,
        expected,
        honest_verdict(built),
    )


# Masks fixed by hand from the rule: six asterisks, then the last min(4, len // 2) code points.
MASKS = {
    "7": "******",
    "42": "******2",
    "123": "******3",
    "1234": "******34",
    "12345": "******45",
    "123456": "******456",
    "1234567": "******567",
    "12345678": "******5678",
    "Ёлка-001": "******-001",
    "東京-7": "******-7",
    "naïve": "******ve",
    "🎉1": "******1",
    "Ω": "******",
    "ab cd": "******cd",
}


def accounts_nonascii_short() -> dict[str, Any]:
    rows = [(a, "ideal" if n % 2 else "responsible") for n, a in enumerate(MASKS)]
    built = Built(
        draw_inputs("v2-nonascii", rows, prizes=[{"amount_kopecks": 50_000, "count": 5}], reserves=5)
    )
    for account, mask in MASKS.items():
        require(
            mask_account(account) == mask,
            f"mask_account({account!r}) is {mask_account(account)!r}, not {mask!r}",
        )
    expected = expected_of(built, few=len(MASKS), code_accounts=["Ёлка-001", "7"])
    expected["masks"] = MASKS
    expected["utf8_lengths"] = {a: len(a.encode("utf-8")) for a in MASKS}
    return vector(
        "v2-accounts-nonascii-short",
        "Accounts of 1 to 8 characters and non-ASCII accounts (Cyrillic, Polish, Japanese, an emoji outside the BMP): "
        "the mask shows min(4, length // 2) trailing code points, so an account under 8 characters never shows whole; "
        "order keys, leaves and the entrant encoding use the UTF-8 bytes.",
        built,
        expected,
        honest_verdict(built),
    )


RFC3797_SOURCES = [
    "State lottery 'Gosloto 5 iz 36', draw of 2023-08-24",
    "Moscow Exchange IMOEX close of 2023-08-24, in index points",
    "Exchange rates of 2023-08-24",
]
TRAILING = [["2871.450"], ["7.0", "0.10"], ["5", "17", "3"]]
# By hand, as RFC 3797's reference code writes them: an integer is followed by ".", a value with a fraction is
# "whole.fraction" without trailing zeros and without a terminating "." (7.0 becomes the integer form "7."); the
# values of a source are sorted numerically. So "0.1" then "7." read "0.17.", which is also the key of the
# integers [0, 17]: RFC 3797's key is not injective once fractions occur (both give the same seed, so nothing
# can be chosen by it, but an implementation must not "fix" it).
TRAILING_KEY = "2871.45/0.17./3.5.17./"


def rfc3797_trailing_zeros() -> dict[str, Any]:
    rows = [(e.account, e.tier) for e in sample_entrants("v2-rfc-zeros", 20)]
    source = rfc3797_source(RFC3797_SOURCES, "2023-08-24T20:00:00Z")
    weights = {"beginner": 0, "promising": 1, "responsible": 1, "ideal": 1}
    built = Built(
        draw_inputs(
            "v2-rfc-zeros",
            rows,
            tier_weights=weights,
            algorithm=ALGORITHM_RFC3797,
            entropy_source=source,
            entropy={"type": "rfc3797", "sources": TRAILING},
            reserves=2,
        )
    )
    require(canonical_key(TRAILING) == TRAILING_KEY, f"canonical_key gives {canonical_key(TRAILING)!r}")
    plain = [["2871.45"], ["0.1", "7"], ["5", "17", "3"]]
    require(canonical_key(plain) == TRAILING_KEY, "numbers without trailing zeros give another key")
    expected = expected_of(built)
    seed = bytes.fromhex(expected["seed"])
    require(
        expected["rfc3797_key"] == f"{TRAILING_KEY}{int.from_bytes(seed, 'big')}./",
        "the draw key is not public key + seed",
    )
    steps = rfc3797_steps(
        expected["rfc3797_key"],
        built.freeze["count"],
        len(built.outcome.winners) + len(built.outcome.reserves),
    )
    same = [["2871.45"], ["0", "17"], ["5", "17", "3"]]
    require(canonical_key(same) == TRAILING_KEY, "[0, 17] should give the key of [0.1, 7]")
    expected.update(
        {
            "public_key": TRAILING_KEY,
            "canonical_values": {v: canonical_value(v)[1] for source in TRAILING for v in source},
            "equivalent_sources": plain,
            "same_key_sources": same,
            "steps": [
                {"index": s.index, "md5": s.md5_hex, "divisor": s.divisor, "selected": s.selected}
                for s in steps
            ],
        }
    )
    require(
        [s.selected - 1 for s in steps] == built.outcome.winners + built.outcome.reserves,
        "steps disagree with the draw",
    )
    return vector(
        "v2-rfc3797-trailing-zeros",
        "RFC 3797 mode with public numbers written with trailing zeros (2871.450, 0.10, 7.0): as in RFC 3797's "
        "reference code an integer is written 'n.', a fraction 'whole.fraction' without trailing zeros and without a "
        "terminating '.', and 7.0 becomes '7.'; numbers of a source are sorted numerically. The key equals that of "
        "2871.45, 0.1, 7 (equivalent_sources) and also that of the integers 0, 17 (same_key_sources: the RFC's key is "
        "not injective once fractions occur). The draw key appends decimal(int(seed)) + './' as a last source.",
        built,
        expected,
        honest_verdict(built, {"§7.2 entropy.beacon": (SKIP, "public numbers not verified here")}),
    )


def rfc3797_mode_drand() -> dict[str, Any]:
    rows = [(e.account, e.tier) for e in sample_entrants("v2-rfc-drand", 20)]
    weights = {"beginner": 0, "promising": 1, "responsible": 1, "ideal": 1}
    built = Built(
        draw_inputs("v2-rfc-drand", rows, tier_weights=weights, algorithm=ALGORITHM_RFC3797, reserves=2)
    )
    expected = expected_of(built)
    seed = bytes.fromhex(expected["seed"])
    require(
        expected["rfc3797_key"] == f"{int.from_bytes(seed, 'big')}./",
        "with drand entropy the key is the seed alone",
    )
    steps = rfc3797_steps(
        expected["rfc3797_key"],
        built.freeze["count"],
        len(built.outcome.winners) + len(built.outcome.reserves),
    )
    expected["steps"] = [
        {"index": s.index, "md5": s.md5_hex, "divisor": s.divisor, "selected": s.selected} for s in steps
    ]
    return vector(
        "v2-rfc3797-mode-drand",
        "Algorithm rfc3797-md5/1 (unweighted) with drand entropy (real quicknet round 3): there are no public numbers, "
        "so the RFC 3797 key is the seed alone, decimal(int(seed)) + './'; RFC 3797 selection by MD5 of "
        "BE16(i) || key || BE16(i).",
        built,
        expected,
        honest_verdict(built),
    )


def quicknet_real() -> dict[str, Any]:
    rows = [(e.account, e.tier) for e in sample_entrants("v2-quicknet", 16)]
    built = Built(draw_inputs("v2-quicknet", rows))
    expected = expected_of(built)
    signature = bytes.fromhex(QUICKNET_SIGNATURES[3])
    expected["drand"] = {
        "chain": QUICKNET.as_json(),
        "round": 3,
        "round_time": format_timestamp(QUICKNET.round_time(3)),
        "message": round_message(QUICKNET, 3, None).hex(),
        "signature": signature.hex(),
        "randomness": hashlib.sha256(signature).hexdigest(),
    }
    require(
        expected["drand"]["message"] == hashlib.sha256((3).to_bytes(8, "big")).hexdigest(), "quicknet message"
    )
    trusted = witness_list(built)
    forged_signature = hashlib.sha384(b"forged quicknet round 3").hexdigest()  # 48 bytes of valid-looking hex
    forged_value = {
        "type": "drand",
        "round": 3,
        "randomness": hashlib.sha256(bytes.fromhex(forged_signature)).hexdigest(),
        "signature": forged_signature,
    }
    forged = resigned_result(built, forged_result(built, entropy=forged_value))
    replayed_value = {
        "type": "drand",
        "round": 3,
        "randomness": hashlib.sha256(bytes.fromhex(QUICKNET_SIGNATURES[2])).hexdigest(),
        "signature": QUICKNET_SIGNATURES[2],
    }
    replayed = resigned_result(built, forged_result(built, entropy=replayed_value))
    cases = [
        {
            "name": "forged-round",
            "description": "A made-up round 3: 48 bytes of valid-looking hex, randomness = SHA-256 of it, the result "
            "recomputed and re-signed: every digest holds, the BLS check FAILs.",
            "entropy": forged_value,
            "bundle": forged,
            "verifier": verdict(
                forged,
                {"§7.1 entropy.beacon": (FAIL, "is not signed by the chain")},
                keyset=built.keyset,
                witnesses=trusted,
            ),
        },
        {
            "name": "round-2-signature-as-round-3",
            "description": "The real signature of round 2 presented as round 3: a genuine signature, of another "
                           "message.",
            "entropy": replayed_value,
            "bundle": replayed,
            "verifier": verdict(
                replayed,
                {"§7.1 entropy.beacon": (FAIL, "is not signed by the chain")},
                keyset=built.keyset,
                witnesses=trusted,
            ),
        },
    ]
    return vector(
        "v2-quicknet-real",
        "Real League of Entropy quicknet round 3 (bls-unchained-g1-rfc9380: 48-byte signature on G1, message "
        "SHA-256(u64_be(round))), announced by a freeze at 15:09:30 (round 2's time) with delay 0; the BLS check "
        "passes. Two forgeries FAIL the beacon check.",
        built,
        expected,
        honest_verdict(built),
        cases,
    )


def mainnet_chained_real() -> dict[str, Any]:
    rows = [(e.account, e.tier) for e in sample_entrants("v2-mainnet", 16)]
    freeze_unix = MAINNET.genesis_time + 10  # in round 1; + delay 30 lies in round 2, so round 3 is announced
    source = drand_source(MAINNET, freeze_unix, 30)
    require(source["round"] == 3, f"the mainnet source announces round {source['round']}")
    built = Built(
        draw_inputs(
            "v2-mainnet",
            rows,
            entropy_source=source,
            entropy=mainnet_value(3),
            announced_at=format_timestamp(freeze_unix - 3600),
            freeze_at=format_timestamp(freeze_unix),
            keyset_created="2020-01-01T00:00:00Z",
        )
    )
    expected = expected_of(built)
    previous = bytes.fromhex(MAINNET_SIGNATURES[2])
    expected["drand"] = {
        "chain": MAINNET.as_json(),
        "round": 3,
        "delay": 30,
        "round_time": format_timestamp(MAINNET.round_time(3)),
        "previous_signature": previous.hex(),
        "message": round_message(MAINNET, 3, previous).hex(),
        "signature": MAINNET_SIGNATURES[3],
        "randomness": hashlib.sha256(bytes.fromhex(MAINNET_SIGNATURES[3])).hexdigest(),
    }
    require(
        expected["drand"]["message"] == hashlib.sha256(previous + (3).to_bytes(8, "big")).hexdigest(),
        "mainnet message",
    )
    return vector(
        "v2-mainnet-chained-real",
        "Real League of Entropy default-network ('mainnet') round 3 (pedersen-bls-chained: 96-byte signature on G2, "
        "message SHA-256(previous_signature || u64_be(round))). Sample freeze at genesis + 10 s with a delay of 30 s: "
        "the first round strictly after freeze + delay is round 3 (genesis + 60 s).",
        built,
        expected,
        honest_verdict(built),
    )


def uniform_trace(seed: bytes, weights: Sequence[int], count: int) -> list[dict[str, Any]]:
    """Each ``uniform_below(n)`` call of the weighted selection: n, the words read, the value returned."""
    calls: list[dict[str, Any]] = []
    original = ByteStream.uniform_below

    class Recorder(ByteStream):
        def uniform_below(self, n: int) -> int:
            before, rejections = self.bytes_consumed, self.rejections
            value = original(self, n)
            calls.append(
                {
                    "n": n,
                    "words_per_attempt": words_needed(n),
                    "acceptance_limit": acceptance_limit(n),
                    "bytes_from": before,
                    "bytes_to": self.bytes_consumed,
                    "rejections": self.rejections - rejections,
                    "value": value,
                }
            )
            return value

    from draws.fenwick import select_weighted

    select_weighted(weights, count, Recorder(seed))
    return calls


def rejection_one_word() -> dict[str, Any]:
    rows = [("1000000001", "ideal"), ("1000000002", "responsible"), ("1000000003", "promising")]
    weights = {"beginner": 0, "promising": 2**61, "responsible": 2**62 + 3, "ideal": 2**62 + 1}
    total = sum(weights[t] for _, t in rows)
    require(2**63 < total < 2**64, "the total weight must fit one word and sit above 2**63")
    for attempt in range(200):
        built = Built(
            draw_inputs(
                f"v2-rejection-{attempt}",
                rows,
                tier_weights=weights,
                prizes=[{"amount_kopecks": 1, "count": 1}],
                reserves=2,
            )
        )
        seed = bytes.fromhex(built.result["seed"])
        trace = uniform_trace(seed, built.frozen.weights, 3)
        if trace[0]["rejections"] >= 1:
            break
    else:
        raise Refused("no label gave a rejection in the first selection")
    require(
        sum(c["rejections"] for c in trace) == built.outcome.rejections, "the trace disagrees with the draw"
    )
    expected = expected_of(built, few=3)
    expected.update(
        {
            "attempts_searched": attempt + 1,
            "uniform_below_calls": trace,
            "stream_blocks": first_blocks(seed, 4),
        }
    )
    return vector(
        "v2-rejection-one-word",
        f"Three entrants whose total weight {total} lies between 2**63 and 2**64: one 64-bit word per attempt, and "
        "uniform_below rejects words at or above 2**64 - (2**64 mod n) (about 37% here). The label is the first of "
        f"'v2-rejection-0', '-1', ... whose first selection rejects at least one word ({attempt + 1} tried); "
        "uniform_below_calls lists every call with the stream bytes it consumed.",
        built,
        expected,
        honest_verdict(built),
    )


def witnesses_vector() -> dict[str, Any]:
    rows = [(e.account, e.tier) for e in sample_entrants("v2-witnesses", 16)]
    inputs = draw_inputs("v2-witnesses", rows, witnesses=3, quorum=2)
    inputs["cosignatures"] = [
        {"witness": "Witness 1", "cosigned_at": "2023-08-23T15:09:31Z"},
        {"witness": "Witness 3", "cosigned_at": "2023-08-23T15:09:32Z"},
    ]
    built = Built(inputs)
    trusted = witness_list(built)
    ann, frz = built.announcement, built.freeze
    w = built.witness_keys
    operator = built.key
    entropy_time = format_timestamp(entropy_available_at(ann["entropy_source"]))
    valid1 = cosign(w["Witness 1"], "Witness 1", ann, frz, "2023-08-23T15:09:31Z")
    cases_spec: list[tuple[str, str, list[dict[str, Any]], str]] = [
        (
            "late",
            f"Witness 2 cosigned at {entropy_time}, when round 3 already existed.",
            [valid1, cosign(w["Witness 2"], "Witness 2", ann, frz, entropy_time)],
            "not before the entropy existed",
        ),
        (
            "early",
            "Witness 2 cosigned at 15:09:29, before the announced freeze time 15:09:30.",
            [valid1, cosign(w["Witness 2"], "Witness 2", ann, frz, "2023-08-23T15:09:29Z")],
            "before the announced freeze time",
        ),
        (
            "wrong-key",
            "A 'Witness 2' cosignature made with the operator's own signing key.",
            [
                valid1,
                sign_payload(
                    operator,
                    dict(cosign(w["Witness 2"], "Witness 2", ann, frz, "2023-08-23T15:09:32Z")["payload"]),
                ),
            ],
            "not a witness of this draw",
        ),
        (
            "duplicate",
            "Witness 1 cosigned twice; nobody else did.",
            [valid1, cosign(w["Witness 1"], "Witness 1", ann, frz, "2023-08-23T15:09:32Z")],
            "already counted",
        ),
    ]
    cases = []
    for name, description, cosignatures, text in cases_spec:
        try:
            built.draw(cosignatures)
            raise Refused(f"build_result ran the {name!r} case")
        except WitnessQuorumNotMet:
            pass
        bundle = resigned_result(built, forged_result(built, cosignatures=cosignatures))
        case = {
            "name": name,
            "description": description + " The draw step refuses; a result listing these "
            "cosignatures, signed anyway, FAILs with or without the auditor's witness list.",
            "cosignatures": cosignatures,
            "draw_step_refused": True,
            "bundle": bundle,
            "verifier": verdict(
                bundle, {"§8 witnesses": (FAIL, text)}, keyset=built.keyset, witnesses=trusted
            ),
            "verifier_without_witness_list": verdict(
                bundle, {"§8 witnesses": (FAIL, text)}, keyset=built.keyset, witnesses=None
            ),
        }
        cases.append(case)
    # The re-freeze attack of issue 11: an entrant replaced after the round, the freeze re-signed with the old
    # frozen_at, the winners recomputed; the witnesses' cosignatures are of the original freeze.
    winners = {built.frozen.accounts[i] for i in built.outcome.winners}
    victim = next(e.account for e in built.eligible if e.account not in winners and e.weight > 0)
    swapped = [Entrant("8888888888", e.tier, e.weight) if e.account == victim else e for e in built.eligible]
    refrozen = freeze_entrants(swapped, built.salt_key)
    refreeze = build_freeze(ann, refrozen, inputs["frozen_at"])
    require(refreeze["entrant_digest"] != frz["entrant_digest"], "the re-freeze did not change the list")
    forged = forged_result(built, freeze=refreeze, frozen=refrozen, cosignatures=built.result["cosignatures"])
    attack = built.bundle()
    attack["freeze"] = built.signed(refreeze)
    attack["result"] = built.signed(forged)
    attack["entrants"] = {"accounts": refrozen.accounts, "tiers": refrozen.tiers, "weights": refrozen.weights}
    attack["head"] = built.signed(build_head(forged, [], inputs["head_issued_at"]))
    cases.append(
        {
            "name": "re-freeze",
            "description": "The re-freeze attack: one entrant replaced by 8888888888 after the round was "
            "known, the freeze re-signed with the old frozen_at, the result recomputed and re-signed with the instance "
            "key. "
            "The witnesses' cosignatures are of the original freeze record.",
            "bundle": attack,
            "verifier": verdict(
                attack,
                {"§8 witnesses": (FAIL, "cosigns another freeze record")},
                keyset=built.keyset,
                witnesses=trusted,
            ),
        }
    )
    # A re-signed announcement naming a witness key the operator holds: only the auditor's own list catches it.
    fake = new_key("v2-witnesses", "operator-held-witness")
    sub_inputs = copy.deepcopy(inputs)
    sub_inputs["witnesses"][1]["private_key"] = raw_hex(fake)
    sub_inputs["cosignatures"] = [
        {"witness": "Witness 1", "cosigned_at": "2023-08-23T15:09:31Z"},
        {"witness": "Witness 2", "cosigned_at": "2023-08-23T15:09:32Z"},
    ]
    substituted = Built(sub_inputs)
    cases.append(
        {
            "name": "substituted-key",
            "description": "The announcement names, as Witness 2, a key the operator holds (not the "
            "one Witness 2 gave the auditor). Against the keys the announcement names it looks fine (WARN: unchecked); "
            "against the auditor's witness list it FAILs.",
            "inputs": sub_inputs,
            "bundle": substituted.bundle(),
            "verifier": verdict(
                substituted.bundle(),
                {"§8 witnesses": (FAIL, "not in your witness list")},
                keyset=substituted.keyset,
                witnesses=trusted,
            ),
            "verifier_without_witness_list": verdict(
                substituted.bundle(), {"§8 witnesses": WARN}, keyset=substituted.keyset, witnesses=None
            ),
        }
    )
    expected = expected_of(built)
    quorum = witness_quorum(built.cosignatures, ann, frz, trusted)
    expected["quorum"] = {
        "counted": [c["payload"]["witness"]["name"] for c in quorum.counted],
        "met": quorum.met,
    }
    expected["entropy_available_at"] = entropy_time
    return vector(
        "v2-witnesses",
        "Three witnesses, quorum 2. Valid: Witness 1 and Witness 3 cosign the freeze at 15:09:31 and 15:09:32, at or "
        "after freeze_at (15:09:30) and before quicknet round 3 (15:09:33); PASS with the auditor's witness list, WARN "
        "without it. Cases: late, early, wrong key, duplicate, the re-freeze attack, a substituted witness key.",
        built,
        expected,
        honest_verdict(built),
        cases
        + [
            {
                "name": "valid-without-witness-list",
                "description": "The valid draw checked without the auditor's list.",
                "bundle": built.bundle(),
                "verifier": verdict(
                    built.bundle(),
                    {"§8 witnesses": (WARN, "pass the witnesses' own keys")},
                    keyset=built.keyset,
                    witnesses=None,
                ),
            },
            unwitnessed_case(rows),
        ],
    )


def unwitnessed_case(rows: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """A draw announced with quorum 0 and marked unwitnessed: allowed, and the verifier says so in words."""
    built = Built(draw_inputs("v2-unwitnessed", rows, witnesses=0))
    require(built.announcement["witnesses"] == {"quorum": 0, "keys": [], "unwitnessed": True}, "not unwitnessed")
    return {
        "name": "unwitnessed",
        "description": "Another draw of the same snapshot announced with quorum 0 and marked unwitnessed: nothing "
        "outside the service fixes its freeze time, and the verifier WARNs in words.",
        "inputs": built.inputs,
        "bundle": built.bundle(),
        "verifier": verdict(
            built.bundle(), {"§8 witnesses": (WARN, "UNWITNESSED draw")}, keyset=built.keyset, witnesses=[]
        ),
    }


GENERATORS = (
    weighted_small,
    exclusions_weight0,
    disqualifications,
    cancelled,
    quorum_not_reached,
    keys_retired_compromised,
    proofs,
    accounts_nonascii_short,
    rfc3797_trailing_zeros,
    rfc3797_mode_drand,
    quicknet_real,
    mainnet_chained_real,
    rejection_one_word,
    witnesses_vector,
)


def render(document: Mapping[str, Any]) -> str:
    """The file text: canonical key order, one-space indent, UTF-8 (non-ASCII accounts stay readable)."""
    return json.dumps(json.loads(canonical_json(document)), indent=1, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    out = Path(args[0]) if args else OUT
    documents = [make() for make in GENERATORS]  # all checked before any file is written
    out.mkdir(parents=True, exist_ok=True)
    for document in documents:
        path = out / f"{document['name']}.json"
        path.write_text(render(document), encoding="utf-8")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
