"""The snapshot and rating cores import neither Flask nor SQLAlchemy (an auditor runs them alone)."""

from __future__ import annotations

import subprocess
import sys

import pytest

MODULES = [
    "rewards.snapshots.csvfile",
    "rewards.snapshots.digest",
    "rewards.rating.rules",
    "rewards.rating.behaviour",
    "rewards.rating.engine",
]


@pytest.mark.parametrize("module", MODULES)
def test_core_module_is_pure(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'flask', 'sqlalchemy', 'flask_sqlalchemy', 'marshmallow'})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "", f"{module} pulls in {out}"
