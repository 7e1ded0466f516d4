"""The pure cores import neither Flask nor SQLAlchemy (an auditor runs them without the service)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

PURE = ["draws.canonical", "draws.signed", "rewards.audit.chain", "rewards.apikeys.tokens", "rewards.tiers"]
OPTIONAL = ["draws.engine", "draws.verify", "partners.codes", "rewards.rating.engine", "rewards.snapshots.csvfile"]


@pytest.mark.parametrize("module", PURE + OPTIONAL)
def test_module_is_pure(module: str) -> None:
    try:
        missing = importlib.util.find_spec(module) is None
    except ModuleNotFoundError:
        missing = True
    if module in OPTIONAL and missing:
        pytest.skip(f"{module} does not exist yet")
    code = (
        f"import sys, {module}\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'flask', 'sqlalchemy', 'flask_sqlalchemy'})\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"{module} pulls in {out}"
