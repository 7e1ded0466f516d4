"""The standalone verifier: every check passes on an honest bundle and FAILs on a tampered one."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from draws.engine import build_disqualification, next_replacement, payload_digest
from draws.sample import SampleDraw, make_sample_draw, sample_signing_key
from signedjson import sign_payload
from draws.verify import FAIL, PASS, SKIP, WARN, main, verify_bundle, verify_proof


@pytest.fixture(scope="module")
def draw() -> SampleDraw:
    return make_sample_draw("verify-tests", count=40, exclusions=["0000000000"])


def statuses(bundle: dict[str, Any], keyset: dict[str, Any] | None = None) -> dict[str, str]:
    return {c.name: c.status for c in verify_bundle(bundle, keyset)}


def honest(result: dict[str, str]) -> bool:
    """Everything PASSes except the beacon comparison, which a person does (SKIP)."""
    return result.pop("entropy.beacon") == SKIP and set(result.values()) == {PASS}


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
    ("timing", lambda b, d: resign(b, d, frz=lambda f: f.update(frozen_at="2026-06-30T18:59:59Z"))),
    ("entropy", lambda b, d: resign(b, d, res=lambda r: r["entropy"].update(round=r["entropy"]["round"] + 1))),
    ("seed", lambda b, d: resign(b, d, res=lambda r: r.update(seed="22" * 32))),
    ("freeze.totals", lambda b, d: resign(b, d, frz=lambda f: f["tiers"]["ideal"].update(count=f["tiers"]["ideal"]["count"] + 1))),
    ("entrants.digest", lambda b, d: _swap_accounts(b)),
    ("weights.digest", lambda b, d: _bump_weight(b)),
    ("entrants.merkle_root", lambda b, d: {**b, "salt_key": "33" * 32}),
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
    covered = {name for name, _ in TAMPERS} | {"disqualifications"}
    names = {"format", "keyset", "signature.announcement", "signature.freeze", "signature.result",
             "commitment", "links", "timing", "entropy", "seed", "freeze.totals", "entrants.digest",
             "weights.digest", "entrants.merkle_root", "exclusions", "winners", "reserves", "disqualifications"}
    assert names <= covered


def test_foreign_keyset_fails_every_signature(draw: SampleDraw) -> None:
    from draws.sample import keyset_for

    other = keyset_for(sample_signing_key("someone else"))
    result = statuses(draw.auditor_bundle(), other)
    assert result["keyset"] == PASS
    assert all(result[f"signature.{r}"] == FAIL for r in ("announcement", "freeze", "result"))


def _disqualify(draw: SampleDraw, prize: int, sequence: int, holders: list[int | None], used: int) -> dict[str, Any]:
    res = draw.result["payload"]
    reserves = [r["entrant_index"] for r in res["reserves"]]
    rep = next_replacement(holders, reserves, used, prize)
    return sign_payload(draw.key, build_disqualification(res, sequence, rep, "employee's relative", "2026-07-05T10:00:00Z"))


def test_disqualifications_pass_and_fail(draw: SampleDraw) -> None:
    res = draw.result["payload"]
    holders: list[int | None] = [w["entrant_index"] for w in res["winners"]]
    first = _disqualify(draw, 1, 0, holders, 0)
    holders[1] = res["reserves"][0]["entrant_index"]
    second = _disqualify(draw, 1, 1, holders, 1)  # the promoted reserve is disqualified in turn
    good = {**draw.public_record(), "disqualifications": [first, second]}
    assert statuses(good)["disqualifications"] == PASS
    wrong = copy.deepcopy(second["payload"])
    wrong["replacement_reserve_index"], wrong["replacement_entrant_index"] = 2, res["reserves"][2]["entrant_index"]
    bad = {**draw.public_record(), "disqualifications": [first, sign_payload(draw.key, wrong)]}
    assert statuses(bad)["disqualifications"] == FAIL


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
    proof.write_text(json.dumps(draw.frozen.proof_for(draw.announcement["payload"]["draw_id"], winner.account, draw.salt_key).as_json()))
    assert main([str(good), "--keyset", str(keyset), "--proof", str(proof)]) == 0
    out = capsys.readouterr().out
    assert "PASS winners" in out and "PASS proof.inclusion" in out and "0 failed" in out
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(resign(draw.auditor_bundle(), draw, res=lambda r: r["reserves"].reverse())))
    assert main([str(bad)]) == 1
    assert "FAIL reserves: reserve 0" in capsys.readouterr().out
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert main([str(broken)]) == 2
