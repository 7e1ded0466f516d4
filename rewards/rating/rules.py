"""Rating rules as data: a versioned JSON file, validated on load, identified by its SHA-256.

The shipped default is ``rewards/rating/rules/default-v1.json``; its meaning is documented field by
field in ``docs/snapshots.md``. Every computed snapshot records ``version`` and ``sha256`` (of the
file's exact bytes) so it can be recomputed exactly. The time zone of the deadlines is part of the
rules, so the hash pins it too; another region uses another rules file.

Criteria (each earns its points in a month when met; see ``rewards.rating.engine``):

``reading_on_time``  meter reading submitted through an allowed channel on or before
                     ``deadlines.reading_day`` of the month (local date);
``payment_on_time``  the month's bill paid through an allowed channel on or before
                     ``deadlines.payment_day_next_month`` of the next month (local date);
``payment_early``    on top of ``payment_on_time``: paid before the 1st of the next month;
``registered``       registered in the cabinet or app with a confirmed e-mail;
``paperless``        the paper bill given up for the electronic one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rewards.tiers import TIERS

FORMAT = "loyalty-rating-rules/1"
CRITERIA: tuple[str, ...] = ("reading_on_time", "payment_on_time", "payment_early", "registered", "paperless")
PAYMENT_CRITERIA = frozenset({"payment_on_time", "payment_early"})
CHANNELS: tuple[str, ...] = (
    "cabinet",
    "app",
    "autopay",
    "bank",
    "post",
    "office",
    "terminal",
    "phone",
    "sms",
    "agent",
    "other",
)
PLANS: tuple[str, ...] = ("deferral", "instalment")
DEFAULT_FILE = "default-v1.json"


def N_(text: str) -> str:
    """Mark a message template for the catalogues (babel's ``N_`` keyword); pages translate it."""
    return text


class RulesError(ValueError):
    """A rules file is not valid; the message names the field (``rules.points.paperless: ...``).

    ``template`` and ``params`` (``path`` among them) let a page say it in its language.
    """

    def __init__(self, template: str, **params: Any) -> None:
        self.template = template
        self.params = params
        super().__init__(template % params if params else template)


@dataclass(frozen=True)
class TierRule:
    tier: str
    min_points: int
    every_month: tuple[str, ...]


@dataclass(frozen=True)
class Rules:
    """A validated rules file. ``sha256`` is the hash of the file's bytes."""

    version: str
    title: str
    timezone: str
    window_months: int
    reading_channels: frozenset[str]
    payment_channels: frozenset[str]
    reading_day: int
    payment_day: int
    points: dict[str, int]
    hardship_plans: frozenset[str]
    kept_plan_credits: frozenset[str]
    tiers: tuple[TierRule, ...]  # every tier, lowest first; beginner is always min_points 0
    sha256: str
    source: str

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def max_points(self) -> int:
        return sum(self.points.values()) * self.window_months

    def tier_rule(self, tier: str) -> TierRule:
        return self.tiers[TIERS.index(tier)]


def _fail(path: str, message: str, **params: Any) -> RulesError:
    """``path: message``: ``message`` is a template that starts with ``%(path)s: `` (``%(name)s`` over ``params``)."""
    return RulesError(message, path=path, **params)


def _obj(value: Any, path: str, keys: set[str], required: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(path, N_("%(path)s: must be an object, got %(type)s"), type=type(value).__name__)
    unknown = sorted(set(value) - keys)
    if unknown:
        raise _fail(f"{path}.{unknown[0]}", N_("%(path)s: unknown field (allowed: %(allowed)s)"),
                    allowed=", ".join(sorted(keys)))
    missing = sorted(required - set(value))
    if missing:
        raise _fail(f"{path}.{missing[0]}", N_("%(path)s: is required"))
    return value


def _int(value: Any, path: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(path, N_("%(path)s: must be an integer, got %(value)s"), value=repr(value))
    if not low <= value <= high:
        raise _fail(path, N_("%(path)s: must be between %(low)s and %(high)s, got %(value)s"),
                    low=low, high=high, value=value)
    return value


def _str(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(path, N_("%(path)s: must be a non-empty string, got %(value)s"), value=repr(value))
    return value


def _names(value: Any, path: str, allowed: tuple[str, ...] | frozenset[str]) -> frozenset[str]:
    if not isinstance(value, list):
        raise _fail(path, N_("%(path)s: must be a list, got %(type)s"), type=type(value).__name__)
    for i, item in enumerate(value):
        if item not in allowed:
            raise _fail(f"{path}[{i}]", N_("%(path)s: unknown value %(value)s (allowed: %(allowed)s)"),
                        value=repr(item),
                        allowed=", ".join(sorted(allowed)))
    if len(set(value)) != len(value):
        raise _fail(path, N_("%(path)s: has duplicates"))
    return frozenset(value)


def parse_rules(data: bytes, source: str = "<bytes>") -> Rules:
    """Validate a rules file's bytes; raises :class:`RulesError` naming the first bad field."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise RulesError(N_("rules: not valid UTF-8 JSON (%(problem)s)"), problem=str(exc)) from None
    top = _obj(
        doc,
        "rules",
        {
            "format",
            "version",
            "title",
            "timezone",
            "window_months",
            "channels",
            "deadlines",
            "points",
            "hardship",
            "tiers",
        },
        {"format", "version", "timezone", "window_months", "channels", "deadlines", "points", "tiers"},
    )
    if top["format"] != FORMAT:
        raise _fail("rules.format", N_("%(path)s: must be %(expected)s, got %(value)s"),
                    expected=repr(FORMAT), value=repr(top["format"]))
    version = _str(top["version"], "rules.version")
    title = top.get("title", "")
    if not isinstance(title, str):
        raise _fail("rules.title", N_("%(path)s: must be a string"))
    timezone = _str(top["timezone"], "rules.timezone")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise _fail("rules.timezone", N_("%(path)s: unknown time zone %(zone)s"), zone=repr(timezone)) from None
    window = _int(top["window_months"], "rules.window_months", 1, 24)

    channels = _obj(top["channels"], "rules.channels", {"reading", "payment"}, {"reading", "payment"})
    reading_channels = _names(channels["reading"], "rules.channels.reading", CHANNELS)
    payment_channels = _names(channels["payment"], "rules.channels.payment", CHANNELS)

    deadlines = _obj(
        top["deadlines"],
        "rules.deadlines",
        {"reading_day", "payment_day_next_month"},
        {"reading_day", "payment_day_next_month"},
    )
    # Day 28 at most: a deadline must exist in every month, February included.
    reading_day = _int(deadlines["reading_day"], "rules.deadlines.reading_day", 1, 28)
    payment_day = _int(deadlines["payment_day_next_month"], "rules.deadlines.payment_day_next_month", 1, 28)

    points_doc = _obj(top["points"], "rules.points", set(CRITERIA), set(CRITERIA))
    points = {c: _int(points_doc[c], f"rules.points.{c}", 0, 1000) for c in CRITERIA}

    hardship_doc = _obj(
        top.get("hardship", {"plans": [], "kept_plan_credits": []}),
        "rules.hardship",
        {"plans", "kept_plan_credits"},
        {"plans", "kept_plan_credits"},
    )
    plans = _names(hardship_doc["plans"], "rules.hardship.plans", PLANS)
    credits = _names(
        hardship_doc["kept_plan_credits"], "rules.hardship.kept_plan_credits", tuple(sorted(PAYMENT_CRITERIA))
    )
    if "payment_early" in credits and "payment_on_time" not in credits:
        raise _fail("rules.hardship.kept_plan_credits", N_("%(path)s: payment_early needs payment_on_time too"))

    tiers_doc = _obj(top["tiers"], "rules.tiers", set(TIERS[1:]), set(TIERS[1:]))
    tiers = [TierRule(TIERS[0], 0, ())]
    for tier in TIERS[1:]:
        path = f"rules.tiers.{tier}"
        rule = _obj(tiers_doc[tier], path, {"min_points", "every_month"}, {"min_points"})
        min_points = _int(rule["min_points"], f"{path}.min_points", 0, 1_000_000)
        if min_points < tiers[-1].min_points:
            raise _fail(
                f"{path}.min_points", N_("%(path)s: must not be below %(lower)s's (%(lower_points)s), got %(value)s"),
                lower=tiers[-1].tier, lower_points=tiers[-1].min_points, value=min_points,
            )
        every = _names(rule.get("every_month", []), f"{path}.every_month", CRITERIA)
        # A higher tier keeps every requirement of the tiers below it (monotone by construction).
        every = every | frozenset(tiers[-1].every_month)
        tiers.append(TierRule(tier, min_points, tuple(c for c in CRITERIA if c in every)))

    return Rules(
        version=version,
        title=title,
        timezone=timezone,
        window_months=window,
        reading_channels=reading_channels,
        payment_channels=payment_channels,
        reading_day=reading_day,
        payment_day=payment_day,
        points=points,
        hardship_plans=plans,
        kept_plan_credits=credits,
        tiers=tuple(tiers),
        sha256=hashlib.sha256(data).hexdigest(),
        source=source,
    )


def load_rules(path: str | Path) -> Rules:
    """Load and validate a rules file from disk."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RulesError(N_("rules: cannot read %(path)s: %(problem)s"), path=path, problem=exc.strerror) from None
    return parse_rules(data, str(path))


def default_rules_bytes() -> bytes:
    """The exact bytes of the shipped default rules file."""
    return resources.files("rewards.rating").joinpath("rules", DEFAULT_FILE).read_bytes()


def default_rules() -> Rules:
    """The shipped default rules (``default-v1``)."""
    return parse_rules(default_rules_bytes(), f"rewards/rating/rules/{DEFAULT_FILE}")
