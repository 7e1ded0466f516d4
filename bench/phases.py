"""A benchmark's phases, each in its own child process so that its peak memory (ru_maxrss) is its own.

The parent runs ``python <script> --phase NAME ARGS...`` (:func:`run_phase`); the child runs the phase and
prints its result with its own process's CPU time and peak memory (:func:`report_phase`). Stdlib only: a
floor phase must not pay for imports it does not need.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from typing import Any


def run_phase(script: str, name: str, *args: str) -> dict[str, Any]:
    """Run ``script --phase name args...`` in a child process; its result (the JSON of its last line)."""
    out = subprocess.run([sys.executable, script, "--phase", name, *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def report_phase(result: dict[str, Any]) -> None:
    """Print a phase's result (in the child) with this process's CPU seconds (user + system) and peak MB."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["cpu_seconds"] = usage.ru_utime + usage.ru_stime
    result["peak_rss_mb"] = round(usage.ru_maxrss / 1024, 1)
    print(json.dumps(result))
