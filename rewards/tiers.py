"""The four loyalty tiers, lowest first, with their Russian names."""

from __future__ import annotations

TIERS: tuple[str, ...] = ("beginner", "promising", "responsible", "ideal")

RUSSIAN_NAMES: dict[str, str] = {
    "beginner": "начинающий",
    "promising": "перспективный",
    "responsible": "ответственный",
    "ideal": "идеальный",
}

# One colour per tier on every chart (lowest tier lightest), so that a tier looks the same everywhere.
TIER_COLOURS: dict[str, str] = {
    "beginner": "#b9c7dc",
    "promising": "#74a7e0",
    "responsible": "#2f6fc0",
    "ideal": "#163f7a",
}

TIER_RANK: dict[str, int] = {code: rank for rank, code in enumerate(TIERS)}

_BY_LABEL: dict[str, str] = {**{c: c for c in TIERS}, **{v: k for k, v in RUSSIAN_NAMES.items()}}


def parse_tier(text: str) -> str | None:
    """The tier code for a code or Russian name in any case (``ё`` read as ``е``), else None."""
    return _BY_LABEL.get(text.strip().lower().replace("ё", "е"))
