"""CPU seconds of the processes an HTTP benchmark run involves, read from ``/proc`` (Linux only).

Requests per second on a shared 2-core machine mix two things: what a request costs and what else ran.
CPU per request separates them: the server's workers (a gunicorn master's children), the database
server (every ``postgres`` process: its backends do the validate's and the look-up's reads), Redis
(the rate limits), and the load generator (a waited child: its rusage). With SQLite the database's work
is in the workers' own figure.
"""

from __future__ import annotations

import os
import resource
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: str) -> tuple[str, int, float] | None:
    """(command name, parent pid, user + system seconds) of a live process, or None if it ended."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name = raw[raw.index("(") + 1:raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2:].split()
    return name, int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK


def _groups(server_pid: int) -> dict[str, float]:
    seconds = {"server": 0.0, "database": 0.0, "redis": 0.0}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        stat = _stat(pid)
        if stat is None:
            continue
        name, parent, cpu = stat
        if parent == server_pid or int(pid) == server_pid:
            seconds["server"] += cpu
        elif name.startswith("postgres"):
            seconds["database"] += cpu
        elif name.startswith("redis-server"):
            seconds["redis"] += cpu
    return seconds


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@contextmanager
def cpu_of(server: subprocess.Popen[bytes] | int) -> Iterator[dict[str, float]]:
    """Yields a dict filled on exit with the CPU seconds spent meanwhile by ``server`` (a gunicorn
    master: its workers) as ``server``, by the database and Redis servers, and by this process's
    waited children (the load generator) as ``client``. Workers must live through the block (a
    worker that exits takes its seconds with it: gunicorn's ``max_requests`` is off here)."""
    pid = server if isinstance(server, int) else server.pid
    result: dict[str, float] = {}
    before, client = _groups(pid), _children_cpu()
    yield result
    after = _groups(pid)
    result.update({k: after[k] - before[k] for k in after}, client=_children_cpu() - client)


def per_request(seconds: dict[str, float], requests: float) -> dict[str, float]:
    """Microseconds of CPU per request of each group."""
    return {k: v / requests * 1e6 for k, v in seconds.items()} if requests else dict.fromkeys(seconds, 0.0)


def measured(server: subprocess.Popen[bytes] | int, run: Callable[[], T]) -> tuple[T, dict[str, float]]:
    """``run()`` and the CPU seconds of :func:`cpu_of` over it."""
    with cpu_of(server) as seconds:
        out = run()
    return out, seconds
