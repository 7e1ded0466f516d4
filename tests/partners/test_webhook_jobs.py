"""Webhook delivery end to end, on both engines, against a local receiver (loopback only): every event
arrives signed; a receiver that was down gets every message later, in order per code, with the same
ids; 200 concurrent redemptions make exactly 200 ``code.redeemed`` deliveries."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from partners.models import DELIVERED, FAILED, Offer, WebhookDelivery, WebhookMessage
from partners.services import catalog
from partners.services import webhooks as hooks
from partners.services.catalog import PARTNER_SCOPES
from partners.webhook_jobs import periodic_expiring, send_due
from rewards.db import db, utcnow
from tests.partners.webhook_receiver import Receiver, check_signed
from tests.support import bearer

pytestmark = pytest.mark.usefixtures("backend")
REDEEM = "/api/v1/partner/redemptions"
ENDPOINTS = "/api/v1/partner/webhooks/endpoints"
SCOPES = (*PARTNER_SCOPES, "webhooks:manage")


@pytest.fixture
def app(app_factory: Callable[..., Flask]) -> Flask:
    return app_factory(WEBHOOK_ALLOW_LOCAL=True)


@pytest.fixture
def receiver() -> Any:
    with Receiver() as r:
        yield r


def _send(app: Flask, shift: timedelta = timedelta(0), monkeypatch: Any = None) -> int:
    if monkeypatch is not None:
        monkeypatch.setattr("partners.webhook_jobs.utcnow", lambda: utcnow() + shift)
    with app.app_context():
        return send_due(db.session, app)


def _world(app: Flask, client: Any, make_partner: Any, make_offer: Any, add_snapshot: Any, issue_codes: Any,
           url: str, accounts: int = 3, **endpoint: Any) -> dict[str, Any]:
    gs = make_partner(scopes=SCOPES)
    r = client.post(ENDPOINTS, json={"url": url, **endpoint}, headers=bearer(gs["token"]))
    assert r.status_code == 201, r.get_json()
    sid = add_snapshot("2026-10", [(f"74{i:08d}", "ideal") for i in range(accounts)])
    offer_id = make_offer(gs["id"])
    return {"gs": gs, "endpoint": r.get_json(), "codes": issue_codes(offer_id, sid), "offer_id": offer_id}


def _redeem(client: Any, token: str, code: str, n: int) -> dict[str, Any]:
    r = client.post(REDEEM, json={"code": code, "order_ref": f"o-{n}"},
                    headers={**bearer(token), "Idempotency-Key": f"k-{code}-{n}"})
    assert r.status_code == 201, r.get_json()
    return dict(r.get_json())


def test_every_event_arrives_signed(app, client, receiver, make_partner, make_offer, add_snapshot, issue_codes) -> None:
    w = _world(app, client, make_partner, make_offer, add_snapshot, issue_codes, receiver.url)
    token, codes = w["gs"]["token"], w["codes"]
    first = _redeem(client, token, codes[0], 1)
    r = client.post(f"{REDEEM}/{first['redemption_id']}/rollback", json={"reason": "cancelled"},
                    headers=bearer(token))
    assert r.status_code == 200
    with app.app_context():
        catalog.revoke_code(db.session, codes[1], actor="test")
        offer = db.session.get(Offer, w["offer_id"])
        offer.valid_to = utcnow() + timedelta(days=2)
        db.session.commit()
        assert periodic_expiring(db.session) == "2 code.expiring message(s)"  # WEBHOOK_EXPIRING_DAYS = 7
        db.session.commit()
        assert periodic_expiring(db.session) is None  # once per code
        db.session.commit()
        catalog.withdraw_offer(db.session, db.session.get(Offer, w["offer_id"]), actor="test")
        db.session.commit()
        assert hooks.emit_expiring(db.session, utcnow(), 7, lambda p, c: "") == 0  # withdrawn: no more
        db.session.commit()
    assert _send(app) == 7
    got = receiver.accepted()
    key = w["endpoint"]["secret"]
    assert key.startswith("whsec_")
    for item in got:
        check_signed(item, key)
    types = [g.payload["type"] for g in got]
    assert sorted(types) == sorted(["offer.changed", "code.redeemed", "code.rollback", "code.revoked",
                                    "code.expiring", "code.expiring", "offer.changed"])
    redeemed = next(g.payload["data"] for g in got if g.payload["type"] == "code.redeemed")
    assert redeemed["redemption_id"] == first["redemption_id"] and redeemed["code"] == codes[0]
    assert len({g.id for g in got}) == 7
    assert _send(app) == 0  # all delivered: nothing sent twice


def test_ed25519_endpoint_and_rotation_overlap(app, client, receiver, make_partner, make_offer, add_snapshot,
                                               issue_codes) -> None:
    w = _world(app, client, make_partner, make_offer, add_snapshot, issue_codes, receiver.url, scheme="ed25519")
    token = w["gs"]["token"]
    old = w["endpoint"]["secret"]
    assert old.startswith("whpk_")
    r = client.post(f"{ENDPOINTS}/{w['endpoint']['id']}/rotate", headers=bearer(token))
    assert r.status_code == 200
    new = r.get_json()["secret"]
    assert new != old and r.get_json()["previous_secret"] == old
    _redeem(client, token, w["codes"][0], 1)
    _send(app)
    item = receiver.accepted()[-1]
    assert [s.split(",")[0] for s in item.headers["webhook-signature"].split()] == ["v1a", "v1a"]
    check_signed(item, new)
    check_signed(item, old)  # during the overlap the old key still verifies


def test_receiver_down_gets_everything_later_in_order_with_same_ids(
    app, client, receiver, monkeypatch, make_partner, make_offer, add_snapshot, issue_codes
) -> None:
    w = _world(app, client, make_partner, make_offer, add_snapshot, issue_codes, receiver.url, accounts=4,
               events=["code.redeemed", "code.rollback"])
    token = w["gs"]["token"]
    receiver.down = True
    for round_ in range(3):  # redeem, roll back, redeem again: three ordered events per code
        for n, code in enumerate(w["codes"]):
            if round_ == 1:
                with app.app_context():
                    rid = db.session.scalars(select(WebhookMessage.payload).order_by(WebhookMessage.id.desc())).all()
                rd = [m for m in (json.loads(p) for p in rid) if m["data"].get("code") == code
                      and m["type"] == "code.redeemed"][0]["data"]["redemption_id"]
                assert client.post(f"{REDEEM}/{rd}/rollback", json={}, headers=bearer(token)).status_code == 200
            else:
                _redeem(client, token, code, round_ * 10 + n)
        _send(app, timedelta(hours=round_), monkeypatch)  # the receiver is down: attempts fail
    tried = [r.id for r in receiver.all()]
    assert tried and not receiver.accepted()
    receiver.down = False
    _send(app, timedelta(days=3), monkeypatch)  # it is back, retries fall due (within the schedule)
    _send(app, timedelta(days=3, hours=1), monkeypatch)
    got = receiver.accepted()
    with app.app_context():
        messages = db.session.execute(select(WebhookMessage.public_id, WebhookMessage.ordering_key)
                                      .order_by(WebhookMessage.id)).all()
        states = set(db.session.scalars(select(WebhookDelivery.state)))
    assert states == {DELIVERED}
    assert sorted(g.id for g in got) == sorted(m.public_id for m in messages)  # each once, same ids
    assert set(tried) <= {m.public_id for m in messages}
    for key in {m.ordering_key for m in messages}:
        expected = [m.public_id for m in messages if m.ordering_key == key]
        assert [g.id for g in got if g.id in expected] == expected, key
    for item in got:
        check_signed(item, w["endpoint"]["secret"])


def test_gives_up_after_the_schedule_and_replay_sends_the_same_id(
    app, client, receiver, monkeypatch, make_partner, make_offer, add_snapshot, issue_codes
) -> None:
    w = _world(app, client, make_partner, make_offer, add_snapshot, issue_codes, receiver.url,
               events=["code.redeemed"])
    receiver.down = True
    _redeem(client, w["gs"]["token"], w["codes"][0], 1)
    hours = 0
    for _ in range(12):
        _send(app, timedelta(hours=hours), monkeypatch)
        hours += 25
    with app.app_context():
        delivery = db.session.scalars(select(WebhookDelivery)).one()
        assert delivery.state == FAILED and delivery.attempts == 10
        ids = {r.id for r in receiver.all()}
        assert len(ids) == 1
    receiver.down = False
    r = client.get("/api/v1/partner/webhooks/deliveries", headers=bearer(w["gs"]["token"]))
    assert r.status_code == 200 and r.get_json()[0]["state"] == "failed" and len(r.get_json()[0]["log"]) == 10
    r = client.post(f"/api/v1/partner/webhooks/deliveries/{delivery.id}/replay", headers=bearer(w["gs"]["token"]))
    assert r.status_code == 202
    with app.app_context():
        assert hooks.purge(db.session, utcnow() + timedelta(days=60)) == 0  # pending again: kept
        db.session.rollback()
    _send(app, timedelta(hours=hours), monkeypatch)
    assert [g.id for g in receiver.accepted()] == list(ids)
    with app.app_context():
        assert hooks.purge(db.session, utcnow() - timedelta(days=1)) == 0  # not old enough
        assert hooks.purge(db.session, utcnow() + timedelta(days=60)) == 1
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(WebhookDelivery)) == 0


def test_another_partners_endpoints_and_deliveries_are_not_found(app, client, receiver, make_partner, make_offer,
                                                                add_snapshot, issue_codes) -> None:
    w = _world(app, client, make_partner, make_offer, add_snapshot, issue_codes, receiver.url)
    other = make_partner("Teplo", "TPK", scopes=SCOPES)
    _redeem(client, w["gs"]["token"], w["codes"][0], 1)
    h = bearer(other["token"])
    assert client.post(f"{ENDPOINTS}/{w['endpoint']['id']}/rotate", headers=h).status_code == 404
    assert client.delete(f"{ENDPOINTS}/{w['endpoint']['id']}", headers=h).status_code == 404
    assert client.get("/api/v1/partner/webhooks/deliveries", headers=h).get_json() == []
    with app.app_context():
        assert hooks.fan_out(db.session) == 2  # offer.changed and code.redeemed: made, not sent
        db.session.commit()
        did = db.session.scalar(select(WebhookDelivery.id))
    assert did is not None and client.get("/api/v1/partner/webhooks/deliveries", headers=h).get_json() == []
    assert client.post(f"/api/v1/partner/webhooks/deliveries/{did}/replay", headers=h).status_code == 404
    assert client.get(ENDPOINTS, headers=bearer(make_partner("Svet", "SVT")["token"])).status_code == 403


def test_endpoint_url_rules(app, client, make_partner) -> None:
    gs = make_partner(scopes=SCOPES)
    r = client.post(ENDPOINTS, json={"url": "ftp://example.test/x"}, headers=bearer(gs["token"]))
    assert r.status_code == 422
    r = client.post(ENDPOINTS, json={"url": "https://x.test/", "events": ["code.nope"]}, headers=bearer(gs["token"]))
    assert r.status_code == 422


def test_local_addresses_are_refused_outside_tests(app, client, receiver, make_partner, make_offer, add_snapshot,
                                                   issue_codes) -> None:
    w = _world(app, client, make_partner, make_offer, add_snapshot, issue_codes, receiver.url,
               events=["code.redeemed"])
    _redeem(client, w["gs"]["token"], w["codes"][0], 1)
    app.config["WEBHOOK_ALLOW_LOCAL"] = False  # production: a partner's URL cannot reach our network
    _send(app)
    assert receiver.all() == []
    with app.app_context():
        delivery = db.session.scalars(select(WebhookDelivery)).one()
        assert delivery.state == "pending" and delivery.attempts == 1
        assert delivery.last_status is None and "LocalAddress" in (delivery.last_error or "")
    r = client.post(ENDPOINTS, json={"url": receiver.url}, headers=bearer(w["gs"]["token"]))
    assert r.status_code == 422  # and http:// is refused when the endpoint is added


def test_a_redirect_is_a_failed_attempt_never_followed(app, client, make_partner, make_offer, add_snapshot,
                                                       issue_codes) -> None:
    with Receiver() as target, Receiver() as redirecting:
        redirecting.status = 307
        redirecting.location = target.url
        w = _world(app, client, make_partner, make_offer, add_snapshot, issue_codes, redirecting.url,
                   events=["code.redeemed"])
        _redeem(client, w["gs"]["token"], w["codes"][0], 1)
        _send(app)
        assert len(redirecting.all()) == 1 and target.all() == []
    with app.app_context():
        assert db.session.scalars(select(WebhookDelivery.last_status)).one() == 307


def test_the_change_writes_one_row_and_the_sender_fans_out_in_order(
    app, client, receiver, make_partner, make_offer, add_snapshot, issue_codes
) -> None:
    """A redemption writes the message only; one fan-out makes the deliveries of several messages of one
    code in their order (the delivery ids order a key), once, and purge keeps a message not fanned out."""
    w = _world(app, client, make_partner, make_offer, add_snapshot, issue_codes, receiver.url, accounts=2,
               events=["code.redeemed", "code.rollback"])
    token = w["gs"]["token"]
    second = client.post(ENDPOINTS, json={"url": receiver.url, "events": ["code.redeemed"]}, headers=bearer(token))
    assert second.status_code == 201
    for n in range(3):  # redeem, roll back, redeem again, before any sender runs
        code = w["codes"][0]
        rd = _redeem(client, token, code, n)["redemption_id"]
        if n < 2:
            assert client.post(f"{REDEEM}/{rd}/rollback", json={}, headers=bearer(token)).status_code == 200
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(WebhookDelivery)) == 0  # only messages
        assert hooks.purge(db.session, utcnow() + timedelta(days=60)) == 0  # not fanned out yet: kept
        assert hooks.fan_out(db.session, limit=2) == 3  # two messages: 2 + 1 endpoints
        assert hooks.fan_out(db.session) == 5  # the other three: 2 + 1 + 2
        assert hooks.fan_out(db.session) == 0  # each message once
        db.session.commit()
        rows = db.session.execute(select(WebhookDelivery.endpoint_id, WebhookDelivery.message_id)
                                  .order_by(WebhookDelivery.id)).all()
    for endpoint in {r.endpoint_id for r in rows}:
        ids = [r.message_id for r in rows if r.endpoint_id == endpoint]
        assert ids == sorted(ids)
    assert len(rows) == 8 and len({r.endpoint_id for r in rows}) == 2
    assert _send(app) == 8
    assert len(receiver.accepted()) == 8
