"""A test drand beacon: a BLS key of our own that signs rounds exactly as a drand network would.

``TestBeacon(scheme, seed=...)`` holds a secret key derived from ``seed`` and exposes ``.chain`` (a
well-formed :class:`draws.drand.DrandChain` with a fake chain hash) and ``.value(round)``, a signed
entropy value that :func:`draws.drand.check_value` accepts for that chain and no other.

Chained scheme: round ``r``'s message includes a previous signature. A real chain would need every
round from 1 to ``r`` signed in turn (linear in ``r``), so the test beacon takes as
``previous_signature`` of round ``r`` its own signature of round ``r - 1`` over a fixed anchor (the
genesis seed for round 1, 96 fixed bytes after). That is a genuine G2 signature by the same key, and
round ``r`` verifies over it; but ``value(r)["previous_signature"]`` is not ``value(r - 1)["signature"]``:
the drand check binds only a round's own signature, never the link. Cost: G1 signing ~10 ms, G2 ~160 ms.
"""

from __future__ import annotations

import hashlib
from functools import cache
from typing import Any

from py_ecc.bls.g2_primitives import G1_to_pubkey, G2_to_signature
from py_ecc.bls.hash_to_curve import hash_to_G1, hash_to_G2
from py_ecc.optimized_bls12_381 import G1, G2, curve_order, multiply

from draws.drand import DST_G1, DST_G2, SCHEME_CHAINED, SCHEME_UNCHAINED_G1, DrandChain, round_message


def _g1_bytes(point: Any) -> bytes:
    return bytes(G1_to_pubkey(point))  # the 48-byte compressed encoding of a G1 point


def _g2_bytes(point: Any) -> bytes:
    return bytes(G2_to_signature(point))  # the 96-byte compressed encoding of a G2 point


class TestBeacon:
    """A drand-like beacon with a known secret key (tests only: anyone reading this file can sign)."""

    __test__ = False  # not a pytest test class despite its name

    def __init__(self, scheme: str, seed: str = "test-beacon", genesis_time: int = 1_700_000_000) -> None:
        if scheme not in (SCHEME_UNCHAINED_G1, SCHEME_CHAINED):
            raise ValueError(f"unknown scheme {scheme!r}")
        self.scheme = scheme
        self.seed = seed
        digest = hashlib.sha512(f"drand-test-beacon/{scheme}/{seed}".encode()).digest()
        self.secret_key = int.from_bytes(digest, "big") % (curve_order - 1) + 1
        chained = scheme == SCHEME_CHAINED
        sk = self.secret_key
        public_key = _g1_bytes(multiply(G1, sk)) if chained else _g2_bytes(multiply(G2, sk))
        self.genesis_seed = hashlib.sha256(f"drand-test-beacon/genesis/{seed}".encode()).digest()
        self.chain = DrandChain(
            name=f"test-{'chained' if chained else 'unchained'}-{seed}",
            chain_hash=hashlib.sha256(f"drand-test-beacon/chain/{scheme}/{seed}".encode()).hexdigest(),
            public_key=public_key.hex(),
            scheme=scheme,
            period=30 if chained else 3,
            genesis_time=genesis_time,
        )

    def sign(self, round_number: int, previous_signature: bytes | None = None) -> bytes:
        """The signature of ``round_number`` (over ``previous_signature`` on the chained scheme), cached."""
        message = round_message(self.chain, round_number, previous_signature)
        return _sign(self.scheme, self.secret_key, message)

    def previous_signature(self, round_number: int) -> bytes:
        """Chained: what ``value(round_number)`` carries as previous signature (see the module docstring)."""
        if round_number == 1:
            return self.genesis_seed
        return self.sign(round_number - 1, self._anchor(round_number - 1))

    def _anchor(self, round_number: int) -> bytes:
        # What round r - 1 is signed over: the genesis seed for round 1, else 96 fixed (signature-size) bytes.
        if round_number == 1:
            return self.genesis_seed
        return hashlib.shake_256(f"drand-test-beacon/anchor/{self.seed}".encode()).digest(96)

    def value(self, round_number: int) -> dict[str, Any]:
        """A signed entropy value for ``round_number``, as :func:`draws.drand.check_value` expects it."""
        previous = self.previous_signature(round_number) if self.chain.chained else None
        signature = self.sign(round_number, previous)
        value: dict[str, Any] = {
            "type": "drand",
            "round": round_number,
            "randomness": hashlib.sha256(signature).hexdigest(),
            "signature": signature.hex(),
        }
        if previous is not None:
            value["previous_signature"] = previous.hex()
        return value

    def relay_json(self, round_number: int) -> dict[str, Any]:
        """The round as a drand relay publishes it (``/<chain_hash>/public/<round>``)."""
        value = self.value(round_number)
        del value["type"]
        return value


@cache
def _sign(scheme: str, secret_key: int, message: bytes) -> bytes:
    # sig = sk * H(m): on G1 for the unchained scheme, on G2 for the chained one.
    if scheme == SCHEME_UNCHAINED_G1:
        return _g1_bytes(multiply(hash_to_G1(message, DST_G1, hashlib.sha256), secret_key))
    return _g2_bytes(multiply(hash_to_G2(message, DST_G2, hashlib.sha256), secret_key))
