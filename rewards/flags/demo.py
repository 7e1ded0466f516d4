"""Demo data of the flags feature: staff flags for vulnerable customers (seed 004)."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from rewards.flags import services

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
    return made
