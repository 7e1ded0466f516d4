"""The flags feature's section of the customer card: priority now, and every flag with its history."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from rewards.flags import services
from rewards.flags.shell import local_today
from rewards.flags.views import CLOSED_LABELS, STATE_LABELS


def flags_section(session: Session, account: str) -> dict[str, Any] | None:
    """Priority today and the account's flag history (None when it never had a flag)."""
    rows = services.history(session, account)
    if not rows:
        return None
    today = local_today()
    for row in rows:
        row["state"] = services.state_of(row, today)
    return {
        "answer": services.priority_of(session, account, today=today),
        "rows": rows,
        "today": today,
        "state_labels": STATE_LABELS,
        "closed_labels": CLOSED_LABELS,
    }
