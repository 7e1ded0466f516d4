"""One structured line per request: request id, caller, endpoint, status, duration; never a secret."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable

import pytest
from flask import Flask

from rewards.ops.requestlog import JsonFormatter, _use_json
from tests.support import PASSWORD, bearer


def _request_lines(caplog: pytest.LogCaptureFixture) -> list[dict]:  # type: ignore[type-arg]
    formatter = JsonFormatter()
    return [json.loads(formatter.format(r)) for r in caplog.records if r.name == "rewards.request"]


def test_a_staff_page_request(client, make_user, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    name = make_user("marketing")
    client.post("/login", data={"username": name, "password": PASSWORD})
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="rewards.request"):
        response = client.get("/?tab=secret-token-in-query", headers={"X-Request-Id": "rid-page-000001"})
    (line,) = _request_lines(caplog)
    assert response.headers["X-Request-Id"] == "rid-page-000001"
    assert line["request_id"] == "rid-page-000001"
    assert line["endpoint"] == "dashboard.index" and line["method"] == "GET" and line["status"] == 200
    assert line["path"] == "/" and isinstance(line["user_id"], int) and line["duration_ms"] >= 0
    assert "secret-token-in-query" not in json.dumps(line)
    assert line["level"] == "INFO" and line["logger"] == "rewards.request" and line["time"].endswith("Z")


def test_an_api_request_names_the_key_never_the_secret(client, api_token, caplog) -> None:  # type: ignore[no-untyped-def]
    token = api_token("draws:read")
    with caplog.at_level(logging.INFO, logger="rewards.request"):
        response = client.get("/api/v1/draws", headers=bearer(token))
    (line,) = _request_lines(caplog)
    assert line["status"] == response.status_code == 200
    assert line["request_id"] == response.headers["X-Request-Id"]
    assert isinstance(line["key_id"], int) and isinstance(line["client_id"], int)
    assert token not in caplog.text and token not in json.dumps(line)


def test_a_refused_request_is_logged_with_a_new_request_id(client, caplog) -> None:  # type: ignore[no-untyped-def]
    with caplog.at_level(logging.INFO, logger="rewards.request"):
        response = client.get("/api/v1/draws", headers={"Authorization": "Bearer not-a-key", "X-Request-Id": "x"})
    (line,) = _request_lines(caplog)
    assert line["status"] == 401 and len(line["request_id"]) == 32  # "x" is no sane id: a new one
    assert line["request_id"] == response.headers["X-Request-Id"]
    assert "key_id" not in line and "not-a-key" not in caplog.text


def test_records_inside_a_request_carry_its_id(app: Flask) -> None:
    formatter = JsonFormatter()
    with app.test_request_context("/", headers={"X-Request-Id": "rid-inside-0001"}):
        from rewards.httperrors import request_id

        request_id()
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            record = logging.getLogger("rewards.x").makeRecord("rewards.x", logging.ERROR, __file__, 1, "failed %s",
                                                               ("it",),
                                                               exc_info=__import__("sys").exc_info())
        line = json.loads(formatter.format(record))
    assert line["request_id"] == "rid-inside-0001" and line["message"] == "failed it"
    assert "RuntimeError: boom" in line["exc"]


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_log_format_setting(app_factory: Callable[..., Flask], fmt: str) -> None:
    assert app_factory(LOG_FORMAT=fmt).config["LOG_FORMAT"] == fmt
    root = logging.getLogger("rewards.test-format-root")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root.addHandler(handler)
    try:
        if fmt == "json":
            _use_json(root)
        root.warning("hello %s", "there")
    finally:
        root.removeHandler(handler)
    out = stream.getvalue().strip()
    if fmt == "json":
        assert json.loads(out)["message"] == "hello there"
    else:
        assert out == "hello there"


def test_unknown_log_format_is_refused(app_factory: Callable[..., Flask]) -> None:
    from rewards.config import ConfigError

    with pytest.raises(ConfigError, match="LOG_FORMAT"):
        app_factory(LOG_FORMAT="xml")


def test_a_migration_in_the_process_leaves_the_request_log_on(tmp_path, caplog) -> None:  # type: ignore[no-untyped-def]
    """Alembic's env.py configures logging from alembic.ini: it must not disable the service's loggers."""
    from flask_migrate import upgrade

    from rewards import create_app
    from tests.conftest import make_config

    app = create_app(make_config("sqlite", tmp_path))
    with app.app_context():
        upgrade()
    assert not logging.getLogger("rewards.request").disabled
    root = logging.getLogger()
    root.addHandler(caplog.handler)  # alembic.ini's logging replaced the root handlers, pytest's too
    try:
        with caplog.at_level(logging.INFO, logger="rewards.request"):
            app.test_client().get("/healthz")
    finally:
        root.removeHandler(caplog.handler)
    assert [line["endpoint"] for line in _request_lines(caplog)] == ["health.healthz"]
