"""Entropy sources: drand round arithmetic and value checks, RFC 3797 public numbers."""

from __future__ import annotations

import hashlib

import pytest

from draws.drand import KNOWN_CHAINS
from draws.encoding import parse_timestamp
from draws.entropy import (
    check_drand_source,
    drand_source,
    entropy_available_at,
    entropy_bytes,
    known_chain_problem,
    rfc3797_source,
)
from draws.errors import EntropyMismatch, MalformedEntropy
from draws.sample import SAMPLE_FREEZE_AT, quicknet_value

QUICKNET = KNOWN_CHAINS["quicknet"]
FREEZE = parse_timestamp(SAMPLE_FREEZE_AT)  # just after quicknet's genesis: round 3 is announced


def test_round_arithmetic() -> None:
    g = QUICKNET.genesis_time
    assert QUICKNET.round_at(g) == 1
    assert QUICKNET.round_at(g + 2) == 1
    assert QUICKNET.round_at(g + 3) == 2
    assert QUICKNET.round_time(2) == g + 3
    assert QUICKNET.round_at(g - 1) == 0
    assert QUICKNET.first_round_after(g - 100) == 1


def test_first_round_strictly_after_freeze_plus_delay() -> None:
    g = QUICKNET.genesis_time
    for freeze in (g, g + 1, g + 2, g + 3, g + 10_000):
        for delay in (0, 1, 3600):
            r = drand_source(QUICKNET, freeze, delay)["round"]
            assert QUICKNET.round_time(r) > freeze + delay
            assert r == 1 or QUICKNET.round_time(r - 1) <= freeze + delay
    mainnet = KNOWN_CHAINS["mainnet"]
    assert mainnet.period == 30 and mainnet.first_round_after(mainnet.genesis_time + 30) == 3


def test_source_pins_chain_delay_and_round() -> None:
    source = drand_source(QUICKNET, FREEZE, 0)
    assert source == {"type": "drand", "chain": QUICKNET.as_json(), "delay": 0, "round": 3}
    check_drand_source(source, FREEZE)
    with pytest.raises(EntropyMismatch, match="first after"):
        check_drand_source({**source, "round": 4}, FREEZE)
    with pytest.raises(MalformedEntropy, match="delay"):
        drand_source(QUICKNET, FREEZE, -1)
    with pytest.raises(MalformedEntropy, match="chain info"):
        check_drand_source({**source, "chain": {**QUICKNET.as_json(), "public_key": "00"}}, FREEZE)


def test_real_round_accepted_and_canonical_bytes() -> None:
    source = drand_source(QUICKNET, FREEZE, 0)
    value = quicknet_value(3)
    assert entropy_bytes(source, value) == bytes.fromhex(value["randomness"])
    assert entropy_available_at(source) == QUICKNET.round_time(3)
    unsigned = {k: v for k, v in value.items() if k != "signature"}
    with pytest.raises(MalformedEntropy, match="signature"):  # typed-in randomness alone is refused
        entropy_bytes(source, unsigned)
    with pytest.raises(MalformedEntropy, match="signature"):
        entropy_bytes(source, {**unsigned, "signature": None})


def test_forged_round_refused_even_when_self_consistent() -> None:
    source = drand_source(QUICKNET, FREEZE, 0)
    signature = bytes(range(48))
    forged = {"type": "drand", "round": 3, "randomness": hashlib.sha256(signature).hexdigest(),
              "signature": signature.hex()}
    with pytest.raises(EntropyMismatch, match="does not verify"):
        entropy_bytes(source, forged)
    long_signature = bytes(range(96))  # what the old vectors carried: the length of mainnet's, not quicknet's
    wrong_length = {**forged, "signature": long_signature.hex(),
                    "randomness": hashlib.sha256(long_signature).hexdigest()}
    with pytest.raises(EntropyMismatch, match="48"):
        entropy_bytes(source, wrong_length)
    assert entropy_bytes(source, forged, verify_beacon=False)  # the verifier checks the beacon in its own step


def test_value_of_another_round_refused() -> None:
    source = drand_source(QUICKNET, FREEZE, 0)
    with pytest.raises(EntropyMismatch, match="announced"):
        entropy_bytes(source, quicknet_value(2))


def test_randomness_must_hash_the_signature() -> None:
    source = drand_source(QUICKNET, FREEZE, 0)
    value = {**quicknet_value(3), "randomness": "00" * 32}
    with pytest.raises(EntropyMismatch, match="SHA-256"):
        entropy_bytes(source, value)


@pytest.mark.parametrize(
    "patch",
    [{"randomness": "zz" * 32}, {"randomness": "ab" * 31}, {"round": "12"}, {"signature": "abc"}, {"type": "rfc3797"}],
)
def test_malformed_drand_values(patch: dict[str, object]) -> None:
    source = drand_source(QUICKNET, FREEZE, 0)
    with pytest.raises((MalformedEntropy, EntropyMismatch)):
        entropy_bytes(source, {**quicknet_value(3), **patch})


def test_only_known_chains_with_their_exact_info() -> None:
    assert known_chain_problem(QUICKNET.as_json()) is None
    assert known_chain_problem({**QUICKNET.as_json(), "period": 30}) is not None
    made_up = {**QUICKNET.as_json(), "public_key": "aa" * 96}
    assert "not one of the known chains" in str(known_chain_problem(made_up))
    assert known_chain_problem(made_up, [made_up]) is None  # an auditor may add a chain they trust


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
