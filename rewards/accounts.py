"""Account numbers in URLs: 1 to 20 ASCII digits, as billing writes them (leading zeros kept).

Every API path that names an account uses ``<account:account>``: routing itself refuses any other
text (404 in the error shape), and the OpenAPI document carries the same pattern.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.routing import BaseConverter

from rewards.csvread import ACCOUNT_MAX_DIGITS

ACCOUNT_REGEX = f"[0-9]{{1,{ACCOUNT_MAX_DIGITS}}}"  # the snapshot files' rule: no other account exists
ACCOUNT_SCHEMA = {"type": "string", "pattern": f"^{ACCOUNT_REGEX}$", "example": "000123456789"}


class AccountConverter(BaseConverter):
    """Matches an account number only; the value stays a string."""

    regex = ACCOUNT_REGEX


def _schema(_converter: Any) -> dict[str, Any]:
    return dict(ACCOUNT_SCHEMA)


def init_app(app: Flask, api: Any) -> None:
    """Add the ``account`` converter to ``app``'s routing and to ``api``'s OpenAPI document."""
    app.url_map.converters["account"] = AccountConverter
    api.register_converter(AccountConverter, _schema)


_ACCOUNT_SEPARATORS = str.maketrans("", "", " \t\u00a0\u202f\u2009-\u2010\u2011\u2012\u2013\u2014\u2015")


def normalize_account(text: str | None) -> str:
    """An account number as typed by a person: spaces and dashes dropped (``12 3456-789`` is
    ``123456789``), leading zeros kept. Checking that what is left is an account is the caller's rule."""
    return (text or "").strip().translate(_ACCOUNT_SEPARATORS)
