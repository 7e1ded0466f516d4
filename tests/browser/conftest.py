"""End-to-end fixtures: the real server (gunicorn, two sync workers) and Debian's Chromium.

The server runs as a subprocess on a free loopback port with a fresh SQLite instance folder, exactly as an
operator starts it: ``instance/config.py``, ``flask db upgrade``, ``flask demo load``, gunicorn with the
project's ``gunicorn.conf.py``. Chromium is Debian's ``/usr/bin/chromium`` driven by Playwright for
Python (never a downloaded browser); without it every test here is skipped with the reason.

Screenshots go to ``test-artifacts/screenshots/`` (one per page a test looks at, and one when a test fails).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.browser.support import snapshot_csv

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("REWARDS_TEST_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
BIN = Path(sys.executable).parent
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The demo users of ``flask demo load`` (rewards/demo.py): one per role, all with this password.
DEMO_PASSWORD = "demo-password-1"
# Tests only: a cheap hash so that logging in does not dominate the suite (production keeps the default).
FAST_HASH = "scrypt:16384:8:1"
STARTUP_TIMEOUT = 40.0


def _skip_reason() -> str | None:
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM}: install Debian's package (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install -e '.[test]')"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test under tests/browser is a browser test; without Chromium they all skip, saying why."""
    here = Path(__file__).parent
    reason = _skip_reason()
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


# ---------------------------------------------------------------------------------------------- server


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_env(instance: Path) -> dict[str, str]:
    """The environment of the server: no REWARDS_* setting of the test run leaks in (only the instance)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REWARDS_")}
    env.update(
        REWARDS_INSTANCE_PATH=str(instance),
        FLASK_APP="rewards",
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
        LANG="C.UTF-8",
    )
    return env


def _compile_translations() -> None:
    """Compile each package's catalogue when its .mo is missing or stale (what tasks.py does first).

    Written to a temporary file and renamed, so that two test workers never read a half-written catalogue.
    """
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    pattern = "translations/*/LC_MESSAGES/messages.po"
    catalogues = [*ROOT.glob(f"*/{pattern}"), *ROOT.glob(f"*/*/{pattern}")]
    for po in catalogues:
        if po.relative_to(ROOT).parts[0].startswith("."):
            continue
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as fh:
            catalog = read_po(fh)
        tmp = mo.with_name(f".{mo.name}.{os.getpid()}")
        with tmp.open("wb") as fh:
            write_mo(fh, catalog, use_fuzzy=True)
        os.replace(tmp, mo)


# One process (one import of the app) runs the operator's set-up commands: 'flask db upgrade', a check
# that the migrations build the models' schema, and 'flask demo load'.
SETUP = """
import sys
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from rewards import create_app
from rewards.db import db

app = create_app()
cli = app.test_cli_runner()


def flask(*args):
    result = cli.invoke(args=list(args))
    if result.exit_code != 0:
        sys.exit(f"flask {' '.join(args)} failed ({result.exit_code}):\\n{result.output}\\n{result.exception!r}")


flask("db", "upgrade")
with app.app_context():
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
    if diff:
        # Feature branches write no migrations (the integrator regenerates them): build from the models.
        db.drop_all()
        with db.engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        db.create_all()
        print(f"migrations lag the models ({len(diff)} differences): schema made with db.create_all()")
    db.session.remove()
