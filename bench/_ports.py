"""Loopback ports of the benchmarks' servers: a free one to start on, and waiting until it listens."""

from __future__ import annotations

import socket
import subprocess
import time


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, what: str = "gunicorn", *, proc: subprocess.Popen[bytes] | None = None,
              seconds: float = 60.0, settle: float = 0.0) -> None:
    """Return once something listens on the loopback ``port``, ``settle`` seconds later (the workers
    boot); after ``seconds``, or as soon as ``proc`` exits, kill ``proc`` and raise ``RuntimeError``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and (proc is None or proc.poll() is None):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        except OSError:
            time.sleep(0.2)
            continue
        time.sleep(settle)
        return
    if proc is not None:
        proc.kill()
    raise RuntimeError(f"{what} did not start")
