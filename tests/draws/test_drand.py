"""drand chains and the BLS check of rounds: real League of Entropy rounds pass, made-up ones do not.

A pairing check costs ~0.3-0.5 s in pure Python; draws.drand caches results, so each distinct
(round, signature) pair below is checked once per process. Tests of accepting and refusing rounds run
with py_ecc alone (the reference), and again with the compiled drand-verify when it is installed.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from py_ecc.bls.g2_primitives import G1_to_pubkey
from py_ecc.optimized_bls12_381 import G1, field_modulus, multiply

from draws import drand
from draws.drand import (
    KNOWN_CHAINS,
    SCHEME_CHAINED,
    SCHEME_UNCHAINED_G1,
    BeaconInvalid,
    DrandChain,
    check_value,
    known_chain,
    round_message,
    verify_round,
)
from tests.draws.beacon import TestBeacon
from tests.draws.drand_vectors import MAINNET_SIGNATURES, QUICKNET_SIGNATURES, mainnet_value, quicknet_value

QUICKNET = KNOWN_CHAINS["quicknet"]
MAINNET = KNOWN_CHAINS["mainnet"]

try:
    import drand_verify  # noqa: F401 - only whether it is installed matters here

    FAST = True
except ImportError:
    FAST = False
NO_FAST = "drand-verify is not installed (it has wheels for CPython 3.11/3.12 on Linux x86_64 only)"


@pytest.fixture(
    params=[
        "py_ecc",
        pytest.param(
            "drand_verify",
            marks=pytest.mark.skipif(not FAST, reason=NO_FAST),
        ),
    ]
)
def bls_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test with py_ecc alone, then with the compiled backend accepting first."""
    monkeypatch.setattr(drand, "USE_FAST_BACKEND", request.param == "drand_verify")
    assert drand.fast_backend() == (None if request.param == "py_ecc" else "drand_verify")
    return str(request.param)


def forged(signature: bytes, round_number: int = 3) -> dict[str, Any]:
    """A made-up quicknet value: well-formed, randomness = SHA-256(signature), but nobody signed it."""
    return {
        "type": "drand",
        "round": round_number,
        "randomness": hashlib.sha256(signature).hexdigest(),
        "signature": signature.hex(),
    }


