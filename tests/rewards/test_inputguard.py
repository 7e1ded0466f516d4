"""Hostile input answered 400/422 in the error shape before any view: NUL characters, bad JSON.

On PostgreSQL a NUL character in any text reaching the database was a 500 (text cannot hold it);
a 5,000-digit integer or a 30,000-deep array was a 500 on both engines (the parser gave up).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from rewards.apikeys.services import SCOPES
from rewards.inputguard import MAX_JSON_DEPTH, MAX_NUMBER_CHARS, JsonRefused, check_json
from tests.support import bearer

pytestmark = pytest.mark.usefixtures("backend")

FIELDS = {"code", "status", "message", "errors", "request_id"}


@pytest.fixture
def every_scope(api_token: Callable[..., str]) -> dict[str, str]:
    return {**bearer(api_token(*SCOPES, name="all-scopes")), "X-Request-Id": "req-hostile-0001"}


def _refused(response: Any, code: int) -> dict[str, Any]:
    body = response.get_json()
    assert response.status_code == code, (response.status_code, response.get_data(as_text=True)[:500])
    assert set(body) == FIELDS and body["code"] == code and body["request_id"] == "req-hostile-0001"
    return body


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/accounts/7400000077/flags", {"reason": "hard\u0000ship"}),
        ("/api/v1/partner/redemptions", {"code": "GSRV-AAAA-BBBB", "order_ref": "order\u00001"}),
        ("/api/v1/partner/codes/validate", {"code": "GSRV\u0000"}),
        ("/api/v1/draws", {"name": "Summer\u0000draw", "kind": "quarterly"}),
        ("/api/v1/credits/confirmations", {"content": "credit_id\u0000"}),
        ("/api/v1/accounts/7400000077/flags", {"reason\u0000": "x", "nested": [{"k": ["\u0000"]}]}),
    ],
)
def test_nul_in_any_json_string_is_422(client: FlaskClient, every_scope: dict[str, str], path: str, body: Any) -> None:
    r = client.post(path, json=body, headers=every_scope)
    assert _refused(r, 422)["errors"] == {"json": ["NUL characters are not accepted."]}


def test_nul_in_query_path_and_form_is_422(client: FlaskClient, every_scope: dict[str, str]) -> None:
    r = client.post("/api/v1/snapshots?period=2026-05&filename=a%00.csv", data=b"account;tier\n",
                    headers={**every_scope, "Content-Type": "text/csv"})
    assert _refused(r, 422)["errors"] == {"query": ["NUL characters are not accepted."]}
    _refused(client.get("/api/v1/draws/abc%00def", headers=every_scope), 422)
    upload = {"files": (__import__("io").BytesIO(b"account\n"), "b\u0000.csv")}
    r = client.post("/api/v1/snapshots/compute?period=2026-05", data=upload, headers=every_scope,
                    content_type="multipart/form-data")
    assert _refused(r, 422)["errors"] == {"files": ["NUL characters are not accepted."]}


@pytest.mark.parametrize(
    "raw",
    [
        b'{"code": ' + b"9" * 5000 + b"}",
        b'{"code": "GSRV-AAAA-BBBB", "order_ref": "o", "amount_kopecks": ' + b"1" * 5000 + b"}",
        b"[" * 30000 + b"]" * 30000,
        b'{"code": ' + b"[" * 30000 + b"]" * 30000 + b"}",
        b'{"code": NaN}',
        b'{"code": 1e400}',
        b'{"code": "x"',
    ],
)
@pytest.mark.parametrize("path", ["/api/v1/partner/codes/validate", "/api/v1/partner/redemptions"])
def test_json_that_parses_badly_is_400(client: FlaskClient, every_scope: dict[str, str], path: str, raw: bytes) -> None:
    r = client.post(path, data=raw, headers={**every_scope, "Content-Type": "application/json"})
    assert list(_refused(r, 400)["errors"]) == ["json"]


def test_page_routes_answer_a_page(client: FlaskClient) -> None:
    r = client.post("/login", data={"username": "a\u0000", "password": "x"})
    assert r.status_code == 422 and r.mimetype == "text/html"


def test_check_json_bounds() -> None:
    check_json(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH)
    check_json(b'{"a": "' + b"[" * 1000 + b'", "b": "\\\\u0000"}')  # brackets in strings, an escaped backslash
    check_json(b'{"n": ' + b"9" * MAX_NUMBER_CHARS + b"}")
    with pytest.raises(JsonRefused):
        check_json(b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1))
    with pytest.raises(JsonRefused):
        check_json(b'{"n": ' + b"9" * (MAX_NUMBER_CHARS + 1) + b"}")
    with pytest.raises(JsonRefused) as info:
        check_json(b'{"a": ["\\u0000"]}')
    assert info.value.status == 422


def test_multipart_part_without_a_name(client: FlaskClient, every_scope: dict[str, str]) -> None:
    """Found by schemathesis: a part with no name is keyed None by werkzeug (was a 500 in the guard)."""
    boundary = "b0undary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data\r\n\r\nvalue\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.csv\"\r\n\r\nx\r\n"
            f"--{boundary}--\r\n").encode()
    r = client.post("/api/v1/snapshots/compute?period=2026-05", data=body, headers={
        **every_scope, "Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code < 500 and set(r.get_json()) == FIELDS
