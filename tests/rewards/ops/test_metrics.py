"""Prometheus metrics: requests by endpoint and status, rate-limit refusals, only for the token holder."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from prometheus_client import REGISTRY

from rewards.ops.metrics import counter, gauge, histogram

TOKEN = "metrics-token-0123456789"


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_no_metrics_route_without_a_token(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 404


@pytest.mark.parametrize("header", [None, "Bearer wrong-token-0123456789", f"Basic {TOKEN}", "Bearer "])
def test_metrics_refuse_anyone_else(app_factory: Callable[..., Flask], header: str | None) -> None:
    client = app_factory(METRICS_TOKEN=TOKEN).test_client()
    r = client.get("/metrics", headers={"Authorization": header} if header else {})
    assert r.status_code == 401
    assert b"rewards_http_requests_total" not in r.get_data()


def test_requests_are_counted_and_timed_by_endpoint_and_status(app_factory: Callable[..., Flask]) -> None:
    client = app_factory(METRICS_TOKEN=TOKEN).test_client()
    ok = dict(endpoint="auth.login", method="GET", status="200")
    lost = dict(endpoint="unmatched", method="GET", status="404")
    before_ok, before_lost = _value("rewards_http_requests_total", **ok), _value("rewards_http_requests_total", **lost)
    before_timed = _value("rewards_http_request_duration_seconds_count", **ok)
    for _ in range(3):
        client.get("/login")
    client.get("/no/such/path/12345")
    assert _value("rewards_http_requests_total", **ok) == before_ok + 3
    assert _value("rewards_http_requests_total", **lost) == before_lost + 1
    assert _value("rewards_http_request_duration_seconds_count", **ok) == before_timed + 3
    r = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")
    text = r.get_data(as_text=True)
    assert 'rewards_http_requests_total{endpoint="auth.login",method="GET",status="200"}' in text
    assert "/no/such/path" not in text  # labels are endpoints, never paths


def test_rate_limit_refusals_are_counted(app_factory: Callable[..., Flask]) -> None:
    client = app_factory(RATELIMIT_ENABLED=True).test_client()
    before = _value("rewards_rate_limit_refusals_total", endpoint="auth.login")
    statuses = [client.post("/login", data={"username": f"u{i}", "password": "x"}).status_code for i in range(22)]
    assert statuses.count(429) == 2
    assert _value("rewards_rate_limit_refusals_total", endpoint="auth.login") == before + 2


def test_feature_counters_are_declared_once() -> None:
    first = counter("rewards_test_things_total", "Things", ["result"])
    assert counter("rewards_test_things_total", "Things", ["result"]) is first
    with pytest.raises(ValueError, match="labels"):
        counter("rewards_test_things_total", "Things", ["other"])


def test_feature_histograms_and_gauges() -> None:
    took = histogram("rewards_test_job_seconds", "Job durations", ["kind"], buckets=(0.1, 1.0))
    assert histogram("rewards_test_job_seconds", "Job durations", ["kind"], buckets=(0.1, 1.0)) is took
    took.labels("export").observe(0.5)
    assert _value("rewards_test_job_seconds_bucket", kind="export", le="1.0") >= 1
    depth = gauge("rewards_test_queue_depth", "Jobs waiting")
    depth.set(7)
    assert _value("rewards_test_queue_depth") == 7
    with pytest.raises(ValueError, match="Gauge"):
        counter("rewards_test_queue_depth", "Jobs waiting")
