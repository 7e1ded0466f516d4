"""gunicorn settings: ``gunicorn -c gunicorn.conf.py 'rewards:create_app()'``."""

import multiprocessing
import os

bind = os.environ.get("REWARDS_BIND", "127.0.0.1:8000")
# Measured on 2 cores: two sync workers beat four workers or gthread (see docs/benchmarks.md).
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
