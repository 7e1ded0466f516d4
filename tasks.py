#!/usr/bin/env python3
"""Set-up and everyday tasks, with nothing but Python 3.11+ installed.

    python3 tasks.py run     # venv, install, translations, instance, migrations, demo data, serve + job consumer
    python3 tasks.py test    # venv, install with test extras, translations, Chromium if possible, pytest
    python3 tasks.py setup   # only the installation steps of 'run'
    python3 tasks.py bench   # the benchmarks under bench/
    python3 tasks.py i18n    # extract page texts and update each package's Russian catalogue
    python3 tasks.py lint    # ruff check and mypy (the checks CI runs before the tests)
    python3 tasks.py lock    # regenerate requirements.lock and requirements-test.lock from pyproject.toml

Installs come from the lock files (every package at an exact version), then the project itself without
dependencies. Extra arguments after 'test' go to pytest; after 'run' to 'flask run' (e.g. --port 8000);
after 'lock' to 'uv pip compile' (e.g. --upgrade, or --upgrade-package flask).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tomllib
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("REWARDS_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
PACKAGES = ("rewards", "draws", "partners")
PACKAGES += ("rewards/flags",)  # feature catalogues inside rewards/: one line each
LOCKS = {"": ROOT / "requirements.lock", "test": ROOT / "requirements-test.lock"}  # extras -> lock file
# The lock compiler; its minor releases may change how a lock is resolved and written, hence the range.
LOCK_TOOL = "uv>=0.13,<0.14"


def sh(*args: str | Path, env: dict[str, str] | None = None, check: bool = True) -> int:
    """Run a command, echoing it."""
    print("+", " ".join(str(a) for a in args), flush=True)
    return subprocess.run([str(a) for a in args], cwd=ROOT, env=env, check=check).returncode


def bare_venv() -> None:
    """Create the virtual environment if it is missing."""
    if sys.version_info < (3, 11):  # noqa: UP036 (tasks.py runs on whatever python3 the machine has)
        sys.exit("Python 3.11 or newer is needed")
    if not PY.exists():
        sh(sys.executable, "-m", "venv", VENV)
        sh(PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip")


def venv(extras: str = "") -> None:
    """Create the virtual environment, install the locked dependencies, then the project (editable) alone."""
    bare_venv()
    sh(PY, "-m", "pip", "install", "--quiet", "-r", LOCKS[extras])
    # The editable install serves the source tree, so only a change to what the build reads (setup.py, the
    # modules mypyc compiles) needs a reinstall, and one takes a minute or more.
    stamp, inputs = VENV / "rewards-build.txt", build_inputs()
    if not stamp.exists() or stamp.read_text() != inputs + compiled_state() or stale_compiled_modules():
        sh(PY, "-m", "pip", "install", "--quiet", "--no-deps", "-e", ".")
        # the inputs as they were when the build started: a file saved during it is built next time
        stamp.write_text(inputs + compiled_state())
    if sh(PY, "-m", "pip", "check", check=False) != 0:  # e.g. pyproject.toml gained a dependency the lock lacks
        sys.exit(f"{LOCKS[extras].name} does not satisfy pyproject.toml: run 'python3 tasks.py lock'")


def compiled_modules() -> list[str]:
    """The modules setup.py compiles with mypyc (``[tool.rewards] compiled`` in pyproject.toml)."""
    return list(tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["rewards"]["compiled"])


def compiled_copies(name: str) -> list[Path]:
    """The compiled copies of module file ``name`` in the source tree (an editable build puts them there)."""
    source = ROOT / name
    return [source.with_name(source.stem + suffix) for suffix in EXTENSION_SUFFIXES
            if source.with_name(source.stem + suffix).exists()]


def stale_compiled_modules() -> list[str]:
    """Compiled modules whose copy is older than their source: Python would import the old code."""
    return [name for name in compiled_modules()
            if any(copy.stat().st_mtime < (ROOT / name).stat().st_mtime for copy in compiled_copies(name))]


def build_inputs() -> str:
    """A digest of what the package build reads: setup.py, pyproject.toml, the compiled modules and the
    project modules they import (mypyc builds in their types)."""
    compiled = compiled_modules()
    imported = {m.replace(".", "/") + ".py" for name in compiled
                for m in re.findall(r"^from (rewards[\w.]*) import", (ROOT / name).read_text("utf-8"), re.M)}
    digest = hashlib.sha256(str(ROOT).encode())  # an editable install points at one checkout
    for name in ("setup.py", "pyproject.toml", *compiled, *sorted(imported)):
        if (ROOT / name).is_file():  # ("from rewards.x import" of a package x names no file)
            digest.update(name.encode() + b"\0" + (ROOT / name).read_bytes())
    return digest.hexdigest()


def compiled_state() -> str:
    """Which compiled modules have their copy in place."""
    built = [name for name in compiled_modules() if compiled_copies(name)]
    return f" compiled: {' '.join(built) or 'none'}\n"


def lock(extra: list[str]) -> None:
    """Compile the lock files from pyproject.toml with uv, for every platform and Python 3.11+.

    The test lock is compiled first and constrains the run lock, so a package has one version in both.
    """
    bare_venv()
    sh(PY, "-m", "pip", "install", "--quiet", LOCK_TOOL)
    common = ["pip", "compile", "pyproject.toml", "--universal", "--python-version", "3.11", "--quiet",
              "--custom-compile-command", "python3 tasks.py lock", "--annotation-style", "line", *extra]
    sh(BIN / "uv", *common, "--extra", "test", "-o", LOCKS["test"].name)
    sh(BIN / "uv", *common, "--constraint", LOCKS["test"].name, "-o", LOCKS[""].name)


def translations() -> None:
    """Compile every package's message catalogues (.po -> .mo)."""
    for pkg in PACKAGES:
        for folder in sorted((ROOT / pkg).rglob("translations")):
            if folder.is_dir() and "templates" not in folder.parts:
                sh(BIN / "pybabel", "-q", "compile", "--use-fuzzy", "-d", folder)


