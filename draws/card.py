"""The draws feature's section of the customer card."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from draws import accounts, wiring, words


def draws_section(session: Session, account: str) -> dict[str, Any] | None:
    """Draws entered and won, credits and their billing state (None: no draw names the account)."""
    data = accounts.section_data(session, account, wiring.box())
    if data is not None:
        data["credit_state"] = words.credit_state
    return data
