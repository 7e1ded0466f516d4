"""Properties of the rating engine (hypothesis).

- Making any one criterion worse in any one month never gives a higher tier (or more points).
- A hardship month whose plan was kept never gives a lower tier than the same month paid on time.
- The bulk path (CSV reader that scores while parsing) and the explanation path agree.
"""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rewards.rating.engine import Engine, MonthFacts
from rewards.rating.rules import CHANNELS, default_rules
from rewards.tiers import TIER_RANK
from tests.rewards.rating.helpers import PERIOD, csv_bytes, facts_rows, rate

RULES = default_rules()
ENGINE = Engine(RULES, PERIOD)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _month_facts(month: str) -> st.SearchStrategy[MonthFacts | None]:
    first = date(int(month[:4]), int(month[5:]), 1)
    dates = st.one_of(st.none(), st.integers(-5, 45).map(lambda d: first + timedelta(days=d)))
    plans = st.sampled_from([None, None, "deferral", "instalment"])
    facts = st.builds(
        MonthFacts,
        month=st.just(month),
        reading_date=dates,
        reading_channel=st.sampled_from(CHANNELS),
        payment_date=dates,
        payment_channel=st.sampled_from(CHANNELS),
        registered=st.booleans(),
        email_confirmed=st.booleans(),
        paperless=st.booleans(),
        plan=plans,
        plan_kept=st.booleans(),
    ).map(_normalise)
    return st.one_of(st.none(), facts, facts, facts)


def _normalise(f: MonthFacts) -> MonthFacts:
    """No channel without a date, no kept flag without a plan: what the reader would accept."""
    return dataclasses.replace(
        f,
        reading_channel=f.reading_channel if f.reading_date else None,
        payment_channel=f.payment_channel if f.payment_date else None,
        plan_kept=f.plan_kept if f.plan else False,
    )


ACCOUNTS = st.tuples(*(_month_facts(m) for m in ENGINE.months)).map(list)

WORSEN = [
    "reading_later",
    "reading_removed",
    "reading_channel",
    "payment_later",
    "payment_removed",
    "payment_channel",
    "unregistered",
    "email",
    "paper",
    "plan_broken",
    "plan_removed",
    "month_removed",
]


def _worsen(f: MonthFacts, how: str, days: int) -> MonthFacts | None:
    r = dataclasses.replace
    if how == "reading_later" and f.reading_date:
        return r(f, reading_date=f.reading_date + timedelta(days=days))
    if how == "reading_removed":
        return r(f, reading_date=None, reading_channel=None)
    if how == "reading_channel" and f.reading_date:
        return r(f, reading_channel="bank")
    if how == "payment_later" and f.payment_date:
        return r(f, payment_date=f.payment_date + timedelta(days=days))
    if how == "payment_removed":
        return r(f, payment_date=None, payment_channel=None)
    if how == "payment_channel" and f.payment_date:
        return r(f, payment_channel="agent")
    if how == "unregistered":
        return r(f, registered=False)
    if how == "email":
        return r(f, email_confirmed=False)
    if how == "paper":
        return r(f, paperless=False)
    if how == "plan_broken":
        return r(f, plan_kept=False)
    if how == "plan_removed":
        return r(f, plan=None, plan_kept=False)
    if how == "month_removed":
        return None
    return f


def _bulk(months: list[MonthFacts | None]) -> tuple[str, int]:
    rows = facts_rows("0000000001", ENGINE, months)
    if not rows:
        return "beginner", 0
    out, errors, _ = rate([csv_bytes(rows)])
    assert not errors, errors.as_dict()
    return out[0][1], out[0][2]


@SETTINGS
@given(ACCOUNTS, st.integers(0, 5), st.sampled_from(WORSEN), st.integers(1, 40))
def test_a_worse_criterion_never_raises_the_tier(months, index, how, days):
    before = ENGINE.rate_facts(months)
    worse = list(months)
    if worse[index] is None:
        return
    worse[index] = _worsen(worse[index], how, days)
    after = ENGINE.rate_facts(worse)
    assert TIER_RANK[after[0]] <= TIER_RANK[before[0]]
    assert after[1] <= before[1]
    assert _bulk(worse) == after[:2]


@SETTINGS
@given(
    ACCOUNTS,
    st.integers(0, 5),
    st.sampled_from(["deferral", "instalment"]),
    st.integers(-10, 40),
    st.sampled_from(sorted(RULES.payment_channels)),
)
def test_a_kept_hardship_plan_never_lowers_the_tier(months, index, plan, paid_day, channel):
    base = months[index] or MonthFacts(month=ENGINE.months[index])
    first = date.fromordinal(ENGINE.month_start[index])
    deadline = date.fromordinal(ENGINE.payment_deadline[index])
    paid = min(first + timedelta(days=paid_day), deadline)
    on_time = list(months)
    on_time[index] = dataclasses.replace(
        base, payment_date=paid, payment_channel=channel, plan=None, plan_kept=False
    )
    hardship = list(months)
    hardship[index] = dataclasses.replace(
        base, payment_date=None, payment_channel=None, plan=plan, plan_kept=True
    )
    paid_tier, paid_points, _ = ENGINE.rate_facts(on_time)
    plan_tier, plan_points, _ = ENGINE.rate_facts(hardship)
    assert TIER_RANK[plan_tier] >= TIER_RANK[paid_tier]
    assert plan_points >= paid_points
    assert _bulk(hardship) == (plan_tier, plan_points)


@SETTINGS
@given(ACCOUNTS)
def test_bulk_and_explanation_paths_agree_and_facts_round_trip(months):
    tier, points, _ = ENGINE.rate_facts(months)
    rows = facts_rows("0000000001", ENGINE, months)
    if not rows:
        return
    out, errors, _ = rate([csv_bytes(rows)])
    assert not errors
    account, bulk_tier, bulk_points, facts = out[0]
    assert (bulk_tier, bulk_points) == (tier, points)
    assert ENGINE.decode(facts) == months
    assert ENGINE.encode(months) == facts
