"""The standalone verifier: every check passes on an honest bundle and FAILs on a tampered one."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from draws.engine import (
    EntropyMismatch,
    WitnessQuorumNotMet,
    build_disqualification,
    build_head,
    entropy_bytes,
    next_replacement,
    payload_digest,
)
from draws.sample import SampleDraw, make_sample_draw, sample_signing_key, sample_witness_key, witness_entry
from draws.verify import FAIL, PASS, SKIP, WARN, main, verify_bundle, verify_proof
from signedjson import sign_payload


@pytest.fixture(scope="module")
def draw() -> SampleDraw:
    return make_sample_draw("verify-tests", count=40, exclusions=["0000000000"])


# The auditor's own list of the sample's witnesses (their keys derive from the sample's label).
WITNESSES = [witness_entry(f"Witness {n + 1}", sample_witness_key("verify-tests", n)) for n in range(2)]


def statuses(bundle: dict[str, Any], keyset: dict[str, Any] | None = None) -> dict[str, str]:
    return {c.name: c.status for c in verify_bundle(bundle, keyset, witnesses=WITNESSES)}


def honest(result: dict[str, str]) -> bool:
    """Everything PASSes, the BLS check of the real quicknet round included."""
    return set(result.values()) == {PASS}


def resign(
    bundle: dict[str, Any],
    draw: SampleDraw,
    ann: Callable[[dict[str, Any]], None] | None = None,
    frz: Callable[[dict[str, Any]], None] | None = None,
    res: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Mutate payloads as a dishonest service holding the key would, keeping the digests chained,
    so that only the check aimed at can fail."""
    out = copy.deepcopy(bundle)
    a, f, r = (copy.deepcopy(out[k]["payload"]) for k in ("announcement", "freeze", "result"))
    if ann:
        ann(a)
    f["announcement_digest"] = payload_digest(a)
    if frz:
        frz(f)
    r["announcement_digest"], r["freeze_digest"] = payload_digest(a), payload_digest(f)
    if res:
        res(r)
    for name, payload in (("announcement", a), ("freeze", f), ("result", r)):
        out[name] = sign_payload(draw.key, payload)
    return out


def test_honest_auditor_bundle_passes_everything(draw: SampleDraw) -> None:
    result = statuses(draw.auditor_bundle(), draw.keyset)
    for name in ("keyset", "signature.announcement", "signature.freeze", "signature.result", "commitment", "links",
                 "timing", "entropy", "entropy.chain", "seed", "freeze.totals", "entrants.digest", "weights.digest",
                 "entrants.merkle_root", "exclusions", "winners", "reserves"):
        assert result[name] == PASS
    assert honest(result), result


def test_public_record_recomputes_winners_without_accounts(draw: SampleDraw) -> None:
    record = draw.public_record()
    text = json.dumps(record)
    assert all(e.account not in text for e in draw.frozen.entrants)  # masked accounts only
    result = statuses(record, draw.keyset)
    assert result["winners"] == PASS and result["reserves"] == PASS
    assert result["entrants.digest"] == SKIP
    without_weights = statuses(draw.public_record(with_weights=False), draw.keyset)
    assert without_weights["winners"] == WARN and FAIL not in without_weights.values()


def test_resign_helper_alone_changes_nothing(draw: SampleDraw) -> None:
    assert FAIL not in statuses(resign(draw.auditor_bundle(), draw)).values()


