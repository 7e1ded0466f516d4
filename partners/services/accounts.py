"""One account's partner codes, for the customer card: each code with its offer and its ledger."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from partners import codes as codecore
from partners.models import Code, Offer, Partner, RedemptionEvent


def codes_of(session: Session, account: str) -> list[dict[str, Any]]:
    """Every code issued to ``account`` (newest first): offer, partner, the printed code, its state,
    and its redemptions and rollbacks in ledger order. A code redeemed then rolled back is ``issued``
    again with ``rolled_back`` counting the rollbacks."""
    rows = session.execute(
        select(Code, Offer.title, Partner.name, Partner.prefix)
        .join(Offer, Offer.id == Code.offer_id)
        .join(Partner, Partner.id == Offer.partner_id)
        .where(Code.account == account)
        .order_by(Code.issued_at.desc(), Code.id.desc())
    ).all()
    ids = [code.id for code, *_rest in rows]
    ledger: dict[int, list[RedemptionEvent]] = {i: [] for i in ids}
    if ids:
        for event in session.scalars(
            select(RedemptionEvent).where(RedemptionEvent.code_id.in_(ids)).order_by(RedemptionEvent.code_id,
                                                                                    RedemptionEvent.seq)
        ):
            ledger[event.code_id].append(event)
    return [
        {
            "code": codecore.format_code(prefix, code.value),
            "offer_id": code.offer_id,
            "offer": title,
            "partner": name,
            "tier": code.tier,
            "issued_at": code.issued_at,
            "state": code.state,
            "events": ledger[code.id],
            "redeemed": sum(1 for e in ledger[code.id] if e.kind == "redeem"),
            "rolled_back": sum(1 for e in ledger[code.id] if e.kind == "rollback"),
        }
        for code, title, name, prefix in rows
    ]
