"""The draws feature plugs in here: seeded prize draws among the snapshot's accounts, their pages
(staff and public), API, commands, and the credits to billing.

Kept out of ``draws/__init__.py``: the pure engine and the standalone verifier import that package
and must not pull Flask in. Every ``flask`` command imports this module: the pages, API, services and
jobs are named inside functions or by import path (``rewards.features``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from flask import Flask, current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from rewards import features
from rewards.features import Feature, Web
from rewards.jobs.registry import add_error_labels, register_kind, register_periodic
from rewards.lazycli import LazyGroup
from rewards.policy import ALL, AUDIT, STAFF_WRITE
from rewards.snapshots.feature import CABINET_SCOPE
from rewards.snapshots.signals import bill_columns, what_if_costs


def _demo(session: Session) -> Iterable[str]:
    """A published draw (verifiable) and an announced one, from the latest snapshot."""
    from draws import demo as draws_demo
    from draws import wiring
    from rewards.demo import DEMO_ACTOR

    made = draws_demo.load(
        session,
        signer=wiring.signer(),
        box=wiring.box(),
        chains=wiring.chains(),
        timezone=wiring.timezone(),
        yearly_cap_kopecks=wiring.yearly_cap(),
        keys_dir=current_app.config["KEYS_DIR"],
        actor=DEMO_ACTOR,
    )
    return [f"Published demo draw: /public/draws/{made.published}"] if made.published else []


def _web() -> Web:
    """The draw pages (staff and public), API, panel, card section and the engine's refusals."""
    from draws import api as draws_api
    from draws import card as draw_card
    from draws import views
    from draws.errors import DrawError

    return Web(
        pages=[views.bp, views.public_bp],
        apis=[draws_api.blp, draws_api.credits_blp],
        nav=[("draws.index", _l("Draws"), "draws.view")],
        panels=[("draws/_panel.html", views.dashboard_panel)],
        card_sections=[("draws/_card_draws.html", draw_card.draws_section)],
        refusals=[DrawError],  # the engine's refusals: a pure core's errors cannot subclass DomainError
    )


FEATURE = Feature(
    models=["draws.models"],
    actions={"draws.view": ALL, "draws.manage": STAFF_WRITE, "draws.bundle": AUDIT, "draws.verify": ALL},
    scopes={
        "draws:read": _l("read draws and their public records"),
        "draws:write": _l("create and run draws"),
        "draws:audit": _l("auditor: a draw's full bundle (entrant list, salt key) and its verification"),
        **CABINET_SCOPE,
    },
    commands=[LazyGroup("draws", "draws.cli:draws_cli",
                        help="Prize draws: create, announce, freeze, draw, publish, credits, records.")],
    demo_step=_demo,
    web=_web,
)


def check_code_columns(session: Session, *, snapshot: Any, **_: Any) -> list[tuple[str, Any]]:
    """On ``bill_columns``: one column of check codes per announced draw of this snapshot, so that each
    customer's bill carries the code of the public "did I take part?" check (every account gets one,
    entrant or not). Signals are process-wide; an app without this feature adds nothing."""
    if __name__ not in features.loaded(current_app):
        return []
    from draws import services, wiring

    return services.bill_check_code_columns(session, snapshot.id, wiring.box())


def draw_costs(session: Session, *, before: dict[str, int], after: dict[str, int], **_: Any) -> list[dict[str, Any]]:
    """On ``what_if_costs``: the expected entrants and total weight of a draw with the current tier weights
    (those of the latest draw not cancelled), before and after a rules what-if."""
    if __name__ not in features.loaded(current_app):
        return []
    from draws.models import Draw
    from rewards.rating.whatif import tier_costs

    draw = session.scalars(select(Draw).where(Draw.state != "cancelled")
                           .order_by(Draw.created_at.desc(), Draw.id.desc()).limit(1)).first()
    if draw is None:
        return []
    weights = {t: int(w) for t, w in json.loads(draw.tier_weights).items()}
    (entrants_before, weight_before), (entrants_after, weight_after) = tier_costs(before, weights), tier_costs(
        after, weights)
    return [
        {"source": "draws", "item": draw.name, "measure": "entrants", "before": entrants_before,
         "after": entrants_after},
        {"source": "draws", "item": draw.name, "measure": "total_weight", "before": weight_before,
         "after": weight_after},
    ]


def _register_jobs(app: Flask) -> None:
    """The draw steps and the credit export as background jobs."""
    to_draw = ("draws.detail", "draw_id", "draw_id")
    register_kind(app, "draws.freeze", "draws.jobs:freeze_job", label=_l("Freeze of a draw's entrant list"),
                  action="draws.view", done_link=to_draw)
    register_kind(app, "draws.run", "draws.jobs:run_job", label=_l("Draw run"), action="draws.view",
                  done_link=to_draw)
    register_kind(app, "draws.export_credits", "draws.jobs:credits_job", label=_l("Credit export for billing"),
                  action="draws.view")
    register_periodic(app, "draws.fetch_rounds", app.config["DRAND_FETCH_CRON"], "draws.jobs:fetch_due_rounds")
    add_error_labels(app, {
        "keys_unavailable": _l("the signing or secret keys are not available"),
        "fetch_refused": _l("the drand round could not be fetched"),
        "draw_refused": _l("the draw refused"),
    })


def init_app(app: Flask) -> None:
    """Register the draws feature on ``app``; the bills export asks it for check codes."""
    FEATURE.register(app)
    _register_jobs(app)
    bill_columns.connect(check_code_columns)  # held strongly by this module; connecting again is a no-op
    what_if_costs.connect(draw_costs)
