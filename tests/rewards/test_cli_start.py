"""A command pays only for what it uses (``rewards.websetup``, ``rewards.lazycli``): the ``flask`` command line
builds the app without its web side and imports a group's module only when the group runs, while
``flask routes`` and ``flask openapi`` still see the whole app. Costs are measured by
``bench/monthly.py startup``; these tests check what is imported, never how long it takes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask

from rewards import features, websetup
from rewards.jobs import registry

ROOT = Path(__file__).resolve().parents[2]

# Runs ``flask ARGS`` as the ``flask`` script does, then prints the modules it imported (stderr: the output).
_PROBE = """
import json, sys
from flask.cli import cli
try:
    cli.main(args=sys.argv[1:], prog_name="flask")
except SystemExit as exit:
    code = exit.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""

# Neither the web side nor the libraries only it (or only ``flask db``, or only the queue) needs.
NEVER_IN_A_COMMAND = ("flask_smorest", "marshmallow", "apispec", "flask_wtf", "wtforms", "flask_migrate", "alembic",
                      "huey", "redis", "limits")


def _flask(tmp_path: Path, *args: str) -> tuple[int, set[str], str]:
    env = dict(os.environ, REWARDS_INSTANCE_PATH=str(tmp_path), REWARDS_SECRET_KEY="test-secret",
               REWARDS_DATABASE_URL=f"sqlite:///{tmp_path / 'cli.sqlite3'}", FLASK_APP="rewards",
               PYTHONPATH=str(ROOT))
    env.pop("FLASK_RUN_FROM_CLI", None)
    done = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=120)
    report = json.loads(done.stderr.strip().splitlines()[-1])
    return report["code"], set(report["modules"]), done.stdout


def _web_modules(modules: set[str]) -> set[str]:
    """Our page, API and schema modules (``rewards.api`` is the package of the API docs' settings)."""
    ours = {m for m in modules if m.split(".")[0] in {"rewards", "draws", "partners"} and m != "rewards.api"}
    return {m for m in ours if m.rsplit(".", 1)[-1] in {"views", "api", "schemas", "kit_api", "webhook_api", "keys"}}


def test_a_group_help_imports_its_own_module_and_no_web_side(tmp_path: Path) -> None:
    code, modules, output = _flask(tmp_path, "draws", "--help")
    assert code == 0 and "freeze" in output and "Prize draws" in output
    assert "draws.cli" in modules
    assert not {"draws.services", "draws.models", "draws.jobs", "partners.cli", "rewards.snapshots.cli"} & modules
    assert not _web_modules(modules)
    assert not {m for m in modules if m.split(".")[0] in NEVER_IN_A_COMMAND}


def test_a_small_command_imports_what_it_reads(tmp_path: Path) -> None:
    code, _modules, _output = _flask(tmp_path, "db", "upgrade")
    assert code == 0
    code, modules, output = _flask(tmp_path, "snapshots", "list")
    assert code == 0 and output == ""
    assert {"rewards.snapshots.cli", "rewards.snapshots.models"} <= modules
    assert not {"rewards.snapshots.services", "draws.cli", "draws.models", "partners.models"} & modules
    assert "sqlalchemy.dialects.postgresql" not in modules  # on SQLite (``rewards.db.partial_index``)
    assert not _web_modules(modules)
    assert not {m for m in modules if m.split(".")[0] in NEVER_IN_A_COMMAND}


def test_read_commands_on_sqlite_import_no_postgresql_dialect(tmp_path: Path) -> None:
    code, _modules, _output = _flask(tmp_path, "db", "upgrade")
    assert code == 0
    for args in (("flags", "history", "0001"), ("partners", "list")):
        code, modules, _output = _flask(tmp_path, *args)
        assert code == 0 and "sqlalchemy.dialects.postgresql" not in modules, args


def test_flask_routes_and_openapi_see_the_whole_app(tmp_path: Path) -> None:
    code, modules, output = _flask(tmp_path, "routes")
    assert code == 0 and "draws.index" in output and "/api/v1/docs" in output
    assert "/accounts/<account:account>" in output
    assert "flask_smorest" in modules
    code, _modules, output = _flask(tmp_path, "openapi", "print")
    assert code == 0
    assert {"/api/v1/keys", "/api/v1/snapshots", "/api/v1/jobs/{job_id}"} <= set(json.loads(output)["paths"])


def test_an_app_built_outside_the_command_line_has_its_web_side(app: Flask) -> None:
    assert websetup.has_web(app)
    assert websetup.serves_requests()


def test_db_runs_flask_migrate_with_its_own_options(tmp_path: Path) -> None:
    code, modules, output = _flask(tmp_path, "db", "--help")
    assert code == 0 and "--directory" in output and "upgrade" in output and "alembic" in modules


def test_every_kind_of_job_and_periodic_work_resolves(app: Flask) -> None:
    from draws import jobs as draw_jobs
    from partners import jobs as partner_jobs
    from partners import webhook_api
    from partners.feature import WEBHOOKS_SCOPE
    from rewards.audit import jobs as audit_jobs
    from rewards.snapshots import jobs as snapshot_jobs

    kinds = registry.kinds(app)
    for kind in kinds.values():
        assert callable(kind.handler), kind.name
    for work in registry.periodic(app):
        assert callable(work.fn), work.name
    started = {draw_jobs.FREEZE, draw_jobs.RUN, draw_jobs.CREDITS, partner_jobs.ISSUE, partner_jobs.EXPORT,
               snapshot_jobs.IMPORT, snapshot_jobs.COMPUTE, snapshot_jobs.EXPORT, snapshot_jobs.WHAT_IF,
               audit_jobs.EXPORT}
    assert started <= set(kinds)  # the names the services start jobs by are the registered ones
    assert WEBHOOKS_SCOPE == webhook_api.SCOPE


@pytest.mark.parametrize("name", ["snapshots", "draws", "partners", "flags", "jobs", "demo", "users", "keys", "audit"])
def test_each_group_lists_its_commands(app: Flask, name: str) -> None:
    group = app.cli.get_command(None, name)  # type: ignore[arg-type]
    assert group is not None and group.list_commands(None)  # type: ignore[attr-defined, arg-type]
    assert features.loaded(app)
