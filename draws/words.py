"""Words of the draw protocol that refusals name, lazily in the page's language (English in the API)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext

# The draw states in words: the draw pages' labels (draws/views.py) and the refusals use this one table.
STATES = {
    "draft": _l("draft"),
    "announced": _l("announced"),
    "frozen": _l("entrants frozen"),
    "drawn": _l("drawn"),
    "published": _l("published"),
    "cancelled": _l("cancelled"),
}
# What a refused step was about to do: "cannot <doing> a draw that is <state>".
STEPS = {
    "edit": lazy_pgettext("draw step", "edit"),
    "announce": lazy_pgettext("draw step", "announce"),
    "freeze": lazy_pgettext("draw step", "freeze"),
    "add a cosignature to": lazy_pgettext("draw step", "add a cosignature to"),
    "draw": lazy_pgettext("draw step", "draw"),
    "publish": lazy_pgettext("draw step", "publish"),
    "cancel": lazy_pgettext("draw step", "cancel"),
    "disqualify a winner of": lazy_pgettext("draw step", "disqualify a winner of"),
}
OR = lazy_pgettext("list", "or")
# A prize credit's state (the credits page uses the same msgids).
CREDIT_STATES = {
    "pending": lazy_pgettext("credit state", "pending"),
    "exported": lazy_pgettext("credit state", "exported"),
    "posted": lazy_pgettext("credit state", "posted"),
    "cancelled": lazy_pgettext("credit state", "cancelled"),
}


def credit_state(name: str) -> object:
    """A prize credit's state in the page's language."""
    return CREDIT_STATES.get(name, name)


def state(name: str) -> object:
    """A draw state in the page's language (the name itself when unknown)."""
    return STATES.get(name, name)


def step(name: str) -> object:
    """A draw step in the page's language."""
    return STEPS.get(name, name)


class Alternatives:
    """States joined with "or" in the page's language, rendered when the message is."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names

    def __str__(self) -> str:
        return f" {OR} ".join(str(state(n)) for n in self.names)
