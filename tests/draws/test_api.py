"""The draws API: a whole draw through HTTP, refusals in the error shape, scopes, records."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask

from draws import services
from draws.engine import entropy_available_at
from draws.verify import PASS
from rewards.db import db
from tests.draws.conftest import T0, cosign_package, drand_value, kit_verify, snapshot_tiers, witness_entries
from tests.support import bearer, make_snapshot


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock(T0)
    monkeypatch.setattr(services, "utcnow", c)
    return c


@pytest.fixture
def seeded(app: Flask) -> Flask:
    with app.app_context():
        make_snapshot(db.session, "2026-05", snapshot_tiers(30))
        db.session.commit()
    return app


DRAFT: dict[str, Any] = {
    "name": "Autumn", "kind": "semi-annual", "tier_weights": {"responsible": 1, "ideal": 3},
    "prizes": [{"amount_kopecks": 400000, "count": 2}], "reserves": 1,
    "freeze_at": (T0 + timedelta(days=3)).isoformat(),
    "entropy": {"type": "drand", "chain": "test", "delay_seconds": 600},
    "witnesses": witness_entries(), "quorum": 2,
}


def test_whole_draw_over_the_api(seeded: Flask, clock: Clock, api_token: Callable[..., str]) -> None:
    client = seeded.test_client()
    write = bearer(api_token("draws:write", "draws:read"))
    pid, body = _create_freeze_cosign(client, clock, write)
    _draw_and_publish(client, clock, write, pid, body)
    account, cabinet = _records_and_proofs(client, api_token, write, pid)
    _disqualify_and_credit(client, clock, write, pid)
    code = client.get(f"/api/v1/draws/{pid}/check-codes/{account}", headers=cabinet)
    assert code.status_code == 200 and len(code.get_json()["check_code"]) == 11
    assert client.get(f"/api/v1/draws/{pid}/check-codes/{account}", headers=write).status_code == 403


def _create_freeze_cosign(client: Any, clock: Clock, write: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """Create, announce and freeze the draw, then add the witnesses' cosignatures (each once): its id and the
    frozen draw."""
    r = client.post("/api/v1/draws", json=DRAFT, headers=write)
    assert r.status_code == 201, r.get_json()
    pid = r.get_json()["draw_id"]
    assert client.post(f"/api/v1/draws/{pid}/announce", headers=write).status_code == 200
    clock.now = T0 + timedelta(days=3, seconds=10)
    body = client.post(f"/api/v1/draws/{pid}/freeze", headers=write).get_json()
    assert body["state"] == "frozen" and body["entrant_count"] == 14
    package = client.get(f"/api/v1/draws/{pid}/freeze-package").get_json()  # public: what witnesses cosign
    for number, envelope in enumerate(cosign_package(package), start=1):
        added = client.post(f"/api/v1/draws/{pid}/cosignatures", json={"cosignature": envelope}, headers=write)
        assert added.status_code == 201 and added.get_json()["counted"] == number, added.get_json()
    again = client.post(f"/api/v1/draws/{pid}/cosignatures", json={"cosignature": envelope}, headers=write)
    assert again.status_code == 409
    return pid, body


def _draw_and_publish(client: Any, clock: Clock, write: dict[str, str], pid: str, body: dict[str, Any]) -> None:
    """The draw refused before its entropy exists and with the wrong round, run once, then published."""
    round_number = body["entropy_source"]["round"]
    early = client.post(f"/api/v1/draws/{pid}/draw", json={"entropy": drand_value(round_number)}, headers=write)
    assert early.status_code == 409 and "does not exist yet" in early.get_json()["message"]  # too early: state
    clock.now = datetime.fromtimestamp(entropy_available_at(body["entropy_source"]),
                                       clock.now.tzinfo) + timedelta(seconds=1)
    wrong = client.post(f"/api/v1/draws/{pid}/draw", json={"entropy": drand_value(round_number - 1)}, headers=write)
    assert wrong.status_code == 422 and wrong.get_json()["errors"] == {"entropy": [wrong.get_json()["message"]]}
    assert client.post(f"/api/v1/draws/{pid}/draw", json={"entropy": drand_value(round_number)},
                       headers=write).status_code == 200
    again = client.post(f"/api/v1/draws/{pid}/draw", json={"entropy": drand_value(round_number)}, headers=write)
    assert again.status_code == 409
    assert client.get(f"/api/v1/draws/{pid}/record").status_code == 404  # not yet published
    assert client.post(f"/api/v1/draws/{pid}/publish", headers=write).status_code == 200


def _records_and_proofs(client: Any, api_token: Callable[..., str], write: dict[str, str],
                        pid: str) -> tuple[str, dict[str, str]]:
    """The public record verifies; the bundle and verification for auditors only; a winner's inclusion proof
    for the cabinet only: the winner's account and the cabinet's headers."""
    record = client.get(f"/api/v1/draws/{pid}/record").get_json()  # public, no key
    checks = {c.name: c.status for c in kit_verify(record)}
    assert checks["winners"] == PASS and "FAIL" not in checks.values()
    for path in ("verification", "bundle"):  # the full entrant list and salt key: auditors only
        assert client.get(f"/api/v1/draws/{pid}/{path}", headers=write).status_code == 403
    audit = bearer(api_token("draws:audit"))
    verification = client.get(f"/api/v1/draws/{pid}/verification", headers=audit).get_json()
    assert verification["ok"] is True
    bundle = client.get(f"/api/v1/draws/{pid}/bundle", headers=audit).get_json()
    winner_index = record["result"]["payload"]["winners"][0]["entrant_index"]
    account = bundle["entrants"]["accounts"][winner_index]
    assert account not in json.dumps(record)
    cabinet = bearer(api_token("cabinet:read"))
    proof = client.get(f"/api/v1/draws/{pid}/proofs/{account}", headers=cabinet)
    assert proof.status_code == 200 and proof.get_json()["leaf_index"] == winner_index
    assert client.get(f"/api/v1/draws/{pid}/proofs/{account}", headers=write).status_code == 403
    return str(account), cabinet


def _disqualify_and_credit(client: Any, clock: Clock, write: dict[str, str], pid: str) -> None:
    """A disqualification (refused in the draw's own second), the credit batch (once, byte-identical at
    every download) and billing's confirmation."""
    same_second = client.post(f"/api/v1/draws/{pid}/disqualifications", json={"prize_index": 0, "reason": "x"},
                              headers=write)
    assert same_second.status_code == 422 and "later than the draw" in same_second.get_json()["message"]
    clock.now += timedelta(minutes=5)
    dq = client.post(f"/api/v1/draws/{pid}/disqualifications", json={"prize_index": 0, "reason": "employee"},
                     headers=write)
    assert dq.status_code == 201 and dq.get_json()["replaced"] is True
    batch = client.post("/api/v1/draw-credits/batches", headers=write)
    assert batch.status_code == 201 and batch.get_json()["count"] == 2
    first = client.get(f"/api/v1/draw-credits/batches/{batch.get_json()['id']}", headers=write)
    second = client.get(f"/api/v1/draw-credits/batches/{batch.get_json()['id']}", headers=write)
    assert first.data == second.data and first.mimetype == "text/csv"
    nothing = client.post("/api/v1/draw-credits/batches", headers=write)  # nothing pending: a state conflict
    assert nothing.status_code == 409 and nothing.get_json()["status"] == "nothing_pending"
    lines = first.get_data(as_text=True).strip().splitlines()[1:]
    content = "credit_id,account,amount_kopecks,status\n" + "".join(
        f"{row.split(',')[0]},{row.split(',')[3]},{row.split(',')[4]},posted\n" for row in lines
    )
    confirmed = client.post("/api/v1/draw-credits/confirmations", json={"content": content}, headers=write)
    assert confirmed.get_json() == {"posted": 2, "already_posted": 0}


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"prizes": [{"amount_kopecks": 500000, "count": 1}]}, "json"),  # the documented range (schema)
        ({"prizes": [{"amount_kopecks": "100", "count": 1}]}, "json"),
        ({"tier_weights": {"ideal": -2}}, "json"),  # the documented range (schema)
        ({"tier_weights": {"gold": 1}}, "json"),  # the documented tiers
        ({"name": " "}, "json"),
        ({"kind": "monthly"}, "json"),
        ({"reserves": 1001}, "json"),
        ({"prizes": []}, "json"),
        ({"entropy": {"type": "drand", "chain": "quicknet", "delay_seconds": -1}}, "entropy"),
    ],
)
def test_bad_drafts_get_the_error_shape(seeded: Flask, clock: Clock, api_token: Callable[..., str], patch: dict,
                                        field: str) -> None:
    r = seeded.test_client().post("/api/v1/draws", json={**DRAFT, **patch}, headers=bearer(api_token("draws:write")))
    body = r.get_json()
    assert r.status_code == 422, body
    assert set(body) == {"code", "status", "message", "errors", "request_id"}
    assert field in body["errors"]
    listing = seeded.test_client().get("/api/v1/draws", headers=bearer(api_token("draws:read"))).get_json()
    assert listing == []


def test_a_past_freeze_time_is_a_conflict_with_the_clock(
    seeded: Flask, clock: Clock, api_token: Callable[..., str]
) -> None:
    draft = {**DRAFT, "freeze_at": (T0 - timedelta(days=1)).isoformat()}
    r = seeded.test_client().post("/api/v1/draws", json=draft, headers=bearer(api_token("draws:write")))
    assert r.status_code == 409 and r.get_json()["status"] == "too_late" and "freeze_at" in r.get_json()["errors"]


def test_scopes(seeded: Flask, api_token: Callable[..., str]) -> None:
    client = seeded.test_client()
    assert client.get("/api/v1/draws").status_code == 401
    assert client.post("/api/v1/draws", json=DRAFT, headers=bearer(api_token("draws:read"))).status_code == 403
    assert client.get("/api/v1/draws/nope", headers=bearer(api_token("draws:read"))).status_code == 404
