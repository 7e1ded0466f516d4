"""Reports per offer: codes issued, redeemed and rolled back, by local day and by tier.

Everything is counted from rows (``codes`` for issued, the append-only ``redemption_events`` ledger
for redemptions and rollbacks); no counter is stored anywhere. Days are local dates of the retailer's
time zone. On SQLite the zone's current UTC offset is used (exact for zones without daylight saving,
such as Asia/Yekaterinburg); PostgreSQL converts each instant with the zone's rules.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, literal_column, select
from sqlalchemy.orm import Session

from partners.models import Code, Offer, RedemptionEvent
from rewards.errors import N_, DomainError
from rewards.tiers import TIER_RANK


def _local_day(session: Session, column: Any, tz: str) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone(tz, column), "YYYY-MM-DD")
    offset = datetime.now(UTC).astimezone(ZoneInfo(tz)).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset else 0
    return func.date(column, literal_column(f"'{minutes:+d} minutes'"))


def offer_report(session: Session, offer: Offer, tz: str, *, test: bool = False) -> dict[str, Any]:
    """Totals, per-day and per-tier counts of one offer: of its live codes (``test``: of its test codes
    only, what a sandbox key sees)."""
    issued_day = _local_day(session, Code.issued_at, tz)
    by_day: dict[str, dict[str, int]] = {}
    by_tier: dict[str, dict[str, int]] = {}

    def slot(table: dict[str, dict[str, int]], key: str) -> dict[str, int]:
        return table.setdefault(key, {"issued": 0, "redeemed": 0, "rolled_back": 0})

    for day, n in session.execute(
        select(issued_day, func.count()).where(Code.offer_id == offer.id, Code.test.is_(test)).group_by(issued_day)
    ):
        slot(by_day, str(day))["issued"] += n
    for tier, n in session.execute(
        select(Code.tier, func.count()).where(Code.offer_id == offer.id, Code.test.is_(test)).group_by(Code.tier)
    ):
        slot(by_tier, tier)["issued"] += n
    ev_day = _local_day(session, RedemptionEvent.at, tz)
    for day, kind, n in session.execute(
        select(ev_day, RedemptionEvent.kind, func.count())
        .where(RedemptionEvent.offer_id == offer.id, RedemptionEvent.test.is_(test))
        .group_by(ev_day, RedemptionEvent.kind)
    ):
        slot(by_day, str(day))["redeemed" if kind == "redeem" else "rolled_back"] += n
    for tier, kind, n in session.execute(
        select(Code.tier, RedemptionEvent.kind, func.count())
        .join(Code, Code.id == RedemptionEvent.code_id)
        .where(RedemptionEvent.offer_id == offer.id, RedemptionEvent.test.is_(test))
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


MAX_REPORT_DAYS = 366


def local_range(start: date, end: date, tz: str) -> tuple[datetime, datetime]:
    """The UTC instants bounding local days ``start`` to ``end`` (both included)."""
    if end < start:
        raise DomainError(N_("the report ends before it starts"), field="to")
    if (end - start).days >= MAX_REPORT_DAYS:
        raise DomainError(N_("a report covers at most %(n)s days"), field="to", n=MAX_REPORT_DAYS)
    zone = ZoneInfo(tz)
    first = datetime.combine(start, time(0), zone).astimezone(UTC)
    after = datetime.combine(end + timedelta(days=1), time(0), zone).astimezone(UTC)
    return first, after


def redemptions_by_day(session: Session, partner_id: int, tz: str, start: date, end: date, *,
                       test: bool = False) -> list[dict[str, Any]]:
    """The partner's redemptions and rollbacks by local day and offer, from the ledger (live ones, or
    with ``test`` the sandbox's only), days ``start`` to ``end`` included; days without any are left out."""
    first, after = local_range(start, end, tz)
    day = _local_day(session, RedemptionEvent.at, tz)
    rows = session.execute(
        select(day, RedemptionEvent.offer_id, Offer.title, RedemptionEvent.kind, func.count())
        .join(Offer, Offer.id == RedemptionEvent.offer_id)
        .where(RedemptionEvent.partner_id == partner_id, RedemptionEvent.test.is_(test),
               RedemptionEvent.at >= first, RedemptionEvent.at < after)
        .group_by(day, RedemptionEvent.offer_id, Offer.title, RedemptionEvent.kind)
    ).all()
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for d, offer_id, title, kind, n in rows:
        slot = out.setdefault((str(d), offer_id), {"day": str(d), "offer_id": offer_id, "title": title,
                                                   "redeemed": 0, "rolled_back": 0})
        slot["redeemed" if kind == "redeem" else "rolled_back"] += n
    for slot in out.values():
        slot["net_redeemed"] = slot["redeemed"] - slot["rolled_back"]
    return [out[k] for k in sorted(out)]


def csv_lines(rows: list[dict[str, Any]]) -> str:
    """The report as CSV (``;``-separated, a header line, CRLF)."""
    head = "day;offer_id;title;redeemed;rolled_back;net_redeemed\r\n"

    def cell(text: str) -> str:
        return '"' + text.replace('"', '""') + '"' if any(c in text for c in ';"\r\n') else text

    return head + "".join(
        f"{r['day']};{r['offer_id']};{cell(r['title'])};{r['redeemed']};{r['rolled_back']};{r['net_redeemed']}\r\n"
        for r in rows
    )
