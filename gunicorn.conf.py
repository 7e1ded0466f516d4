"""gunicorn settings: ``gunicorn -c gunicorn.conf.py 'rewards:create_app()'``."""

import multiprocessing
import os

bind = os.environ.get("REWARDS_BIND", "127.0.0.1:8000")
# Two sync workers per core (at least 2): 4 on the 2-core machine the partner API's targets are measured
# on (issue 15: validate and the priority look-up against bare Flask served the same way, 4 workers).
# A sync worker waits idle on every round trip of its request (PostgreSQL: one per validate and one per
# look-up; Redis: one per batch of rate-limit permits), so one worker per core leaves the cores idle
# meanwhile. Measured on 2 cores, PostgreSQL, same interleaved run (docs/benchmarks.md, 2026-12-07
# "hot path" sections): the look-up served 44% of bare Flask's req/s with 4 workers against 19% with 2
# (p99 2.3x bare's against 2.7x), validate 33% against 32%; on SQLite the look-up did better with 2
# (44% against 33%; p99 2.2x against 2.1x). REWARDS_WORKERS (or -w) overrides; the benchmarks pass the
# same count to bare Flask.
workers = int(os.environ.get("REWARDS_WORKERS", str(2 * max(1, multiprocessing.cpu_count()))))
worker_class = "sync"
timeout = 120  # snapshot uploads of 50 MB
accesslog = "-"
# The access log keeps no query string and no referrer (either may carry a token or personal data):
# method, path and protocol, status, size, seconds, user agent, and the request id the app answered.
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(L)s "%(a)s" %({x-request-id}o)s'
preload_app = True
# Request size limits (docs/operations.md, "Request size limits"). The app refuses a request target over
# 4096 bytes (414), a header line over 8190 bytes, more than 100 headers or 32 KiB of them (431), in its
# JSON error shape (rewards/inputguard.py). gunicorn's own limits sit above those, so its HTML answers
# reach only requests far beyond them: a request line over 8190 bytes (gunicorn's maximum; 0 would
# read an endless line), a header line over 16 KiB, more than 200 headers.
limit_request_line = 8190
limit_request_field_size = 16384
limit_request_fields = 200


def post_fork(server, worker):  # noqa: ARG001
    """A forked worker must not reuse the parent's pooled connections (SQLAlchemy pooling docs)."""
    from rewards.db import db

    app = server.app.callable if hasattr(server.app, "callable") else None
    if app is not None:
        with app.app_context():
            db.engine.dispose(close=False)


def child_exit(server, worker):  # noqa: ARG001
    """prometheus_client's multiprocess mode: a dead worker's live gauges must not be summed any more."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
