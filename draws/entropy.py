"""External entropy sources fixed in the announcement: drand rounds and RFC 3797 public numbers.

The announcement fixes a *source* (which entropy will be used); the draw supplies its *value*
(the entropy itself, which did not exist when the entrant list was frozen). This module checks that
a value belongs to the announced source and turns it into the **canonical entropy bytes** that enter
the seed.

drand
    Source: ``{"type": "drand", "chain": {"name", "genesis_time", "period", "chain_hash"},
    "round": R}``. Round ``r`` of a chain is produced at ``genesis_time + (r - 1) * period``; the
    round current at Unix time ``t >= genesis_time`` is ``floor((t - genesis_time) / period) + 1``.
    The announced round is the **first round strictly after the freeze time**:
    ``round_at(freeze) + 1`` (or round 1 if the freeze precedes genesis).
    Value: ``{"type": "drand", "round": R, "randomness": 64 hex digits, "signature": hex}``.
    Checks: ``round`` equals the announced round; ``randomness`` is 32 bytes of hex; the signature
    is required and ``randomness == SHA-256(signature bytes)`` (this is how drand defines
    randomness). Canonical entropy bytes: the 32 randomness bytes.
    Not done here: the BLS12-381 pairing check of the signature against the chain's public key
    (``cryptography`` has no pairing). An auditor confirms the round against any public drand relay
    (``https://api.drand.sh/<chain_hash>/public/<round>``) or with a BLS library.

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
from dataclasses import dataclass
from typing import Any

from draws.encoding import parse_timestamp
from draws.errors import EntropyMismatch, MalformedEntropy
from draws.rfc3797 import canonical_key

_HEX = re.compile(r"[0-9a-f]*\Z")


@dataclass(frozen=True, slots=True)
class DrandChain:
    """Public parameters of a drand chain (data, normally from configuration)."""

    name: str
    genesis_time: int
    period: int
    chain_hash: str = ""

    def round_at(self, unix_time: int) -> int:
        """The round current at ``unix_time`` (0 before genesis): ``floor((t - genesis)/period) + 1``."""
        if unix_time < self.genesis_time:
            return 0
        return (unix_time - self.genesis_time) // self.period + 1

    def round_time(self, round_number: int) -> int:
        """Unix time at which ``round_number`` (>= 1) is produced: ``genesis + (round - 1) * period``."""
        if round_number < 1:
            raise MalformedEntropy(f"drand rounds start at 1, got {round_number}")
        return self.genesis_time + (round_number - 1) * self.period

    def first_round_after(self, unix_time: int) -> int:
        """The first round produced strictly after ``unix_time``."""
        return self.round_at(unix_time) + 1

    def as_json(self) -> dict[str, Any]:
        """The chain as it appears inside an announcement."""
        return {
            "name": self.name,
            "genesis_time": self.genesis_time,
            "period": self.period,
            "chain_hash": self.chain_hash,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DrandChain:
        """Inverse of :meth:`as_json`, validating the integers."""
        try:
            genesis, period = data["genesis_time"], data["period"]
            name, chain_hash = data["name"], data.get("chain_hash", "")
        except (KeyError, TypeError) as exc:
            raise MalformedEntropy(f"drand chain description is incomplete: {exc}") from exc
        for label, value in (("genesis_time", genesis), ("period", period)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise MalformedEntropy(f"drand chain {label} must be a positive integer, got {value!r}")
        return cls(str(name), genesis, period, str(chain_hash))


# Public parameters of the League of Entropy networks, as published at https://api.drand.sh/chains
# and .../<chain_hash>/info. They are defaults: the service reads them from configuration.
DRAND_CHAINS: dict[str, DrandChain] = {
    "quicknet": DrandChain(
        "quicknet", 1692803367, 3, "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971"
    ),
    "mainnet": DrandChain(
        "mainnet", 1595431050, 30, "8990e7a9aaed2ffed73dbd7092123d6f289930540d7651336225dc172e51b2ce"
    ),
}


DEFAULT_DRAND_RELAY = "https://api.drand.sh"


def known_chain_problem(chain: Any) -> str | None:
    """None if ``chain`` (the announcement's drand chain description) is exactly one of
    :data:`DRAND_CHAINS`; else why not. A made-up genesis or period would move the announced round's
    time, so the verifier refuses any chain it does not know."""
    if not isinstance(chain, dict):
        return "the drand chain description is not an object"
    chain_hash = chain.get("chain_hash")
    known = next((c for c in DRAND_CHAINS.values() if c.chain_hash == chain_hash), None)
    if known is None:
        return f"unknown drand chain hash {str(chain_hash)[:80]!r} (known: {', '.join(sorted(DRAND_CHAINS))})"
    for label, expected in (("genesis_time", known.genesis_time), ("period", known.period)):
        if chain.get(label) != expected:
            return f"{label} of chain {known.name} is {expected}, the announcement says {chain.get(label)!r}"
    return None


def beacon_note(source: dict[str, Any]) -> str:
    """What the verifier cannot check itself about the entropy value, and how a person checks it."""
    if source.get("type") == "drand":
        chain_hash = source.get("chain", {}).get("chain_hash", "<chain_hash>")
        r = source.get("round")
        return (
            f"BLS signature not verified here: compare round {r} with any public drand relay, "
            f"e.g. {DEFAULT_DRAND_RELAY}/{chain_hash}/public/{r}"
        )
    if source.get("type") == "rfc3797":
        names = "; ".join(str(d) for d in source.get("sources", []))
        return f"public numbers not verified here: compare them with the published results of: {names}"
    return "unknown entropy source"


def _hex_bytes(value: Any, what: str, size: int | None = None) -> bytes:
    if not isinstance(value, str) or not _HEX.match(value) or len(value) % 2:
        raise MalformedEntropy(f"{what} must be lower-case hexadecimal, got {str(value)[:80]!r}")
    raw = bytes.fromhex(value)
    if size is not None and len(raw) != size:
        raise MalformedEntropy(f"{what} must be {size} bytes ({2 * size} hex digits), got {len(raw)} bytes")
    return raw


def drand_source(chain: DrandChain, freeze_at: int) -> dict[str, Any]:
    """The announcement's entropy source: the first round of ``chain`` strictly after ``freeze_at``."""
    return {"type": "drand", "chain": chain.as_json(), "round": chain.first_round_after(freeze_at)}


def rfc3797_source(descriptions: list[str], available_after: str) -> dict[str, Any]:
    """The announcement's entropy source for public numbers drawn after the freeze."""
    if not descriptions or not all(isinstance(d, str) and d.strip() for d in descriptions):
        raise MalformedEntropy("describe every source of public numbers (at least one)")
    parse_timestamp(available_after)
    return {"type": "rfc3797", "sources": list(descriptions), "available_after": available_after}


def entropy_available_at(source: dict[str, Any]) -> int:
    """Unix time at which the announced entropy comes to exist (drand round time / numbers' date)."""
    kind = source.get("type") if isinstance(source, dict) else None
    if kind == "drand":
        return DrandChain.from_json(source["chain"]).round_time(source["round"])
    if kind == "rfc3797":
        return parse_timestamp(source["available_after"])
    raise MalformedEntropy(f"unknown entropy source type {kind!r}")


def entropy_bytes(source: dict[str, Any], value: dict[str, Any]) -> bytes:
    """Check that ``value`` belongs to the announced ``source``; return the canonical entropy bytes.

    Raises :class:`MalformedEntropy` for a value that cannot be read and :class:`EntropyMismatch`
    for a value of another round or source.
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
