"""Demo data of the flags feature: staff flags for vulnerable customers (seed 004)."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.orm import Session

from rewards.flags import services
from rewards.flags.needs import NeedRequest

# account, reason, note
DEMO_FLAGS = (
    ("740000000007", "pensioner", None),
    ("740000000011", "large_family", None),
    ("740000000023", "disability", None),
    ("740000000042", "other", "слабослышащий клиент"),
)


def load_staff_flags(session: Session, *, actor: str, today: date) -> int:
    """Set the demo staff flags unless they are set; returns how many changed. Never commits."""
    made = 0
    for account, reason, note in DEMO_FLAGS:
        change = services.set_flag(session, account, reason, note=note, actor=actor, today=today)
        made += change.status != "unchanged"
    made += load_register(session, actor=actor, today=today)
    return made


def load_register(session: Session, *, actor: str, today: date) -> int:
    """Two register entries (seed 004: a family that lost its income, a customer with a hearing loss
    and a nominee), one of them due soon; unless an entry is already open for the account."""
    made = 0
    entries = (
        ("740000000011", [NeedRequest("hardship.income_loss", ends_on=today + timedelta(days=20)),
                          NeedRequest("young_children", ends_on=today + timedelta(days=300))],
         {"share": True}),
        ("740000000042", [NeedRequest("disability.hearing"), NeedRequest("pensioner")],
         {"nominee_name": "Иванова Мария Петровна", "nominee_phone": "+7 900 000-00-42"}),
    )
    for account, requests, extra in entries:
        if services.register_of(session, account, today=today, personal=False) is not None:
            continue
        services.set_needs(session, account, requests, consent_on=today, consent_channel="phone", actor=actor,
                           today=today, **extra)  # type: ignore[arg-type]
        made += 1
    return made
