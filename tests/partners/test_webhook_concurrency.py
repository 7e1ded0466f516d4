"""200 concurrent redemptions through a gunicorn server with several workers make exactly 200
``code.redeemed`` messages, each delivered once to a local receiver, signed, one per code."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from partners.models import WebhookMessage
from partners.services.catalog import PARTNER_SCOPES
from partners.webhook_jobs import send_due
from rewards.db import db
from tests.partners.test_concurrency import _storm, server_factory  # noqa: F401  (the gunicorn fixture)
from tests.partners.webhook_receiver import Receiver, check_signed
from tests.support import bearer

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("backend")]
CLIENTS = 200


@pytest.fixture
def app(app_factory: Callable[..., Flask]) -> Flask:
    return app_factory(WEBHOOK_ALLOW_LOCAL=True)


def test_200_concurrent_redemptions_make_200_deliveries(
    app: Flask, client: Any, server_factory: Any, make_partner: Any, make_offer: Any,  # noqa: F811
    add_snapshot: Any, issue_codes: Any,
) -> None:
    gs = make_partner(scopes=(*PARTNER_SCOPES, "webhooks:manage"))
    sid = add_snapshot("2026-10", [(f"74{i:08d}", "ideal") for i in range(CLIENTS)])
    codes = issue_codes(make_offer(gs["id"]), sid)
    with Receiver() as receiver:
        r = client.post("/api/v1/partner/webhooks/endpoints", json={"url": receiver.url, "events": ["code.redeemed"]},
                        headers=bearer(gs["token"]))
        assert r.status_code == 201
        secret = r.get_json()["secret"]
        addr = server_factory()
        jobs = [("/api/v1/partner/redemptions", {"code": code, "order_ref": f"o-{i}"},
                 {**bearer(gs["token"]), "Idempotency-Key": uuid.uuid4().hex}) for i, code in enumerate(codes)]
        results = _storm(addr, jobs)
        assert Counter(status for status, _ in results) == {201: CLIENTS}, results[:3]
        with app.app_context():
            assert db.session.scalar(select(func.count()).select_from(WebhookMessage)) == CLIENTS
            assert send_due(db.session, app) == CLIENTS
            assert send_due(db.session, app) == 0
        got = receiver.accepted()
    assert len(got) == CLIENTS and len({g.id for g in got}) == CLIENTS
    assert sorted(g.payload["data"]["code"] for g in got) == sorted(codes)
    assert {g.payload["type"] for g in got} == {"code.redeemed"}
    assert sorted(g.payload["data"]["redemption_id"] for g in got) == sorted(b["redemption_id"] for _, b in results)
    for item in got:
        check_signed(item, secret)
