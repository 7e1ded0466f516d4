"""The flags feature plugs in here: priority-service flags, given to the priority tiers whenever a
snapshot is loaded, set by staff for vulnerable customers, looked up by the call centre."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Flask, current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from rewards import features
from rewards.demo import DEMO_ACTOR
from rewards.features import Feature
from rewards.flags import api as flags_api
from rewards.flags import card as flag_card
from rewards.flags import (
    models,  # noqa: F401  (the flag tables on the metadata)
    services,
    views,
)
from rewards.flags.cli import flags_cli
from rewards.flags.demo import load_staff_flags
from rewards.flags.shell import local_today, needs_settings, tier_settings
from rewards.httperrors import Api
from rewards.jobs.registry import register_periodic
from rewards.policy import ALL, STAFF_WRITE
from rewards.snapshots.queries import snapshot_tiers
from rewards.snapshots.signals import snapshot_loaded


def give_tier_flags(session: Session, *, snapshot_id: int, period: str, actor: str, **_: Any) -> None:
    """On ``snapshot_loaded``: the accounts of the snapshot in the priority tiers get their flags, in
    the snapshot's transaction (settings PRIORITY_TIERS, PRIORITY_GRACE_MONTHS).

    Signals are process-wide; an app built without this feature leaves its snapshots alone.
    """
    if __name__ not in features.loaded(current_app):
        return
    settings = tier_settings()
    # A query, run inside the database: the snapshot's accounts are not read back into Python.
    rows = snapshot_tiers(snapshot_id)
    services.apply_tier_flags(session, period, rows, actor=actor, **settings)  # type: ignore[arg-type]


def _demo(session: Session) -> Iterable[str]:
    """Staff flags for vulnerable customers (the tier flags come with the demo snapshots)."""
    load_staff_flags(session, actor=DEMO_ACTOR, today=local_today())
    return ()


def end_lapsed_needs(session: Session) -> str | None:
    """Daily: end the temporary needs whose end date is more than PRIORITY_NEEDS_GRACE_DAYS past."""
    result = services.end_lapsed_needs(session, today=local_today(), grace_days=needs_settings()["grace_days"])
    if not result.needs_ended:
        return None
    return (f"{result.needs_ended} lapsed need(s) ended: {result.entries_replaced} entr(ies) kept their other "
            f"needs, {result.entries_closed} closed")


FEATURE = Feature(
    # flags.personal: the nominee's name and phone, and exports with them (personal data)
    actions={"flags.view": ALL, "flags.manage": STAFF_WRITE, "flags.personal": STAFF_WRITE},
    scopes={
        "priority:read": _l("call centre: whether an account has priority"),
        "flags:write": _l("set and revoke priority flags"),
    },
    pages=[views.bp],
    apis=[flags_api.blp],
    commands=[flags_cli],
    nav=[("flags.index", _l("Priority flags"), "flags.view")],
    card_sections=[("flags/_card_flags.html", flag_card.flags_section)],
    demo_step=_demo,
)


def init_app(app: Flask, api: Api) -> None:
    """Register the flags feature on ``app``; it listens for loaded snapshots."""
    FEATURE.register(app, api)
    register_periodic(app, "flags.end_lapsed_needs", app.config["PRIORITY_NEEDS_LAPSE_CRON"], end_lapsed_needs)
    snapshot_loaded.connect(give_tier_flags)  # held strongly by this module; connecting again is a no-op
