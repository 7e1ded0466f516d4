"""The rewards service: app factory, configuration, database, access control and the loyalty domain."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the pure modules under rewards/ must not pull Flask in through this package
    from flask import Flask

__all__ = ["create_app"]


def create_app(test_config: dict[str, Any] | None = None) -> "Flask":
    """Build the app: defaults, ``instance/config.py``, ``REWARDS_*`` variables, then ``test_config``."""
    from flask import Flask

    from rewards import config as cfgmod
    from rewards.api import docs as apidocs

    instance_path = os.environ.get("REWARDS_INSTANCE_PATH") or None
    app = Flask(__name__, instance_relative_config=True, instance_path=instance_path)

    layers: list[tuple[str, dict[str, Any]]] = [
        ("instance/config.py", cfgmod.load_file(Path(app.instance_path) / "config.py")),
        ("the environment", cfgmod.load_env({k: v for k, v in os.environ.items() if k != "REWARDS_INSTANCE_PATH"})),
    ]
    if test_config is not None:
        layers.append(("the test config", dict(test_config)))
    settings = dict(cfgmod.DEFAULTS)
    for source, layer in layers:
        cfgmod.check_layer(layer, source)
        settings.update(layer)
    cfgmod.check_values(settings)
    if not settings["SECRET_KEY"]:
        raise cfgmod.ConfigError(
            "SECRET_KEY is not set: run 'python -m rewards.instance init' or set REWARDS_SECRET_KEY"
        )
    app.config.update(settings)
    app.config["SQLALCHEMY_DATABASE_URI"] = cfgmod.database_uri(settings["DATABASE_URL"], app.instance_path)
    app.config.setdefault("KEYS_DIR", "")
    if not app.config["KEYS_DIR"]:
        app.config["KEYS_DIR"] = os.path.join(app.instance_path, "keys")
    production = settings["ENV"] == "production" and not settings["TESTING"]
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=production,
        PERMANENT_SESSION_LIFETIME=cfgmod.session_lifetime(settings),
        WTF_CSRF_CHECK_DEFAULT=False,  # rewards.access checks CSRF on page routes only
        BABEL_DEFAULT_LOCALE=settings["DEFAULT_LOCALE"],
        BABEL_DEFAULT_TIMEZONE=settings["TIMEZONE"],
        API_TITLE="Loyalty rewards API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
    )
    app.config.update(apidocs.settings())  # Swagger UI from the installed package (no CDN)
    logging.basicConfig(level=settings["LOG_LEVEL"])
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)

    _bounded_int_converter(app)
    _init_extensions(app)
    return app


def _bounded_int_converter(app: "Flask") -> None:
    """``<int:...>`` in every route matches only ids an INTEGER column can hold: larger ones are a 404."""
    from werkzeug.routing import IntegerConverter

    class BoundedInt(IntegerConverter):
        def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:  # noqa: A002 - werkzeug's name
            kwargs.setdefault("max", 2**31 - 1)  # ids are INTEGER columns (32-bit on PostgreSQL)
            super().__init__(map, *args, **kwargs)

    app.url_map.converters["int"] = BoundedInt


def _init_extensions(app: "Flask") -> None:
    from rewards import access, accounts, blueprints, cli, features, httperrors, i18n, inputguard, ops, throttle, web
    from rewards.api import docs as apidocs
    from rewards.db import configure_sqlite, db
    from rewards.extensions import csrf, migrate

    from rewards import models  # noqa: F401  (the kernel's models; each feature's register when it loads)

    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            configure_sqlite(db.engine, app.config["SQLITE_BUSY_TIMEOUT_MS"])
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(__file__), "migrations"), render_as_batch=True)
    inputguard.init_sizes(app)  # first of all hooks: a target or headers too large get 414/431 at once
    csrf.init_app(app)
    i18n.init_app(app, features.package_folders(app.config["FEATURES"]))
    throttle.init_app(app)
    api = httperrors.Api()
    api.init_app(
        app,
        spec_kwargs={
            "components": {
                "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            }
        },
    )
    accounts.init_app(app, api)  # before any route names <account:...>
    httperrors.init_app(app, api)
    _init_read_only(app)
    access.init_app(app)
    web.init_app(app)
    blueprints.register(app, api)
    apidocs.init_app(app)
    cli.register(app)
    ops.init_app(app)
    features.load(app, api)
    access.check_declared(app)
    inputguard.init_input(app)  # after every app-level hook (a feature's body limit comes first)


def _init_read_only(app: "Flask") -> None:
    """GET and HEAD requests read only: on SQLite their transactions begin deferred."""
    from flask import g, request

    from rewards.db import is_read_only_view, reset_read_only, set_read_only

    flags: dict[tuple[str | None, str], bool] = {}  # per endpoint and method: asked once, not per request

    @app.before_request
    def _mark() -> None:
        key = (request.endpoint, request.method)
        flag = flags.get(key)
        if flag is None:
            flag = key[1] in ("GET", "HEAD", "OPTIONS")
            if not flag and key[0] is not None:
                flag = is_read_only_view(app.view_functions.get(key[0]), key[1])
            if key[0] is not None:  # a routed request's method is one its rule takes: a bounded set
                flags[key] = flag
        g._ro_token = set_read_only(flag)

    @app.teardown_request
    def _unmark(_exc: BaseException | None) -> None:
        token = g.pop("_ro_token", None)
        if token is not None:
            reset_read_only(token)
