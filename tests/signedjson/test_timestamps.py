"""The one text form of instants in signed records (and the microsecond form of the event log)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from signedjson import parse_utc_timestamp, utc_timestamp

YEKATERINBURG = timezone(timedelta(hours=5))


def test_an_aware_instant_is_written_in_utc_whole_seconds() -> None:
    moment = datetime(2026, 11, 2, 16, 0, 7, 999_999, tzinfo=YEKATERINBURG)
    assert utc_timestamp(moment) == "2026-11-02T11:00:07Z"
    assert utc_timestamp(moment, microseconds=True) == "2026-11-02T11:00:07.999999Z"


def test_a_naive_instant_is_taken_as_utc() -> None:
    assert utc_timestamp(datetime(2026, 1, 31, 23, 59, 59)) == "2026-01-31T23:59:59Z"


def test_parse_reads_back_what_utc_timestamp_writes() -> None:
    moment = datetime(2026, 3, 1, 0, 0, 1, tzinfo=UTC)
    assert parse_utc_timestamp(utc_timestamp(moment)) == moment
    with pytest.raises(ValueError):
        parse_utc_timestamp("2026-03-01 00:00:01")
