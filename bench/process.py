"""Time whole commands as a user meets them, interleaved with their floors, and report medians.

Every benchmark of a monthly run uses this: each command is a process started under ``/usr/bin/time -v``
(wall seconds measured here; CPU seconds and peak RSS from ``time``), the cases of one round run one after
the other (floor, then ours), rounds repeat, and the table shows medians, the ratio of the medians and the
machine's load average before and after (a 2-core machine shared with other work gives noisy walls).

Before the first round, the project's modules are compiled to bytecode (``compileall``), as an installed
package is: with ``PYTHONDONTWRITEBYTECODE`` set (some shells set it) and no ``__pycache__`` (a fresh
checkout), every command would compile about 190 modules from source, about a second of CPU that no
installed service pays.

On PostgreSQL the server's share is a process too: a case that names its connections (``application_name``,
:attr:`Case.server_app`) has the CPU of those server backends added up while the command runs (polled from
``/proc`` every 0.1 s; the server runs on this machine), so that client + server CPU can be compared when
the load makes the walls say little.
"""

from __future__ import annotations

import compileall
import os
import statistics
import subprocess
import threading
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
    server_cpu: float | None = None


class ServerCPU:
    """Adds up the CPU of the PostgreSQL backends named ``app`` while it runs (a thread polling ``/proc``)."""

    def __init__(self, url: str, app: str) -> None:
        self.url, self.app = url, app
        self.seen: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> ServerCPU:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def total(self) -> float:
        return sum(self.seen.values())

    def _poll(self) -> None:
        import psycopg

        tick = os.sysconf("SC_CLK_TCK")

        def cpu(pid: int) -> float | None:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:  # the backend has exited
                return None
            return (int(fields[11]) + int(fields[12])) / tick

        with psycopg.connect(self.url.replace("+psycopg", ""), autocommit=True) as conn:
            query = "SELECT pid FROM pg_stat_activity WHERE application_name = %s"
            # A backend of the same name still ending (the preparation's) counts only from now on.
            base = {pid: cpu(pid) or 0.0 for (pid,) in conn.execute(query, (self.app,))}
            while not self._stop.wait(0.1):
                pids = {pid for (pid,) in conn.execute(query, (self.app,))}
                for pid in pids | set(self.seen):
                    now = cpu(pid)
                    if now is not None:  # an exited backend keeps its last reading
                        self.seen[pid] = now - base.get(pid, 0.0)


def timed(command: Sequence[str], env: dict[str, str] | None = None, server: tuple[str, str] | None = None,
          cwd: Path = ROOT) -> Run:
    """Run ``command`` (it must exit 0) under ``/usr/bin/time -v`` in ``cwd``: wall, CPU (user + system), peak
    RSS; with ``server`` (a PostgreSQL URL and an ``application_name``), the CPU of those server backends too."""
    watch = ServerCPU(*server) if server else None
    start = time.perf_counter()
    if watch is not None:
        watch.__enter__()
    try:
        done = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True, cwd=cwd,
                              env=env if env is not None else dict(os.environ))
    finally:
        if watch is not None:
            watch.__exit__()
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{list(command)} failed:\n{done.stdout[-2000:]}{done.stderr[-3000:]}")
    fields = {line.split(":")[0].strip(): line.rsplit(":", 1)[1].strip()
              for line in done.stderr.splitlines() if ":" in line}
    cpu = float(fields["User time (seconds)"]) + float(fields["System time (seconds)"])
    return Run(wall, cpu, int(fields["Maximum resident set size (kbytes)"]) // 1024, done.stdout.strip(),
               watch.total if watch is not None else None)


@dataclass
class Case:
    """A named command; ``prepare`` runs before each timing (not timed) and returns the command to time.
    ``server``: (PostgreSQL URL, application_name) of the command's connections, to add up the server's CPU.
    ``cwd``: the folder the command runs in (another checkout's, to time its code against this one's in the
    same rounds: ``python -m`` puts the current folder first on the module path)."""

    name: str
    prepare: Callable[[int], Sequence[str]]
    env: dict[str, str] | None = None
    runs: list[Run] = field(default_factory=list)
    server: tuple[str, str] | None = None
    cwd: Path = ROOT

    def median(self, attribute: str) -> float:
        return statistics.median(getattr(r, attribute) for r in self.runs)

    def total_cpu(self) -> float | None:
        """Median of client + server CPU, when the server's was measured."""
        if any(r.server_cpu is None for r in self.runs):
            return None
        return statistics.median(r.cpu + (r.server_cpu or 0.0) for r in self.runs)


def compile_project(root: Path = ROOT) -> None:
    """Write the bytecode of the project's packages (and the floors), as ``pip install`` does for a package."""
    for package in ("rewards", "draws", "partners", "signedjson", "bench"):
        compileall.compile_dir(root / package, quiet=1)


def interleave(cases: Sequence[Case], rounds: int) -> tuple[float, float]:
    """Run every case once per round, in order; the load average (1 min) before and after."""
    for root in {ROOT, *(case.cwd for case in cases)}:
        compile_project(root)
    before = os.getloadavg()[0]
    for number in range(rounds):
        for case in cases:
            case.runs.append(timed(case.prepare(number), case.env, case.server, case.cwd))
            run = case.runs[-1]
            server = "" if run.server_cpu is None else f" + {run.server_cpu:.2f} s server CPU"
            print(f"  round {number + 1} {case.name}: {run.wall:.2f} s wall, {run.cpu:.2f} s CPU{server}, "
                  f"{run.rss_mib} MiB", flush=True)
    return before, os.getloadavg()[0]


def table(title: str, floor: Case, ours: Sequence[Case], load: tuple[float, float]) -> str:
    """A Markdown table: medians of each case and each ours-to-floor ratio (wall and CPU; with the server's
    CPU when every case measured it: client + server CPU and its ratio)."""
    server = all(case.total_cpu() is not None for case in (floor, *ours))
    extra_head, extra_rule = (" client + server CPU s | total CPU / floor |", "---:|---:|") if server else ("", "")
    lines = [f"**{title}** ({len(floor.runs)} rounds, medians; load average {load[0]:.1f} → {load[1]:.1f})", "",
             f"| command | wall s | CPU s | peak RSS MiB | wall / floor | CPU / floor |{extra_head}",
             f"|---|---:|---:|---:|---:|---:|{extra_rule}"]
    for case in (floor, *ours):
        ratio_wall = case.median("wall") / floor.median("wall")
        ratio_cpu = case.median("cpu") / floor.median("cpu")
        ratios = "" if case is floor else f"**{ratio_wall:.2f}x** | {ratio_cpu:.2f}x"
        row = (f"| {case.name} | {case.median('wall'):.2f} | {case.median('cpu'):.2f} | "
               f"{max(r.rss_mib for r in case.runs):,} | {ratios or '– | –'} |")
        if server:
            total, floor_total = case.total_cpu() or 0.0, floor.total_cpu() or 1.0
            row += f" {total:.2f} | {'–' if case is floor else f'{total / floor_total:.2f}x'} |"
        lines.append(row)
    return "\n".join(lines)
