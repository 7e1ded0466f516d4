"""The verifier on hostile input: re-signed bundles, unsigned beacons, bad keys, malformed shapes."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from draws.drand import KNOWN_CHAINS
from draws.engine import payload_digest
from draws.sample import SampleDraw, keyset_for, make_sample_draw, sample_signing_key, sample_witness_key, witness_entry
from draws.verify import EXIT_INCOMPLETE, FAIL, PASS, SKIP, WARN, main, verify_bundle, verify_proof
from signedjson import sign_payload
from tests.draws.test_verify import resign


@pytest.fixture(scope="module")
def draw() -> SampleDraw:
    return make_sample_draw("verify-hardening", count=30, exclusions=["0000000000"])


WITNESSES = [witness_entry(f"Witness {n + 1}", sample_witness_key("verify-hardening", n)) for n in range(2)]


def statuses(bundle: Any, keyset: dict[str, Any] | None = None) -> dict[str, str]:
    return {c.name: c.status for c in verify_bundle(bundle, keyset, witnesses=WITNESSES)}


def reasons(bundle: Any, keyset: dict[str, Any] | None = None) -> dict[str, str]:
    return {c.name: c.reason for c in verify_bundle(bundle, keyset, witnesses=WITNESSES)}


def run_cli(tmp_path: Path, document: Any, *args: str, keyset: Any = None) -> int:
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(document))
    (tmp_path / "witnesses.json").write_text(json.dumps({"witnesses": WITNESSES}))
    extra = [*args, "--witnesses", str(tmp_path / "witnesses.json")]
    if keyset is not None:
        (tmp_path / "keyset.json").write_text(json.dumps(keyset))
        extra += ["--keyset", str(tmp_path / "keyset.json")]
    return main([str(path), *extra])


# ----------------------------------------------------------------------------------- item 2: beacon
def test_typed_in_drand_randomness_without_signature_fails(draw: SampleDraw) -> None:
    bundle = resign(draw.auditor_bundle(), draw, res=lambda r: r["entropy"].pop("signature"))
    result = reasons(bundle, draw.keyset)
    assert statuses(bundle, draw.keyset)["entropy"] == FAIL
    assert "signature" in result["entropy"]


def test_beacon_is_verified_by_bls_in_its_own_line(draw: SampleDraw) -> None:
    checks = {c.name: c for c in verify_bundle(draw.auditor_bundle(), draw.keyset)}
    beacon = checks["entropy.beacon"]
    assert beacon.status == PASS and checks["entropy"].status == PASS and beacon.section == "7.1"
    assert "BLS signature verified" in beacon.reason


def test_rfc3797_numbers_are_compared_by_a_person() -> None:
    source = {"type": "rfc3797", "sources": ["Gosloto 5/36", "IMOEX close"], "available_after": "2026-07-01T20:00:00Z"}
    sample = make_sample_draw("rfc-beacon", count=20, entropy_source=source,
                              entropy_value={"type": "rfc3797", "sources": [["5", "17"], ["2871.45"]]})
    checks = {c.name: c for c in verify_bundle(sample.auditor_bundle(), sample.keyset)}
    assert checks["entropy.beacon"].status == SKIP
    assert "compare them with the published results" in checks["entropy.beacon"].reason
    assert "Gosloto 5/36" in checks["entropy.beacon"].reason
    assert "entropy.chain" not in checks


@pytest.mark.parametrize(
    "change",
    [
        {"genesis_time": KNOWN_CHAINS["quicknet"].genesis_time - 3600},  # moves the round's time
        {"period": 30},
        {"chain_hash": "ab" * 32},
    ],
)
def test_announced_chain_must_be_a_known_one(draw: SampleDraw, change: dict[str, Any]) -> None:
    bundle = resign(draw.auditor_bundle(), draw, ann=lambda a: a["entropy_source"]["chain"].update(change))
    assert statuses(bundle, draw.keyset)["entropy.chain"] == FAIL


# ---------------------------------------------------------------------------------- item 3: key set
def _attacker_bundle(draw: SampleDraw) -> dict[str, Any]:
    """The honest bundle with the winners swapped, re-signed by an attacker embedding its own key set."""
    attacker = sample_signing_key("attacker")
    out = copy.deepcopy(draw.auditor_bundle())
    out["keyset"] = keyset_for(attacker)
    for name in ("announcement", "freeze", "result", "head"):
        out[name] = sign_payload(attacker, out[name]["payload"])
    return out


def test_embedded_keyset_is_a_warning_and_exits_non_zero(draw: SampleDraw, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    forged = _attacker_bundle(draw)
    result = statuses(forged)
    assert result["keyset"] == WARN and FAIL not in result.values()  # self-consistent, so only the key set tells
    assert run_cli(tmp_path, forged) == EXIT_INCOMPLETE
    assert "WARN §3.2 keyset" in capsys.readouterr().out
    assert run_cli(tmp_path, forged, "--trust-embedded-keyset") == 0
    assert run_cli(tmp_path, forged, keyset=draw.keyset) == 1  # the service's key set unmasks it
    assert run_cli(tmp_path, draw.auditor_bundle(), keyset=draw.keyset) == 0


def _keyset_with(draw: SampleDraw, **fields: Any) -> dict[str, Any]:
    keyset = copy.deepcopy(draw.keyset)
    keyset["keys"][0].update(fields)
    return keyset


def test_compromised_key_fails_what_it_signed_at_or_after(draw: SampleDraw) -> None:
    # announced 2023-08-23T15:00:00Z, frozen 15:09:30, drawn a minute after quicknet round 3 (15:09:33)
    between = statuses(draw.auditor_bundle(),
                       _keyset_with(draw, compromised="2023-08-23T15:05:00.123456Z",
                                    retired="2023-08-23T15:05:00.123456Z"))
    assert between["signature.announcement"] == PASS
    assert between["signature.freeze"] == FAIL and between["signature.result"] == FAIL
    at = statuses(draw.auditor_bundle(), _keyset_with(draw, compromised="2023-08-23T15:00:00Z"))
    assert at["signature.announcement"] == FAIL  # "at or before" the record's time
    text = reasons(draw.auditor_bundle(), _keyset_with(draw, compromised="2023-08-23T15:00:00Z"))[
        "signature.announcement"
    ]
    assert "compromised" in text


def test_record_signed_after_its_keys_retirement_fails(draw: SampleDraw) -> None:
    keyset = _keyset_with(draw, retired="2023-08-23T15:05:00Z")
    result = statuses(draw.auditor_bundle(), keyset)
    assert result["signature.announcement"] == PASS
    assert result["signature.freeze"] == FAIL and result["signature.result"] == FAIL
    assert "retirement" in reasons(draw.auditor_bundle(), keyset)["signature.result"]
    late = _keyset_with(draw, retired="2027-01-01T00:00:00.5Z")  # retired after everything: still verifies
    assert {statuses(draw.auditor_bundle(), late)[f"signature.{r}"] for r in ("announcement", "freeze",
                                                                              "result")} == {PASS}


def test_proof_refuses_a_compromised_freeze_signature(draw: SampleDraw) -> None:
    account = draw.frozen.accounts[0]
    proof = draw.frozen.proof_for(draw.announcement["payload"]["draw_id"], account, draw.salt_key).as_json()
    keyset = _keyset_with(draw, compromised="2023-08-23T15:05:00Z")
    assert verify_proof(draw.public_record(), proof, keyset)[0].status == FAIL


# --------------------------------------------------------------------------- item 9: malformed input
MALFORMED = [
    ("keyset entry a string", lambda b: {**b, "keyset": {"keys": ["abc"]}}),
    ("keyset not an object", lambda b: {**b, "keyset": [1, 2]}),
    ("key time garbled", lambda b: {**b, "keyset": {"keys": [{**b["keyset"]["keys"][0], "retired": 5}]}}),
    ("exclusions of numbers", lambda b: {**b, "exclusions": [1]}),
    ("weights of text", lambda b: {**b, "weights": ["1"]}),
    ("entrants not columns", lambda b: {**b, "entrants": [1, 2]}),
    ("entrant account a number",
     lambda b: {**b, "entrants": {**b["entrants"], "accounts": [1] * len(b["entrants"]["accounts"])}}),
    ("announcement a number", lambda b: {**b, "announcement": 5}),
    ("payload a list", lambda b: {**b, "result": {"payload": [], "signature": {}}}),
    ("disqualifications not a list", lambda b: {**b, "disqualifications": {"a": 1}}),
    ("disqualification a string", lambda b: {**b, "disqualifications": ["x"]}),
    ("salt key a number", lambda b: {**b, "salt_key": 7}),
    ("result missing", lambda b: {k: v for k, v in b.items() if k != "result"}),
    ("winners not a list",
     lambda b: {**b, "result": {**b["result"], "payload": {**b["result"]["payload"], "winners": 3}}}),
    ("prizes absurd",
     lambda b: {**b,
                "announcement": {**b["announcement"],
                                 "payload": {**b["announcement"]["payload"],
                                             "prizes": [{"amount_kopecks": 1, "count": 10**10}]}}}),
]


@pytest.mark.parametrize(("label", "mutate"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_bundles_fail_cleanly(draw: SampleDraw, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        label: str, mutate: Any) -> None:
    bundle = mutate(copy.deepcopy(draw.auditor_bundle()))
    checks = verify_bundle(bundle)  # never raises
    assert any(c.status == FAIL for c in checks), label
    assert run_cli(tmp_path, bundle) == 1
    out = capsys.readouterr().out
    assert "Traceback" not in out and "FAIL" in out


def test_crafted_prize_count_is_refused_by_the_verifier(draw: SampleDraw) -> None:
    bundle = resign(draw.auditor_bundle(), draw,
                    ann=lambda a: a["prizes"].append({"amount_kopecks": 1, "count": 10**10}))
    result = reasons(bundle, draw.keyset)
    assert "prizes in total" in result["freeze.totals"]


@pytest.mark.parametrize("text", ["[1, 2]", '"x"', "{not json", "\udcff"])
def test_unreadable_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str) -> None:
    path = tmp_path / "in.json"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    assert main([str(path)]) == 2
    assert "FAIL input" in capsys.readouterr().out
    assert main([str(tmp_path / "missing.json")]) == 2


def test_unusable_keyset_file_exits_2(draw: SampleDraw, tmp_path: Path) -> None:
    assert run_cli(tmp_path, draw.auditor_bundle(), keyset={"keys": ["nope"]}) == 2


# ------------------------------------------------------------------------- item 10: partial checks
def test_record_without_weights_is_not_a_pass(draw: SampleDraw, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    record = draw.public_record(with_weights=False)
    checks = {c.name: c for c in verify_bundle(record, draw.keyset)}
    assert checks["winners"].status == WARN and "winners not verified" in checks["winners"].reason
    assert run_cli(tmp_path, record, keyset=draw.keyset) == EXIT_INCOMPLETE
    assert "WARN §12 winners: winners not verified" in capsys.readouterr().out
    assert run_cli(tmp_path, record, "--partial", keyset=draw.keyset) == 0
    assert run_cli(tmp_path, draw.public_record(), keyset=draw.keyset) == 0


def test_digest_helper_unchanged(draw: SampleDraw) -> None:
    assert payload_digest(draw.freeze["payload"]) == draw.result["payload"]["freeze_digest"]
