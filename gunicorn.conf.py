"""gunicorn settings: ``gunicorn -c gunicorn.conf.py 'rewards:create_app()'``."""

import multiprocessing
import os

bind = os.environ.get("REWARDS_BIND", "127.0.0.1:8000")
# One sync worker per core (at least 2). Measured on 2 cores (docs/benchmarks.md, "Priority look-up"):
# for requests that only compute (the call-centre look-up, SQLite in process) 2 workers gave twice the
# throughput of 4 and a lower p99; requests that wait on a network round trip (partner validate: Redis)
# do better with more workers than cores — its issue measures it with 4 (REWARDS_WORKERS=4 or -w 4).
# The benchmarks use this file and override only the bind address and the worker count.
workers = int(os.environ.get("REWARDS_WORKERS", str(max(2, multiprocessing.cpu_count()))))
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
