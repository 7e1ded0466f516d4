"""One account's draws, for the customer card: the draws it entered (or may enter), what it won,
its prize credits and their billing state, and the disqualifications that name it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from draws import services
from draws.models import Draw, DrawCredit, DrawDisqualification, DrawExclusion, DrawWinner
from draws.secretbox import SecretBox
from rewards.errors import DomainError
from rewards.snapshots.queries import tier_of

FROZEN_STATES = ("frozen", "drawn", "published")


@dataclass
class AccountDraw:
    """What one draw says about one account."""

    draw: Draw
    entered: bool | None  # in the frozen list; None: the list is not frozen yet
    eligible_tier: str | None = None  # before the freeze: the tier that would enter it (weight > 0)
    places: list[DrawWinner] = field(default_factory=list)
    credits: list[DrawCredit] = field(default_factory=list)
    disqualified: list[DrawDisqualification] = field(default_factory=list)  # the account lost a prize
    received: list[DrawDisqualification] = field(default_factory=list)  # a prize passed on to the account

    @property
    def won(self) -> bool:
        """The account holds (or held) a prize of this draw."""
        return any(p.role == "winner" or p.status == "promoted" for p in self.places)


def _entered(session: Session, draw: Draw, account: str, box: SecretBox) -> bool:
    try:
        services.inclusion_proof(session, draw, account, box)
    except DomainError:  # not an entrant (or a list that no longer proves anything: not shown as entered)
        return False
    return True


def _eligible_tier(session: Session, draw: Draw, account: str) -> str | None:
    tier = tier_of(session, draw.snapshot_id, account)
    if tier is None or int(json.loads(draw.tier_weights).get(tier, 0)) <= 0:
        return None
    excluded = session.scalar(
        select(DrawExclusion.account).where(DrawExclusion.draw_id == draw.id, DrawExclusion.account == account)
    )
    return None if excluded else tier


def account_draws(session: Session, account: str, box: SecretBox) -> list[AccountDraw]:
    """Every draw that names ``account`` (entered, may enter, won, credited), newest first."""
    found: list[AccountDraw] = []
    for draw in session.scalars(select(Draw).order_by(Draw.created_at.desc(), Draw.id.desc())):
        places = list(session.scalars(
            select(DrawWinner).where(DrawWinner.draw_id == draw.id, DrawWinner.account == account)
            .order_by(DrawWinner.role.desc(), DrawWinner.position)
        ))
        credits = list(session.scalars(
            select(DrawCredit).where(DrawCredit.draw_id == draw.id, DrawCredit.account == account)
            .order_by(DrawCredit.prize_index, DrawCredit.id)
        ))
        dqs = list(session.scalars(
            select(DrawDisqualification).where(
                DrawDisqualification.draw_id == draw.id,
                or_(DrawDisqualification.account == account, DrawDisqualification.replacement_account == account),
            ).order_by(DrawDisqualification.sequence)
        ))
        if draw.state in FROZEN_STATES:
            entered: bool | None = bool(places) or _entered(session, draw, account, box)
            tier = None
        elif draw.state in ("draft", "announced"):
            entered, tier = None, _eligible_tier(session, draw, account)
        else:  # cancelled
            entered, tier = None, None
        if not (entered or tier or places or credits or dqs):
            continue
        found.append(AccountDraw(
            draw, entered, tier, places, credits,
            disqualified=[d for d in dqs if d.account == account],
            received=[d for d in dqs if d.replacement_account == account],
        ))
    return found


def credit_totals(items: list[AccountDraw]) -> dict[str, int]:
    """Kopecks of the account's credits by state (``pending``, ``exported``, ``posted``, ``cancelled``)."""
    totals: dict[str, int] = {}
    for item in items:
        for credit in item.credits:
            totals[credit.state] = totals.get(credit.state, 0) + credit.amount_kopecks
    return totals


def section_data(session: Session, account: str, box: SecretBox) -> dict[str, Any] | None:
    """The card section's data, or None when no draw names the account."""
    items = account_draws(session, account, box)
    if not items:
        return None
    return {
        "items": items,
        "entered": sum(1 for i in items if i.entered),
        "won": sum(1 for i in items if i.won),
        "totals": credit_totals(items),
    }
