"""The reader's cache of each month's reading and payment parts (``behaviour.EventParts``) gives what the rules give."""

from __future__ import annotations

from rewards.csvread import ErrorLog
from rewards.rating import behaviour
from rewards.rating.behaviour import EventParts, _RowChecks
from rewards.rating.engine import Engine
from rewards.rating.rules import default_rules
from tests.rewards.rating.helpers import PERIOD, csv_bytes, random_behaviour, rate, row

MONTHS = ["2026-05", "2026-06", "2026-07", "2026-08", "2026-09", "2026-10"]


def _independent(engine: Engine, facts: str) -> tuple[str, int]:
    """``(tier, points)`` from the facts alone, through the rules (``month_mask``), not the reader's caches."""
    tier, points, _ = engine.rate_facts(engine.decode(facts))
    return tier, points


def test_cached_parts_give_what_the_rules_give_for_every_account():
    data = random_behaviour(3000, seed=17)  # dates repeat across accounts: almost every part is a cache hit
    out, errors, engine = rate([data])
    assert not errors and len(out) == 3000
    assert [a for a, *_ in out] == sorted(a for a, *_ in out)
    for account, tier, points, facts in out:
        assert (tier, points) == _independent(engine, facts), account
        assert engine.encode(engine.decode(facts)) == facts


def test_one_date_and_channel_are_scored_for_their_own_month():
    # The same payment text is the May bill paid on time (not early) and the June bill paid early.
    paid = "2026-06-05T10:00:00Z"
    rows = [row(account, m, "", "", *((paid, "app") if m in ("2026-05", "2026-06") else ("", "")))
            for account in ("0001", "0002") for m in MONTHS]
    out, errors, engine = rate([csv_bytes(rows)])
    assert not errors
    for _, _, _, facts in out:
        may, june = engine.rate_facts(engine.decode(facts))[2][:2]
        assert may is not None and june is not None
        assert may & engine.PAY and not may & engine.EARLY
        assert june & engine.PAY and june & engine.EARLY


def test_a_cached_date_with_a_bad_channel_is_still_an_error_on_its_line():
    date = "2026-05-20T10:00:00Z"
    rows = [
        row("0001", "2026-05", date, "cabinet"),
        row("0002", "2026-05", date, ""),
        row("0003", "2026-05", date, "pigeon"),
        row("0004", "2026-05", "", "cabinet"),
        row("0005", "2026-05", date, "cabinet"),
    ]
    _, errors, _ = rate([csv_bytes(rows)])
    assert [(e.line, e.kind, e.field) for e in errors.details] == [
        (3, "bad_channel", "reading_channel"),
        (4, "bad_channel", "reading_channel"),
        (5, "bad_channel", "reading_channel"),
    ]


def test_event_parts_empty_themselves_past_their_limit():
    parts = EventParts(2, limit=3)
    for day in range(4):
        parts.remember(0, "cabinet", 739000 + day, ("1c", 1))
    parts.remember(1, "app", 739010, ("2a", 0))
    assert parts.months == [{}, {"app": {739010: ("2a", 0)}}]  # the 5th part found 4 kept (> 3): emptied first


def test_parts_past_the_limit_are_forgotten_and_found_again(monkeypatch):
    monkeypatch.setattr(behaviour, "PARTS_LIMIT", 10)
    engine = Engine(default_rules(), PERIOD)
    # the reader takes the lowered limit, compiled (setup.py) or not
    assert _RowChecks(engine, ErrorLog(), None, ";", 11).parts["reading"].limit == 10
    data = random_behaviour(300, seed=31)
    out, errors, engine = rate([data])
    assert not errors
    for account, tier, points, facts in out:
        assert (tier, points) == _independent(engine, facts), account
