"""The event log in words: actions, object types and details in the page's language.

Every feature records its own actions; their names are msgids in the catalogues (the feature's own
catalogue for its actions), looked up with the context ``audit action``. An action or detail key with no
translation is shown as its code, which is an identifier.
"""

from __future__ import annotations

import json
from typing import Any

from flask_babel import get_locale, pgettext

from rewards.tiers import RUSSIAN_NAMES


def _word(context: str, code: str) -> str | None:
    """The catalogue's word for ``code`` in ``context``, or None when there is none."""
    text = pgettext(context, code)
    return None if text == code else text


def action_label(action: str) -> str | None:
    """A recorded action in words ("розыгрыш объявлен"), or None: the page shows the code."""
    return _word("audit action", action)


def object_label(object_type: str) -> str | None:
    """A recorded object's type in words ("розыгрыш"), or None."""
    return _word("audit object", object_type)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return pgettext("audit value", "yes") if value else pgettext("audit value", "no")
    if value is None:
        return "—"
    if isinstance(value, list):
        return ", ".join(_value(v) for v in value)
    if isinstance(value, str) and value in RUSSIAN_NAMES and str(get_locale()) == "ru":
        return RUSSIAN_NAMES[value]  # a tier, as the pages name it
    return str(value)


def details(raw: str) -> list[tuple[str, str | None, str, bool]]:
    """An event's details as ``(key, key in words or None, value as text, shown as code)``, in recorded
    order; a nested record (e.g. a drand chain) is shown as its compact JSON, an identifier."""
    try:
        data = json.loads(raw or "{}")
    except (ValueError, RecursionError):  # not JSON, or nested deeper than the parser goes
        return [("details", None, raw, True)]
    if not isinstance(data, dict):
        return [("details", None, json.dumps(data, ensure_ascii=False), True)]
    out = []
    for key, value in data.items():
        nested = isinstance(value, dict) or (isinstance(value, list) and any(isinstance(v, dict) for v in value))
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":")) if nested else _value(value)
        out.append((key, _word("audit detail", key), text, nested))
    return out
