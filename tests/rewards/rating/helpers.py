"""Helpers for rating tests: behaviour rows as CSV bytes, and the engine run over them."""

from __future__ import annotations

import io
import json
import random
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from rewards.rating.behaviour import window
from rewards.rating.engine import Engine, MonthFacts
from rewards.rating.rules import Rules, default_rules, default_rules_bytes
from rewards.snapshots.csvfile import ErrorLog

HEADER = (
    "account",
    "month",
    "reading_at",
    "reading_channel",
    "payment_at",
    "payment_channel",
    "registered",
    "email_confirmed",
    "paperless",
    "plan",
    "plan_kept",
)
PERIOD = "2026-10"


def row(
    account: str,
    month: str,
    reading: str = "",
    reading_channel: str = "",
    payment: str = "",
    payment_channel: str = "",
    registered: str = "1",
    email: str = "1",
    paperless: str = "1",
    plan: str = "",
    kept: str = "",
) -> tuple[str, ...]:
    return (
        account,
        month,
        reading,
        reading_channel,
        payment,
        payment_channel,
        registered,
        email,
        paperless,
        plan,
        kept,
    )


def good_month(account: str, month: str) -> tuple[str, ...]:
    """A month that meets every criterion: reading on the 20th, paid early on the 22nd, in the app."""
    return row(account, month, f"{month}-20T10:00:00Z", "cabinet", f"{month}-22T10:00:00+05:00", "app")


def csv_bytes(
    rows: Iterable[Sequence[str]],
    delimiter: str = ";",
    header: Sequence[str] = HEADER,
    encoding: str = "utf-8",
) -> bytes:
    lines = [delimiter.join(header)] + [delimiter.join(r) for r in rows]
    return ("\n".join(lines) + "\n").encode(encoding)


def rate(files: Sequence[bytes], rules: Rules | None = None, period: str = PERIOD):
    engine = Engine(rules or default_rules(), period)
    errors = ErrorLog()
    out = list(engine.rate([(io.BytesIO(f), f"f{i}.csv") for i, f in enumerate(files)], errors))
    return out, errors, engine


def facts_rows(account: str, engine: Engine, months: Sequence[MonthFacts | None]) -> list[tuple[str, ...]]:
    """CSV rows for MonthFacts (local dates written as instants at local noon, or bare dates)."""
    zone = engine.rules.zone
    out = []
    for i, f in enumerate(months):
        if f is None:
            continue

        def when(d: date | None, bare: bool) -> str:
            if d is None:
                return ""
            if bare:
                return d.isoformat()
            local = datetime(d.year, d.month, d.day, 12, 0, tzinfo=zone)
            return local.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

        out.append(
            (
                account,
                f.month,
                when(f.reading_date, i % 2 == 0),
                f.reading_channel or "",
                when(f.payment_date, i % 2 == 1),
                f.payment_channel or "",
                "1" if f.registered else "0",
                "да" if f.email_confirmed else "нет",
                "1" if f.paperless else "0",
                f.plan or "",
                ("1" if f.plan_kept else "0") if f.plan else "",
            )
        )
    return out


def day(text: str) -> date:
    return date.fromisoformat(text)


ONE_DAY = timedelta(days=1)


CHANNELS = ["cabinet", "app", "autopay", "bank", "post", ""]


def draft_rules(**changes: Any) -> dict[str, Any]:
    """The default rules as a draft (``draft-v2``) with ``changes`` (``points__paperless=2`` sets
    ``doc["points"]["paperless"]``)."""
    doc = json.loads(default_rules_bytes())
    doc["version"] = "draft-v2"
    for path, value in changes.items():
        node = doc
        keys = path.split("__")
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
    return doc


def random_behaviour(accounts: int, seed: int, period: str = PERIOD) -> bytes:
    """Behaviour rows of ``accounts`` accounts over the six months to ``period``, at random (``seed``)."""
    rng = random.Random(seed)
    rows = []
    for n in range(accounts):
        account = f"{n:06d}"
        for month in window(period, 6):
            if rng.random() < 0.05:
                continue  # a month without data
            y, m = int(month[:4]), int(month[5:])
            nxt = f"{y + (m == 12):04d}-{m % 12 + 1:02d}"
            reading = rng.choice(["", f"{month}-{rng.randint(1, 28):02d}T10:00:00Z"])
            payment = rng.choice(["", f"{month}-{rng.randint(20, 28):02d}T10:00:00Z",
                                  f"{nxt}-{rng.randint(1, 20):02d}T10:00:00Z"])
            plan = rng.choice(["", "", "", "deferral", "instalment"])
            rows.append(row(account, month, reading, rng.choice(CHANNELS[:-1]) if reading else "",
                            payment, rng.choice(CHANNELS[:-1]) if payment else "",
                            rng.choice("01"), rng.choice("01"), rng.choice("01"), plan,
                            rng.choice("01") if plan else ""))
    return csv_bytes(rows)
