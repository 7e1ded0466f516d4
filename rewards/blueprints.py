"""The kernel's blueprints: login, dashboard, customer card, administration, audit log, signing keys, who-am-I, jobs.

Each feature registers its own in its ``init_app`` (``rewards.features``).
"""

from __future__ import annotations

from flask import Flask

from rewards.httperrors import Api


def register(app: Flask, api: Api) -> None:
    """Register the kernel's page blueprints on the app and its API blueprints on the flask-smorest Api."""
    from rewards.admin.views import bp as admin_pages
    from rewards.api.keys import blp as keys_api
    from rewards.api.keys import whoami_blp
    from rewards.audit.views import bp as audit_pages
    from rewards.auth.views import bp as auth_pages
    from rewards.dashboard import bp as dashboard_pages

    for bp in (auth_pages, dashboard_pages, admin_pages, audit_pages):
        app.register_blueprint(bp)
    for blp in (keys_api, whoami_blp):
        api.register_blueprint(blp)
    from rewards import accountcard
    from rewards.jobs import setup as jobs

    accountcard.init_app(app)

    jobs.init_web(app, api)
