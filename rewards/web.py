"""Helpers every page template uses: the navigation, labels, local time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, current_app, flash
from flask_babel import lazy_gettext as _l

from rewards.tiers import RUSSIAN_NAMES
from signedjson import parse_utc_timestamp

NavEntry = tuple[str, object, str]  # (endpoint, label, action): shown to users whose role may do the action

_NAV_HEAD: tuple[NavEntry, ...] = (("dashboard.index", _l("Dashboard"), "dashboard.view"),)
# Shown after every feature's entries.
_NAV_TAIL: tuple[NavEntry, ...] = (
    ("jobs.index", _l("Jobs"), "jobs.view"),
    ("audit.log", _l("Audit"), "audit.view"),
    ("admin.signing_keys", _l("Signing keys"), "audit.view"),
    ("admin.user_list", _l("Users"), "admin.users"),
    ("admin.client_list", _l("API clients"), "admin.clients"),
)
_NAV_KEY = "rewards.nav"

ROLE_LABELS = {"admin": _l("administrator"), "marketing": _l("marketing"), "auditor": _l("auditor")}
TIER_LABELS_EN = {"beginner": "beginner", "promising": "promising", "responsible": "responsible", "ideal": "ideal"}


def add_nav(app: Flask, endpoint: str, label: object, action: str) -> None:
    """Add a feature's entry to the navigation of ``app`` (after the dashboard, in feature order)."""
    app.extensions.setdefault(_NAV_KEY, []).append((endpoint, label, action))


def nav_entries(app: Flask) -> list[NavEntry]:
    """The navigation of ``app``: the dashboard, every feature's entries, then the kernel's pages."""
    return [*_NAV_HEAD, *app.extensions.get(_NAV_KEY, ()), *_NAV_TAIL]


def local(dt: datetime | None) -> datetime | None:
    """A stored UTC instant in the retailer's time zone."""
    if dt is None:
        return None
    return dt.astimezone(ZoneInfo(current_app.config["TIMEZONE"]))


LOCAL_FORMAT = "%d.%m.%Y %H:%M"  # one format on every page, in both languages


def local_text(dt: datetime | None) -> str:
    """An instant as pages show it: local time with its zone named, ``07.12.2026 14:05 (Europe/Moscow)``."""
    value = local(dt)
    if value is None:
        return ""
    return f"{value.strftime(LOCAL_FORMAT)} ({current_app.config['TIMEZONE']})"


def _detail_key(key: object) -> str:
    """A key of an error's details on a page: "line 3" and "file" in the page's language."""
    text = str(key)
    if text.startswith("line ") and text[5:].isdigit():
        return str(_l("line %(number)s", number=text[5:]))
    return str(_l("file")) if text == "file" else text


def attempt(
    fn: Callable[..., Any],
    *args: Any,
    success: str | None,
    refusals: tuple[type[BaseException], ...] = (),
    **kwargs: Any,
) -> Any:
    """Run a service for a page form: commit and flash ``success``; or roll back, flash the refusal
    (a ``DomainError``'s message with its details by field, or any of ``refusals`` as text) and return
    None. Any other exception propagates (the request's teardown rolls back)."""
    from rewards.db import db
    from rewards.errors import DomainError
    from rewards.i18n import page_details

    try:
        value = fn(db.session, *args, **kwargs)
    except DomainError as exc:
        db.session.rollback()
        errors = exc.errors if isinstance(exc.errors, dict) else {}
        details = page_details(exc, {_detail_key(k): v for k, v in errors.items()})
        flash(exc.message + (f" ({details})" if details else ""), "error")
        return None
    except refusals as exc:
        db.session.rollback()
        flash(DomainError.of(exc).message, "error")
        return None
    db.session.commit()
    if success is not None:
        flash(success, "info")
    return value


def init_app(app: Flask) -> None:
    """Register the template globals and filters."""

    @app.template_filter("localtime")
    def _localtime(dt: datetime | None) -> str:
        return local_text(dt)

    from flask_babel import get_locale

    app.jinja_env.globals["get_locale"] = get_locale

    @app.template_global()
    def nav_items() -> list[NavEntry]:
        return nav_entries(app)

    @app.template_global()
    def nav_active(endpoint: str) -> bool:
        """The entry of this page; else the only entry of this page's blueprint (e.g. a draw's detail)."""
        from flask import request

        current = request.endpoint or ""
        entries = [e for e, _label, _action in nav_entries(app)]
        if current == endpoint or current in entries:
            return current == endpoint
        blueprint = endpoint.split(".")[0]
        same = [e for e in entries if e.split(".")[0] == blueprint]
        return current.split(".")[0] == blueprint and same == [endpoint]

    @app.template_global()
    def role_label(role: str) -> str:
        return str(ROLE_LABELS.get(role, role))

    @app.template_global()
    def tier_label(tier: str) -> str:
        from flask_babel import get_locale

        if str(get_locale()) == "ru":
            return RUSSIAN_NAMES.get(tier, tier)
        return TIER_LABELS_EN.get(tier, tier)

    @app.template_filter("stamp_local")
    def _stamp_local(text: str | None) -> str:
        """A signed record's UTC timestamp (``YYYY-MM-DDTHH:MM:SSZ``) in local time, the UTC text after it."""
        if not text:
            return ""
        try:
            moment = parse_utc_timestamp(text)
        except (TypeError, ValueError):
            return str(text)
        return f"{local_text(moment)} · {text}"

    @app.template_filter("day")
    def _day(value: Any) -> str:
        """A calendar day (already local: a flag's validity, an offer's day) in the pages' one format."""
        return value.strftime("%d.%m.%Y") if value else ""

    @app.template_filter("rubles")
    def _rubles(kopecks: int | None) -> str:
        from rewards.forms import format_rubles

        return "" if kopecks is None else format_rubles(kopecks)

    @app.template_filter("mask")
    def _mask(account: str) -> str:
        # As in the published draw records (draws.entrants.mask_account): always six asterisks, so that
        # the mask does not tell how long the number is.
        return "******" + account[-4:]