TAMPERS: list[tuple[str, Callable[[dict[str, Any], SampleDraw], dict[str, Any]]]] = [
    ("format", lambda b, d: {**b, "format": "something-else/1"}),
    ("keyset", lambda b, d: {k: v for k, v in b.items() if k != "keyset"}),
    ("signature.announcement", lambda b, d: _edit(b, "announcement", "name", "Another draw")),
    ("signature.freeze", lambda b, d: _edit(b, "freeze", "count", 1)),
    ("signature.result", lambda b, d: _edit(b, "result", "drawn_at", "2030-01-01T00:00:00Z")),
    ("commitment", lambda b, d: resign(b, d, res=lambda r: r.update(secret="11" * 32))),
    ("links", lambda b, d: resign(b, d, res=lambda r: r.update(merkle_root="00" * 32))),
    ("timing", lambda b, d: resign(b, d, frz=lambda f: f.update(frozen_at="2023-08-23T15:09:29Z"))),
    ("entropy", lambda b, d: resign(b, d, res=lambda r: r["entropy"].update(round=r["entropy"]["round"] + 1))),
    ("seed", lambda b, d: resign(b, d, res=lambda r: r.update(seed="22" * 32))),
    ("freeze.totals", lambda b,
     d: resign(b, d, frz=lambda f: f["tiers"]["ideal"].update(count=f["tiers"]["ideal"]["count"] + 1))),
    ("entrants.digest", lambda b, d: _swap_accounts(b)),
    ("weights.digest", lambda b, d: _bump_weight(b)),
    ("salt_key", lambda b, d: {**b, "salt_key": "33" * 32}),
    ("entrants.merkle_root", lambda b, d: resign(b, d, frz=lambda f: f.update(merkle_root="55" * 32),
                                                 res=lambda r: r.update(merkle_root="55" * 32))),
    ("announcement", lambda b, d: resign(b, d, ann=lambda a: a["witnesses"].update(quorum=3))),
    ("witnesses", lambda b, d: resign(b, d, res=lambda r: r.update(cosignatures=r["cosignatures"][:1]))),
    ("head", lambda b, d: {**b, "head": sign_payload(d.key, {**d.head["payload"], "disqualifications": 1})}),
    ("exclusions", lambda b, d: {**b, "exclusions": [*b["exclusions"], b["entrants"]["accounts"][0]]}),
    ("winners", lambda b, d: resign(b, d, res=lambda r: _swap_winner(r))),
    ("winners", lambda b, d: resign(b, d, res=lambda r: r["winners"][0].update(account_masked="******0000"))),
    ("winners", lambda b, d: resign(b, d, res=lambda r: r["winners"][0].update(leaf_hash="44" * 32))),
    ("winners", lambda b, d: resign(b, d, res=lambda r: r["winners"][1].update(amount_kopecks=400_000 - 1))),
    ("reserves", lambda b, d: resign(b, d, res=lambda r: r["reserves"].reverse())),
]


