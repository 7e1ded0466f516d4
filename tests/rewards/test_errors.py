"""One JSON error shape for every API error; pages get an HTML page; never a stack trace."""

from __future__ import annotations

import logging

import pytest
from flask import Flask

SHAPE = {"code", "status", "message", "errors", "request_id"}


@pytest.fixture
def app(app: Flask) -> Flask:
    from rewards.policy import public

    @app.get("/api/v1/_boom")
    @public
    def _boom():  # type: ignore[no-untyped-def]
        raise RuntimeError("secret internal detail: password=hunter2")

    @app.get("/_boom")
    @public
    def _page_boom():  # type: ignore[no-untyped-def]
        raise RuntimeError("secret internal detail: password=hunter2")

    return app


def test_routing_404_has_the_shape(app: Flask) -> None:
    r = app.test_client().get("/api/v1/no/such/thing", headers={"X-Request-Id": "abc12345-req"})
    assert r.status_code == 404
    body = r.get_json()
    assert set(body) == SHAPE and body["code"] == 404 and body["request_id"] == "abc12345-req"
    assert r.headers["X-Request-Id"] == "abc12345-req"


def test_405_has_the_shape(app: Flask) -> None:
    r = app.test_client().delete("/api/v1/keys")
    assert r.status_code == 405
    assert set(r.get_json()) == SHAPE


def test_500_hides_the_exception_and_logs_it(app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    app.config["PROPAGATE_EXCEPTIONS"] = False
    with caplog.at_level(logging.ERROR):
        r = app.test_client().get("/api/v1/_boom")
    assert r.status_code == 500
    body = r.get_json()
    assert set(body) == SHAPE
    text = r.get_data(as_text=True)
    assert "hunter2" not in text and "Traceback" not in text and "RuntimeError" not in text
    logged = [rec for rec in caplog.records if body["request_id"] in rec.getMessage()]
    assert logged and logged[0].exc_info is not None


def test_page_500_is_a_page(app: Flask) -> None:
    app.config["PROPAGATE_EXCEPTIONS"] = False
    r = app.test_client().get("/_boom")
    assert r.status_code == 500 and r.mimetype == "text/html"
    assert "hunter2" not in r.get_data(as_text=True)


def test_bad_request_id_is_replaced(app: Flask) -> None:
    r = app.test_client().get("/api/v1/nothing", headers={"X-Request-Id": "<script>"})
    assert r.get_json()["request_id"] != "<script>" and len(r.get_json()["request_id"]) == 32


def test_openapi_document_is_served(app: Flask) -> None:
    r = app.test_client().get("/api/v1/openapi.json")
    assert r.status_code == 200
    doc = r.get_json()
    assert "/api/v1/keys" in doc["paths"]
    assert set(doc["components"]["schemas"]["Error"]["properties"]) == SHAPE


def test_api_requests_carry_no_cookie_session(app: Flask) -> None:
    """API routes never look at cookies: an API request gets Flask's null session, a page a real one."""
    from flask import session
    from flask.sessions import NullSession

    with app.test_request_context("/api/v1/partner/offers"):
        assert isinstance(session._get_current_object(), NullSession)  # type: ignore[attr-defined]
    with app.test_request_context("/login"):
        assert not isinstance(session._get_current_object(), NullSession)  # type: ignore[attr-defined]
    client = app.test_client()
    client.set_cookie("session", "anything")
    r = client.get("/api/v1/partner/offers")
    assert r.status_code == 401
    assert "Set-Cookie" not in r.headers and "Cookie" not in r.headers.get("Vary", "")


def test_sqlite_begin_errors_are_sqlalchemy_errors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """BEGIN IMMEDIATE goes straight to the driver; a busy database still raises SQLAlchemy's error."""
    from sqlalchemy import create_engine, exc, text

    from rewards.db import configure_sqlite

    engine = create_engine(f"sqlite:///{tmp_path / 'busy.sqlite3'}")
    configure_sqlite(engine, 50)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    holder = engine.connect()
    holder.begin()
    holder.execute(text("INSERT INTO t VALUES (1)"))
    try:
        with pytest.raises(exc.OperationalError, match="database is locked"):
            with engine.begin():
                pass
    finally:
        holder.rollback()
        holder.close()
        engine.dispose()