flask("demo", "load")
"""


@dataclass
class LiveServer:
    """The running service: its base URL, instance folder and log."""

    url: str
    instance: Path
    log: Path
    notes: list[str] = field(default_factory=list)

    def log_tail(self, lines: int = 60) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def flask(self, *args: str, input: str | None = None) -> str:
        """Run a ``flask`` command against this server's instance (e.g. to load data); returns stdout."""
        done = subprocess.run(
            [str(BIN / "flask"), *args],
            cwd=ROOT,
            env=_server_env(self.instance),
            input=input,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            command = " ".join(args)
            raise RuntimeError(f"flask {command} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done.stdout


    def python(self, code: str) -> str:
        """Run Python with the app built on this server's instance, in an app context; returns stdout.

        For set-up that has no page or command yet; a test drives every step it checks through the browser.
        """
        script = "from rewards import create_app\nfrom rewards.db import db\napp = create_app()\n"
        script += "with app.app_context():\n" + "".join(f"    {line}\n" for line in code.strip().splitlines())
        return _run([sys.executable, "-c", script], _server_env(self.instance), "a set-up script")


def _run(args: list[str], env: dict[str, str], what: str) -> str:
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


def _wait_until_up(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}:\n{_text(log)}")
        try:
            with urllib.request.urlopen(url + "/login", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the server did not answer within {STARTUP_TIMEOUT}s:\n{_text(log)}")


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Start the real service (gunicorn, 2 sync workers) on a fresh SQLite instance; stop it at the end."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    _compile_translations()
    instance = tmp_path_factory.mktemp("instance")
    (instance / "config.py").write_text(
        "# Written by tests/browser/conftest.py\n"
        f"SECRET_KEY = {os.urandom(32).hex()!r}\n"
        'ENV = "development"  # cookies without the Secure flag: the test server speaks plain http\n'
        f"PASSWORD_HASH_METHOD = {FAST_HASH!r}\n"
        "# Every test logs in from 127.0.0.1, about twenty times a minute: more than the login throttle\n"
        "# allows (tests/rewards checks the throttle itself).\n"
        "RATELIMIT_ENABLED = False\n"
        "# Jobs run inside the request that starts them: these tests walk the pages as staff see them once a\n"
        "# job is done (tests/rewards/jobs/test_consumer.py runs real consumers, kill -9 included).\n"
        'JOBS_URL = "memory://"\n',
        encoding="utf-8",
    )
    env = _server_env(instance)
    notes: list[str] = []
    out = _run([sys.executable, "-c", SETUP], env, "the set-up (flask db upgrade, flask demo load)")
    for line in out.splitlines():
        if line.startswith("migrations lag"):
            notes.append(line)
            warnings.warn(line, stacklevel=1)

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = instance / "server.log"
    with log.open("wb") as log_fh:
        proc = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "-c", str(ROOT / "gunicorn.conf.py"),
                "--bind", f"127.0.0.1:{port}",
                "--workers", "2",
                "--worker-class", "sync",
                "rewards:create_app()",
            ],
            cwd=ROOT,
            env=env,
            stdout=log_fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = LiveServer(url=url, instance=instance, log=log, notes=notes)
    try:
        _wait_until_up(url, proc, log)
        yield server
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


# --------------------------------------------------------------------------------------------- browser


@pytest.fixture(scope="session")
def browser(live_server: LiveServer) -> Iterator[Any]:
    """Debian's Chromium, headless, launched by Playwright (no downloaded browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser: Any, live_server: LiveServer) -> Iterator[Callable[..., Any]]:
    """Open a page in a fresh browser context (its own cookies): ``new_page()``, ``new_page(locale=...)``.

    Every page listens for Content-Security-Policy violations (Chromium reports each on the console):
    a page that needs an inline script or style fails its test here, after the test body.
    """
    contexts: list[Any] = []
    violations: list[str] = []

    def _on_console(message: Any) -> None:
        if "Content Security Policy" in message.text:
            violations.append(message.text)

    def make(**options: Any) -> Any:
        options.setdefault("locale", "ru-RU")
        options.setdefault("viewport", {"width": 1280, "height": 900})
        context = browser.new_context(base_url=live_server.url, **options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        pg = context.new_page()
        pg.on("console", _on_console)
        return pg

    yield make
    for context in contexts:
        context.close()
    assert not violations, "Content-Security-Policy violations:\n" + "\n".join(violations)


@pytest.fixture
def page(new_page: Callable[..., Any], request: pytest.FixtureRequest) -> Iterator[Any]:
    """A page in a fresh context; screenshotted when the test fails."""
    pg = new_page()
    yield pg
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed and not pg.is_closed():
        _save(pg, f"{_slug(request.node.name)}--FAILED")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")


def _save(pg: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    pg.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Callable[[Any, str], Path]:
    """``shot(page, "dashboard")`` saves test-artifacts/screenshots/<test>--dashboard.png."""
    prefix = _slug(request.node.name)

    def take(pg: Any, name: str) -> Path:
        return _save(pg, f"{prefix}--{_slug(name)}")

    return take


@pytest.fixture
def login(live_server: LiveServer) -> Callable[..., None]:
    """Log ``page`` in through the login form as a demo user (``marketing``, ``auditor``, ``admin``)."""

    def do(pg: Any, username: str, password: str = DEMO_PASSWORD) -> None:
        pg.goto("/login")
        pg.locator("input[name=username]").fill(username)
        pg.locator("input[name=password]").fill(password)
        with pg.expect_navigation():
            pg.locator("main form button[type=submit]").click()
        assert "/login" not in pg.url, f"login of {username} refused: {pg.locator('main').inner_text()}"

    return do


# ------------------------------------------------------------------------------------------- helpers

@pytest.fixture
def upload_snapshot(tmp_path: Path) -> Callable[..., Any]:
    """Upload a snapshot file through the snapshots page as the logged-in ``page``; returns the page."""

    def upload(pg: Any, period: str, content: bytes, name: str = "snapshot.csv") -> Any:
        path = tmp_path / name
        path.write_bytes(content)
        pg.goto("/snapshots/")
        form = pg.locator("#upload-form")
        form.locator("input[name=period]").fill(period)
        form.locator("input[name=file]").set_input_files(str(path))
        with pg.expect_event("framenavigated"):
            form.locator("button[type=submit]").click()
        pg.wait_for_load_state()
        return pg

    return upload


@pytest.fixture
def load_snapshot(upload_snapshot: Callable[..., Any]) -> Callable[..., None]:
    """Load a month's tiers through the snapshots page, as staff do."""

    def load(pg: Any, period: str, rows: list[tuple[str, str]]) -> None:
        upload_snapshot(pg, period, snapshot_csv(rows), name=f"tiers-{period}.csv")
        assert period in pg.locator(".flash.info").inner_text(), pg.locator("main").inner_text()

    return load
