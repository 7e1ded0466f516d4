"""Where every blueprint of every feature is registered: the URL map of the service in one place."""

from __future__ import annotations

from flask import Flask

from rewards.httperrors import Api


def register(app: Flask, api: Api) -> None:
    """Register page blueprints on the app and API blueprints on the flask-smorest Api."""
    from rewards.admin.views import bp as admin_pages
    from rewards.api.keys import blp as keys_api
    from rewards.api.keys import whoami_blp
    from rewards.audit.views import bp as audit_pages
    from rewards.auth.views import bp as auth_pages
    from rewards.dashboard import bp as dashboard_pages
    from rewards.snapshots.api import accounts_blp as accounts_api
    from rewards.snapshots.api import blp as snapshots_api
    from rewards.snapshots.views import bp as snapshot_pages

    for bp in (auth_pages, dashboard_pages, admin_pages, audit_pages, snapshot_pages):
        app.register_blueprint(bp)
    for blp in (keys_api, whoami_blp, snapshots_api, accounts_api):
        api.register_blueprint(blp)
