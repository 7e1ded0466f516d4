"""The snapshots feature's charts, drawn by ``rewards.charts`` with the page's words: the tier
distribution over the months (dashboard) and the movement between two months (compare page)."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy.orm import Session

from rewards import charts
from rewards.snapshots import services
from rewards.tiers import TIER_COLOURS, TIERS

TREND_MONTHS = 12


def _tier_label(tier: str) -> str:
    return str(current_app.jinja_env.globals["tier_label"](tier))  # type: ignore[operator]


def tier_trend(session: Session, months: int = TREND_MONTHS) -> dict[str, Any] | None:
    """The active snapshots of the last ``months`` periods (oldest first), their counts per tier as
    stacked bars and as rows for the text table; None with fewer than two periods."""
    snapshots = sorted(services.list_snapshots(session, include_superseded=False, limit=months),
                       key=lambda s: s.period)
    if len(snapshots) < 2:
        return None
    periods = [s.period for s in snapshots]
    counts = [services.tier_counts(s) for s in snapshots]
    svg = charts.stacked_bars(
        _("Accounts per tier, month by month"),
        periods,
        [(t, _tier_label(t), TIER_COLOURS[t]) for t in TIERS],
        counts,
        chart_id="tier-trend-chart",
    )
    return {
        "chart": Markup(svg),  # noqa: S704 - every label is escaped by rewards.charts
        "rows": [{"period": p, "counts": c, "total": sum(c.values())} for p, c in zip(periods, counts, strict=True)],
        "tiers": list(TIERS),
    }


def movement(result: dict[str, Any]) -> Markup:
    """The transition matrix of ``services.compare`` as a heat map (rows: the first month's tier,
    columns: the second's; the accounts that left or joined are a column and a row of their own)."""
    a, b = result["from"]["period"], result["to"]["period"]
    rows = [[result["matrix"][x][y] for y in TIERS] + [result["left"][x]] for x in TIERS]
    rows.append([result["joined"][y] for y in TIERS] + [0])
    svg = charts.heat_matrix(
        _("How accounts moved between tiers from %(a)s to %(b)s", a=a, b=b),
        [_tier_label(t) for t in TIERS] + [_("new")],
        [_tier_label(t) for t in TIERS] + [_("gone")],
        rows,
        row_axis=_("in %(period)s", period=a),
        col_axis=_("in %(period)s", period=b),
        chart_id="movement-chart",
        diagonal=len(TIERS),
    )
    return Markup(svg)  # noqa: S704 - every label is escaped by rewards.charts
