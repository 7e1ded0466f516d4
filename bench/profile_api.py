"""Where one API request's time goes: the real WSGI stack in one process, no HTTP, no gunicorn.

    PYTHONPATH=. python bench/profile_api.py validate|priority [--requests 5000] [--profile cprofile|none]

Builds a small database (validate: 20,000 codes with rate limits on, Redis storage when a server
answers at 127.0.0.1:6379; priority: 50,000 accounts with their flags), then calls ``app.wsgi_app``
directly with prebuilt WSGI environs (a fresh body stream per request), so every Flask hook,
extension and view runs as under gunicorn. Prints the mean wall time per request and, with
``--profile cprofile``, the top functions by cumulative and by own time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def _environs(method: str, paths: list[str], token: str, bodies: list[bytes] | None) -> list[dict[str, Any]]:
    from werkzeug.test import EnvironBuilder

    out = []
    for i, path in enumerate(paths):
        kw: dict[str, Any] = {"method": method, "path": path, "headers": {"Authorization": f"Bearer {token}"},
                              "environ_base": {"REMOTE_ADDR": "127.0.0.1"}}
        if bodies is not None:
            kw.update(data=bodies[i], content_type="application/json")
        env = EnvironBuilder(**kw).get_environ()
        env["_body"] = bodies[i] if bodies is not None else b""
        out.append(env)
    return out


def setup_validate(tmp: Path, backend: str = "sqlite") -> tuple[Any, list[dict[str, Any]]]:
    import bench_partners_validate as bpv

    token, sample = bpv.prepare(backend, tmp, 20_000)
    from rewards import create_app

    app = create_app()
    bodies = [f'{{"code":"{c}"}}'.encode() for c in sample]
    return app, _environs("POST", ["/api/v1/partner/codes/validate"] * len(bodies), token, bodies)


def setup_priority(tmp: Path, backend: str = "sqlite") -> tuple[Any, list[dict[str, Any]]]:
    import flags_data

    inst, _ = flags_data.build(backend, tmp, 50_000, staff_lines=2_000, log=lambda *a: None)
    token = flags_data.make_token(inst)
    from rewards import create_app

    app = create_app()
    rng = random.Random(1)
    paths = [f"/api/v1/accounts/{rng.randrange(50_000):010d}/priority" for _ in range(1000)]
    return app, _environs("GET", paths, token, None)


def run(app: Any, environs: list[dict[str, Any]], n: int) -> tuple[float, dict[int, int]]:
    statuses: dict[int, int] = {}
    wsgi = app.wsgi_app

    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        code = int(status[:3])
        statuses[code] = statuses.get(code, 0) + 1

    global last_cpu
    c0 = time.thread_time()
    t0 = time.perf_counter()
    for i in range(n):
        base = environs[i % len(environs)]
        env = dict(base)
        env["wsgi.input"] = io.BytesIO(base["_body"])
        it = wsgi(env, start_response)
        for _chunk in it:
            pass
        if hasattr(it, "close"):
            it.close()
    elapsed = time.perf_counter() - t0
    last_cpu = time.thread_time() - c0
    return elapsed, statuses


last_cpu = 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("endpoint", choices=["validate", "priority"])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--profile", choices=["cprofile", "none"], default="none")
    parser.add_argument("--top", type=int, default=45)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app, environs = (setup_validate if args.endpoint == "validate" else setup_priority)(Path(tmp), args.backend)
        run(app, environs, 500)  # warm-up: connections, compiled-statement caches
        if args.profile == "cprofile":
            prof = cProfile.Profile()
            prof.enable()
            elapsed, statuses = run(app, environs, args.requests)
            prof.disable()
        else:
            best = best_cpu = None
            for _ in range(3):
                elapsed, statuses = run(app, environs, args.requests)
                best = elapsed if best is None else min(best, elapsed)
                best_cpu = last_cpu if best_cpu is None else min(best_cpu, last_cpu)
            elapsed = best  # type: ignore[assignment]
        cpu = f", CPU {best_cpu / args.requests * 1e6:.0f} us/request" if args.profile == "none" else ""
        print(f"{args.endpoint}: {args.requests} requests, {elapsed / args.requests * 1e6:.0f} us/request wall{cpu} "
              f"(statuses {statuses}; best of 3)")
        if args.profile == "cprofile":
            stats = pstats.Stats(prof)
            stats.sort_stats("cumulative").print_stats(args.top)
            stats.sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
