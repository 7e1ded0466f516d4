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

    from rewards import cli, websetup
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
    _init_core(app)
    if websetup.serves_requests():  # the web side: see rewards.websetup for when and what
        cli.init_migrate(app)
        websetup.init_web(app)
    return app


def _bounded_int_converter(app: "Flask") -> None:
    """``<int:...>`` in every route matches only ids an INTEGER column can hold: larger ones are a 404."""
    from werkzeug.routing import IntegerConverter

    class BoundedInt(IntegerConverter):
        def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:  # noqa: A002 - werkzeug's name
            kwargs.setdefault("max", 2**31 - 1)  # ids are INTEGER columns (32-bit on PostgreSQL)
            super().__init__(map, *args, **kwargs)

    app.url_map.converters["int"] = BoundedInt


def _init_core(app: "Flask") -> None:
    """What every process needs: the database, translations, commands, jobs and the features' core."""
    from rewards import cli, features, i18n
    from rewards.db import configure_sqlite, db
    from rewards.jobs import setup as jobs

    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            configure_sqlite(db.engine, app.config["SQLITE_BUSY_TIMEOUT_MS"])
    i18n.init_app(app, features.package_folders(app.config["FEATURES"]))
    cli.register(app)
    jobs.init_app(app)
    features.load(app)
