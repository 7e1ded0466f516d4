"""Offer validity from local dates: from the first day's 00:00 to the day after the last, local time."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def validity(first: date, last: date, tz: str) -> tuple[datetime, datetime]:
    """``[first 00:00, last + 1 day 00:00)`` in ``tz``, as aware instants."""
    zone = ZoneInfo(tz)
    start = datetime.combine(first, time(0), tzinfo=zone)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=zone)
    return start, end


def parse_day(text: str) -> date:
    """A ``YYYY-MM-DD`` date (ValueError otherwise)."""
    return date.fromisoformat(text.strip())
