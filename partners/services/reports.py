"""Reports per offer: codes issued, redeemed and rolled back, by local day and by tier.

Everything is counted from rows (``codes`` for issued, the append-only ``redemption_events`` ledger
for redemptions and rollbacks); no counter is stored anywhere. Days are local dates of the retailer's
time zone. On SQLite the zone's current UTC offset is used (exact for zones without daylight saving,
such as Asia/Yekaterinburg); PostgreSQL converts each instant with the zone's rules.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, literal_column, select
from sqlalchemy.orm import Session

from partners.models import Code, Offer, RedemptionEvent
from rewards.tiers import TIER_RANK


def _local_day(session: Session, column: Any, tz: str) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone(tz, column), "YYYY-MM-DD")
    offset = datetime.now(UTC).astimezone(ZoneInfo(tz)).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset else 0
    return func.date(column, literal_column(f"'{minutes:+d} minutes'"))


def offer_report(session: Session, offer: Offer, tz: str) -> dict[str, Any]:
    """Totals, per-day and per-tier counts of one offer."""
    issued_day = _local_day(session, Code.issued_at, tz)
    by_day: dict[str, dict[str, int]] = {}
    by_tier: dict[str, dict[str, int]] = {}

    def slot(table: dict[str, dict[str, int]], key: str) -> dict[str, int]:
        return table.setdefault(key, {"issued": 0, "redeemed": 0, "rolled_back": 0})

    for day, n in session.execute(
        select(issued_day, func.count()).where(Code.offer_id == offer.id).group_by(issued_day)
    ):
        slot(by_day, str(day))["issued"] += n
    for tier, n in session.execute(
        select(Code.tier, func.count()).where(Code.offer_id == offer.id).group_by(Code.tier)
    ):
        slot(by_tier, tier)["issued"] += n
    ev_day = _local_day(session, RedemptionEvent.at, tz)
    for day, kind, n in session.execute(
        select(ev_day, RedemptionEvent.kind, func.count())
        .where(RedemptionEvent.offer_id == offer.id)
        .group_by(ev_day, RedemptionEvent.kind)
    ):
        slot(by_day, str(day))["redeemed" if kind == "redeem" else "rolled_back"] += n
    for tier, kind, n in session.execute(
        select(Code.tier, RedemptionEvent.kind, func.count())
        .join(Code, Code.id == RedemptionEvent.code_id)
        .where(RedemptionEvent.offer_id == offer.id)
        .group_by(Code.tier, RedemptionEvent.kind)
    ):
        slot(by_tier, tier)["redeemed" if kind == "redeem" else "rolled_back"] += n
    totals = {"issued": 0, "redeemed": 0, "rolled_back": 0}
    for counts in by_tier.values():
        for k in totals:
            totals[k] += counts[k]
    totals["net_redeemed"] = totals["redeemed"] - totals["rolled_back"]
    return {
        "offer_id": offer.id,
        "title": offer.title,
        "partner_id": offer.partner_id,
        "totals": totals,
        "by_day": [{"day": d, **c} for d, c in sorted(by_day.items())],
        "by_tier": [
            {"tier": t, **c} for t, c in sorted(by_tier.items(), key=lambda kv: TIER_RANK.get(kv[0], 99))
        ],
    }