def _edit(bundle: dict[str, Any], record: str, key: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(bundle)
    out[record]["payload"][key] = value
    return out


def _swap_accounts(bundle: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(bundle)
    out["entrants"]["accounts"][0] = out["entrants"]["accounts"][0][:-1] + "9"
    return out


def _bump_weight(bundle: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(bundle)
    out.pop("entrants", None), out.pop("salt_key", None)
    out["weights"] = [w + 1 if i == 0 else w for i, w in enumerate(out.get("weights") or [])]
    return out


def _swap_winner(result: dict[str, Any]) -> None:
    winners = result["winners"]
    winners[0]["entrant_index"], winners[1]["entrant_index"] = winners[1]["entrant_index"], winners[0]["entrant_index"]


@pytest.mark.parametrize(("check", "tamper"), TAMPERS, ids=[f"{i}-{name}" for i, (name, _) in enumerate(TAMPERS)])
def test_each_check_fails_on_its_tamper(draw: SampleDraw, check: str, tamper: Callable[..., dict[str, Any]]) -> None:
    base = draw.auditor_bundle()
    if check == "weights.digest":
        base = draw.public_record()
    result = statuses(tamper(base, draw))
    assert result.get(check) == FAIL, result


def test_every_named_check_has_a_tamper_case() -> None:
    covered = {name for name, _ in TAMPERS} | {"disqualifications", "entropy.beacon"}  # tests of their own below
    names = {"format", "keyset", "signature.announcement", "signature.freeze", "signature.result",
             "commitment", "links", "timing", "entropy", "seed", "freeze.totals", "entrants.digest",
             "weights.digest", "entrants.merkle_root", "exclusions", "winners", "reserves", "disqualifications",
             "salt_key", "witnesses", "entropy.beacon", "head", "announcement"}
    assert names <= covered


def test_foreign_keyset_fails_every_signature(draw: SampleDraw) -> None:
    from draws.sample import keyset_for

    other = keyset_for(sample_signing_key("someone else"))
    result = statuses(draw.auditor_bundle(), other)
    assert result["keyset"] == PASS
    assert all(result[f"signature.{r}"] == FAIL for r in ("announcement", "freeze", "result"))


def _disqualify(draw: SampleDraw, prize: int, previous: dict[str, Any] | None, holders: list[int | None], used: int,
                at: str = "2026-07-05T10:00:00Z") -> dict[str, Any]:
    res = draw.result["payload"]
    reserves = [r["entrant_index"] for r in res["reserves"]]
    rep = next_replacement(holders, reserves, used, prize)
    return sign_payload(draw.key,
                        build_disqualification(res, previous and previous["payload"], rep, "employee's relative", at))


def _two_disqualifications(draw: SampleDraw) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Prize 1's holder, then the reserve promoted to it; and the head that counts both."""
    res = draw.result["payload"]
    holders: list[int | None] = [w["entrant_index"] for w in res["winners"]]
    first = _disqualify(draw, 1, None, holders, 0)
    holders[1] = res["reserves"][0]["entrant_index"]
    second = _disqualify(draw, 1, first, holders, 1, at="2026-07-06T10:00:00Z")
    head = sign_payload(draw.key, build_head(res, [first["payload"], second["payload"]], "2026-07-06T10:00:00Z"))
    return first, second, head


def test_disqualifications_pass_and_fail(draw: SampleDraw) -> None:
    res = draw.result["payload"]
    first, second, head = _two_disqualifications(draw)
    good = {**draw.public_record(), "disqualifications": [first, second], "head": head}
    result = statuses(good)
    assert result["disqualifications"] == PASS and result["head"] == PASS
    wrong = copy.deepcopy(second["payload"])
    wrong["replacement_reserve_index"], wrong["replacement_entrant_index"] = 2, res["reserves"][2]["entrant_index"]
    bad = {**draw.public_record(), "disqualifications": [first, sign_payload(draw.key, wrong)], "head": head}
    assert statuses(bad)["disqualifications"] == FAIL


def test_removing_the_last_disqualification_is_caught_by_the_signed_head(draw: SampleDraw) -> None:
    first, _second, head = _two_disqualifications(draw)
    cut = {**draw.public_record(), "disqualifications": [first], "head": head}
    result = {c.name: c for c in verify_bundle(cut, draw.keyset, witnesses=WITNESSES)}
    assert result["head"].status == FAIL and "counts 2" in result["head"].reason
    no_head = {k: v for k, v in draw.public_record().items() if k != "head"}
    assert statuses(no_head, draw.keyset)["signature.head"] == FAIL  # a v2 record must carry its head


def test_backdated_or_unchained_disqualification_fails(draw: SampleDraw) -> None:
    res = draw.result["payload"]
    holders: list[int | None] = [w["entrant_index"] for w in res["winners"]]
    rep = next_replacement(holders, [r["entrant_index"] for r in res["reserves"]], 0, 0)
    payload = build_disqualification(res, None, rep, "late entry", "2026-07-05T10:00:00Z")
    backdated = sign_payload(draw.key, {**payload, "disqualified_at": "2023-08-23T15:00:00Z"})  # before the draw
    record = {**draw.public_record(), "disqualifications": [backdated]}
    result = {c.name: c for c in verify_bundle(record, draw.keyset, witnesses=WITNESSES)}
    assert result["disqualifications"].status == FAIL and "not after the draw" in result["disqualifications"].reason
    uncounted = sign_payload(draw.key, {**payload, "count": 5})
    record = {**draw.public_record(), "disqualifications": [uncounted]}
    assert statuses(record, draw.keyset)["disqualifications"] == FAIL


def test_refreeze_by_the_operator_fails_the_witness_check(draw: SampleDraw) -> None:
    """The attack of issue 11: after the round is known, the operator swaps an entrant, recomputes and
    re-signs the freeze and the result with its own key, keeping the old times. The witnesses
    cosigned the old freeze, so the quorum is not met; the operator cannot get timely new
    cosignatures, and naming its own witness keys in a re-signed announcement is caught by the
    auditor's witness list."""
    from draws.engine import build_freeze, build_result, freeze_entrants
    from draws.sample import cosign_freeze, sample_witness_key, witness_entry

    ann = draw.announcement["payload"]
    people = draw.frozen.entrants
    people[0] = type(people[0])("9999999999", people[0].tier, people[0].weight)  # the operator's friend
    frozen = freeze_entrants(people, draw.salt_key)
    freeze = build_freeze(ann, frozen, draw.freeze["payload"]["frozen_at"])
    old_cosignatures = draw.result["payload"]["cosignatures"]
    forged = {**draw.auditor_bundle(), "freeze": sign_payload(draw.key, freeze)}
    result = copy.deepcopy(draw.result["payload"])
    result.update(freeze_digest=payload_digest(freeze), entrant_digest=freeze["entrant_digest"],
                  merkle_root=freeze["merkle_root"], cosignatures=old_cosignatures)
    forged["result"] = sign_payload(draw.key, result)
    forged["entrants"] = {"accounts": frozen.accounts, "tiers": frozen.tiers, "weights": frozen.weights}
    checks = {c.name: c for c in verify_bundle(forged, draw.keyset, witnesses=WITNESSES)}
    assert checks["witnesses"].status == FAIL and "§8 witnesses" in checks["witnesses"].line()
    assert "0 of 2" in checks["witnesses"].reason
    # The engine itself refuses to draw with the old cosignatures.
    with pytest.raises(WitnessQuorumNotMet):
        build_result(ann, freeze, frozen.accounts, frozen.weights, draw.salt_key, draw.secret, draw.entropy_value,
                     draw.result["payload"]["drawn_at"], old_cosignatures)
    # Its own "witnesses", named in a re-signed announcement and cosigning with backdated clocks:
    fakes = [("Witness 1", sample_witness_key("operator", 0)), ("Witness 2", sample_witness_key("operator", 1))]
    ann2 = {**ann, "witnesses": {**ann["witnesses"], "keys": [witness_entry(n, k) for n, k in fakes]}}
    freeze2 = {**freeze, "announcement_digest": payload_digest(ann2)}
    cosigs = [cosign_freeze(k, n, ann2, freeze2, draw.freeze["payload"]["frozen_at"]) for n, k in fakes]
    result2, _ = build_result(ann2, freeze2, frozen.accounts, frozen.weights, draw.salt_key, draw.secret,
                              draw.entropy_value, draw.result["payload"]["drawn_at"], cosigs)
    forged2 = {**forged, "announcement": sign_payload(draw.key, ann2), "freeze": sign_payload(draw.key, freeze2),
               "result": sign_payload(draw.key, result2),
               "head": sign_payload(draw.key, build_head(result2, [], result2["drawn_at"]))}
    checks = {c.name: c for c in verify_bundle(forged2, draw.keyset, witnesses=WITNESSES)}
    assert checks["witnesses"].status == FAIL and "not in your witness list" in checks["witnesses"].reason
    trusting = {c.name: c.status for c in verify_bundle(forged2, draw.keyset)}
    assert trusting["witnesses"] == WARN  # without the auditor's list it cannot be caught, and says so


def test_forged_drand_round_fails_the_beacon_check(draw: SampleDraw) -> None:
    from draws.sample import drand_value_for

    fake = drand_value_for("forger", draw.entropy_value["round"])
    fake["signature"] = fake["signature"][:96]  # 48 bytes: the right length for quicknet
    fake["randomness"] = hashlib.sha256(bytes.fromhex(fake["signature"])).hexdigest()
    forged = resign(draw.auditor_bundle(), draw, res=lambda r: r.update(entropy=fake))
    checks = {c.name: c for c in verify_bundle(forged, draw.keyset, witnesses=WITNESSES)}
    assert checks["entropy.beacon"].status == FAIL and "§7.1" in checks["entropy.beacon"].line()
    with pytest.raises(EntropyMismatch):
        entropy_bytes(draw.announcement["payload"]["entropy_source"], fake)


def test_key_used_before_its_creation_fails(draw: SampleDraw) -> None:
    from draws.sample import keyset_for

    late_key = keyset_for(draw.key, created="2024-01-01T00:00:00Z")  # after every record of the sample
    result = {c.name: c for c in verify_bundle(draw.auditor_bundle(), late_key, witnesses=WITNESSES)}
    assert result["signature.announcement"].status == FAIL and "backdated" in result["signature.announcement"].reason


def test_unwitnessed_draw_says_so_and_needs_an_explicit_acceptance(tmp_path: Path) -> None:
    bare = make_sample_draw("unwitnessed", count=20, witnesses=0)
    checks = verify_bundle(bare.auditor_bundle(), bare.keyset)
    line = next(c for c in checks if c.name == "witnesses")
    assert line.status == WARN and "UNWITNESSED" in line.reason
    path, keyset = tmp_path / "bundle.json", tmp_path / "keyset.json"
    path.write_text(json.dumps(bare.auditor_bundle()))
    keyset.write_text(json.dumps(bare.keyset))
    assert main([str(path), "--keyset", str(keyset)]) == 3
    assert main([str(path), "--keyset", str(keyset), "--accept-unwitnessed"]) == 0


def test_inclusion_proof_mode(draw: SampleDraw) -> None:
    record = draw.public_record(with_weights=False)
    winner = draw.frozen.entrants[draw.outcome.winners[0]]
    proof = draw.frozen.proof_for(draw.announcement["payload"]["draw_id"], winner.account, draw.salt_key).as_json()
    checks = verify_proof(record, proof)
    assert [c.status for c in checks] == [PASS, PASS]
    assert "winner of prize 0" in checks[-1].reason
    tampered = {**proof, "path": list(reversed(proof["path"]))}
    assert verify_proof(record, tampered)[-1].status == FAIL
    assert verify_proof(record, {**proof, "draw_id": "other"})[-1].status == FAIL
    assert verify_proof(record, {**proof, "weight": 99})[-1].status == FAIL


def test_command_line(draw: SampleDraw, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "bundle.json"
    good.write_text(json.dumps(draw.auditor_bundle()))
    keyset = tmp_path / "keyset.json"
    keyset.write_text(json.dumps(draw.keyset))
    winner = draw.frozen.entrants[draw.outcome.winners[0]]
    proof = tmp_path / "proof.json"
    proof.write_text(json.dumps(draw.frozen.proof_for(draw.announcement["payload"]["draw_id"], winner.account,
                                                      draw.salt_key).as_json()))
    witnesses = tmp_path / "witnesses.json"
    witnesses.write_text(json.dumps({"witnesses": WITNESSES}))
    assert main([str(good), "--keyset", str(keyset), "--witnesses", str(witnesses), "--proof", str(proof)]) == 0
    out = capsys.readouterr().out
    assert "PASS §12 winners" in out and "PASS §6 proof.inclusion" in out and "0 failed" in out
    assert "PASS §8 witnesses: 2 of 2" in out and "PASS §7.1 entropy.beacon" in out
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(resign(draw.auditor_bundle(), draw, res=lambda r: r["reserves"].reverse())))
    assert main([str(bad)]) == 1
    assert "FAIL §12 reserves: reserve 0" in capsys.readouterr().out
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert main([str(broken)]) == 2
