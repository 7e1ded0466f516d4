"""The pure cores import neither Flask, SQLAlchemy nor marshmallow (an auditor runs them without the service)."""

from __future__ import annotations

import subprocess
import sys

import pytest

PURE = [
    "signedjson", "draws.engine", "draws.frozen", "draws.verify", "draws.witness", "draws.drand", "draws.relay",
    "draws.checkcode",
    "rewards.audit.chain", "rewards.apikeys.tokens", "rewards.tiers", "partners.codes", "rewards.rating.engine",
    "rewards.snapshots.csvfile", "rewards.snapshots.digest", "rewards.rating.rules", "rewards.csvread",
    "rewards.flags.core", "rewards.flags.needs",
    "rewards.rating.behaviour",
    "rewards.charts",
    "partners.webhooks",
    "rewards.rating.whatif",
    "rewards.pacing",
]


@pytest.mark.parametrize("module", PURE)
def test_module_is_pure(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        "bad = sorted(m for m in sys.modules\n"
        "             if m.split('.')[0] in {'flask', 'sqlalchemy', 'flask_sqlalchemy', 'marshmallow'})\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"{module} pulls in {out}"
