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
preload_app = True


def post_fork(server, worker):  # noqa: ARG001
    """A forked worker must not reuse the parent's pooled connections (SQLAlchemy pooling docs)."""
    from rewards.db import db

    app = server.app.callable if hasattr(server.app, "callable") else None
    if app is not None:
        with app.app_context():
            db.engine.dispose(close=False)