def g1_point_outside_subgroup() -> bytes:
    """A compressed point on the G1 curve that is not in the prime-order subgroup (cofactor ~2^126)."""
    x = 1
    while True:
        rhs = (x**3 + 4) % field_modulus
        y = pow(rhs, (field_modulus + 1) // 4, field_modulus)
        if y * y % field_modulus == rhs:
            return (x | 1 << 383).to_bytes(48, "big")  # top bits 100: compressed, not infinity
        x += 1


# --- chain descriptions ------------------------------------------------------------------------------


def test_known_chains_carry_the_published_parameters() -> None:
    assert QUICKNET.as_json() == {
        "name": "quicknet",
        "chain_hash": "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971",
        "public_key": "83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c8c4b450b6a0a6c3ac6a577"
        "6a2d1064510d1fec758c921cc22b0e17e63aaf4bcb5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76eae8991ef5ece45a",
        "scheme": "bls-unchained-g1-rfc9380",
        "period": 3,
        "genesis_time": 1692803367,
    }
    assert (MAINNET.scheme, MAINNET.period, MAINNET.genesis_time) == ("pedersen-bls-chained", 30, 1595431050)
    assert (QUICKNET.signature_size, QUICKNET.chained) == (48, False)
    assert (MAINNET.signature_size, MAINNET.chained) == (96, True)


def test_round_times() -> None:
    g = QUICKNET.genesis_time
    assert QUICKNET.round_at(g - 1) == 0
    assert QUICKNET.round_at(g) == 1
    assert QUICKNET.round_at(g + 2) == 1
    assert QUICKNET.round_at(g + 3) == 2
    assert QUICKNET.round_time(1) == g
    assert QUICKNET.round_time(4) == g + 9
    assert QUICKNET.first_round_after(g + 3) == 3  # round 2 exists at g + 3; the next one is 3
    assert QUICKNET.first_round_after(g - 100) == 1
    assert MAINNET.round_at(MAINNET.round_time(1000)) == 1000
    with pytest.raises(BeaconInvalid, match="from 1"):
        QUICKNET.round_time(0)


@pytest.mark.parametrize("name", sorted(KNOWN_CHAINS))
def test_as_json_round_trips(name: str) -> None:
    chain = KNOWN_CHAINS[name]
    assert set(chain.as_json()) == {"name", "chain_hash", "public_key", "scheme", "period", "genesis_time"}
    assert DrandChain.from_json(chain.as_json()) == chain


@pytest.mark.parametrize(
    ("field", "bad", "message"),
    [
        ("name", "", "name"),
        ("name", 7, "name"),
        ("chain_hash", QUICKNET.chain_hash.upper(), "chain_hash must be lower-case"),
        ("chain_hash", "52db9ba7", "chain_hash must be 32 bytes"),
        ("chain_hash", None, "chain_hash"),
        # mainnet's G1 key on a scheme whose keys are on G2
        ("public_key", MAINNET.public_key, "public_key .scheme bls-unchained-g1-rfc9380. must be 96 bytes"),
        ("public_key", "zz" * 96, "public_key"),
        ("scheme", "bls-unchained-on-g1", "scheme 'bls-unchained-on-g1' is not supported"),
        ("scheme", None, "scheme"),
        ("period", 0, "period must be a positive integer"),
        ("period", 3.0, "period must be a positive integer"),
        ("period", True, "period must be a positive integer"),
        ("period", "3", "period must be a positive integer"),
        ("genesis_time", -1, "genesis_time must be a positive integer"),
        ("genesis_time", None, "genesis_time must be a positive integer"),
    ],
)
def test_from_json_refuses_each_malformed_field(field: str, bad: Any, message: str) -> None:
    data = QUICKNET.as_json() | {field: bad}
    with pytest.raises(BeaconInvalid, match=message):
        DrandChain.from_json(data)


def test_from_json_refuses_missing_and_unknown_fields() -> None:
    data = QUICKNET.as_json()
    del data["public_key"]
    with pytest.raises(BeaconInvalid, match="lacks public_key"):
        DrandChain.from_json(data)
    with pytest.raises(BeaconInvalid, match="unknown fields: groupHash"):
        DrandChain.from_json(QUICKNET.as_json() | {"groupHash": "00"})
    with pytest.raises(BeaconInvalid, match="JSON object"):
        DrandChain.from_json(["quicknet"])


def test_known_chain_recognises_the_two_real_chains_and_nothing_else() -> None:
    assert known_chain(QUICKNET.as_json()) is QUICKNET
    assert known_chain(MAINNET.as_json()) is MAINNET
    assert known_chain(dict(reversed(list(MAINNET.as_json().items())))) is MAINNET  # key order is irrelevant
    for field, other in [
        ("name", "quick-net"),
        ("genesis_time", QUICKNET.genesis_time + 3),
        ("period", 30),
        ("chain_hash", MAINNET.chain_hash),
        ("public_key", "a" + QUICKNET.public_key[1:]),
    ]:
        assert known_chain(QUICKNET.as_json() | {field: other}) is None, field
    assert known_chain(QUICKNET.as_json() | {"period": 3.0}) is None  # equal in Python, not the same JSON
    assert known_chain(QUICKNET.as_json() | {"extra": 1}) is None
    assert known_chain(TestBeacon(SCHEME_UNCHAINED_G1).chain.as_json()) is None
    assert known_chain(None) is None
    assert known_chain({"name": "quicknet"}) is None


# --- messages ----------------------------------------------------------------------------------------


def test_round_message() -> None:
    assert round_message(QUICKNET, 3, None) == hashlib.sha256((3).to_bytes(8, "big")).digest()
    previous = bytes.fromhex(MAINNET_SIGNATURES[3])
    assert round_message(MAINNET, 4, previous) == hashlib.sha256(previous + (4).to_bytes(8, "big")).digest()
    with pytest.raises(BeaconInvalid, match="needs the previous signature"):
        round_message(MAINNET, 4, None)
    with pytest.raises(BeaconInvalid, match="unchained"):
        round_message(QUICKNET, 4, previous)
    with pytest.raises(BeaconInvalid, match="previous signature must be 96 bytes"):
        round_message(MAINNET, 4, previous[:48])
    with pytest.raises(BeaconInvalid, match="2\\*\\*64"):
        round_message(QUICKNET, 2**64, None)


# --- real rounds (pairing checks) --------------------------------------------------------------------


@pytest.mark.parametrize("round_number", [2, 3])
def test_real_quicknet_rounds_verify(round_number: int, bls_backend: str) -> None:
    value = quicknet_value(round_number)
    assert check_value(QUICKNET, value) == bytes.fromhex(value["randomness"])


@pytest.mark.parametrize("round_number", [3, 4])
def test_real_mainnet_rounds_verify_with_their_previous_signature(
    round_number: int, bls_backend: str
) -> None:
    value = mainnet_value(round_number)
    assert check_value(MAINNET, value) == bytes.fromhex(value["randomness"])


def test_a_signature_does_not_verify_for_another_round(bls_backend: str) -> None:
    with pytest.raises(BeaconInvalid, match="round 4 of chain quicknet: .*pairing check failed"):
        verify_round(QUICKNET, 4, bytes.fromhex(QUICKNET_SIGNATURES[3]))
    # The value form: the round's own randomness is consistent, only the round number was moved.
    with pytest.raises(BeaconInvalid, match="pairing check failed"):
        check_value(QUICKNET, quicknet_value(3) | {"round": 4})


def test_a_chained_round_does_not_verify_over_another_previous_signature(bls_backend: str) -> None:
    with pytest.raises(BeaconInvalid, match="pairing check failed"):
        check_value(MAINNET, mainnet_value(4) | {"previous_signature": MAINNET_SIGNATURES[2]})


def test_a_forged_group_element_is_refused_by_the_pairing(bls_backend: str) -> None:
    # A genuine G1 subgroup point (so it passes every shape check) that the group never signed.
    made_up = bytes(G1_to_pubkey(multiply(G1, 1234567)))
    with pytest.raises(BeaconInvalid, match="pairing check failed"):
        check_value(QUICKNET, forged(made_up))


@pytest.mark.parametrize(
    ("signature", "reason"),
    [
        (hashlib.sha384(b"made up").digest(), "not a valid compressed G1 point"),  # top bit clear
        (bytes([0x80 | 0x1F]) + hashlib.sha384(b"made up").digest()[1:], "not a valid compressed G1 point"),
        (bytes([0xC0]) + bytes(47), "point at infinity"),
        (g1_point_outside_subgroup(), "not in the prime-order subgroup"),
    ],
)
def test_made_up_signatures_are_refused_before_the_pairing(
    signature: bytes, reason: str, bls_backend: str
) -> None:
    with pytest.raises(BeaconInvalid, match=reason):
        check_value(QUICKNET, forged(signature))


def test_a_g2_sized_signature_is_refused_on_quicknet_by_length() -> None:
    signature = bytes.fromhex(MAINNET_SIGNATURES[3])
    with pytest.raises(BeaconInvalid, match="48 bytes"):
        verify_round(QUICKNET, 3, signature)
    with pytest.raises(BeaconInvalid, match="drand signature must be 48 bytes"):
        check_value(QUICKNET, forged(signature))


# --- value shapes (no pairing needed) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"type": "rfc3797"}, "type 'drand'"),
        ({"round": "3"}, "round must be an integer"),
        ({"round": True}, "round must be an integer"),
        ({"round": 0}, "round must be an integer from 1"),
        ({"randomness": None}, "randomness must be lower-case hexadecimal"),
        ({"randomness": "AB" * 32}, "randomness must be lower-case hexadecimal"),
        ({"randomness": "ab" * 31}, "randomness must be 32 bytes"),
        ({"randomness": "00" * 32}, "randomness is not SHA-256 of the round's signature"),
        ({"signature": QUICKNET_SIGNATURES[3].upper()}, "signature must be lower-case hexadecimal"),
        ({"signature": QUICKNET_SIGNATURES[3][:-2]}, "signature must be 48 bytes"),
        ({"previous_signature": QUICKNET_SIGNATURES[2]}, "unchained: the value must not carry previous_sig"),
        ({"chain": "quicknet"}, "unknown fields: chain"),
    ],
)
def test_check_value_refuses_malformed_quicknet_values(change: dict[str, Any], message: str) -> None:
    with pytest.raises(BeaconInvalid, match=message):
        check_value(QUICKNET, quicknet_value(3) | change)


