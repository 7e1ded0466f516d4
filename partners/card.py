"""The partners feature's section of the customer card: the account's codes (issued, redeemed,
rolled back) with their offers."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_pgettext
from sqlalchemy.orm import Session

from partners.services.accounts import codes_of

CODE_STATES = {
    "issued": lazy_pgettext("code state", "issued"),
    "redeemed": lazy_pgettext("code state", "redeemed"),
    "revoked": lazy_pgettext("code state", "revoked"),
}
LEDGER_KINDS = {
    "redeem": lazy_pgettext("ledger entry", "redeemed"),
    "rollback": lazy_pgettext("ledger entry", "rolled back"),
}


def codes_section(session: Session, account: str) -> dict[str, Any] | None:
    """The account's codes, or None when it has none."""
    codes = codes_of(session, account)
    if not codes:
        return None
    return {
        "codes": codes,
        "issued": len(codes),
        "redeemed": sum(1 for c in codes if c["state"] == "redeemed"),
        "rolled_back": sum(1 for c in codes if c["rolled_back"]),
        "states": CODE_STATES,
        "kinds": LEDGER_KINDS,
    }
