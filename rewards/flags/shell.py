"""What the shells (API, CLI, pages) share: today's local date and the tier settings."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import current_app


def local_today() -> date:
    """Today in the retailer's time zone (flag validity is in local calendar days)."""
    return datetime.now(ZoneInfo(current_app.config["TIMEZONE"])).date()


def tier_settings() -> dict[str, object]:
    """``tiers`` and ``grace_months`` keyword arguments for the tier services, from the settings."""
    return {
        "tiers": tuple(current_app.config["PRIORITY_TIERS"]),
        "grace_months": int(current_app.config["PRIORITY_GRACE_MONTHS"]),
    }


def needs_settings() -> dict[str, int]:
    """The register-of-needs settings the services take."""
    cfg = current_app.config
    return {
        "reverify_years": int(cfg["PRIORITY_REVERIFY_YEARS"]),
        "grace_days": int(cfg["PRIORITY_NEEDS_GRACE_DAYS"]),
        "due_days": int(cfg["PRIORITY_NEEDS_DUE_DAYS"]),
    }
