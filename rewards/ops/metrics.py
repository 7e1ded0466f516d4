"""Prometheus metrics: every request by endpoint, method and status, and the counters features declare.

The kernel measures requests (count and latency by endpoint and status) and rate-limit refusals
(every 429, whichever limit gave it). A feature declares its own counters through :func:`counter`
(the partners feature: validations and redemptions by result), :func:`histogram` (durations) and
:func:`gauge` (levels such as a queue's depth), at import or in its ``init_app``; declaring the same
name twice returns the same metric, so several apps in one process share it.

``GET /metrics`` answers only a caller presenting ``Authorization: Bearer <METRICS_TOKEN>``; with no
token set the route does not exist (404). Under gunicorn every worker counts for itself: set the
environment variable ``PROMETHEUS_MULTIPROC_DIR`` to an empty folder writable by the workers and
``/metrics`` adds them up (prometheus_client's multiprocess mode; ``gunicorn.conf.py`` marks dead
workers). Labels are bounded: the endpoint name (``unmatched`` for 404s of unknown paths), never a
path, an id or a client.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Sequence
from typing import Any, cast

from flask import Blueprint, Flask, Request, abort, current_app, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from werkzeug.wrappers import Response

from rewards.policy import public

_declared: dict[str, tuple[Any, tuple[str, ...]]] = {}

REQUESTS = Counter("rewards_http_requests_total", "HTTP requests answered", ["endpoint", "method", "status"])
LATENCY = Histogram(
    "rewards_http_request_duration_seconds",
    "Time from the start of a request to its response",
    ["endpoint", "method", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
RATE_LIMITED = Counter("rewards_rate_limit_refusals_total", "Requests refused by a rate limit (429)", ["endpoint"])

bp = Blueprint("metrics", __name__)


def _declare(kind: type[Any], name: str, documentation: str, labels: Sequence[str], **options: Any) -> Any:
    found = _declared.get(name)
    if found is None:
        found = _declared[name] = (kind(name, documentation, list(labels), **options), tuple(labels))
    elif not isinstance(found[0], kind) or found[1] != tuple(labels):
        raise ValueError(f"metric {name} already declared as a {type(found[0]).__name__} with labels {found[1]}")
    return found[0]


def counter(name: str, documentation: str, labels: Sequence[str] = ()) -> Counter:
    """The process-wide counter ``name`` (created on first use; the same object on every later call)."""
    return cast(Counter, _declare(Counter, name, documentation, labels))


def histogram(name: str, documentation: str, labels: Sequence[str] = (),
              buckets: Sequence[float] = Histogram.DEFAULT_BUCKETS) -> Histogram:
    """The process-wide histogram ``name`` (e.g. a job's duration in seconds), declared once."""
    return cast(Histogram, _declare(Histogram, name, documentation, labels, buckets=tuple(buckets)))


def gauge(name: str, documentation: str, labels: Sequence[str] = (), multiprocess_mode: str = "livemax") -> Gauge:
    """The process-wide gauge ``name`` (e.g. the job queue's depth), declared once.

    ``multiprocess_mode`` says how gunicorn workers' values combine under ``PROMETHEUS_MULTIPROC_DIR``:
    ``livemax`` (a value every worker reads alike, such as a queue's depth), ``livesum``, ``liveall``...
    """
    return cast(Gauge, _declare(Gauge, name, documentation, labels, multiprocess_mode=multiprocess_mode))


# (endpoint, method, status) -> the children of REQUESTS and LATENCY with those labels. ``labels()``
# returns the same child on every call (nothing here removes one); asking it once per combination spares
# every request two look-ups under the metric's lock. It holds one entry per label set the metrics
# themselves hold a child for (no more, no fewer).
_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def observe(req: Request, ctx: Any, response: Response) -> None:
    """Count and time this answer (the kernel's after-request hook calls this; the start time is the
    one that hook's before half noted in ``g``)."""
    began = ctx.get("_ops_started")
    key = (req.endpoint or "unmatched", req.method, response.status_code)
    children = _children.get(key)
    if children is None:
        labels = (key[0], key[1], str(key[2]))
        children = _children[key] = (REQUESTS.labels(*labels), LATENCY.labels(*labels))
    children[0].inc()
    if began is not None:
        children[1].observe(time.perf_counter() - began)
    if response.status_code == 429:
        RATE_LIMITED.labels(key[0]).inc()


def _registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


@bp.route("/metrics")
@public  # the bearer token below is the access rule: Prometheus has no staff login or API key
def metrics() -> Response:
    """The metrics in Prometheus' text format, for the holder of ``METRICS_TOKEN``."""
    expected = current_app.config["METRICS_TOKEN"]
    if not expected:
        abort(404)
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected.encode()):
        abort(401)
    return Response(generate_latest(_registry()), mimetype=CONTENT_TYPE_LATEST)


def init_app(app: Flask) -> None:
    """Serve ``/metrics`` (every request is counted and timed by :func:`observe`)."""
    app.register_blueprint(bp)
