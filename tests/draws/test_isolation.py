"""The pure core and the verifier must not pull in Flask or SQLAlchemy (an auditor runs them alone)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_engine_and_verifier_import_without_flask_or_sqlalchemy() -> None:
    code = (
        "import sys, draws.engine, draws.verify, draws.bundle, draws.sample, draws.stats\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'flask', 'sqlalchemy', 'flask_sqlalchemy', "
        "'marshmallow'})\n"
        "print(','.join(bad))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    assert out.stdout.strip() == "", out.stdout
