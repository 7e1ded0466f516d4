"""The flags feature plugs in here: priority-service flags, given to the priority tiers whenever a
snapshot is loaded, set by staff for vulnerable customers, looked up by the call centre.

Every ``flask`` command imports this module: the pages, API and services are named inside functions
(``rewards.features``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Flask, current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from rewards import features
from rewards.features import Feature, Web
from rewards.jobs.registry import register_periodic
from rewards.lazycli import LazyGroup
from rewards.policy import ALL, STAFF_WRITE
from rewards.snapshots.signals import snapshot_loaded


def give_tier_flags(session: Session, *, snapshot_id: int, period: str, actor: str, **_: Any) -> None:
    """On ``snapshot_loaded``: the accounts of the snapshot in the priority tiers get their flags, in
    the snapshot's transaction (settings PRIORITY_TIERS, PRIORITY_GRACE_MONTHS).

    Signals are process-wide; an app built without this feature leaves its snapshots alone.
    """
    if __name__ not in features.loaded(current_app):
        return
    from rewards.flags import services
    from rewards.flags.shell import tier_settings
    from rewards.snapshots.queries import snapshot_tiers

    settings = tier_settings()
    # A query, run inside the database: the snapshot's accounts are not read back into Python.
    rows = snapshot_tiers(snapshot_id)
    services.apply_tier_flags(session, period, rows, actor=actor, **settings)  # type: ignore[arg-type]


def _demo(session: Session) -> Iterable[str]:
    """Staff flags for vulnerable customers (the tier flags come with the demo snapshots)."""
    from rewards.demo import DEMO_ACTOR
    from rewards.flags.demo import load_staff_flags
    from rewards.flags.shell import local_today

    load_staff_flags(session, actor=DEMO_ACTOR, today=local_today())
    return ()


def end_lapsed_needs(session: Session) -> str | None:
    """Daily: end the temporary needs whose end date is more than PRIORITY_NEEDS_GRACE_DAYS past."""
    from rewards.flags import services
    from rewards.flags.shell import local_today, needs_settings

    result = services.end_lapsed_needs(session, today=local_today(), grace_days=needs_settings()["grace_days"])
    if not result.needs_ended:
        return None
    return (f"{result.needs_ended} lapsed need(s) ended: {result.entries_replaced} entr(ies) kept their other "
            f"needs, {result.entries_closed} closed")


def _web() -> Web:
    """The flag pages, the call centre's API and the card section."""
    from rewards.flags import api as flags_api
    from rewards.flags import card as flag_card
    from rewards.flags import views

    return Web(
        pages=[views.bp],
        apis=[flags_api.blp],
        nav=[("flags.index", _l("Priority flags"), "flags.view")],
        card_sections=[("flags/_card_flags.html", flag_card.flags_section)],
    )


FEATURE = Feature(
    models=["rewards.flags.models"],
    # flags.personal: the nominee's name and phone, and exports with them (personal data)
    actions={"flags.view": ALL, "flags.manage": STAFF_WRITE, "flags.personal": STAFF_WRITE},
    scopes={
        "priority:read": _l("call centre: whether an account has priority"),
        "flags:write": _l("set and revoke priority flags"),
    },
    commands=[LazyGroup("flags", "rewards.flags.cli:flags_cli", help="Priority-service flags.")],
    demo_step=_demo,
    web=_web,
)


def init_app(app: Flask) -> None:
    """Register the flags feature on ``app``; it listens for loaded snapshots."""
    FEATURE.register(app)
    register_periodic(app, "flags.end_lapsed_needs", app.config["PRIORITY_NEEDS_LAPSE_CRON"], end_lapsed_needs)
    snapshot_loaded.connect(give_tier_flags)  # held strongly by this module; connecting again is a no-op
