"""The snapshots feature plugs in here: monthly tier snapshots, loaded from billing's files or computed
by the rating engine (``rewards.rating``), their pages, API, commands and demo data.

Every ``flask`` command imports this module: the pages, API, jobs and demo modules are named inside
functions or by import path (``rewards.features``).
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import Flask
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from rewards.features import Feature, Web
from rewards.jobs.registry import add_error_labels, register_kind
from rewards.lazycli import LazyGroup
from rewards.policy import ALL, STAFF_WRITE

# The personal cabinet's scope: it reads a customer's tier here and, through the draws feature, the
# customer's draws, so both declare it, with this one description (rewards.policy.declare compares them).
CABINET_SCOPE = {"cabinet:read": _l("personal cabinet: read an account's tier, explanation and codes")}


def _demo(session: Session) -> Iterable[str]:
    """Two months of snapshots, announced (so the flags feature gives the priority tiers their flags)."""
    from rewards.snapshots.demo import load_demo_draft, load_demo_snapshots

    load_demo_snapshots(session, announce=True)
    load_demo_draft(session)
    return ()


def _job_labels(app: Flask) -> None:
    """Labels of the snapshot jobs' errors and per-line problems, for the job pages."""
    from rewards.snapshots import views

    add_error_labels(app, {**views.ERROR_KINDS, "needs_facts": _l("a what-if needs a computed snapshot"),
                           "bad_rules": _l("the rules are not valid"),
                           "invalid_file": _l("the file has problems; nothing was loaded"),
                           "period_taken": _l("the period already has a snapshot")})


def _web() -> Web:
    """The snapshot pages (and the rules pages on the same blueprint), API, panel and card sections."""
    from rewards.snapshots import api as snapshots_api
    from rewards.snapshots import card as snapshot_card
    from rewards.snapshots import (
        rules_api,
        views,
        whatif_views,  # noqa: F401  (the rules pages, on the snapshots blueprint)
    )

    return Web(
        pages=[views.bp],
        apis=[snapshots_api.blp, snapshots_api.accounts_blp, rules_api.rules_blp],
        nav=[("snapshots.index", _l("Snapshots"), "snapshots.view")],
        panels=[("snapshots/_panel.html", views.dashboard_panel)],
        card_sections=[
            ("snapshots/_card_history.html", snapshot_card.history_section),
            ("snapshots/_card_tier.html", snapshot_card.tier_section),
        ],
        setup=_job_labels,
    )


FEATURE = Feature(
    models=["rewards.snapshots.models"],
    actions={"snapshots.view": ALL, "snapshots.import": STAFF_WRITE, "snapshots.export": ALL,
             "snapshots.rules": STAFF_WRITE},
    scopes={
        "snapshots:write": _l("billing: load tier snapshots"),
        "snapshots:read": _l("read snapshots, movement and exports"),
        **CABINET_SCOPE,
        "rules:write": _l("rating rules: drafts, what-ifs and publishing a version"),
    },
    commands=[LazyGroup("snapshots", "rewards.snapshots.cli:snapshots_cli",
                        help="Monthly tier snapshots: import, compute, compare, export.")],
    demo_step=_demo,
    web=_web,
)

_JOBS = "rewards.snapshots.jobs"


def init_app(app: Flask) -> None:
    """Register the snapshots feature on ``app``, with its kinds of background job."""
    FEATURE.register(app)
    done = ("snapshots.detail", "snapshot_id", "snapshot_id")
    register_kind(app, "snapshots.import", f"{_JOBS}:import_job", label=_l("Snapshot import"),
                  action="snapshots.import", done_link=done)
    register_kind(app, "snapshots.compute", f"{_JOBS}:compute_job", label=_l("Snapshot computation"),
                  action="snapshots.import", done_link=done)
    register_kind(app, "snapshots.export", f"{_JOBS}:export_job", label=_l("Snapshot export"),
                  action="snapshots.export")
    register_kind(app, "snapshots.what_if", f"{_JOBS}:what_if_job", label=_l("Rules what-if"),
                  action="snapshots.export", done_link=("snapshots.what_if_result", "job_id", "job_id"))
