"""Entropy sources: drand round arithmetic and value checks, RFC 3797 public numbers."""

from __future__ import annotations

import hashlib

import pytest

from draws.entropy import (
    DRAND_CHAINS,
    DrandChain,
    drand_source,
    entropy_available_at,
    entropy_bytes,
    rfc3797_source,
)
from draws.errors import EntropyMismatch, MalformedEntropy

QUICKNET = DRAND_CHAINS["quicknet"]


def test_round_arithmetic() -> None:
    g = QUICKNET.genesis_time
    assert QUICKNET.round_at(g) == 1
    assert QUICKNET.round_at(g + 2) == 1
    assert QUICKNET.round_at(g + 3) == 2
    assert QUICKNET.round_time(2) == g + 3
    assert QUICKNET.round_at(g - 1) == 0
    assert QUICKNET.first_round_after(g - 100) == 1


def test_first_round_strictly_after_freeze() -> None:
    g = QUICKNET.genesis_time
    for freeze in (g, g + 1, g + 2, g + 3, g + 10_000):
        r = QUICKNET.first_round_after(freeze)
        assert QUICKNET.round_time(r) > freeze
        assert QUICKNET.round_time(r - 1) <= freeze if r > 1 else True
    mainnet = DRAND_CHAINS["mainnet"]
    assert mainnet.period == 30 and mainnet.first_round_after(mainnet.genesis_time + 30) == 3


def drand_value(round_number: int) -> dict[str, object]:
    signature = bytes(range(96))
    return {"type": "drand", "round": round_number, "randomness": hashlib.sha256(signature).hexdigest(), "signature": signature.hex()}


def test_drand_value_accepted_and_canonical_bytes() -> None:
    source = drand_source(QUICKNET, QUICKNET.genesis_time + 300)
    value = drand_value(source["round"])
    assert entropy_bytes(source, value) == bytes.fromhex(value["randomness"])  # type: ignore[arg-type]
    assert entropy_available_at(source) == QUICKNET.round_time(source["round"])
    unsigned = {k: v for k, v in value.items() if k != "signature"}
    with pytest.raises(MalformedEntropy, match="signature"):  # typed-in randomness alone is refused
        entropy_bytes(source, unsigned)  # type: ignore[arg-type]
    with pytest.raises(MalformedEntropy, match="signature"):
        entropy_bytes(source, {**unsigned, "signature": None})  # type: ignore[arg-type]


def test_drand_value_of_another_round_refused() -> None:
    source = drand_source(QUICKNET, QUICKNET.genesis_time + 300)
    with pytest.raises(EntropyMismatch, match="announced"):
        entropy_bytes(source, drand_value(source["round"] + 1))


def test_drand_randomness_must_hash_the_signature() -> None:
    source = drand_source(QUICKNET, QUICKNET.genesis_time + 300)
    value = drand_value(source["round"])
    value["randomness"] = "00" * 32
    with pytest.raises(EntropyMismatch, match="SHA-256"):
        entropy_bytes(source, value)


@pytest.mark.parametrize(
    "patch",
    [{"randomness": "zz" * 32}, {"randomness": "ab" * 31}, {"round": "12"}, {"signature": "abc"}, {"type": "rfc3797"}],
)
def test_malformed_drand_values(patch: dict[str, object]) -> None:
    source = drand_source(QUICKNET, QUICKNET.genesis_time + 300)
    value = {**drand_value(source["round"]), **patch}
    with pytest.raises((MalformedEntropy, EntropyMismatch)):
        entropy_bytes(source, value)


def test_chain_from_json_validates() -> None:
    assert DrandChain.from_json(QUICKNET.as_json()) == QUICKNET
    with pytest.raises(MalformedEntropy):
        DrandChain.from_json({"name": "x", "genesis_time": 1, "period": 0})


def test_rfc3797_entropy() -> None:
    source = rfc3797_source(["lottery A", "lottery B"], "2026-07-01T20:00:00Z")
    value = {"type": "rfc3797", "sources": [["3", "1"], ["2.50"]]}
    assert entropy_bytes(source, value) == b"1.3./2.5/"
    with pytest.raises(EntropyMismatch, match="2 sources"):
        entropy_bytes(source, {"type": "rfc3797", "sources": [["1"]]})
    with pytest.raises(MalformedEntropy):
        entropy_bytes(source, {"type": "rfc3797", "sources": [["1"], ["two"]]})
    with pytest.raises(MalformedEntropy):
        rfc3797_source([], "2026-07-01T20:00:00Z")
