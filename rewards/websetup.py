"""The web side of the app, and when it is built: every app serves requests, except the one Flask's
command line builds to run one of the service's own commands.

What ``create_app`` guarantees:

- **The full app** (everything below) for anything that may serve or inspect requests: gunicorn
  (``rewards:create_app()``), tests, the test client and ``test_request_context``, a script calling
  ``create_app()``, and Flask's own ``flask run``, ``flask routes`` and ``flask shell`` (they load the
  app inside their command, see :func:`serves_requests`).
- **The command app** when the ``flask`` command line loads the app to find one of its commands
  (``flask snapshots list``, ``flask draws --help``, ``flask db upgrade``, ``flask --help``): the
  configuration, the database, translations, the policy rows, every command group (lazy:
  ``rewards.lazycli``), the kinds of job with their periodic work and queue tasks, the demo steps and
  the features' signal receivers: all that a command needs. It has no routes, no flask-smorest ``Api``
  and OpenAPI document, no request hooks, no templates' globals, navigation, panels or card sections,
  and it imports no view, API or schema module; each model module is imported by the code that uses it
  (``flask db`` imports them all first). ``flask openapi ...`` builds the web side first.
- :func:`init_web` adds the web side to a command app later, in the same order as ``create_app``
  does, and adds nothing to an app that has it. The kernel's request hooks (``rewards.requesthooks``:
  the size guard first, the input guard last) are registered before any other.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

_WEB_KEY = "rewards.web_side"


def serves_requests() -> bool:
    """False only while Flask's command line is finding one of the app's commands to run.

    Flask's ``flask`` command sets ``FLASK_RUN_FROM_CLI`` and loads the app in two places: while it
    looks up a command the app adds (the click context is then Flask's own ``FlaskGroup``), and inside
    its built-in ``run``, ``routes`` and ``shell`` (the context is then that command's). Only the first
    gets the command app.
    """
    if os.environ.get("FLASK_RUN_FROM_CLI") != "true":
        return True
    import click
    from flask.cli import FlaskGroup

    context = click.get_current_context(silent=True)
    return context is None or not isinstance(context.command, FlaskGroup)


def has_web(app: Flask) -> bool:
    """Whether ``app`` has its web side."""
    return _WEB_KEY in app.extensions


def init_web(app: Flask) -> None:
    """Add the web side to ``app``: hooks, pages, the API and its OpenAPI document, every feature's web
    side, the check that every route names a declared action (once per app)."""
    if has_web(app):
        return
    app.extensions[_WEB_KEY] = True
    from rewards import access, accounts, blueprints, features, httperrors, i18n, ops, requesthooks, throttle, web
    from rewards.api import docs as apidocs
    from rewards.db import db
    from rewards.extensions import csrf

    features.import_models(app)  # the whole schema, as the pages and the API read it
    with app.app_context():
        sqlite = db.engine.dialect.name == "sqlite"
    requesthooks.init_app(app, sqlite=sqlite)  # first of all hooks: size guard, ..., access, input guard
    csrf.init_app(app)
    i18n.init_web(app)
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
    access.init_app(app)
    web.init_app(app)
    blueprints.register(app, api)
    apidocs.init_app(app)
    ops.init_app(app)
    features.register_web(app, api)
    access.check_declared(app)
