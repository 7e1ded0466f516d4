"""The partners feature plugs in here: partner offers and discount codes, issued from the latest
snapshot, checked and redeemed by partner sites through the API, with staff pages and commands.

Every ``flask`` command imports this module: the pages, API, services and jobs are named inside
functions or by import path (``rewards.features``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Flask, current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from rewards import features
from rewards.features import Feature, Web
from rewards.jobs.registry import on_queue, register_kind, register_periodic
from rewards.lazycli import LazyGroup
from rewards.policy import ALL, STAFF_WRITE
from rewards.snapshots.signals import what_if_costs

WEBHOOKS_SCOPE = "webhooks:manage"  # partners.webhook_api.SCOPE (a test checks they agree)


def _demo(session: Session) -> Iterable[str]:
    """Partner Горсервис with its site's API client, an offer, codes issued from the latest snapshot
    and a few redemptions."""
    from partners import demo as partners_demo
    from rewards.demo import DEMO_ACTOR

    timezone = current_app.config["TIMEZONE"]
    made = partners_demo.load(session, timezone=timezone, actor=DEMO_ACTOR, commit=session.commit)
    return [f"Partner site key of Горсервис (shown once): {made.token}"] if made.token else []


def _bind_webhooks(app: Flask, huey: Any = None) -> None:
    """The webhook sending task on the app's queue; a web process also queues it after each commit
    that wrote to the outbox. A command line process binds it only if it queues a job: messages its
    commits write are sent by the consumer's periodic run (within a minute), as a script's always were."""
    from partners import webhook_jobs

    webhook_jobs.bind(app, huey)


def _web() -> Web:
    """The partner and webhook pages, the partner, cabinet, staff, webhook and kit APIs, panel and card."""
    from partners import api as partners_api
    from partners import card as partner_card
    from partners import kit_api, views, webhook_api, webhook_views

    return Web(
        pages=[views.bp, webhook_views.bp],
        apis=[partners_api.blp, partners_api.cabinet_blp, partners_api.staff_blp, webhook_api.blp, kit_api.blp],
        nav=[("partners.index", _l("Partners"), "partners.view")],
        panels=[("partners/_panel.html", views.dashboard_panel)],
        card_sections=[("partners/_card_codes.html", partner_card.codes_section)],
        small_bodies=[partners_api.blp, partners_api.cabinet_blp, partners_api.staff_blp],
        setup=_bind_webhooks,
    )


FEATURE = Feature(
    models=["partners.models"],
    actions={"partners.view": ALL, "partners.manage": STAFF_WRITE},
    scopes={
        "codes:validate": _l("partner site: validate a code"),
        "codes:redeem": _l("partner site: redeem a code"),
        "redemptions:rollback": _l("partner site: undo a redemption"),
        "partners:write": _l("manage partners, offers and code issues"),
        "partners:read": _l("read partners, offers and reports"),
        "cabinet:read": _l("personal cabinet: read an account's tier, explanation and codes"),
        "cabinet:write": _l("personal cabinet: issue an account's code for an offer"),
        WEBHOOKS_SCOPE: _l("partner site: manage its webhook endpoints and see their deliveries"),
    },
    commands=[LazyGroup("partners", "partners.cli:partners_cli", help="Partners, offers and discount codes.")],
    demo_step=_demo,
    web=_web,
)


def offer_costs(session: Session, *, before: dict[str, int], after: dict[str, int], **_: Any) -> list[dict[str, Any]]:
    """On ``what_if_costs``: how many accounts qualify for each live offer, before and after a rules what-if."""
    if __name__ not in features.loaded(current_app):
        return []
    from sqlalchemy import select

    from partners.models import Offer
    from rewards.db import utcnow

    now = utcnow()
    offers = session.scalars(select(Offer).where(Offer.withdrawn_at.is_(None), Offer.valid_from <= now,
                                                 Offer.valid_to > now).order_by(Offer.id))
    return [
        {"source": "partners", "item": f"{offer.partner.name}: {offer.title}", "measure": "qualifying",
         "before": sum(before.get(t, 0) for t in offer.tier_list),
         "after": sum(after.get(t, 0) for t in offer.tier_list)}
        for offer in offers
    ]


def init_app(app: Flask) -> None:
    """Register the partners feature on ``app``."""
    FEATURE.register(app)
    what_if_costs.connect(offer_costs)  # held strongly by this module; connecting again is a no-op
    register_kind(app, "partners.issue", "partners.jobs:issue_job", label=_l("Bulk issue of codes"),
                  action="partners.view", done_link=("partners.run", "run_id", "run_id"))
    register_kind(app, "partners.export_codes", "partners.jobs:export_job", label=_l("Export of codes"),
                  action="partners.manage")  # account numbers in full: staff who manage only
    register_periodic(app, "partners.close_interrupted_runs", "* * * * *", "partners.jobs:close_interrupted_runs")
    register_periodic(app, "partners.purge_idempotency", "7 * * * *", "partners.jobs:purge_idempotency")
    on_queue(app, _bind_webhooks)  # a consumer runs the sending task the web processes queue
    register_periodic(app, "partners.webhooks_send", "* * * * *", "partners.webhook_jobs:periodic_send")
    register_periodic(app, "partners.webhooks_expiring", app.config["WEBHOOK_EXPIRING_CRON"],
                      "partners.webhook_jobs:periodic_expiring")
    register_periodic(app, "partners.webhooks_purge", "23 3 * * *", "partners.webhook_jobs:periodic_purge")