def i18n() -> None:
    """Extract translatable texts per package and merge them into its Russian catalogue."""
    venv()
    for pkg in PACKAGES:
        pot = ROOT / pkg / "translations" / "messages.pot"
        pot.parent.mkdir(exist_ok=True)
        sh(BIN / "pybabel", "extract", "-F", ROOT / "babel.cfg", "-k", "_l", "-k", "lazy_pgettext:1c,2",
           "--no-location", "-o", pot, ROOT / pkg)
        po = pot.parent / "ru" / "LC_MESSAGES" / "messages.po"
        if po.exists():
            sh(BIN / "pybabel", "update", "--no-fuzzy-matching", "-i", pot, "-d", pot.parent, "-l", "ru")
        else:
            sh(BIN / "pybabel", "init", "-i", pot, "-d", pot.parent, "-l", "ru")


def flask_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("FLASK_APP", "rewards")
    return env


def setup() -> None:
    """Install, compile translations, create the instance folder and migrate the database."""
    venv()
    translations()
    sh(PY, "-m", "rewards.instance", "init")
    sh(BIN / "flask", "db", "upgrade", env=flask_env())


def run(extra: list[str]) -> None:
    """Set up, load demo data, print a staff login and serve on http://127.0.0.1:5000/.

    The instance config leaves ENV at its default, production (Secure cookies); this local server
    speaks plain HTTP, so it asks for development explicitly.
    """
    setup()
    env = flask_env()
    env.setdefault("REWARDS_ENV", "development")  # production is the default; this command is the developer's
    sh(BIN / "flask", "demo", "load", env=env)
    port = extra[extra.index("--port") + 1] if "--port" in extra[:-1] else "5000"
    print(f"\nServing on http://127.0.0.1:{port}/ with a job consumer  (Ctrl+C stops both)\n", flush=True)
    # The consumer runs the background jobs (imports, bulk issues, exports) and the periodic work;
    # it is a child of this process and stops with the web server.
    consumer = subprocess.Popen([str(BIN / "flask"), "jobs", "consumer", "--workers", "2"], cwd=ROOT, env=env)
    try:
        subprocess.run([str(BIN / "flask"), "run", *extra], cwd=ROOT, env=env, check=False)
    except KeyboardInterrupt:
        pass
    finally:
        consumer.terminate()  # SIGTERM: Huey lets running jobs finish their step, then exits
        try:
            consumer.wait(timeout=30)
        except subprocess.TimeoutExpired:
            consumer.kill()


def chromium() -> None:
    """Install Debian's Chromium for the browser tests when we can (root on Debian); never a download."""
    if shutil.which("chromium") or Path("/usr/bin/chromium").exists():
        return
    if os.name == "posix" and os.geteuid() == 0 and shutil.which("apt-get"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        if sh("apt-get", "update", "-qq", env=env, check=False) == 0:
            sh("apt-get", "install", "-y", "-qq", "chromium", env=env, check=False)
    if not Path("/usr/bin/chromium").exists():
        print("note: no /usr/bin/chromium; the browser tests will be skipped", flush=True)


def test(extra: list[str]) -> int:
    """Install the test dependencies and run the whole suite."""
    venv("test")
    translations()
    chromium()
    workers = os.environ.get("REWARDS_TEST_WORKERS", "2")
    return sh(PY, "-m", "pytest", "-n", workers, "-p", "no:cacheprovider", *extra, check=False)


def bench(extra: list[str]) -> int:
    """Run every benchmark script under bench/ (each prints its table)."""
    venv("test")
    code = 0
    for script in sorted((ROOT / "bench").glob("*.py")):
        if script.name.startswith("_"):
            continue
        code |= sh(PY, script, *extra, check=False)
    return code


def lint() -> int:
    """ruff check (the rules in pyproject.toml) and mypy (strict on the pure cores), as CI runs them."""
    venv("test")
    code = sh(BIN / "ruff", "check", ".", check=False)
    return code | sh(BIN / "mypy", check=False)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"run", "test", "setup", "bench", "i18n", "lint", "lock"}:
        print(__doc__)
        return 2
    command, extra = argv[0], argv[1:]
    if command == "run":
        run(extra)
    elif command == "setup":
        setup()
    elif command == "test":
        return test(extra)
    elif command == "i18n":
        i18n()
    elif command == "bench":
        return bench(extra)
    elif command == "lint":
        return lint()
    elif command == "lock":
        lock(extra)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
