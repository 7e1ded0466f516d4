"""The built package carries its compiled catalogues: a wheel installed into a fresh venv serves Russian.

With a C compiler (required in CI), the wheel also carries the modules mypyc compiles (setup.py), and the
installed package imports them compiled.

The ``.mo`` files are git-ignored; before ``setup.py``'s build hook compiled them, a wheel (or a plain
``pip install .``) had none and the login page said "Staff login". The wheel is built from a clean
copy of the source (tracked and new files, nothing ignored), as from a fresh clone, and installed
with its dependencies from the configured package index.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from tasks import compiled_modules
from tests.support import REQUIRE_COMPILED

ROOT = Path(__file__).resolve().parents[1]
CATALOGUES = {
    "rewards/translations/ru/LC_MESSAGES/messages.mo",
    "rewards/flags/translations/ru/LC_MESSAGES/messages.mo",
    "rewards/snapshots/translations/ru/LC_MESSAGES/messages.mo",
    "draws/translations/ru/LC_MESSAGES/messages.mo",
    "partners/translations/ru/LC_MESSAGES/messages.mo",
}
# Runs inside the fresh venv, outside the checkout: the package must come from the wheel.
PROBE = """
import sys
import rewards
from rewards import create_app
from rewards.db import db
import rewards.rating.engine

assert "site-packages" in rewards.__file__, rewards.__file__
print(rewards.rating.engine.__file__.rsplit(".", 1)[-1])
app = create_app({"SECRET_KEY": "probe", "DATABASE_URL": "sqlite:///" + sys.argv[1], "TESTING": True,
                  "RATELIMIT_ENABLED": False})
with app.app_context():
    db.create_all()
response = app.test_client().get("/login")
print(response.status_code)
print(response.get_data(as_text=True))
"""


def _clean_copy(target: Path) -> None:
    """The source tree as a fresh clone has it, plus files not yet committed (never ignored ones)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            check=True, capture_output=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file() and not name.startswith("tests/"):
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


@pytest.mark.slow
def test_wheel_serves_russian_pages(tmp_path: Path) -> None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs the git checkout to take a clean copy of the source")
    source, dist, env_dir, work = tmp_path / "src", tmp_path / "dist", tmp_path / "venv", tmp_path / "work"
    for folder in (source, dist, work):
        folder.mkdir()
    _clean_copy(source)
    assert not list(source.rglob("*.mo")), "the copy must start without compiled catalogues"
    env = {k: v for k, v in os.environ.items() if not k.startswith("REWARDS_") and k != "PYTHONPATH"}

    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(source)],
                           env=env, capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert CATALOGUES <= names
    compiled = {path for path in compiled_modules()
                if any(n.startswith(path.removesuffix(".py") + ".") and n.endswith(".so") for n in names)}
    assert compiled == set(compiled_modules()) or (not compiled and not REQUIRE_COMPILED), compiled

    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    installed = subprocess.run([str(python), "-m", "pip", "install", "-q", str(wheel)], env=env, capture_output=True,
                               text=True, timeout=900)
    assert installed.returncode == 0, installed.stderr[-3000:]
    env["REWARDS_INSTANCE_PATH"] = str(work / "instance")
    probe = subprocess.run([str(python), "-c", PROBE, str(work / "probe.sqlite3")], cwd=work, env=env,
                           capture_output=True, text=True, timeout=300)
    assert probe.returncode == 0, probe.stderr[-3000:]
    suffix, status, page = probe.stdout.split("\n", 2)
    assert suffix == ("so" if compiled else "py")
    assert status == "200"
    assert "Вход для сотрудников" in page and "Staff login" not in page
