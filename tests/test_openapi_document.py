"""The OpenAPI document says what the server enforces (issue 19, item 5)."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from rewards.apikeys.services import SCOPES
from rewards.errors import DomainError
from rewards.snapshots.services import check_period
from tests.support import bearer

PUBLIC = {("get", "/api/v1/draws/{draw_id}/record"), ("get", "/api/v1/draws/{draw_id}/freeze-package")}


def _spec(client: FlaskClient) -> dict[str, Any]:
    return client.get("/api/v1/openapi.json").get_json()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # the document does not depend on the engine
def test_every_draw_and_credit_operation_needs_a_key(client: FlaskClient) -> None:
    spec = _spec(client)
    operations = [(method, path, op) for path, item in spec["paths"].items()
                  if path.startswith(("/api/v1/draws", "/api/v1/draw-credits")) for method, op in item.items()
                  if method in {"get", "post", "put", "patch", "delete"}]
    assert len(operations) >= 17
    for method, path, op in operations:
        expected = [] if (method, path) in PUBLIC else [{"bearer": []}]
        assert op.get("security", []) == expected, (method, path)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_documented_constraints(client: FlaskClient) -> None:
    schemas = _spec(client)["components"]["schemas"]
    prize = schemas["Prize"]["properties"]
    assert prize["amount_kopecks"]["minimum"] == 1 and prize["amount_kopecks"]["maximum"] == 400_000
    assert prize["count"]["minimum"] == 1
    assert schemas["ReasonIn"]["properties"]["reason"]["pattern"] == r"^\s*\S"
    assert schemas["DisqualifyIn"]["properties"]["reason"]["pattern"] == r"^\s*\S"
    assert set(schemas["Record"]["required"]) == {"format", "kind", "keyset", "announcement"}  # a cancelled draw's too


def test_period_range(app: Flask, client: FlaskClient, api_token: Callable[..., str]) -> None:
    """A compute for 0001-01 reached year 0 in its rating window: a 500. Years start at 1000 now."""
    for bad in ("0001-01", "0999-12", "0000-01", "٢٠٢٦-01"):
        with pytest.raises(DomainError):
            check_period(bad)
    assert check_period("1000-01") == "1000-01"
    headers = bearer(api_token(*SCOPES))
    files = {"files": (io.BytesIO(b"account;month\n"), "b.csv")}
    r = client.post("/api/v1/snapshots/compute?period=0001-01", data=files, headers=headers,
                    content_type="multipart/form-data")
    assert r.status_code == 422 and "period" in str(r.get_json()["errors"])
