"""Sandbox keys and the partner's own redemption report, on both engines.

A sandbox key (a partner client linked with ``sandbox``) works with the partner's test codes
(``TEST-...``) through the same API and errors, and never with a live code: every partner endpoint is
tried with a sandbox key on a live code (the list is checked against the app's routes). Test codes
count in no live figure: issued counts, reports, the event log's ``code.redeemed``."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from partners.models import Code, RedemptionEvent
from partners.services import catalog, issue
from partners.services.catalog import PARTNER_SCOPES
from rewards.audit.models import Event
from rewards.db import db
from tests.support import bearer

pytestmark = pytest.mark.usefixtures("backend")
P = "/api/v1/partner"
SCOPES = (*PARTNER_SCOPES, "webhooks:manage")


@pytest.fixture
def world(app: Flask, client: Any, api_token: Any, make_partner: Any, make_offer: Any, add_snapshot: Any,
          issue_codes: Any) -> dict[str, Any]:
    gs = make_partner(scopes=SCOPES)
    sandbox_token = api_token(*SCOPES, name="gsrv-sandbox")
    with app.app_context():
        from partners.models import Partner

        catalog.link_client(db.session, db.session.get(Partner, gs["id"]), "gsrv-sandbox", actor="test", sandbox=True)
        db.session.commit()
    offer_id = make_offer(gs["id"])
    live = issue_codes(offer_id, add_snapshot("2026-10", [("7400000001", "ideal"), ("7400000002", "ideal")]))
    r = client.post(f"{P}/offers/{offer_id}/test-codes", json={"count": 3}, headers=bearer(sandbox_token))
    assert r.status_code == 201, r.get_json()
    test = r.get_json()["codes"]
    assert len(test) == 3 and all(c.startswith("TEST-GSRV-") for c in test)
    return {"live_token": gs["token"], "sandbox": sandbox_token, "offer_id": offer_id, "live": live, "test": test}


def _redeem(client: Any, token: str, code: str, key: str) -> Any:
    return client.post(f"{P}/redemptions", json={"code": code, "order_ref": "o-" + key},
                       headers={**bearer(token), "Idempotency-Key": key})


def test_sandbox_key_works_with_test_codes_with_the_same_api_and_errors(app, client, world) -> None:
    s, code = world["sandbox"], world["test"][0]
    r = client.post(f"{P}/codes/validate", json={"code": code.lower()}, headers=bearer(s))
    assert r.get_json()["valid"] is True and r.get_json()["code"] == code
    first = _redeem(client, s, code, "t1")
    assert first.status_code == 201 and first.get_json()["code"] == code
    again = _redeem(client, s, code, "t2")
    assert again.status_code == 409 and again.get_json()["status"] == "already_redeemed"
    rid = first.get_json()["redemption_id"]
    assert client.post(f"{P}/redemptions/{rid}/rollback", json={}, headers=bearer(s)).status_code == 200
    r = client.post(f"{P}/redemptions/{rid}/rollback", json={}, headers=bearer(s))
    assert r.status_code == 409 and r.get_json()["status"] == "already_rolled_back"
    assert _redeem(client, s, code, "t3").status_code == 201
    typo = code[:-1] + ("0" if code[-1] != "0" else "1")
    bad = _redeem(client, s, typo, "t4")  # a typo: malformed, as for a live key
    assert bad.status_code == 422 and bad.get_json()["status"] == "malformed"
    # a live key cannot use a test code: not found, like an absent one
    live = world["live_token"]
    assert client.post(f"{P}/codes/validate", json={"code": code}, headers=bearer(live)).get_json()["reason"] == \
        "not_found"
    assert _redeem(client, live, world["test"][1], "l1").status_code == 404
    assert client.post(f"{P}/redemptions/{rid}/rollback", json={}, headers=bearer(live)).status_code == 404
    # the sandbox's report has its figures; the live report, the live totals and the event log none of them
    report = client.get(f"{P}/offers/{world['offer_id']}/report", headers=bearer(s)).get_json()
    assert report["totals"] == {"issued": 3, "redeemed": 2, "rolled_back": 1, "net_redeemed": 1}
    report = client.get(f"{P}/offers/{world['offer_id']}/report", headers=bearer(live)).get_json()
    assert report["totals"] == {"issued": 2, "redeemed": 0, "rolled_back": 0, "net_redeemed": 0}
    rows = client.get(f"{P}/reports/redemptions", headers=bearer(s)).get_json()["rows"]
    assert [(x["redeemed"], x["rolled_back"]) for x in rows] == [(2, 1)]
    assert client.get(f"{P}/reports/redemptions", headers=bearer(live)).get_json()["rows"] == []
    with app.app_context():
        assert issue.issued_count(db.session, world["offer_id"]) == 2
        actions = set(db.session.scalars(select(Event.action)))
        assert "code.redeemed" not in actions and "sandbox.code_redeemed" in actions
        assert "code.redemption_rolled_back" not in actions


def test_a_sandbox_key_cannot_validate_redeem_or_see_a_live_code_on_any_endpoint(app, client, world) -> None:
    s, live_code, live = world["sandbox"], world["live"][0], world["live_token"]
    live_redemption = _redeem(client, live, world["live"][1], "live-1").get_json()["redemption_id"]
    with app.app_context():
        before = {c.id: (c.state, c.version) for c in db.session.scalars(select(Code).where(Code.test.is_(False)))}
        ledger = db.session.scalar(select(func.count()).select_from(RedemptionEvent))
    oid = world["offer_id"]
    h = bearer(s)
    tried: dict[str, Any] = {}

    def call(method: str, rule: str, path: str, **kw: Any) -> Any:
        r = client.open(path, method=method, headers={**h, **kw.pop("headers", {})}, **kw)
        tried[f"{method} {rule}"] = r
        body = r.get_data(as_text=True)
        assert live_redemption not in body, (rule, body)
        assert live_code not in body or rule == "/codes/validate", (rule, body)  # validate echoes what it got
        return r

    r = call("POST", "/codes/validate", f"{P}/codes/validate", json={"code": live_code})
    assert r.get_json() == {"code": live_code, "valid": False, "reason": "not_found", "offer": None}
    r = call("POST", "/redemptions", f"{P}/redemptions", json={"code": live_code, "order_ref": "x"},
             headers={"Idempotency-Key": "s-live"})
    assert r.status_code == 404 and r.get_json()["status"] == "not_found"
    r = call("POST", "/redemptions/<string:redemption_id>/rollback", f"{P}/redemptions/{live_redemption}/rollback",
             json={})
    assert r.status_code == 404
    r = call("GET", "/offers", f"{P}/offers")
    assert r.status_code == 200  # offers, not codes
    r = call("GET", "/offers/<int:offer_id>/report", f"{P}/offers/{oid}/report")
    assert r.get_json()["totals"]["issued"] == 3 and r.get_json()["totals"]["redeemed"] == 0  # test codes only
    r = call("GET", "/reports/redemptions", f"{P}/reports/redemptions")
    assert r.get_json()["rows"] == [] and r.get_json()["sandbox"] is True
    r = call("GET", "/reports/redemptions.csv", f"{P}/reports/redemptions.csv")
    assert r.get_data(as_text=True).splitlines()[1:] == []
    r = call("POST", "/offers/<int:offer_id>/test-codes", f"{P}/offers/{oid}/test-codes", json={"count": 1})
    assert r.status_code == 201
    r = call("GET", "/webhooks/endpoints", f"{P}/webhooks/endpoints")
    r = call("POST", "/webhooks/endpoints", f"{P}/webhooks/endpoints", json={"url": "https://shop.test/h"})
    eid = r.get_json()["id"]
    call("POST", "/webhooks/endpoints/<int:endpoint_id>/rotate", f"{P}/webhooks/endpoints/{eid}/rotate")
    call("GET", "/webhooks/deliveries", f"{P}/webhooks/deliveries")
    r = call("POST", "/webhooks/deliveries/<int:delivery_id>/replay", f"{P}/webhooks/deliveries/999999/replay")
    assert r.status_code == 404
    call("DELETE", "/webhooks/endpoints/<int:endpoint_id>", f"{P}/webhooks/endpoints/{eid}")
    routes = {f"{m} {rule.rule[len(P):]}" for rule in app.url_map.iter_rules() if rule.rule.startswith(P + "/")
              for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert routes <= set(tried), routes - set(tried)  # every partner endpoint was tried
    with app.app_context():
        after = {c.id: (c.state, c.version) for c in db.session.scalars(select(Code).where(Code.test.is_(False)))}
        assert after == before
        assert db.session.scalar(select(func.count()).select_from(RedemptionEvent)) == ledger


def test_partner_report_by_day_and_offer_json_and_csv(app, client, world, make_offer, add_snapshot,
                                                      issue_codes) -> None:
    live = world["live_token"]
    for n, code in enumerate(world["live"]):
        assert _redeem(client, live, code, f"r{n}").status_code == 201
    data = client.get(f"{P}/reports/redemptions", headers=bearer(live)).get_json()
    assert data["sandbox"] is False and len(data["rows"]) == 1
    row = data["rows"][0]
    assert (row["offer_id"], row["redeemed"], row["rolled_back"], row["net_redeemed"]) == (world["offer_id"], 2, 0, 2)
    r = client.get(f"{P}/reports/redemptions.csv?from={row['day']}&to={row['day']}", headers=bearer(live))
    assert r.status_code == 200 and r.mimetype == "text/csv"
    lines = list(csv.reader(io.StringIO(r.get_data(as_text=True)), delimiter=";"))
    assert lines == [["day", "offer_id", "title", "redeemed", "rolled_back", "net_redeemed"],
                     [row["day"], str(world["offer_id"]), row["title"], "2", "0", "2"]]
    r = client.get(f"{P}/reports/redemptions?from=2026-02-01&to=2026-01-01", headers=bearer(live))
    assert r.status_code == 422 and "to" in r.get_json()["errors"]
    r = client.get(f"{P}/reports/redemptions?from=2024-01-01&to=2026-01-01", headers=bearer(live))
    assert r.status_code == 422
    r = client.get(f"{P}/reports/redemptions?from=2026-01-01&to=2026-01-31", headers=bearer(live))
    assert r.get_json()["rows"] == []  # another period: nothing
    assert client.post(f"{P}/offers/{world['offer_id']}/test-codes", json={"count": 1},
                       headers=bearer(live)).status_code == 403  # test codes for a sandbox key only
