"""Time whole commands as a user meets them, interleaved with their floors, and report medians.

Every benchmark of a monthly run uses this: each command is a process started under ``/usr/bin/time -v``
(wall seconds measured here; CPU seconds and peak RSS from ``time``), the cases of one round run one after
the other (floor, then ours), rounds repeat, and the table shows medians, the ratio of the medians and the
machine's load average before and after (a 2-core machine shared with other work gives noisy walls).

Before the first round, the project's modules are compiled to bytecode (``compileall``), as an installed
package is: with ``PYTHONDONTWRITEBYTECODE`` set (some shells set it) and no ``__pycache__`` (a fresh
checkout), every command would compile about 190 modules from source, about a second of CPU that no
installed service pays.
"""

from __future__ import annotations

import compileall
import os
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Run:
    """One command's measurement."""

    wall: float
    cpu: float
    rss_mib: int
    output: str


def timed(command: Sequence[str], env: dict[str, str] | None = None) -> Run:
    """Run ``command`` (it must exit 0) under ``/usr/bin/time -v``: wall, CPU (user + system), peak RSS."""
    start = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True, cwd=ROOT,
                          env=env if env is not None else dict(os.environ))
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{list(command)} failed:\n{done.stdout[-2000:]}{done.stderr[-3000:]}")
    fields = {line.split(":")[0].strip(): line.rsplit(":", 1)[1].strip()
              for line in done.stderr.splitlines() if ":" in line}
    cpu = float(fields["User time (seconds)"]) + float(fields["System time (seconds)"])
    return Run(wall, cpu, int(fields["Maximum resident set size (kbytes)"]) // 1024, done.stdout.strip())


@dataclass
class Case:
    """A named command; ``prepare`` runs before each timing (not timed) and returns the command to time."""

    name: str
    prepare: Callable[[int], Sequence[str]]
    env: dict[str, str] | None = None
    runs: list[Run] = field(default_factory=list)

    def median(self, attribute: str) -> float:
        return statistics.median(getattr(r, attribute) for r in self.runs)


def compile_project() -> None:
    """Write the bytecode of the project's packages (and the floors), as ``pip install`` does for a package."""
    for package in ("rewards", "draws", "partners", "signedjson", "bench"):
        compileall.compile_dir(ROOT / package, quiet=1)


def interleave(cases: Sequence[Case], rounds: int) -> tuple[float, float]:
    """Run every case once per round, in order; the load average (1 min) before and after."""
    compile_project()
    before = os.getloadavg()[0]
    for number in range(rounds):
        for case in cases:
            case.runs.append(timed(case.prepare(number), case.env))
            print(f"  round {number + 1} {case.name}: {case.runs[-1].wall:.2f} s wall, {case.runs[-1].cpu:.2f} s CPU, "
                  f"{case.runs[-1].rss_mib} MiB", flush=True)
    return before, os.getloadavg()[0]


def table(title: str, floor: Case, ours: Sequence[Case], load: tuple[float, float]) -> str:
    """A Markdown table: medians of each case and each ours-to-floor ratio (wall and CPU)."""
    lines = [f"**{title}** ({len(floor.runs)} rounds, medians; load average {load[0]:.1f} → {load[1]:.1f})", "",
             "| command | wall s | CPU s | peak RSS MiB | wall / floor | CPU / floor |",
             "|---|---:|---:|---:|---:|---:|"]
    for case in (floor, *ours):
        ratio_wall = case.median("wall") / floor.median("wall")
        ratio_cpu = case.median("cpu") / floor.median("cpu")
        ratios = "" if case is floor else f"**{ratio_wall:.2f}x** | {ratio_cpu:.2f}x"
        lines.append(f"| {case.name} | {case.median('wall'):.2f} | {case.median('cpu'):.2f} | "
                     f"{max(r.rss_mib for r in case.runs):,} | {ratios or '– | –'} |")
    return "\n".join(lines)
