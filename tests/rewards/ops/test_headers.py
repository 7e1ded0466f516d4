"""Security headers on every kind of response, and templates that need no inline script or style."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from rewards.ops.headers import CSP, DOCS_CSP

ROOT = Path(__file__).resolve().parents[3]


def _assert_secure(response, *, cached_ok: bool = False) -> None:  # type: ignore[no-untyped-def]
    headers = response.headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["Strict-Transport-Security"].startswith("max-age=31536000")
    if not cached_ok:
        assert headers["Cache-Control"] == "no-store"


def test_every_kind_of_response_carries_the_headers(client: FlaskClient) -> None:
    for path, status in [("/login", 200), ("/", 302), ("/no-such-page", 404), ("/api/v1/partner/codes/validate", 405),
                         ("/api/v1/draws", 401), ("/api/v1/keys", 200), ("/api/v1/openapi.json", 200)]:
        response = client.get(path)
        assert response.status_code == status, path
        _assert_secure(response)
        assert response.headers["Content-Security-Policy"] == CSP


def test_the_policy_allows_no_inline_code() -> None:
    directives = dict(d.split(" ", 1) for d in CSP.split("; "))
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert "unsafe" not in CSP
    assert dict(d.split(" ", 1) for d in DOCS_CSP.split("; "))["script-src"] == "'self'"
    assert "http" not in DOCS_CSP  # the API reference page loads nothing from another origin


def test_static_files_may_be_cached_but_not_sniffed(client: FlaskClient) -> None:
    response = client.get("/static/style.css")
    assert response.status_code == 200
    _assert_secure(response, cached_ok=True)
    assert response.headers.get("Cache-Control") != "no-store"


def test_the_api_reference_page_gets_inline_styles_and_nothing_more(client: FlaskClient) -> None:
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"] == DOCS_CSP


def test_a_new_api_key_page_is_never_stored(logged_in: Callable[[str], FlaskClient]) -> None:
    admin = logged_in("admin")
    response = admin.post("/admin/clients", data={"op": "create", "name": "shop", "scopes": ["codes:validate"]})
    assert response.status_code == 200
    assert 'id="new-token"' in response.get_data(as_text=True)
    _assert_secure(response)


def test_no_hsts_in_development(app_factory: Callable[..., Flask]) -> None:
    response = app_factory(ENV="development").test_client().get("/login")
    assert "Strict-Transport-Security" not in response.headers
    assert response.headers["Content-Security-Policy"] == CSP


TEMPLATES = sorted(p for pkg in ("rewards", "draws", "partners") for p in (ROOT / pkg).rglob("templates/**/*.html"))
INLINE = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle\s*=|\son[a-z]+\s*=|javascript:", re.IGNORECASE)


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_templates_have_no_inline_script_or_style(template: Path) -> None:
    """The CSP would block them in the browser; keep script and style in static files."""
    found = INLINE.findall(template.read_text(encoding="utf-8"))
    assert not found, found
