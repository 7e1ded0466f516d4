"""``RateLimit`` / ``RateLimit-Policy`` (draft-ietf-httpapi-ratelimit-headers) on every partner answer,
in memory and in Redis, and ``Idempotent-Replayed: true`` on a replayed redemption."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from partners.services.catalog import PARTNER_SCOPES
from tests.support import REDIS_URL, bearer, redis_up

pytestmark = pytest.mark.usefixtures("backend")
needs_redis = pytest.mark.skipif(not redis_up(), reason="no Redis at 127.0.0.1:6379 (the shared-storage tests)")
STORAGES = ["memory://", pytest.param(REDIS_URL, marks=needs_redis)]
ITEM = re.compile(r'^"(\w+)";r=(\d+);t=(\d+)$')


def _remaining(response: Any) -> dict[str, int]:
    out = {}
    for part in response.headers["RateLimit"].split(", "):
        m = ITEM.match(part)
        assert m, response.headers["RateLimit"]
        out[m.group(1)] = int(m.group(2))
    return out


@pytest.mark.parametrize("storage", STORAGES)
def test_every_partner_answer_carries_the_headers(app_factory: Callable[..., Flask], storage: str) -> None:
    options = {"key_prefix": f"t-{uuid.uuid4().hex}"} if storage.startswith("redis") else {}
    app = app_factory(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=storage, RATELIMIT_STORAGE_OPTIONS=options,
                      PARTNER_API_LIMIT="50/second;300/minute", PARTNER_LIMIT_LEASE=1)
    from partners.services import catalog
    from rewards.apikeys import services as keys
    from rewards.db import db

    with app.app_context():
        client_row, token = keys.create_client(db.session, "gs-site", [*PARTNER_SCOPES, "webhooks:manage"],
                                               actor="test")
        partner = catalog.create_partner(db.session, "Gorserv", "GSRV", actor="test")
        catalog.link_client(db.session, partner, "gs-site", actor="test")
        db.session.commit()
    client = app.test_client()
    h = bearer(token)
    answers = [
        client.post("/api/v1/partner/codes/validate", json={"code": "GSRV-0000-0000-0000-0"}, headers=h),
        client.get("/api/v1/partner/offers", headers=h),
        client.get("/api/v1/partner/webhooks/endpoints", headers=h),
        client.post("/api/v1/partner/redemptions", json={"code": "nonsense", "order_ref": "o"},
                    headers={**h, "Idempotency-Key": "k1"}),
    ]
    seen = []
    for r in answers:
        assert r.headers["RateLimit-Policy"] == '"second";q=50;w=1, "minute";q=300;w=60', r.status_code
        seen.append(_remaining(r)["minute"])
    assert seen == [299, 298, 297, 296]  # one call each, counted before it ran


def test_replayed_redemption_says_so(app: Flask, client: Any, make_partner: Any, make_offer: Any,
                                     add_snapshot: Any, issue_codes: Any) -> None:
    gs = make_partner()
    codes = issue_codes(make_offer(gs["id"]), add_snapshot("2026-10", [("7400000001", "ideal")]))
    h = {**bearer(gs["token"]), "Idempotency-Key": "once"}
    first = client.post("/api/v1/partner/redemptions", json={"code": codes[0], "order_ref": "o1"}, headers=h)
    again = client.post("/api/v1/partner/redemptions", json={"code": codes[0], "order_ref": "o1"}, headers=h)
    assert first.status_code == again.status_code == 201
    assert "Idempotent-Replayed" not in first.headers and again.headers["Idempotent-Replayed"] == "true"
    assert first.get_data() == again.get_data()
