"""External entropy sources fixed in the announcement: drand rounds and RFC 3797 public numbers.

The announcement fixes a *source* (which entropy will be used); the draw supplies its *value*
(the entropy itself, which did not exist when the entrant list was frozen). This module checks that
a value belongs to the announced source and turns it into the **canonical entropy bytes** that enter
the seed.

drand
    Source (version 2): ``{"type": "drand", "chain": FULL CHAIN INFO, "delay": D, "round": R}`` where
    the chain info is ``draws.drand.DrandChain.as_json()`` (name, chain hash, public key, scheme,
    period, genesis time) and ``R`` is the first round strictly after ``freeze_at + D``. Round ``r``
    is produced at ``genesis_time + (r - 1) * period``. (Version 1 pinned only name, hash, genesis
    and period, and no delay.)
    Value: ``{"type": "drand", "round": R, "randomness": 64 hex digits, "signature": hex}`` (plus
    ``previous_signature`` on a chained network). Checks: ``round`` equals the announced round;
    ``randomness`` is 32 bytes of hex and ``SHA-256(signature)``; in version 2 the BLS signature
    verifies against the pinned public key (``draws.drand``). Canonical entropy bytes: the 32
    randomness bytes.

RFC 3797 public numbers
    Source: ``{"type": "rfc3797", "sources": ["description of source 1", ...], "available_after":
    "YYYY-MM-DDTHH:MM:SSZ"}`` -- the number and order of sources and when they become known.
    Value: ``{"type": "rfc3797", "sources": [["9319"], ["2", "5", "12", "8", "10"], ...]}``.
    Checks: as many value lists as announced sources, each number a non-negative decimal.
    Canonical entropy bytes: the ASCII RFC 3797 key string (see ``draws.rfc3797``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from draws.encoding import parse_timestamp
from draws.errors import EntropyMismatch, MalformedEntropy
from draws.rfc3797 import MAX_SOURCES, canonical_key

_HEX = re.compile(r"[0-9a-f]*\Z")
DEFAULT_DRAND_RELAY = "https://api.drand.sh"


def known_chain_problem(chain: Any, extra: Sequence[Mapping[str, Any]] = ()) -> str | None:
    """None if ``chain`` (the announcement's drand chain description) is one the verifier knows; else why not.

    Version 2 pins the full chain info (``draws.drand.DrandChain.as_json``): it must equal one of
    :data:`draws.drand.KNOWN_CHAINS` or of ``extra`` (chains an auditor supplies) exactly, since a
    made-up public key would let the operator sign its own "beacon". Version 1 named only the hash,
    genesis and period: those must be a known chain's.
    """
    from draws.drand import KNOWN_CHAINS  # py_ecc loads only when a drand chain is checked

    if not isinstance(chain, dict):
        return "the drand chain description is not an object"
    candidates = [c.as_json() for c in KNOWN_CHAINS.values()] + [dict(c) for c in extra]
    if "public_key" in chain:
        if any(chain == c for c in candidates):
            return None
        return (f"the announced drand chain {str(chain.get('chain_hash'))[:80]!r} is not one of the known chains "
                f"({', '.join(sorted(KNOWN_CHAINS))}, or given with --drand-chain) with exactly this public key, "
                "scheme, period and genesis")
    known = next((c for c in candidates if c["chain_hash"] == chain.get("chain_hash")), None)
    if known is None:
        return (
            f"unknown drand chain hash {str(chain.get('chain_hash'))[:80]!r} (known: {', '.join(sorted(KNOWN_CHAINS))})"
        )
    for label in ("genesis_time", "period"):
        if chain.get(label) != known[label]:
            return f"{label} of chain {known['name']} is {known[label]}, the announcement says {chain.get(label)!r}"
    return None


def chain_for(chain: Any, extra: Sequence[Mapping[str, Any]] = ()) -> Any:
    """The known :class:`draws.drand.DrandChain` that ``chain`` (full info, or v1's hash) names, or None."""
    from draws.drand import KNOWN_CHAINS, DrandChain

    if known_chain_problem(chain, extra) is not None:
        return None
    for candidate in [c.as_json() for c in KNOWN_CHAINS.values()] + [dict(c) for c in extra]:
        if candidate["chain_hash"] == chain.get("chain_hash"):
            return DrandChain.from_json(candidate)
    return None


def beacon_note(source: dict[str, Any]) -> str:
    """How a person can compare the entropy value with its public source."""
    if source.get("type") == "drand":
        chain_hash = source.get("chain", {}).get("chain_hash", "<chain_hash>")
        r = source.get("round")
        return f"any public drand relay shows the same round: {DEFAULT_DRAND_RELAY}/{chain_hash}/public/{r}"
    if source.get("type") == "rfc3797":
        names = "; ".join(str(d) for d in source.get("sources", []))
        return f"public numbers not verified here: compare them with the published results of: {names}"
    return "unknown entropy source"


def verify_drand_value(source: Mapping[str, Any], value: Mapping[str, Any]) -> None:
    """The BLS check of a drand value against the chain pinned in ``source`` (raises EntropyMismatch)."""
    from draws.drand import BeaconInvalid, DrandChain, check_value

    try:
        check_value(DrandChain.from_json(dict(source["chain"])), dict(value))
    except BeaconInvalid as exc:
        raise EntropyMismatch(
            f"drand round {value.get('round')} does not verify against the announced chain: {exc}"
        ) from exc


def _hex_bytes(value: Any, what: str, size: int | None = None) -> bytes:
    if not isinstance(value, str) or not _HEX.match(value) or len(value) % 2:
        raise MalformedEntropy(f"{what} must be lower-case hexadecimal, got {str(value)[:80]!r}")
    raw = bytes.fromhex(value)
    if size is not None and len(raw) != size:
        raise MalformedEntropy(f"{what} must be {size} bytes ({2 * size} hex digits), got {len(raw)} bytes")
    return raw


MAX_DELAY = 30 * 86400


def drand_source(chain: Any, freeze_at: int, delay: int) -> dict[str, Any]:
    """The announcement's entropy source: the first round of ``chain`` (a ``draws.drand.DrandChain``)
    strictly after ``freeze_at + delay``; the full chain info and the delay are pinned with it."""
    if isinstance(delay, bool) or not isinstance(delay, int) or not 0 <= delay <= MAX_DELAY:
        raise MalformedEntropy("the entropy delay must be 0 to 30 days, in seconds")
    return {"type": "drand", "chain": chain.as_json(), "delay": delay,
            "round": chain.first_round_after(freeze_at + delay)}


def check_drand_source(source: Mapping[str, Any], freeze_at: int) -> None:
    """Version 2: the source pins a well-formed chain, a delay, and the round that follows from them."""
    from draws.drand import BeaconInvalid, DrandChain

    try:
        chain = DrandChain.from_json(dict(source["chain"]))
    except (KeyError, TypeError, BeaconInvalid) as exc:
        raise MalformedEntropy(f"the drand chain info is incomplete or malformed: {exc}") from exc
    expected = drand_source(chain, freeze_at, source.get("delay"))  # type: ignore[arg-type]
    if source.get("round") != expected["round"]:
        raise EntropyMismatch(
            f"the announced round must be the first after freeze_at + delay: {expected['round']}, not "
            f"{source.get('round')!r}"
        )


def rfc3797_source(descriptions: list[str], available_after: str) -> dict[str, Any]:
    """The announcement's entropy source for public numbers drawn after the freeze."""
    if not descriptions or not all(isinstance(d, str) and d.strip() for d in descriptions):
        raise MalformedEntropy("describe every source of public numbers (at least one)")
    if len(descriptions) > MAX_SOURCES:
        raise MalformedEntropy(f"at most {MAX_SOURCES} sources of public numbers can be announced")
    parse_timestamp(available_after)
    return {"type": "rfc3797", "sources": list(descriptions), "available_after": available_after}


def _positive_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise MalformedEntropy(f"{what} must be a positive integer, got {value!r}")
    return value


def entropy_available_at(source: Any) -> int:
    """Unix time at which the announced entropy comes to exist (drand round time / numbers' date)."""
    kind = source.get("type") if isinstance(source, dict) else None
    if kind == "drand":
        chain = source.get("chain")
        if not isinstance(chain, dict):
            raise MalformedEntropy("the drand source has no chain description")
        genesis = _positive_int(chain.get("genesis_time"), "drand chain genesis_time")
        period = _positive_int(chain.get("period"), "drand chain period")
        return genesis + (_positive_int(source.get("round"), "drand round") - 1) * period
    if kind == "rfc3797":
        return parse_timestamp(source["available_after"])
    raise MalformedEntropy(f"unknown entropy source type {kind!r}")


def entropy_bytes(source: Any, value: dict[str, Any], *, verify_beacon: bool = True) -> bytes:
    """Check that ``value`` belongs to the announced ``source``; return the canonical entropy bytes.

    Raises :class:`MalformedEntropy` for a value that cannot be read and :class:`EntropyMismatch`
    for a value of another round or source. A drand value of a source that pins its chain's public
    key (version 2) must also carry a BLS signature that verifies against that key
    (``draws.drand.check_value``) unless ``verify_beacon`` is false (the verifier checks the beacon
    in its own step, against the chains it knows).
    """
    if not isinstance(value, dict):
        raise MalformedEntropy("the entropy value must be a JSON object")
    kind = source.get("type")
    if value.get("type") != kind:
        raise EntropyMismatch(f"the draw announced a {kind!r} entropy source, got {value.get('type')!r}")
    if kind == "drand":
        announced = source["round"]
        got = value.get("round")
        if isinstance(got, bool) or not isinstance(got, int):
            raise MalformedEntropy(f"drand round must be an integer, got {got!r}")
        if got != announced:
            raise EntropyMismatch(f"entropy is for drand round {got}, but round {announced} was announced")
        randomness = _hex_bytes(value.get("randomness"), "drand randomness", 32)
        if value.get("signature") is None:
            raise MalformedEntropy(
                "a drand value needs the round's signature (randomness alone cannot be checked against the beacon)"
            )
        signature = _hex_bytes(value["signature"], "drand signature")
        if not signature:
            raise MalformedEntropy("drand signature is empty")
        if hashlib.sha256(signature).digest() != randomness:
            raise EntropyMismatch("drand randomness is not SHA-256 of the round's signature")
        if verify_beacon and "public_key" in source["chain"]:
            verify_drand_value(source, value)
        return randomness
    if kind == "rfc3797":
        sources = value.get("sources")
        if not isinstance(sources, list):
            raise MalformedEntropy("RFC 3797 entropy must list the public numbers of every source")
        if len(sources) != len(source["sources"]):
            raise EntropyMismatch(
                f"{len(source['sources'])} sources of public numbers were announced, got {len(sources)}"
            )
        for number, values in enumerate(sources, start=1):
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise MalformedEntropy(f"source {number}: public numbers must be given as strings")
        return canonical_key(sources).encode("ascii")
    raise MalformedEntropy(f"unknown entropy source type {kind!r}")
