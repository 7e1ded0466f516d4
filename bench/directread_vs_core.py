"""Why the hot reads keep rewards.directread: the key check's query through DirectRead and through SQLAlchemy
Core on engine.connect() (with and without AUTOCOMMIT), CPU and wall per read, client side.

    PYTHONPATH=. python bench/directread_vs_core.py sqlite|postgresql
"""
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text  # noqa: E402

from rewards import create_app  # noqa: E402
from rewards.apikeys import services, tokens  # noqa: E402
from rewards.db import db  # noqa: E402

backend = sys.argv[1]
os.environ["REWARDS_INSTANCE_PATH"] = tempfile.mkdtemp()
if backend == "sqlite":
    url = f"sqlite:///{tempfile.mkdtemp()}/x.db"; extra = {}
else:
    e = create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/test")
    with e.begin() as c:
        c.execute(text("DROP SCHEMA IF EXISTS hotreads CASCADE"))
        c.execute(text("CREATE SCHEMA hotreads"))
    url = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    extra = {"SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"options": "-csearch_path=hotreads"}}}
app = create_app({"SECRET_KEY": "x", "DATABASE_URL": url, **extra})
with app.app_context():
    db.create_all()
    _c, token = services.create_client(db.session, "cc", ["priority:read"], actor="t"); db.session.commit()
    eng = db.engine
    params = {"lookup": tokens.lookup_of(token)}
    stmt = services._AUTH_QUERY.statement
    def direct(): return services._AUTH_QUERY.first(eng, params)
    def core():
        with eng.connect() as c: return c.execute(stmt, params).first()
    auto = eng.execution_options(isolation_level="AUTOCOMMIT")
    def core_auto():
        with auto.connect() as c: return c.execute(stmt, params).first()
    assert tuple(direct()) == tuple(core()) == tuple(core_auto())
    for _round in range(3):
        for name, fn in [("DirectRead", direct), ("Core connect()", core), ("Core AUTOCOMMIT", core_auto)]:
            for _ in range(200): fn()
            n = 3000; c0 = time.thread_time(); t0 = time.perf_counter()
            for _ in range(n): fn()
            print(
                f"{backend} {name:<16} {(time.thread_time() - c0) / n * 1e6:5.0f} us cpu "
                f"{(time.perf_counter() - t0) / n * 1e6:5.0f} us wall"
            )
