"""The partner API counts validations and redemptions by result (rewards.ops.metrics)."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import REGISTRY

from partners import codes as codecore
from tests.support import bearer

pytestmark = pytest.mark.usefixtures("backend")


def _count(name: str, result: str) -> float:
    return REGISTRY.get_sample_value(name, {"result": result}) or 0.0


@pytest.fixture
def world(app, make_partner, make_offer, add_snapshot, issue_codes) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    gs = make_partner()
    sid = add_snapshot("2026-10", [("7400000001", "ideal"), ("7400000002", "responsible")])
    return {"token": gs["token"], "codes": issue_codes(make_offer(gs["id"]), sid)}


def test_validations_and_redemptions_by_result(client, world) -> None:  # type: ignore[no-untyped-def]
    v, r = "rewards_partner_validations_total", "rewards_partner_redemptions_total"
    before = {k: _count(v, k) for k in ("valid", "not_found", "already_redeemed")}
    before |= {f"r:{k}": _count(r, k) for k in ("redeemed", "replayed", "already_redeemed")}
    token, code = world["token"], world["codes"][0]
    url = "/api/v1/partner/"
    assert client.post(url + "codes/validate", json={"code": code}, headers=bearer(token)).get_json()["valid"]
    missing = codecore.format_code("GSRV", 1)
    client.post(url + "codes/validate", json={"code": missing}, headers=bearer(token))
    body = {"code": code, "order_ref": "o-1"}
    assert client.post(url + "redemptions", json=body,
                       headers={**bearer(token), "Idempotency-Key": "a"}).status_code == 201
    client.post(url + "redemptions", json=body, headers={**bearer(token), "Idempotency-Key": "a"})
    assert client.post(url + "redemptions", json=body,
                       headers={**bearer(token), "Idempotency-Key": "b"}).status_code == 409
    client.post(url + "codes/validate", json={"code": code}, headers=bearer(token))
    assert _count(v, "valid") == before["valid"] + 1
    assert _count(v, "not_found") == before["not_found"] + 1
    assert _count(v, "already_redeemed") == before["already_redeemed"] + 1
    assert _count(r, "redeemed") == before["r:redeemed"] + 1
    assert _count(r, "replayed") == before["r:replayed"] + 1
    assert _count(r, "already_redeemed") == before["r:already_redeemed"] + 1
