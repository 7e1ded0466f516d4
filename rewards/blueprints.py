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

    # Feature imports in the order of the programme's data flow; it is also the order of their
    # navigation entries and dashboard panels: tier snapshots, draws, partner offers, priority flags.
    from rewards.snapshots.api import accounts_blp as accounts_api
    from rewards.snapshots.api import blp as snapshots_api
    from rewards.snapshots.views import bp as snapshot_pages
    from draws.api import blp as draws_api
    from draws.api import credits_blp as draw_credits_api
    from draws.views import bp as draws_pages
    from draws.views import public_bp as public_draws_pages
    from partners.api import blp as partner_api, cabinet_blp as account_codes_api, staff_blp as partners_read_api
    from partners.views import bp as partner_pages
    from rewards.flags.api import blp as flags_api
    from rewards.flags.views import bp as flags_pages

    pages = (auth_pages, dashboard_pages, admin_pages, audit_pages, snapshot_pages, draws_pages, public_draws_pages,
             partner_pages, flags_pages)
    for bp in pages:
        app.register_blueprint(bp)
    apis = (keys_api, whoami_blp, snapshots_api, accounts_api, draws_api, draw_credits_api, partner_api,
            account_codes_api, partners_read_api, flags_api)
    for blp in apis:
        api.register_blueprint(blp)