def test_check_value_refuses_malformed_mainnet_values() -> None:
    value = mainnet_value(4)
    del value["previous_signature"]
    with pytest.raises(BeaconInvalid, match="chained: the value needs previous_signature"):
        check_value(MAINNET, value)
    with pytest.raises(BeaconInvalid, match="previous_signature must be 96 bytes"):
        check_value(MAINNET, mainnet_value(4) | {"previous_signature": "ab" * 32})
    with pytest.raises(BeaconInvalid, match="must be a JSON object"):
        check_value(MAINNET, [mainnet_value(4)])


# --- the test beacon ---------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", [SCHEME_UNCHAINED_G1, SCHEME_CHAINED])
def test_the_test_beacon_signs_rounds_that_verify(scheme: str, bls_backend: str) -> None:
    beacon = TestBeacon(scheme, seed="test-drand")
    value = beacon.value(7)
    assert check_value(beacon.chain, value) == bytes.fromhex(value["randomness"])
    assert len(value["signature"]) == 2 * beacon.chain.signature_size
    assert ("previous_signature" in value) is beacon.chain.chained
    assert beacon.chain.period == (30 if beacon.chain.chained else 3)
    assert DrandChain.from_json(beacon.chain.as_json()) == beacon.chain
    assert TestBeacon(scheme, seed="test-drand").value(7) == value  # deterministic


