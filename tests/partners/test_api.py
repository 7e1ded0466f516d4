"""The partner API over HTTP (Flask test client) on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from partners import codes as codecore
from partners.models import Code, IdempotencyRecord, RedemptionEvent
from rewards.db import db
from tests.support import bearer

pytestmark = pytest.mark.usefixtures("backend")

VALIDATE = "/api/v1/partner/codes/validate"
REDEEM = "/api/v1/partner/redemptions"


@pytest.fixture
def world(app, make_partner, make_offer, add_snapshot, issue_codes) -> dict[str, Any]:
    gs = make_partner()
    tp = make_partner("Teplo", "TPK")
    sid = add_snapshot("2026-10", [("7400000001", "ideal"), ("7400000002", "responsible"), ("7400000003", "beginner")])
    gs_codes = issue_codes(make_offer(gs["id"]), sid)
    tp_codes = issue_codes(make_offer(tp["id"], title="Teplo 500", discount_kind="fixed", discount_value=50000), sid)
    return {"gs": gs, "tp": tp, "gs_codes": gs_codes, "tp_codes": tp_codes}


def H(token: str, key: str | None = None, rid: str = "req-fixed-0001") -> dict[str, str]:
    headers = {**bearer(token), "X-Request-Id": rid}
    if key is not None:
        headers["Idempotency-Key"] = key
    return headers


def _ledger(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(RedemptionEvent)) or 0


def test_validate_answers(client, world) -> None:
    token, code = world["gs"]["token"], world["gs_codes"][0]
    r = client.post(VALIDATE, json={"code": code.lower().replace("-", "")}, headers=H(token))
    assert r.status_code == 200
    body = r.get_json()
    assert body["valid"] is True and body["reason"] is None and body["code"] == code
    assert body["offer"]["discount"] == {"kind": "percent", "value": 10}
    assert body["offer"]["expires_at"].endswith("Z")
    r = client.post(VALIDATE, json={"code": code[:-1] + ("0" if code[-1] != "0" else "1")}, headers=H(token))
    assert r.get_json() == {"code": None, "valid": False, "reason": "malformed", "offer": None}


def test_other_partners_code_answers_exactly_like_a_missing_one(client, world) -> None:
    gs_token = world["gs"]["token"]
    tp_code = world["tp_codes"][0]
    # a well-formed GSRV code that does not exist, and the Teplo code re-prefixed with a fresh check
    missing = codecore.format_code("GSRV", 1)
    forged = codecore.format_code("GSRV", codecore.parse(tp_code).value)
    answers = []
    for text in (missing, forged, tp_code):
        r = client.post(VALIDATE, json={"code": text}, headers=H(gs_token))
        answers.append((r.status_code, r.get_json()["valid"], r.get_json()["reason"], r.get_json()["offer"]))
    assert set(answers) == {(200, False, "not_found", None)}
    # redeem: byte-identical bodies for a missing code and another partner's code
    bodies = []
    for i, text in enumerate((codecore.format_code("TPK", 7), tp_code)):
        r = client.post(REDEEM, json={"code": text, "order_ref": "o"}, headers=H(gs_token, key=f"k{i}"))
        bodies.append((r.status_code, r.get_data()))
    assert bodies[0] == bodies[1]
    assert bodies[0][0] == 404 and json.loads(bodies[0][1])["status"] == "not_found"


def test_redeem_once_replay_and_rollback(app, client, world) -> None:
    token, code = world["gs"]["token"], world["gs_codes"][1]
    body = {"code": code, "order_ref": "order-1", "amount_kopecks": 150000}
    first = client.post(REDEEM, json=body, headers=H(token, "key-1", "req-a-000001"))
    assert first.status_code == 201
    got = first.get_json()
    assert got["discount_kopecks"] == 15000 and got["redemption_id"].startswith("rd_")
    replay = client.post(REDEEM, json=body, headers=H(token, "key-1", "req-b-000002"))
    assert replay.status_code == 201 and replay.get_data() == first.get_data()
    assert replay.headers["Idempotent-Replayed"] == "true"
    reused = client.post(REDEEM, json={**body, "order_ref": "order-2"}, headers=H(token, "key-1"))
    assert reused.status_code == 422 and reused.get_json()["status"] == "idempotency_key_reused"
    second = client.post(REDEEM, json={**body, "order_ref": "order-2"}, headers=H(token, "key-2"))
    assert second.status_code == 409 and second.get_json()["status"] == "already_redeemed"
    assert set(second.get_json()) == {"code", "status", "message", "errors", "request_id"}
    # the refusal is stored too: a retry gets it byte for byte
    again = client.post(REDEEM, json={**body, "order_ref": "order-2"}, headers=H(token, "key-2", "req-c-000003"))
    assert again.get_data() == second.get_data()
    assert _ledger(app) == 1
    rid = got["redemption_id"]
    rb = client.post(f"{REDEEM}/{rid}/rollback", json={"reason": "cancelled"}, headers=H(world["gs"]["token"]))
    assert rb.status_code == 200 and rb.get_json()["redemption_id"] == rid
    rb2 = client.post(f"{REDEEM}/{rid}/rollback", json={}, headers=H(token))
    assert rb2.status_code == 409 and rb2.get_json()["status"] == "already_rolled_back"
    # usable again after the rollback
    assert client.post(VALIDATE, json={"code": code}, headers=H(token)).get_json()["valid"] is True
    # another partner cannot roll back (or even see) this redemption
    other = client.post(f"{REDEEM}/{rid}/rollback", json={}, headers=H(world["tp"]["token"]))
    assert other.status_code == 404 and other.get_json()["status"] == "not_found"


def test_idempotency_key_is_required_and_checked(client, world) -> None:
    token, code = world["gs"]["token"], world["gs_codes"][0]
    r = client.post(REDEEM, json={"code": code, "order_ref": "o"}, headers=H(token))
    assert r.status_code == 422 and "Idempotency-Key" in r.get_json()["errors"]
    r = client.post(REDEEM, json={"code": code, "order_ref": "o"}, headers=H(token, "x" * 256))
    assert r.status_code == 422


def test_in_flight_key_gets_409(app, client, world) -> None:
    from partners.services import idempotency
    from rewards.db import utcnow

    token, code = world["gs"]["token"], world["gs_codes"][0]
    body = {"code": code, "order_ref": "o", "amount_kopecks": None}
    with app.app_context():
        idempotency.claim(db.session, world["gs"]["id"], "busy", "redeem", idempotency.fingerprint("redeem", body),
                          utcnow())
        db.session.commit()
    r = client.post(REDEEM, json=body, headers=H(token, "busy"))
    assert r.status_code == 409 and r.get_json()["status"] == "idempotency_in_flight"
    assert r.headers["Retry-After"] == "1"


BAD_BODIES: list[tuple[str, Any, str | None]] = [
    ("not json", "{code: 1", "application/json"),
    ("a list", [1, 2], None),
    ("code is a number", {"code": 12345, "order_ref": "o"}, None),
    ("amount as text", {"code": "@", "order_ref": "o", "amount_kopecks": "100"}, None),
    ("amount as float", {"code": "@", "order_ref": "o", "amount_kopecks": 100.5}, None),
    ("negative amount", {"code": "@", "order_ref": "o", "amount_kopecks": -1}, None),
    ("extra status", {"code": "@", "order_ref": "o", "status": "redeemed"}, None),
    ("extra partner_id", {"code": "@", "order_ref": "o", "partner_id": 2}, None),
    ("no order_ref", {"code": "@"}, None),
    ("empty order_ref", {"code": "@", "order_ref": ""}, None),
    ("null code", {"code": None, "order_ref": "o"}, None),
]


@pytest.mark.parametrize("label, body, ctype", BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
def test_bad_redeem_bodies_change_nothing(app, client, world, label, body, ctype) -> None:
    token, code = world["gs"]["token"], world["gs_codes"][0]
    if isinstance(body, dict):
        body = {k: (code if v == "@" else v) for k, v in body.items()}
    if isinstance(body, str):
        r = client.post(REDEEM, data=body, content_type=ctype, headers=H(token, "bad-1"))
    else:
        r = client.post(REDEEM, json=body, headers=H(token, "bad-1"))
    assert 400 <= r.status_code < 500, (label, r.status_code)
    assert set(r.get_json()) == {"code", "status", "message", "errors", "request_id"}
    assert _ledger(app) == 0
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(IdempotencyRecord)) == 0
        assert set(db.session.scalars(select(Code.state))) == {"issued"}


def test_oversize_body_is_413(app, client, world) -> None:
    token, code = world["gs"]["token"], world["gs_codes"][0]
    big = json.dumps({"code": code, "order_ref": "o", "pad": "x" * (70 * 1024)})
    r = client.post(REDEEM, data=big, content_type="application/json", headers=H(token, "big"))
    assert r.status_code == 413 and set(r.get_json()) == {"code", "status", "message", "errors", "request_id"}
    r = client.post(VALIDATE, data=big, content_type="application/json", headers=H(token))
    assert r.status_code == 413
    assert _ledger(app) == 0


def test_bad_validate_bodies(client, world) -> None:
    token = world["gs"]["token"]
    for body in ({"code": 1}, {"code": "x", "partner_id": 2}, {}, ["x"]):
        r = client.post(VALIDATE, json=body, headers=H(token))
        assert r.status_code == 422, body
    r = client.post(VALIDATE, json={"code": "x" * 201}, headers=H(token))
    assert r.status_code == 422


def test_keys_and_scopes(app, client, world, api_token) -> None:
    code = world["gs_codes"][0]
    assert client.post(VALIDATE, json={"code": code}).status_code == 401
    assert client.post(VALIDATE, json={"code": code}, headers=bearer("nonsense")).status_code == 401
    unlinked = api_token("codes:validate")
    for text in (code, "nonsense", codecore.format_code("TPK", 7)):  # whatever it sends, a good code or not
        r = client.post(VALIDATE, json={"code": text}, headers=bearer(unlinked))
        assert r.status_code == 403 and "not linked" in r.get_json()["message"], text
    validate_only = api_token("codes:validate", name="gs-validate-only")
    with app.app_context():
        from partners.models import Partner
        from partners.services import catalog

        catalog.link_client(db.session, db.session.get(Partner, world["gs"]["id"]), "gs-validate-only", actor="t")
        db.session.commit()
    assert client.post(VALIDATE, json={"code": code}, headers=bearer(validate_only)).status_code == 200
    r = client.post(REDEEM, json={"code": code, "order_ref": "o"}, headers=H(validate_only, "k"))
    assert r.status_code == 403


def test_suspended_partner(app, client, world) -> None:
    from partners.models import Partner
    from partners.services import catalog

    with app.app_context():
        catalog.set_partner_active(db.session, db.session.get(Partner, world["gs"]["id"]), False, actor="t")
        db.session.commit()
    for text in (world["gs_codes"][0], "nonsense", codecore.format_code("GSRV", 7)):
        r = client.post(VALIDATE, json={"code": text}, headers=H(world["gs"]["token"]))
        assert r.status_code == 403 and "suspended" in r.get_json()["message"], text


def test_rate_limits(app_factory, make_partner, make_offer, add_snapshot, issue_codes) -> None:
    app = app_factory(RATELIMIT_ENABLED=True, PARTNER_API_LIMIT="8/minute", PARTNER_FAILED_LIMIT="3/minute")
    gs = make_partner()
    tp = make_partner("Teplo", "TPK")
    [code] = issue_codes(make_offer(gs["id"]), add_snapshot("2026-10", [("1", "ideal")]))
    c = app.test_client()
    missing = codecore.format_code("GSRV", 99)

    def validate(token: str, text: str) -> Any:
        return c.post(VALIDATE, json={"code": text}, headers=H(token))

    # malformed codes cost nothing of the failed budget (the check symbol caught a typo)
    for _ in range(3):
        assert validate(gs["token"], "nonsense").get_json()["reason"] == "malformed"
    for _ in range(3):
        assert validate(gs["token"], missing).get_json()["reason"] == "not_found"
    r = validate(gs["token"], code)  # failed budget used up: refused even for a good code
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert set(r.get_json()) == {"code", "status", "message", "errors", "request_id"}
    assert "failed" in r.get_json()["message"]
    # redeem not_found answers are charged to the same budget
    r = c.post(REDEEM, json={"code": missing, "order_ref": "o"}, headers=H(gs["token"], "rl-1"))
    assert r.status_code == 429
    # the general limit: 8 calls a minute per key, whatever they are
    other_code = codecore.format_code("TPK", 5)
    for _ in range(2):
        assert validate(tp["token"], other_code).status_code == 200
    for _ in range(6):
        assert validate(tp["token"], "x").status_code == 200
    r = validate(tp["token"], "x")
    assert r.status_code == 429 and "Too many requests" in r.get_json()["message"]


def test_a_not_found_answer_past_the_failed_budget_is_a_429(app_factory, make_partner, monkeypatch) -> None:
    """A look-up admitted while the key had room, whose budget other workers used up meanwhile: its
    not_found answer becomes a 429, and a redemption's claimed Idempotency-Key is freed (a retry is
    not served a stored refusal)."""
    from partners import ratelimit

    app = app_factory(RATELIMIT_ENABLED=True, PARTNER_FAILED_LIMIT="2/minute")
    gs, tp = make_partner(), make_partner("Teplo", "TPK")  # two keys: each look-up starts with room
    real_admit = ratelimit.admit

    def admitted_then_budget_used_elsewhere(key: str) -> None:
        real_admit(key)
        for _ in range(2):
            ratelimit.charge_failed(key)

    monkeypatch.setattr(ratelimit, "admit", admitted_then_budget_used_elsewhere)
    c = app.test_client()
    for r in (c.post(VALIDATE, json={"code": codecore.format_code("GSRV", 99)}, headers=H(gs["token"])),
              c.post(REDEEM, json={"code": codecore.format_code("TPK", 99), "order_ref": "o"},
                     headers=H(tp["token"], "late-1"))):
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
        assert set(r.get_json()) == {"code", "status", "message", "errors", "request_id"}
        assert "failed look-ups" in r.get_json()["message"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(IdempotencyRecord)) == 0


@pytest.mark.parametrize(
    ("body", "status", "errors"),
    [
        ({"json": {}}, 422, {"json": {"code": ["Missing data for required field."]}}),
        ({"json": {"code": 5}}, 422, {"json": {"code": ["Not a valid string."]}}),
        ({"json": {"code": "x" * 201}}, 422, {"json": {"code": ["Longer than maximum length 200."]}}),
        ({"json": [1]}, 422, {"json": {"_schema": ["Invalid input type."]}}),
        ({"data": "code=x"}, 422, {"json": {"code": ["Missing data for required field."]}}),  # not JSON: no body
        (
            {"data": "{bad", "content_type": "application/json"},
            400,
            {"json": ["the body is not valid JSON"]},
        ),  # the kernel guard
    ],
)
def test_validate_refuses_a_bad_body_as_the_other_calls_do(client, world, body, status, errors) -> None:
    """validate loads its body with ValidateIn itself (not through webargs): the same answers."""
    r = client.post(VALIDATE, headers=H(world["gs"]["token"]), **body)
    assert r.status_code == status and r.get_json()["errors"] == errors
    assert set(r.get_json()) == {"code", "status", "message", "errors", "request_id"}


def test_validate_is_documented_as_the_argument_and_response_wrappers_document(client) -> None:
    """validate documents its body and answer with blp.doc; redeem still goes through blp.arguments:
    both operations have the same shape, with their own schemas."""
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    validate, redeem = paths[VALIDATE]["post"], paths[REDEEM]["post"]
    body = json.loads(json.dumps(redeem["requestBody"]).replace("RedeemIn", "ValidateIn"))
    assert validate["requestBody"] == body
    assert validate["responses"]["422"] == redeem["responses"]["422"]
    assert validate["responses"]["default"] == redeem["responses"]["default"]
    assert validate["responses"]["200"] == {
        "description": "OK", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ValidateOut"}}}}


def test_reports_partner_sees_own_staff_all(app, client, world, api_token) -> None:
    gs, tp = world["gs"], world["tp"]
    client.post(REDEEM, json={"code": world["gs_codes"][0], "order_ref": "o"}, headers=H(gs["token"], "r1"))
    offers = client.get("/api/v1/partner/offers", headers=bearer(gs["token"])).get_json()
    assert [o["partner_id"] for o in offers] == [gs["id"]]
    own = client.get(f"/api/v1/partner/offers/{offers[0]['id']}/report", headers=bearer(gs["token"]))
    assert own.status_code == 200
    assert own.get_json()["totals"] == {"issued": 2, "redeemed": 1, "rolled_back": 0, "net_redeemed": 1}
    assert {t["tier"] for t in own.get_json()["by_tier"]} == {"responsible", "ideal"}
    tp_offer = client.get("/api/v1/partner/offers", headers=bearer(tp["token"])).get_json()[0]["id"]
    assert client.get(f"/api/v1/partner/offers/{tp_offer}/report", headers=bearer(gs["token"])).status_code == 404
    staff_token = api_token("partners:read")
    everything = client.get("/api/v1/partners/offers", headers=bearer(staff_token)).get_json()
    assert len(everything) == 2
    assert client.get(f"/api/v1/partners/offers/{tp_offer}/report", headers=bearer(staff_token)).status_code == 200


def test_cabinet_codes(app, client, world, api_token, make_offer) -> None:
    reader, writer = api_token("cabinet:read"), api_token("cabinet:write")
    r = client.get("/api/v1/accounts/7400000001/codes", headers=bearer(reader))
    assert r.status_code == 200 and len(r.get_json()["codes"]) == 2  # one per partner offer
    new_offer = make_offer(world["gs"]["id"], title="Second", tiers=["beginner"])
    url = f"/api/v1/accounts/7400000003/offers/{new_offer}/code"
    first = client.post(url, headers=bearer(writer))
    assert first.status_code == 201
    again = client.post(url, headers=bearer(writer))
    assert again.status_code == 200 and again.get_json()["code"] == first.get_json()["code"]
    refused = client.post(f"/api/v1/accounts/7400000001/offers/{new_offer}/code", headers=bearer(writer))
    assert refused.status_code == 403 and refused.get_json()["status"] == "not_qualified"
    assert client.post(url, headers=bearer(reader)).status_code == 403
    assert client.get("/api/v1/accounts/" + "9" * 40 + "/codes", headers=bearer(reader)).status_code == 422


def test_openapi_documents_the_partner_api(client) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    for path in (VALIDATE, REDEEM, REDEEM + "/{redemption_id}/rollback", "/api/v1/accounts/{account}/codes"):
        assert path in spec["paths"], path
    params = spec["paths"][REDEEM]["post"]["parameters"]
    assert any(p["name"] == "Idempotency-Key" and p["required"] for p in params)


@pytest.mark.parametrize("text", ["good", "malformed", "absent"])
def test_validate_refuses_a_revoked_key_at_once(app, client, world, text) -> None:
    """validate refuses a key on its first request after the revocation, whatever the code."""
    from rewards.apikeys import services as apikeys
    from rewards.apikeys import tokens
    from rewards.apikeys.models import ApiKey

    token = world["gs"]["token"]
    body = {"good": world["gs_codes"][0], "malformed": "nonsense", "absent": codecore.format_code("GSRV", 1)}[text]
    for _ in range(2):
        assert client.post(VALIDATE, json={"code": body}, headers=H(token)).status_code == 200
    with app.app_context():
        key = db.session.scalar(select(ApiKey).where(ApiKey.token_hash == tokens.hash_of(token)))
        apikeys.revoke_key(db.session, key.id, actor="t")
        db.session.commit()
    r = client.post(VALIDATE, json={"code": body}, headers=H(token))
    assert r.status_code == 401 and "valid" not in r.get_json()


def test_a_key_without_a_partner_hears_403_even_over_its_limit(app_factory, api_token) -> None:
    app = app_factory(RATELIMIT_ENABLED=True, PARTNER_API_LIMIT="2/minute")
    from rewards.apikeys.services import create_client

    with app.app_context():
        _client, unlinked = create_client(db.session, "stray", ["codes:validate"], actor="t")
        db.session.commit()
    c = app.test_client()
    statuses = [c.post(VALIDATE, json={"code": "nonsense"}, headers=H(unlinked)).status_code for _ in range(4)]
    assert statuses == [403, 403, 403, 403]
