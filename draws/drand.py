"""drand beacon rounds: chain parameters and the BLS12-381 check of a round's signature.

A drand round is ``{"round": R, "signature": S, "randomness": SHA-256(S)}`` (chained networks add
``previous_signature``). The randomness is only as good as the signature: anyone can make up bytes
``S`` and publish ``SHA-256(S)``. This module checks that ``S`` is the chain's threshold-BLS signature
of round ``R`` under the chain's group public key, so a made-up round is refused.

Schemes (the two the League of Entropy runs; the chain info names one):

``bls-unchained-g1-rfc9380`` (quicknet)
    Signature on G1 (48 bytes compressed), public key on G2 (96 bytes compressed).
    Message ``m = SHA-256(u64_be(R))``; ``H(m)`` = RFC 9380 hash to G1 with DST
    ``BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_``. Valid iff ``e(pk, H(m)) == e(g2, S)``.

``pedersen-bls-chained`` (the default network, "mainnet")
    Signature on G2 (96 bytes), public key on G1 (48 bytes).
    Message ``m = SHA-256(previous_signature || u64_be(R))``; ``H(m)`` = hash to G2 with DST
    ``BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_NUL_``. Valid iff ``e(g1, S) == e(pk, H(m))``.

Points use the zcash compressed encoding (flag bits in the top three bits of the first byte); a
signature or key that does not decompress, is the point at infinity or lies outside the prime-order
subgroup is refused before the pairing. The pairing equation is evaluated as one product of two Miller
loops and a single final exponentiation compared with 1.

Pure: stdlib and ``py_ecc`` (pure Python, the reference backend; a check costs 0.3-0.9 s, so verdicts
are cached). When the compiled ``drand_verify`` is importable it accepts valid rounds in ~5 ms; every
refusal is still decided, and explained, by py_ecc. No Flask, no SQLAlchemy.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from draws.errors import DrawError

SCHEME_UNCHAINED_G1 = "bls-unchained-g1-rfc9380"
SCHEME_CHAINED = "pedersen-bls-chained"

DST_G1 = b"BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_"
DST_G2 = b"BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_NUL_"

G1_BYTES = 48
G2_BYTES = 96

_HEX = re.compile(r"[0-9a-f]*\Z")
_CHAIN_KEYS = ("name", "chain_hash", "public_key", "scheme", "period", "genesis_time")
_VALUE_KEYS = {"type", "round", "randomness", "signature", "previous_signature"}
_MAX_ROUND = 2**64 - 1  # the round enters the message as an unsigned 64-bit integer


class BeaconInvalid(DrawError):
    """A drand chain description or round that is malformed or whose BLS signature does not verify."""


@dataclass(frozen=True, slots=True)
class _Scheme:
    signature_size: int
    public_key_size: int
    chained: bool


SCHEMES: dict[str, _Scheme] = {
    SCHEME_UNCHAINED_G1: _Scheme(signature_size=G1_BYTES, public_key_size=G2_BYTES, chained=False),
    SCHEME_CHAINED: _Scheme(signature_size=G2_BYTES, public_key_size=G1_BYTES, chained=True),
}


def _positive_int(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise BeaconInvalid(f"drand chain {field} must be a positive integer, got {value!r}")
    return value


def _hex_field(value: Any, field: str, size: int) -> str:
    """``value`` as lower-case hex of exactly ``size`` bytes, else :class:`BeaconInvalid` naming ``field``."""
    if not isinstance(value, str) or not _HEX.match(value):
        raise BeaconInvalid(f"{field} must be lower-case hexadecimal, got {str(value)[:120]!r}")
    if len(value) != 2 * size:
        raise BeaconInvalid(f"{field} must be {size} bytes ({2 * size} hex digits), got {len(value)} digits")
    return value


def _round_number(value: Any, field: str = "drand round") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= _MAX_ROUND:
        raise BeaconInvalid(f"{field} must be an integer from 1 to 2**64-1, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class DrandChain:
    """The full public description of a drand chain: enough to compute round times and check rounds.

    Every field is validated on construction (:class:`BeaconInvalid` names the field).
    """

    name: str
    chain_hash: str
    public_key: str
    scheme: str
    period: int
    genesis_time: int

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip() or len(self.name) > 100:
            raise BeaconInvalid(f"drand chain name must be a non-empty string (<= 100 chars): {self.name!r}")
        if self.scheme not in SCHEMES:
            known = ", ".join(sorted(SCHEMES))
            raise BeaconInvalid(f"drand chain scheme {self.scheme!r} is not supported (known: {known})")
        _hex_field(self.chain_hash, "drand chain chain_hash", 32)
        key_size = SCHEMES[self.scheme].public_key_size
        _hex_field(self.public_key, f"drand chain public_key (scheme {self.scheme})", key_size)
        _positive_int(self.period, "period")
        _positive_int(self.genesis_time, "genesis_time")

    @property
    def signature_size(self) -> int:
        """Bytes of a round's signature: 48 (G1) unchained, 96 (G2) chained."""
        return SCHEMES[self.scheme].signature_size

    @property
    def chained(self) -> bool:
        """Whether a round's message includes the previous round's signature."""
        return SCHEMES[self.scheme].chained

    def round_at(self, unix_time: int) -> int:
        """The round current at ``unix_time``: 0 before genesis, else ``floor((t - genesis)/period) + 1``."""
        if unix_time < self.genesis_time:
            return 0
        return int((unix_time - self.genesis_time) // self.period) + 1

    def round_time(self, round_number: int) -> int:
        """Unix time at which ``round_number`` (>= 1) is produced: ``genesis + (round - 1) * period``."""
        _round_number(round_number)
        return self.genesis_time + (round_number - 1) * self.period

    def first_round_after(self, unix_time: int) -> int:
        """The first round produced strictly after ``unix_time`` (round 1 before genesis)."""
        return self.round_at(unix_time) + 1

    def as_json(self) -> dict[str, Any]:
        """The chain as a JSON object with exactly the six fields."""
        return {
            "name": self.name,
            "chain_hash": self.chain_hash,
            "public_key": self.public_key,
            "scheme": self.scheme,
            "period": self.period,
            "genesis_time": self.genesis_time,
        }

    @classmethod
    def from_json(cls, data: Any) -> DrandChain:
        """Inverse of :meth:`as_json`; a missing, unknown or malformed field raises :class:`BeaconInvalid`."""
        if not isinstance(data, dict):
            raise BeaconInvalid("the drand chain description must be a JSON object")
        missing = [key for key in _CHAIN_KEYS if key not in data]
        if missing:
            raise BeaconInvalid(f"drand chain description lacks {', '.join(missing)}")
        extra = sorted(str(key) for key in data if key not in _CHAIN_KEYS)
        if extra:
            raise BeaconInvalid(f"drand chain description has unknown fields: {', '.join(extra)}")
        return cls(**{key: data[key] for key in _CHAIN_KEYS})


# Public parameters of the League of Entropy networks (https://api.drand.sh/<chain_hash>/info).
KNOWN_CHAINS: dict[str, DrandChain] = {
    "quicknet": DrandChain(
        name="quicknet",
        chain_hash="52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971",
        public_key=(
            "83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c"
            "8c4b450b6a0a6c3ac6a5776a2d1064510d1fec758c921cc22b0e17e63aaf4bcb"
            "5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76eae8991ef5ece45a"
        ),
        scheme=SCHEME_UNCHAINED_G1,
        period=3,
        genesis_time=1692803367,
    ),
    "mainnet": DrandChain(
        name="mainnet",
        chain_hash="8990e7a9aaed2ffed73dbd7092123d6f289930540d7651336225dc172e51b2ce",
        public_key="868f005eb8e6e4ca0a47c8a77ceaa5309a47978a7c71bc5cce96366b5d7a569937c529eeda66c7293784a9402801af31",
        scheme=SCHEME_CHAINED,
        period=30,
        genesis_time=1595431050,
    ),
}


def known_chain(info: Any) -> DrandChain | None:
    """The known chain whose full description (all six fields, same types) equals ``info``; else None."""
    try:
        chain = DrandChain.from_json(info)
    except BeaconInvalid:
        return None
    return next((known for known in KNOWN_CHAINS.values() if known == chain), None)


def round_message(chain: DrandChain, round_number: int, previous_signature: bytes | None) -> bytes:
    """The 32-byte message the group signs for a round.

    Unchained: ``SHA-256(u64_be(round))``. Chained: ``SHA-256(previous_signature || u64_be(round))``,
    where round 1's "previous signature" is the chain's genesis seed.
    """
    _round_number(round_number)
    counter = round_number.to_bytes(8, "big")
    if not chain.chained:
        if previous_signature is not None:
            raise BeaconInvalid(f"chain {chain.name} is unchained: a round has no previous signature")
        return hashlib.sha256(counter).digest()
    if not isinstance(previous_signature, bytes) or not previous_signature:
        raise BeaconInvalid(
            f"chain {chain.name} is chained: round {round_number} needs the previous signature"
        )
    if round_number > 1 and len(previous_signature) != chain.signature_size:
        raise BeaconInvalid(
            f"previous signature must be {chain.signature_size} bytes on chain {chain.name}, "
            f"got {len(previous_signature)}"
        )
    return hashlib.sha256(previous_signature + counter).digest()


# --- BLS12-381 with py_ecc ---------------------------------------------------------------------------
# Imported lazily: most callers only compute round times.


def _decompress(data: bytes, group: str, what: str) -> Any:
    """A G1 or G2 point from its compressed encoding, checked: on the curve, not infinity, in the subgroup."""
    from py_ecc.bls.g2_primitives import pubkey_to_G1, signature_to_G2, subgroup_check
    from py_ecc.optimized_bls12_381 import is_inf

    try:
        point = pubkey_to_G1(data) if group == "G1" else signature_to_G2(data)
    except (ValueError, AssertionError) as exc:  # py_ecc reports bad encodings with these
        raise BeaconInvalid(f"{what} is not a valid compressed {group} point: {exc}") from exc
    if is_inf(point):
        raise BeaconInvalid(f"{what} is the point at infinity")
    if not subgroup_check(point):
        raise BeaconInvalid(f"{what} is not in the prime-order subgroup of {group}")
    return point


@lru_cache(maxsize=16)
def _public_key_point(scheme: str, public_key: bytes) -> Any:
    group = "G1" if SCHEMES[scheme].public_key_size == G1_BYTES else "G2"
    return _decompress(public_key, group, "the chain's public key")


def _pairing_check(scheme: str, public_key: bytes, message: bytes, signature: bytes) -> str | None:
    """None if the signature verifies; else the reason. Lengths are checked by the caller."""
    from py_ecc.bls.hash_to_curve import hash_to_G1, hash_to_G2
    from py_ecc.fields import optimized_bls12_381_FQ12 as FQ12
    from py_ecc.optimized_bls12_381 import G1, G2, final_exponentiate, neg, pairing

    try:
        pk = _public_key_point(scheme, public_key)
        if SCHEMES[scheme].chained:
            sig = _decompress(signature, "G2", "the round's signature")
            # e(g1, S) == e(pk, H(m))  <=>  e(g1, S) * e(-pk, H(m)) == 1 ; py_ecc's pairing takes (G2, G1).
            hashed = hash_to_G2(message, DST_G2, hashlib.sha256)
            product = pairing(sig, G1, False) * pairing(hashed, neg(pk), False)  # False: no final exp.
        else:
            sig = _decompress(signature, "G1", "the round's signature")
            # e(pk, H(m)) == e(g2, S)  <=>  e(pk, H(m)) * e(-g2, S) == 1
            hashed = hash_to_G1(message, DST_G1, hashlib.sha256)
            product = pairing(pk, hashed, False) * pairing(neg(G2), sig, False)
    except BeaconInvalid as exc:
        return str(exc)
    if final_exponentiate(product) != FQ12.one():
        return "the BLS signature does not verify against the chain's public key (pairing check failed)"
    return None


# --- optional compiled backend ------------------------------------------------------------------------
# drand-verify (Rust, PyPI wheels for CPython 3.11/3.12 on Linux x86_64) checks a round in ~3-10 ms
# instead of ~0.3-0.5 s. It is used only to *accept* quickly: any refusal is re-derived with py_ecc
# (the reference, and the only backend the standalone verifier needs), which also gives the reason.
# USE_FAST_BACKEND = False forces py_ecc alone (tests of the reference path set it).
USE_FAST_BACKEND = True


@lru_cache(maxsize=1)
def _fast_module() -> Any:
    try:
        import drand_verify  # type: ignore[import-not-found]
    except ImportError:
        return None
    return drand_verify


def fast_backend() -> str | None:
    """The name of the compiled backend in use (``"drand_verify"``), or None when only py_ecc checks."""
    return "drand_verify" if USE_FAST_BACKEND and _fast_module() is not None else None


def _fast_accepts(
    scheme: str, public_key: bytes, round_number: int, previous: bytes | None, signature: bytes
) -> bool:
    module = _fast_module()
    if module is None:
        return False
    try:
        if SCHEMES[scheme].chained:
            assert previous is not None  # round_message refused a chained round without it
            randomness = module.verify_pedersen_bls_chained(
                round_number, previous.hex(), signature.hex(), public_key.hex()
            )
        else:
            randomness = module.verify_bls_unchained_g1_rfc9380(
                round_number, signature.hex(), public_key.hex()
            )
    except (ValueError, TypeError, OverflowError):
        return False
    # Belt and braces: the library also derives the randomness; it must be SHA-256 of the signature.
    return bool(randomness == hashlib.sha256(signature).hexdigest())


@lru_cache(maxsize=512)
def _cached_check(
    scheme: str,
    public_key: bytes,
    round_number: int,
    previous: bytes | None,
    message: bytes,
    signature: bytes,
    fast: bool,
) -> str | None:
    # Pure and deterministic, so failures are cached too: a forged round costs one pairing, not one a request.
    if fast:
        if _fast_accepts(scheme, public_key, round_number, previous, signature):
            return None
        return _cached_check(scheme, public_key, round_number, previous, message, signature, False)
    return _pairing_check(scheme, public_key, message, signature)


def verify_round(
    chain: DrandChain, round_number: int, signature: bytes, previous_signature: bytes | None = None
) -> None:
    """Check that ``signature`` is the chain's BLS signature of ``round_number``, else :class:`BeaconInvalid`.

    Refuses a signature of the wrong length for the scheme, a chained round without its previous
    signature (and an unchained one with one), a point that does not decompress, is infinity or is
    outside the subgroup, and a failed pairing check. Results are cached (a pure-Python check ~2 s).
    """
    if not isinstance(signature, bytes) or len(signature) != chain.signature_size:
        size = len(signature) if isinstance(signature, bytes) else type(signature).__name__
        raise BeaconInvalid(
            f"a round signature on chain {chain.name} ({chain.scheme}) is {chain.signature_size} bytes, "
            f"got {size}"
        )
    message = round_message(chain, round_number, previous_signature)
    public_key = bytes.fromhex(chain.public_key)
    fast = fast_backend() is not None
    reason = _cached_check(
        chain.scheme, public_key, round_number, previous_signature, message, signature, fast
    )
    if reason is not None:
        raise BeaconInvalid(f"drand round {round_number} of chain {chain.name}: {reason}")


def check_value(chain: DrandChain, value: Any) -> bytes:
    """Check a drand entropy value; return its 32 randomness bytes.

    ``{"type": "drand", "round", "randomness", "signature"[, "previous_signature"]}``

    Shapes: lower-case hex; randomness 32 bytes; signature the scheme's size; ``previous_signature``
    required on a chained chain (the signature size, or the genesis seed for round 1) and absent on an
    unchained one; no other fields. Then ``randomness == SHA-256(signature)`` and :func:`verify_round`.
    Returns the 32 randomness bytes; raises :class:`BeaconInvalid` with the precise reason otherwise.
    """
    if not isinstance(value, dict):
        raise BeaconInvalid("a drand entropy value must be a JSON object")
    extra = sorted(str(key) for key in value if key not in _VALUE_KEYS)
    if extra:
        raise BeaconInvalid(f"drand entropy value has unknown fields: {', '.join(extra)}")
    if value.get("type") != "drand":
        raise BeaconInvalid(f"drand entropy value must have type 'drand', got {value.get('type')!r}")
    round_number = _round_number(value.get("round"))
    randomness = bytes.fromhex(_hex_field(value.get("randomness"), "drand randomness", 32))
    signature = bytes.fromhex(_hex_field(value.get("signature"), "drand signature", chain.signature_size))
    previous: bytes | None = None
    if chain.chained:
        if "previous_signature" not in value:
            raise BeaconInvalid(f"chain {chain.name} is chained: the value needs previous_signature")
        raw = value["previous_signature"]
        if round_number > 1:
            previous = bytes.fromhex(_hex_field(raw, "drand previous_signature", chain.signature_size))
        else:
            if not isinstance(raw, str) or not raw or not _HEX.match(raw) or len(raw) % 2:
                shown = str(raw)[:120]
                raise BeaconInvalid(f"drand previous_signature must be lower-case hexadecimal, got {shown!r}")
            previous = bytes.fromhex(raw)
    elif "previous_signature" in value:
        raise BeaconInvalid(f"chain {chain.name} is unchained: the value must not carry previous_signature")
    if hashlib.sha256(signature).digest() != randomness:
        raise BeaconInvalid("drand randomness is not SHA-256 of the round's signature")
    verify_round(chain, round_number, signature, previous)
    return randomness
