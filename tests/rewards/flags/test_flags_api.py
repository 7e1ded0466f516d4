"""The flags API: the call-centre look-up, set/revoke/history/bulk, scopes and the error shape."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from rewards.db import db
from rewards.flags import services
from rewards.flags.shell import local_today
from tests.rewards.flags.helpers import store_snapshot
from tests.support import bearer


@pytest.fixture
def tokens(api_token: Callable[..., str]) -> dict[str, str]:
    return {
        "read": api_token("priority:read", name="callcentre"),
        "write": api_token("flags:write", "priority:read", name="crm"),
        "other": api_token("codes:validate", name="partner"),
    }


def _error_shape(body: dict[str, Any], code: int) -> None:
    assert set(body) == {"code", "status", "message", "errors", "request_id"}
    assert body["code"] == code


def test_lookup(app: Flask, client: FlaskClient, tokens: dict[str, str]) -> None:
    with app.app_context():
        period = local_today().strftime("%Y-%m")
        store_snapshot(db.session, period, {"0012": "ideal", "0013": "beginner"})
        services.apply_tier_flags(db.session, period, [("0012", "ideal"), ("0013", "beginner")], actor="t")
        services.set_flag(db.session, "0012", "pensioner", actor="t", today=local_today())
        db.session.commit()
    r = client.get("/api/v1/accounts/0012/priority", headers=bearer(tokens["read"]))
    assert r.status_code == 200, r.json
    body = r.json
    assert body["priority"] is True and body["tier"] == "ideal" and body["tier_period"] == period
    assert sorted(x["reason"] for x in body["reasons"]) == ["pensioner", "tier:ideal"]
    assert next(x for x in body["reasons"] if x["reason"] == "pensioner")["valid_to"] is None
    r = client.get("/api/v1/accounts/0013/priority", headers=bearer(tokens["read"]))
    assert (r.json["priority"], r.json["reasons"], r.json["tier"]) == (False, [], "beginner")
    r = client.get("/api/v1/accounts/99/priority", headers=bearer(tokens["read"]))
    assert (r.json["priority"], r.json["tier"]) == (False, None)
    r = client.get("/api/v1/accounts/12x/priority", headers=bearer(tokens["read"]))
    _error_shape(r.json, 422)
    assert "account" in r.json["errors"]


def test_lookup_answers_as_the_pages_do(app: Flask, tokens: dict[str, str]) -> None:
    """The API's two direct reads give what the session's reads give the pages and the CLI."""
    with app.app_context():
        period = local_today().strftime("%Y-%m")
        store_snapshot(db.session, period, {"0012": "ideal", "0013": "beginner"})
        services.apply_tier_flags(db.session, period, [("0012", "ideal")], actor="t")
        services.set_flag(db.session, "0013", "disability", actor="t", today=local_today())
        db.session.commit()
        for account in ("0012", "0013", "0099"):
            direct = services.priority_now(db.engine, account, today=local_today())
            assert direct == services.priority_of(db.session, account, today=local_today())


def test_lookup_refuses_a_revoked_key_at_once(app: Flask, client: FlaskClient, tokens: dict[str, str]) -> None:
    from rewards.apikeys import services as apikeys

    for _ in range(2):
        assert client.get("/api/v1/accounts/0012/priority", headers=bearer(tokens["read"])).status_code == 200
    with app.app_context():
        apikeys.revoke_client(db.session, "callcentre", actor="t")
        db.session.commit()
    for path in ("/api/v1/accounts/0012/priority", "/api/v1/accounts/12x/priority"):  # answer, refusal
        r = client.get(path, headers=bearer(tokens["read"]))
        assert r.status_code == 401, path
        _error_shape(r.json, 401)


def test_scopes(client: FlaskClient, tokens: dict[str, str]) -> None:
    url = "/api/v1/accounts/1/priority"
    assert client.get(url).status_code == 401
    r = client.get(url, headers=bearer(tokens["other"]))
    assert r.status_code == 403
    _error_shape(r.json, 403)
    r = client.post("/api/v1/accounts/1/flags", json={"reason": "pensioner"}, headers=bearer(tokens["read"]))
    assert r.status_code == 403
    r = client.post("/api/v1/flags/1/revoke", json={"reason": "x"}, headers=bearer(tokens["read"]))
    assert r.status_code == 403
    assert client.post("/api/v1/flags/bulk", data=b"", headers=bearer(tokens["read"])).status_code == 403


def test_set_revoke_history(client: FlaskClient, tokens: dict[str, str]) -> None:
    w = bearer(tokens["write"])
    r = client.post("/api/v1/accounts/77/flags", json={"reason": "hardship", "valid_to": "2099-01-31"}, headers=w)
    assert r.status_code == 201, r.json
    first = r.json["flag_id"]
    assert (
        client.post("/api/v1/accounts/77/flags", json={"reason": "hardship", "valid_to": "2099-01-31"}, headers=w).json[
            "status"
        ]
        == "unchanged"
    )
    r = client.post("/api/v1/accounts/77/flags", json={"reason": "hardship"}, headers=w)
    assert (r.status_code, r.json["status"], r.json["closed_id"]) == (201, "replaced", first)
    second = r.json["flag_id"]
    r = client.post(f"/api/v1/flags/{second}/revoke", json={"reason": "recovered"}, headers=w)
    assert (r.status_code, r.json["status"]) == (200, "revoked")
    r = client.post(f"/api/v1/flags/{second}/revoke", json={"reason": "again"}, headers=w)
    _error_shape(r.json, 409)
    assert r.json["status"] == "already_closed"
    r = client.get("/api/v1/accounts/77/flags", headers=bearer(tokens["read"]))
    assert [(f["id"], f["state"], f["closed_kind"]) for f in r.json["flags"]] == [
        (second, "closed", "revoked"),
        (first, "closed", "replaced"),
    ]
    assert r.json["flags"][0]["closed_by"] == "api:crm"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"reason": "vip"}, "reason"),
        ({"reason": "hardship", "valid_from": "2030-02-01", "valid_to": "2030-01-01"}, "valid_to"),
        ({"reason": "other"}, "note"),
        ({"reason": "hardship", "valid_to": "soon"}, "json"),
        ({}, "json"),
    ],
)
def test_set_bad_input(client: FlaskClient, tokens: dict[str, str], payload: dict[str, Any], field: str) -> None:
    r = client.post("/api/v1/accounts/5/flags", json=payload, headers=bearer(tokens["write"]))
    _error_shape(r.json, 422)
    assert field in r.json["errors"], r.json
    assert client.get("/api/v1/accounts/5/flags", headers=bearer(tokens["read"])).json["flags"] == []


def test_revoke_unknown_flag(client: FlaskClient, tokens: dict[str, str]) -> None:
    r = client.post("/api/v1/flags/999/revoke", json={"reason": "x"}, headers=bearer(tokens["write"]))
    _error_shape(r.json, 404)


def test_bulk(app: Flask, client: FlaskClient, tokens: dict[str, str]) -> None:
    with app.app_context():
        store_snapshot(db.session, "2026-01", {"1": "ideal", "2": "beginner"})
        db.session.commit()
    w = bearer(tokens["write"])
    bad = b"account;reason\n1;pensioner\n3;pensioner\n"
    r = client.post("/api/v1/flags/bulk", data=bad, headers={**w, "Content-Type": "text/csv"})
    _error_shape(r.json, 422)
    assert r.json["errors"] == {"line 3": ["account 3 is not in the latest snapshot"]}
    assert client.get("/api/v1/accounts/1/priority", headers=bearer(tokens["read"])).json["priority"] is False
    good = "account;reason\n1;pensioner\n2;disability\n".encode("cp1251")
    r = client.post("/api/v1/flags/bulk", data=good, headers={**w, "Content-Type": "text/csv"})
    assert (r.status_code, r.json["created"]) == (200, 2)
    assert client.get("/api/v1/accounts/1/priority", headers=bearer(tokens["read"])).json["priority"] is True
