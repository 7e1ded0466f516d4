"""The modules mypyc compiles (setup.py) are the ones Python imports, and they rate exactly as the source does.

A build with a C compiler puts a ``.so`` beside each listed module; without one the package installs them
as plain Python. CI (``REWARDS_TEST_REQUIRE_COMPILED=1``) requires the compiled build, so that the figures
in ``docs/benchmarks.md`` describe what is tested. The comparison rates the same files, problems included,
with the compiled modules (this process) and with their source (a child process whose import system skips
the project's ``.so`` files), and requires the same tiers, points, facts and per-line errors.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tasks import compiled_modules
from tests.rewards.rating.helpers import csv_bytes, random_behaviour, row
from tests.support import REQUIRE_COMPILED, ROOT


def _module_name(path: str) -> str:
    return path.removesuffix(".py").replace("/", ".")


def _loaded_compiled() -> dict[str, bool]:
    return {path: not importlib.import_module(_module_name(path)).__file__.endswith(".py")  # type: ignore[union-attr]
            for path in compiled_modules()}


def test_compiled_modules_are_imported() -> None:
    loaded = _loaded_compiled()
    if not any(loaded.values()) and not REQUIRE_COMPILED:
        pytest.skip("the package was built without a C compiler (or REWARDS_COMPILE=0): the modules run as Python")
    assert all(loaded.values()), f"compiled: {loaded}"


# Rates the files given on the command line with the project's modules taken from source, and prints the
# result as JSON. The import hook answers only for the folders that hold compiled modules, so everything
# else (the standard library's and the site-packages' own extensions) imports as usual.
INTERPRETED = """
import importlib.machinery as machinery, json, os, sys

root, files = sys.argv[1], sys.argv[2:]
folders = {os.path.realpath(os.path.join(root, os.path.dirname(p))) for p in json.loads(os.environ["COMPILED"])}
source_only = machinery.FileFinder.path_hook((machinery.SourceFileLoader, machinery.SOURCE_SUFFIXES))

def project_sources(path):
    if os.path.realpath(path or ".") not in folders:
        raise ImportError("not a folder of compiled modules")
    return source_only(path)

sys.path_hooks.insert(0, project_sources)
sys.path_importer_cache.clear()
sys.path.insert(0, root)
from tests.test_compiled import rate_files

result = rate_files(files)
import importlib
modules = [importlib.import_module(p.removesuffix(".py").replace("/", ".")) for p in json.loads(os.environ["COMPILED"])]
assert all(m.__file__.endswith(".py") for m in modules), [m.__file__ for m in modules]
print(json.dumps(result))
"""


def rate_files(paths: list[str]) -> dict[str, object]:
    """The engine's output and errors over ``paths`` as plain JSON values."""
    from rewards.csvread import ErrorLog
    from rewards.rating.engine import Engine
    from rewards.rating.rules import default_rules

    engine = Engine(default_rules(), "2026-10")
    errors = ErrorLog()
    files = [(io.BytesIO(Path(p).read_bytes()), Path(p).name) for p in paths]
    rated = [list(r) for r in engine.rate(files, errors)]
    return {"rated": rated, "errors": errors.as_dict()}


def test_compiled_and_interpreted_rate_the_same(tmp_path: Path) -> None:
    if not any(_loaded_compiled().values()):
        pytest.skip("nothing is compiled in this build: the two runs would be the same code")
    good = tmp_path / "good.csv"
    good.write_bytes(random_behaviour(400, seed=7))
    bad = tmp_path / "bad.csv"  # one problem of each kind the reader names, between good rows
    bad.write_bytes(csv_bytes([
        row("100", "2026-05", "2026-05-20T10:00:00Z", "cabinet"),
        row("101", "2026-13"),
        row("102", "2026-06", "2026-06-20T10:00:00", "app"),
        row("103", "2026-06", "2026-06-20", "pigeon"),
        row("104", "2026-06", registered="maybe"),
        row("105", "2026-06", plan="lease"),
        row("105", "2026-06"),
        row("099", "2026-06"),
        row("10x", "2026-06"),
        ("106", "2026-06", ""),
        row("107", "2026-07", "2026-07-02T09:00:00+03:00", "app", "2026-08-01", "autopay", plan="deferral", kept="1"),
    ]))
    env = dict(os.environ, COMPILED=json.dumps(compiled_modules()))
    for files in ([str(good)], [str(bad)], [str(good), str(bad)]):
        child = subprocess.run([sys.executable, "-c", INTERPRETED, str(ROOT), *files], env=env, cwd=ROOT,
                               capture_output=True, text=True, timeout=120)
        assert child.returncode == 0, child.stderr[-3000:]
        interpreted = json.loads(child.stdout)
        compiled = rate_files(files)
        assert compiled == interpreted
    assert len(compiled["rated"]) > 300  # type: ignore[arg-type]
    assert compiled["errors"]["total"] >= 8, compiled["errors"]  # type: ignore[index]
