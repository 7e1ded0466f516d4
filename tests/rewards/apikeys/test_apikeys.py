"""API keys: format and checksum, hashing, revocation, expiry, rotation, scopes, no cookies."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from rewards.apikeys import services, tokens
from rewards.apikeys.models import ApiKey
from rewards.db import db
from tests.support import bearer


def test_token_format_and_checksum() -> None:
    token = tokens.new_token()
    assert token.startswith("rwk_") and len(token) == tokens.TOKEN_LEN
    assert tokens.well_formed(token)
    # 32 base62 characters carry 190 bits
    assert tokens.RANDOM_LEN * 5.95 >= 160
    # any single-character typo breaks the checksum
    for i in range(4, len(token)):
        for c in "0aZ":
            if token[i] != c:
                assert not tokens.well_formed(token[:i] + c + token[i + 1 :])


@pytest.fixture
def app(app: Flask) -> Flask:
    """The app with one extra route that needs the scope priority:read."""
    from flask import jsonify

    from rewards.policy import api

    @app.get("/api/v1/_scoped")
    @api("priority:read")
    def _scoped():  # type: ignore[no-untyped-def]
        return jsonify(ok=True)

    return app


def test_only_a_hash_is_stored(app: Flask, api_token: Callable[..., str]) -> None:
    token = api_token("priority:read", name="callcentre")
    with app.app_context():
        key = db.session.scalar(select(ApiKey))
        assert key is not None
        assert token not in (key.token_hash, key.lookup) and key.token_hash == tokens.hash_of(token)


def test_refusals_look_alike_and_scope_gives_403(app: Flask, api_token: Callable[..., str]) -> None:
    good = api_token("priority:read", name="callcentre")
    other = api_token("codes:validate", name="partner")
    c = app.test_client()
    assert c.get("/api/v1/whoami", headers=bearer(good)).status_code == 200
    mistyped = good[:-1] + ("A" if good[-1] != "A" else "B")
    unknown = tokens.new_token()
    bodies = set()
    for headers in (bearer(mistyped), bearer(unknown), {"Authorization": "Basic abc"}, {}):
        r = c.get("/api/v1/whoami", headers=headers)
        assert r.status_code == 401
        body = r.get_json()
        bodies.add(body["message"])
        assert set(body) == {"code", "status", "message", "errors", "request_id"}
    assert len(bodies) == 1
    assert c.get("/api/v1/_scoped", headers=bearer(other)).status_code == 403


def test_revocation_is_immediate(app: Flask, api_token: Callable[..., str]) -> None:
    token = api_token("priority:read", name="callcentre")
    c = app.test_client()
    assert c.get("/api/v1/whoami", headers=bearer(token)).status_code == 200
    result = app.test_cli_runner().invoke(args=["keys", "revoke-client", "callcentre"])
    assert result.exit_code == 0
    assert c.get("/api/v1/whoami", headers=bearer(token)).status_code == 401


def test_expiry(app: Flask) -> None:
    with app.app_context():
        _client, token = services.create_client(
            db.session, "shortlived", ["priority:read"], actor="t", expires_at=datetime.now(UTC) + timedelta(hours=1)
        )
        db.session.commit()
        assert services.authenticate(db.engine, token) is not None
        assert services.authenticate(db.engine, token, now=datetime.now(UTC) + timedelta(hours=2)) is None


def test_rotation_keeps_old_key_until_grace_ends(app: Flask, api_token: Callable[..., str]) -> None:
    old = api_token("priority:read", name="cabinet")
    result = app.test_cli_runner().invoke(args=["keys", "rotate-client", "cabinet", "--grace-days", "2"])
    assert result.exit_code == 0, result.output
    new = result.output.strip().splitlines()[0]
    assert tokens.well_formed(new) and new != old
    with app.app_context():
        now = datetime.now(UTC)
        assert services.authenticate(db.engine, old, now) is not None
        assert services.authenticate(db.engine, new, now) is not None
        later = now + timedelta(days=3)
        assert services.authenticate(db.engine, old, later) is None
        assert services.authenticate(db.engine, new, later) is not None


def test_cookies_are_no_api_credential(app: Flask, logged_in: Callable[[str], object]) -> None:
    c = logged_in("admin")
    assert c.get("/api/v1/whoami").status_code == 401  # type: ignore[attr-defined]


def test_create_client_cli_prints_token_once(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["keys", "create-client", "gorserv-site", "--scope", "codes:validate",
                                                "--scope", "codes:redeem"])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert tokens.well_formed(token)
    bad = app.test_cli_runner().invoke(args=["keys", "create-client", "x", "--scope", "everything"])
    assert bad.exit_code == 1 and "unknown scope" in bad.output


def test_refusal_log_holds_no_part_of_the_secret(app: Flask, api_token: Callable[..., str],
                                                 caplog: pytest.LogCaptureFixture) -> None:
    import logging

    token = api_token("priority:read", name="callcentre")
    revoked_like = token[:-3] + "xyz"
    with caplog.at_level(logging.WARNING, logger="rewards.security"):
        app.test_client().get("/api/v1/whoami", headers=bearer(revoked_like))
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "api auth refused" in logged
    assert token[4:10] not in logged and revoked_like[4:10] not in logged


def _change_key(app: Flask, token: str, change: str) -> None:
    """Revoke, expire, disable or strip the scopes of the key behind ``token`` (committed)."""
    with app.app_context():
        key = db.session.scalar(select(ApiKey).where(ApiKey.token_hash == tokens.hash_of(token)))
        assert key is not None
        if change == "revoke":
            services.revoke_key(db.session, key.id, actor="t")
        elif change == "expire":
            key.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        elif change == "disable":
            key.client.active = False
        else:
            key.client.scopes = "codes:validate"
        db.session.commit()
    services.forget_remembered_keys()  # as the services that change keys do (a direct change is tested below)


@pytest.mark.parametrize(("change", "status"), [("revoke", 401), ("expire", 401), ("disable", 401), ("scope", 403)])
def test_a_changed_key_is_refused_on_its_next_request(app: Flask, api_token: Callable[..., str],
                                                      change: str, status: int) -> None:
    token = api_token("priority:read", name="callcentre")
    c = app.test_client()
    for _ in range(2):
        assert c.get("/api/v1/_scoped", headers=bearer(token)).status_code == 200
    _change_key(app, token, change)
    r = c.get("/api/v1/_scoped", headers=bearer(token))
    assert r.status_code == status and set(r.get_json()) == {"code", "status", "message", "errors", "request_id"}
    assert r.get_json()["request_id"] == r.headers["X-Request-Id"]


def test_a_scope_granted_back_works_on_the_next_request(app: Flask, api_token: Callable[..., str]) -> None:
    token = api_token("priority:read", name="callcentre")
    c = app.test_client()
    for _ in range(2):
        assert c.get("/api/v1/_scoped", headers=bearer(token)).status_code == 200
    _change_key(app, token, "scope")
    assert c.get("/api/v1/_scoped", headers=bearer(token)).status_code == 403
    with app.app_context():
        key = db.session.scalar(select(ApiKey))
        key.client.scopes = "priority:read"
        db.session.commit()
    services.forget_remembered_keys()  # else this worker keeps the narrower scopes up to API_KEY_CACHE_SECONDS
    assert c.get("/api/v1/_scoped", headers=bearer(token)).status_code == 200


def test_other_workers_see_a_key_change_within_the_cache_time(app_factory: Callable[..., Flask],
                                                              api_token: Callable[..., str]) -> None:
    """The worker's memory of keys: a change made elsewhere (here, straight in the database, as another
    worker's revocation looks from this one) is seen at the latest API_KEY_CACHE_SECONDS later; a
    revocation through the services is seen at once by the process that made it."""
    import time

    from flask import jsonify

    from rewards.policy import api

    app = app_factory(API_KEY_CACHE_SECONDS=1)

    @app.get("/api/v1/_scoped")
    @api("priority:read")
    def _scoped():  # type: ignore[no-untyped-def]
        return jsonify(ok=True)

    token = api_token("priority:read", name="callcentre")
    c = app.test_client()
    assert c.get("/api/v1/_scoped", headers=bearer(token)).status_code == 200  # read, then remembered
    with app.app_context():
        key = db.session.scalar(select(ApiKey).where(ApiKey.token_hash == tokens.hash_of(token)))
        assert key is not None
        key.revoked_at = datetime.now(UTC)
        db.session.commit()
    assert c.get("/api/v1/_scoped", headers=bearer(token)).status_code == 200  # remembered, < 1 s old
    time.sleep(1.05)
    assert c.get("/api/v1/_scoped", headers=bearer(token)).status_code == 401  # read again: revoked

    other = api_token("priority:read", name="ivr")
    assert c.get("/api/v1/_scoped", headers=bearer(other)).status_code == 200  # remembered
    with app.app_context():
        services.revoke_client(db.session, "ivr", actor="t")
        db.session.commit()
    assert c.get("/api/v1/_scoped", headers=bearer(other)).status_code == 401  # this process forgot it at once
