"""Features plug into the kernel through ``init_app(app)``, listed in the ``FEATURES`` setting."""

from __future__ import annotations

import io
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from rewards import create_app, features, policy
from rewards.auth.services import create_user
from rewards.config import DEFAULTS, ConfigError
from rewards.db import db
from rewards.flags.models import PriorityFlag
from rewards.snapshots import services as snapshots
from tests.conftest import make_config
from tests.support import FAST_HASH, PASSWORD, bearer, login

# The worked example of docs/contributing.md, as a feature on disk: a page, an API route, a command,
# policy rows, a navigation entry, a dashboard panel, a refusal of its own, a demo step and a section of the
# customer card (it knows the accounts that start with 42).
HELLO_FEATURE = '''
from flask import Blueprint, Flask, render_template_string
from flask.cli import AppGroup
from flask.views import MethodView
from flask_smorest import Blueprint as ApiBlueprint

from rewards.features import Feature, Web
from rewards.policy import ALL, STAFF_WRITE, api as api_rule, staff


class HelloRefused(Exception):
    """A refusal of a pure core of this feature."""


bp = Blueprint("hello", __name__, url_prefix="/hello", template_folder="templates")
blp = ApiBlueprint("hello_api", __name__, url_prefix="/api/v1/hello")
hello_cli = AppGroup("hello", help="Greetings.")


@bp.route("/")
@staff("hello.view")
def index():
    return "hello page"


@bp.route("/refuse", methods=["POST"])
@staff("hello.manage")
def refuse():
    raise HelloRefused("no greeting on Sundays")


@blp.route("")
class Hello(MethodView):
    @api_rule("hello:read")
    def get(self):
        return {"hello": "world"}


@hello_cli.command("say")
def say():
    print("hello from the command line")


def _demo(session):
    return ["Hello demo loaded."]


def _web():
    return Web(
        pages=[bp],
        apis=[blp],
        nav=[("hello.index", "Hello", "hello.view")],
        panels=[("hello/_panel.html", lambda: {"greeting": "hi"})],
        refusals=[HelloRefused],
        card_sections=[
            ("hello/_card.html", lambda session, account: {"n": len(account)} if account.startswith("42") else None),
        ],
    )


FEATURE = Feature(
    actions={"hello.view": ALL, "hello.manage": STAFF_WRITE},
    scopes={"hello:read": "read greetings"},
    commands=[hello_cli],
    demo_step=_demo,
    web=_web,
)


def init_app(app: Flask) -> None:
    FEATURE.register(app)
'''

# A feature whose route names an action nobody declared.
TYPO_FEATURE = '''
from flask import Blueprint

from rewards.features import Feature, Web
from rewards.policy import staff

bp = Blueprint("typo", __name__, url_prefix="/typo")


@bp.route("/")
@staff("typo.veiw")
def index():
    return ""


def init_app(app) -> None:
    Feature(web=lambda: Web(pages=[bp])).register(app)
'''


