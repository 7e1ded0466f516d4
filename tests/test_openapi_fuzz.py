"""schemathesis over the whole OpenAPI document with every check: zero failures of any kind.

Runs on both databases, on the demo data (a published draw, a partner with offers and codes, flags),
with one API key holding every scope and linked to the demo partner, so each operation is reached
past authentication and some reach real objects. All of schemathesis' phases run (examples,
coverage, fuzzing, stateful) with all its checks, exactly as ``st run --checks all`` would, through
its engine and the project's ``schemathesis.toml`` (the few operations whose valid input a schema
cannot describe are listed there and in docs/api.md). Fixed seed: a failure reproduces.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import schemathesis
from flask import Flask
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events, from_schema
from sqlalchemy import select
from werkzeug.serving import make_server

from rewards.apikeys.services import SCOPES
from rewards.db import db

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES_PER_OPERATION = 8  # ~1 min per engine on 2 cores; `st run` against a server for longer runs
SEED = 20261207


def _fuzz_key(app: Flask) -> str:
    """Load the demo data and make a key with every scope that acts for the demo partner."""
    from partners.models import Partner
    from partners.services import catalog
    from rewards.apikeys.services import create_client

    result = app.test_cli_runner().invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        _client, token = create_client(db.session, "fuzz", list(SCOPES), actor="test")
        catalog.link_client(db.session, db.session.scalars(select(Partner)).one(), "fuzz", actor="test")
        db.session.commit()
    return token


@contextmanager
def _served(app: Flask) -> Iterator[str]:
    """Serve ``app`` over HTTP on a free loopback port (schemathesis' engine speaks HTTP, as `st run` does)."""
    server = make_server("127.0.0.1", 0, app, threaded=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()


def _failures(schema: Any) -> tuple[int, list[str]]:
    """Run every phase; the number of checks made and one line per distinct failure or error."""
    checked, found = 0, {}
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            for nodes in event.recorder.checks.values():
                for node in nodes:
                    checked += 1
                    if node.status == Status.FAILURE:
                        title = node.failure_info.failure.title if node.failure_info else ""
                        line = f"{event.phase.name} {event.recorder.label}: {node.name}: {title}"
                        found.setdefault((event.recorder.label, node.name), line)
        elif isinstance(event, events.NonFatalError):
            found.setdefault((event.label, "error"), f"error in {event.label}: {event.info}")
        elif isinstance(event, events.FatalError):
            found.setdefault(("", "fatal"), f"fatal: {event.exception!r}")
    return checked, list(found.values())


def test_api_conforms_to_its_schema_with_every_check(app: Flask) -> None:
    token = _fuzz_key(app)
    config = SchemathesisConfig.from_path(ROOT / "schemathesis.toml")
    config.update(seed=SEED, max_failures=None)
    project = config.projects.override
    # A generous timeout: the machine is shared, and a slow answer is not what this test measures.
    project.update(headers={"Authorization": f"Bearer {token}"}, workers=1, request_timeout=60)
    project.generation.update(max_examples=EXAMPLES_PER_OPERATION, database="none")
    with _served(app) as base:
        schema = schemathesis.openapi.from_url(f"{base}/api/v1/openapi.json", config=config)
        assert len(list(schema.get_all_operations())) >= 40, "the OpenAPI document lost operations"
        checked, failures = _failures(schema)
    assert checked > 5000, checked  # every phase ran
    assert not failures, "\n".join(failures)
