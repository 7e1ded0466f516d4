"""The snapshots feature's sections of the customer card: the tier history (with a 12-month chart)
and the current tier explained in plain words, with what to do to reach the next one."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_babel import get_locale
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy.orm import Session

from rewards import charts
from rewards.errors import NotFound
from rewards.rating.behaviour import window
from rewards.snapshots import services
from rewards.tiers import TIER_COLOURS, TIER_RANK, TIERS

CHART_MONTHS = 12


def _tier_label(tier: str) -> str:
    return str(current_app.jinja_env.globals["tier_label"](tier))  # type: ignore[operator]


def history_section(session: Session, account: str) -> dict[str, Any] | None:
    """Every period's tier of the account (newest first) and the last 12 months as a chart."""
    history = services.account_history(session, account)
    if not history:
        return None
    by_period = {h["period"]: h for h in history}
    months = window(history[-1]["period"], CHART_MONTHS)
    levels = [TIER_RANK[by_period[m]["tier"]] if m in by_period else None for m in months]
    svg = charts.level_steps(
        _("Tier of account %(account)s over %(n)s months", account=account, n=CHART_MONTHS),
        months,
        levels,
        [_tier_label(t) for t in TIERS],
        [TIER_COLOURS[t] for t in TIERS],
        missing=_("no snapshot"),
        chart_id="tier-history-chart",
    )
    return {
        "history": list(reversed(history)),
        "chart": Markup(svg),  # noqa: S704 - every label is escaped by rewards.charts
        "months": [(m, by_period.get(m)) for m in months],
    }


def tier_section(session: Session, account: str) -> dict[str, Any] | None:
    """The account's tier in the newest snapshot that has it, why, and what would raise it."""
    history = services.account_history(session, account)
    if not history:
        return None
    lang = "ru" if str(get_locale()) == "ru" else "en"
    try:
        doc = services.account_tier(session, account, None, lang)
    except NotFound:  # not in the latest snapshot: its newest period with the account
        doc = services.account_tier(session, account, history[-1]["period"], lang)
    rank = TIER_RANK[doc["tier"]]
    met: dict[str, int] = {}
    for month in doc.get("months") or []:
        for c in month["criteria"]:
            met[c["criterion"]] = met.get(c["criterion"], 0) + (1 if c["met"] else 0)
    return {
        "doc": doc,
        "top": rank == len(TIERS) - 1,
        "months_counted": len(doc.get("months") or []),
        "met": met,
    }