@pytest.fixture
def feature_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder on ``sys.path`` with the example features (packages ``hello`` and ``typo``)."""
    root = tmp_path / "plugins"
    for package, source in (("hello", HELLO_FEATURE), ("typo", TYPO_FEATURE)):
        (root / package / "templates" / package).mkdir(parents=True)
        (root / package / "__init__.py").write_text("", encoding="utf-8")
        (root / package / "feature.py").write_text(textwrap.dedent(source), encoding="utf-8")
    panel = '<section id="panel-hello">{{ panel.greeting }}</section>'
    (root / "hello" / "templates" / "hello" / "_panel.html").write_text(panel, encoding="utf-8")
    card = '<section id="card-hello">{{ account }}: {{ section.n }} digits</section>'
    (root / "hello" / "templates" / "hello" / "_card.html").write_text(card, encoding="utf-8")
    monkeypatch.syspath_prepend(str(root))
    return root


def _staff_client(app: Flask, role: str) -> FlaskClient:
    with app.app_context():
        create_user(db.session, f"{role}-x", PASSWORD, role, method=FAST_HASH, actor="test")
        db.session.commit()
    client = app.test_client()
    login(client, f"{role}-x")
    return client


def test_the_default_features_are_the_four_feature_modules() -> None:
    assert DEFAULTS["FEATURES"] == [
        "rewards.snapshots.feature", "draws.feature", "partners.feature", "rewards.flags.feature"
    ]


def test_every_feature_loads_in_order(app: Flask) -> None:
    assert features.loaded(app) == tuple(DEFAULTS["FEATURES"])
    commands = set(app.cli.list_commands(None))  # type: ignore[arg-type]
    assert {"users", "keys", "audit", "demo", "snapshots", "draws", "partners", "flags"} <= commands
    with app.test_request_context():
        nav = [endpoint for endpoint, _label, _action in app.jinja_env.globals["nav_items"]()]  # type: ignore[operator]
    assert nav[:5] == ["dashboard.index", "snapshots.index", "draws.index", "partners.index", "flags.index"]


def test_the_kernel_runs_without_any_feature(app_factory: Callable[..., Flask]) -> None:
    app_factory()  # the first app of a test makes the schema: all of it, as the other tests expect
    app = app_factory(FEATURES=[])
    assert features.loaded(app) == ()
    prefixes = {rule.rule.split("/")[1] for rule in app.url_map.iter_rules()}
    assert not prefixes & {"draws", "partners", "snapshots", "flags", "public"}
    assert set(app.cli.list_commands(None)) >= {"users", "keys", "audit", "demo"}  # type: ignore[arg-type]
    assert "draws" not in app.cli.list_commands(None)  # type: ignore[arg-type]
    client = _staff_client(app, "marketing")
    page = client.get("/").get_data(as_text=True)
    assert 'href="/audit/"' in page or "/audit" in page
    assert "/draws" not in page
    assert client.get("/accounts/740000000007").status_code == 404  # no section knows any account
    result = app.test_cli_runner().invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Demo data loaded.\nStaff login: marketing")


def test_a_new_feature_plugs_in_with_its_init_app(
    app_factory: Callable[..., Flask], feature_dir: Path
) -> None:
    app = app_factory(FEATURES=[*DEFAULTS["FEATURES"], "hello.feature"])
    marketing = _staff_client(app, "marketing")
    assert marketing.get("/hello/").get_data(as_text=True) == "hello page"
    dashboard = marketing.get("/").get_data(as_text=True)
    assert 'href="/hello/"' in dashboard and '<section id="panel-hello">hi</section>' in dashboard
    refused = marketing.post("/hello/refuse")
    assert refused.status_code == 422 and "no greeting on Sundays" in refused.get_data(as_text=True)
    auditor = _staff_client(app, "auditor")
    assert auditor.post("/hello/refuse").status_code == 403
    with app.app_context():
        from rewards.apikeys.services import create_client

        _client, token = create_client(db.session, "greeter", ["hello:read"], actor="test")
        db.session.commit()
    assert app.test_client().get("/api/v1/hello", headers=bearer(token)).get_json() == {"hello": "world"}
    card = marketing.get("/accounts/4200")
    assert card.status_code == 200
    assert '<section id="card-hello">4200: 4 digits</section>' in card.get_data(as_text=True)
    assert marketing.get("/accounts/4300").status_code == 404
    assert "say" in app.cli.get_command(None, "hello").list_commands(None)  # type: ignore[arg-type,union-attr]
    demo = app.test_cli_runner().invoke(args=["demo", "load"])
    assert demo.exit_code == 0, demo.output
    assert demo.output.index("Published demo draw") < demo.output.index("Hello demo loaded.")


def test_a_route_with_an_undeclared_action_stops_the_app(tmp_path: Path, feature_dir: Path) -> None:
    with pytest.raises(RuntimeError, match=r"typo\.index GET: undeclared action 'typo\.veiw'"):
        create_app(make_config("sqlite", tmp_path, FEATURES=["typo.feature"]))


@pytest.mark.parametrize(
    ("name", "message"),
    [("nowhere.feature", "there is no module 'nowhere.feature'"), ("rewards.errors", "has no init_app")],
)
def test_a_feature_that_cannot_load_is_named(tmp_path: Path, name: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        create_app(make_config("sqlite", tmp_path, FEATURES=[name]))


def test_features_setting_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="listed twice"):
        create_app(make_config("sqlite", tmp_path, FEATURES=["draws.feature", "draws.feature"]))
    with pytest.raises(ConfigError, match="dotted module names"):
        create_app(make_config("sqlite", tmp_path, FEATURES=["draws/feature"]))


def test_policy_rows_are_declared_once_with_one_meaning() -> None:
    policy.declare(actions={"audit.view": policy.ALL})  # again, the same: nothing changes
    with pytest.raises(ValueError, match="other roles"):
        policy.declare(actions={"audit.view": policy.ADMIN})
    with pytest.raises(ValueError, match="roles must be"):
        policy.declare(actions={"example.odd": frozenset({"visitor"})})
    assert "example.odd" not in policy.ACTIONS


def _flags() -> int:
    return db.session.scalar(select(func.count()).select_from(PriorityFlag)) or 0


def _load(announce: bool, period: str = "2026-10") -> None:
    snapshots.import_snapshot(
        db.session, io.BytesIO(b"account;tier\n000123;ideal\n000124;beginner\n"), period=period,
        source_name="t.csv", actor="test", announce=announce,
    )
    db.session.commit()


def test_an_announced_snapshot_gives_flags_through_the_signal(app: Flask) -> None:
    with app.app_context():
        _load(announce=False, period="2026-09")
        assert _flags() == 0
        _load(announce=True)
        assert _flags() == 1


def test_an_app_without_the_flags_feature_leaves_snapshots_alone(app_factory: Callable[..., Flask]) -> None:
    app_factory()  # the whole schema; and an app with the flags feature: its receiver is connected
    app = app_factory(FEATURES=["rewards.snapshots.feature"])
    with app.app_context():
        _load(announce=True)
        assert _flags() == 0