def test_a_test_beacon_round_is_refused_by_another_key(bls_backend: str) -> None:
    value = TestBeacon(SCHEME_UNCHAINED_G1, seed="test-drand").value(7)
    with pytest.raises(BeaconInvalid, match="pairing check failed"):
        check_value(QUICKNET, value)


@pytest.mark.skipif(not FAST, reason=NO_FAST)
def test_the_compiled_backend_agrees_with_py_ecc_on_every_vector() -> None:
    beacons = [TestBeacon(scheme, seed="test-drand") for scheme in (SCHEME_UNCHAINED_G1, SCHEME_CHAINED)]
    cases: list[tuple[DrandChain, int, bytes, bytes | None]] = [
        (QUICKNET, r, bytes.fromhex(sig), None) for r, sig in QUICKNET_SIGNATURES.items()
    ]
    mainnet = {r: bytes.fromhex(sig) for r, sig in MAINNET_SIGNATURES.items()}
    cases += [(MAINNET, r, mainnet[r], mainnet[r - 1]) for r in (3, 4)]
    cases += [(QUICKNET, 4, bytes.fromhex(QUICKNET_SIGNATURES[3]), None)]  # another round's signature
    cases += [(MAINNET, 4, mainnet[4], mainnet[2])]  # another previous signature
    cases += [(QUICKNET, 3, bytes(G1_to_pubkey(multiply(G1, 1234567))), None)]  # a point nobody signed
    cases += [(QUICKNET, 3, g1_point_outside_subgroup(), None)]
    cases += [(QUICKNET, 3, bytes([0xC0]) + bytes(47), None)]  # the point at infinity
    for beacon in beacons:
        value = beacon.value(7)
        previous = bytes.fromhex(value["previous_signature"]) if beacon.chain.chained else None
        cases += [(beacon.chain, 7, bytes.fromhex(value["signature"]), previous)]
        cases += [(beacon.chain, 8, bytes.fromhex(value["signature"]), previous)]
    verdicts = []
    for chain, round_number, signature, previous in cases:
        key = bytes.fromhex(chain.public_key)
        fast = drand._fast_accepts(chain.scheme, key, round_number, previous, signature)
        message = round_message(chain, round_number, previous)
        # The py_ecc verdict (cached: shared with the tests above when they ran in this process).
        reason = drand._cached_check(chain.scheme, key, round_number, previous, message, signature, False)
        reference = reason is None
        assert fast == reference, (chain.name, round_number)
        verdicts.append(reference)
    assert verdicts.count(True) == 6 and verdicts.count(False) == 7  # both outcomes were exercised
