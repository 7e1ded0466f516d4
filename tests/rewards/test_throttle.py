"""Page rate limits (``rewards.throttle``): what is counted, the refusal page, storage down, off."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from werkzeug.exceptions import TooManyRequests

from rewards import throttle


def test_refusal_is_429_in_the_pages_language_with_retry_after(app_factory: Callable[..., Flask]) -> None:
    app = app_factory(RATELIMIT_ENABLED=True)
    c = app.test_client()
    for i in range(10):
        assert c.post("/login", data={"username": "victim", "password": f"g{i}"}).status_code == 401
    r = c.post("/login", data={"username": "victim", "password": "g"})
    assert r.status_code == 429
    assert 1 <= int(r.headers["Retry-After"]) <= 60  # the minute window of "10 per minute;50 per hour"
    page = r.get_data(as_text=True)
    assert "Слишком много запросов за короткое время" in page  # Russian, the pages' default


def test_only_the_named_methods_are_counted(app_factory: Callable[..., Flask]) -> None:
    app = app_factory(RATELIMIT_ENABLED=True)
    c = app.test_client()
    for _ in range(30):  # more than the per-address limit of 20: GETs of the form are not counted
        assert c.get("/login").status_code == 200
    assert c.post("/login", data={"username": "x", "password": "y"}).status_code == 401


def test_refused_attempts_are_counted_too(app_factory: Callable[..., Flask]) -> None:
    app = app_factory(RATELIMIT_ENABLED=True)
    with app.test_request_context("/login", method="POST"):
        strategy = throttle.limiter()
        assert strategy is not None
        for _ in range(2):
            throttle.hit("t-scope", "2 per minute", "k")
        for _ in range(2):
            with pytest.raises(TooManyRequests):
                throttle.hit("t-scope", "2 per minute", "k")
        [item] = throttle.items("2 per minute")
        assert strategy.get_window_stats(item, "t-scope", "k").remaining == 0
        assert strategy.storage.get(item.key_for("t-scope", "k")) == 4


def test_storage_down_refuses_with_503(app_factory: Callable[..., Flask]) -> None:
    app = app_factory(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="redis://127.0.0.1:1/0",
                      RATELIMIT_STORAGE_OPTIONS={"socket_connect_timeout": 0.2})
    r = app.test_client().post("/login", data={"username": "x", "password": "y"})
    assert r.status_code == 503
    assert "Сервис недоступен" in r.get_data(as_text=True)


def test_nothing_is_counted_when_off(app_factory: Callable[..., Flask]) -> None:
    app = app_factory(RATELIMIT_ENABLED=False, RATELIMIT_STORAGE_URI="redis://127.0.0.1:1/0")
    assert app.extensions[throttle.EXTENSION] is None
    c = app.test_client()
    assert [c.post("/login", data={"username": "v", "password": "p"}).status_code for _ in range(12)] == [401] * 12
