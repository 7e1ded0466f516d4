"""The what-if core: drafts validated by field; re-rating stored facts equals computing from the files."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rewards.rating.behaviour import window
from rewards.rating.rules import RulesError, default_rules, parse_rules
from rewards.rating.whatif import Rerater, Simulation, check_draft, rules_diff, tier_costs
from rewards.tiers import TIERS
from tests.rewards.rating.helpers import PERIOD, draft_rules, random_behaviour, rate


def _bytes(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode()


DRAFTS = [
    draft_rules(points__paperless=2),
    draft_rules(points__payment_early=3, tiers__ideal__min_points=44),
    draft_rules(deadlines__reading_day=20, deadlines__payment_day_next_month=5),
    draft_rules(channels__payment=["cabinet", "app"], hardship__plans=["deferral"]),
    draft_rules(tiers__responsible={"min_points": 20, "every_month": ["payment_on_time"]}),
    draft_rules(window_months=4, tiers__promising={"min_points": 8}, tiers__responsible={"min_points": 16},
           tiers__ideal={"min_points": 27, "every_month": ["reading_on_time"]}),
]


@pytest.mark.parametrize("doc", DRAFTS, ids=[str(i) for i in range(len(DRAFTS))])
def test_what_if_over_stored_facts_equals_computing_from_the_files(doc: dict[str, Any]) -> None:
    files = [random_behaviour(300, seed=7)]
    stored, errors, _ = rate(files)
    assert not errors
    new_rules = parse_rules(_bytes(doc))
    months = set(window(PERIOD, new_rules.window_months))  # a shorter window: the files of its months only
    lines = files[0].decode().splitlines(keepends=True)
    kept = "".join([lines[0], *(line for line in lines[1:] if line.split(";")[1] in months)]).encode()
    expected, errors, _ = rate([kept], new_rules)
    assert not errors
    sim = Simulation(new_rules, default_rules(), PERIOD)
    got = [(account, *sim.add(tier, facts)) for account, tier, _points, facts in stored]
    by_account = {a: (t, p) for a, t, p, _ in expected}
    assert [(a, *by_account.get(a, ("beginner", 0))) for a, _, _ in got] == got
    summary = sim.summary()
    assert summary["accounts"] == 300 and sum(summary["after"].values()) == 300
    assert summary["before"] == {t: sum(1 for _, tier, _, _ in stored if tier == t) for t in TIERS}
    assert summary["after"] == {t: sum(1 for _, tier, _ in got if tier == t) for t in TIERS}
    moved = sum(1 for (_, old, _, _), (_, new, _) in zip(stored, got, strict=True) if old != new)
    assert summary["moved_up"] + summary["moved_down"] == moved
    assert summary["changes"]  # every draft changes something


def test_the_same_rules_move_nobody() -> None:
    stored, _, _ = rate([random_behaviour(200, seed=3)])
    sim = Simulation(default_rules(), default_rules(), PERIOD)
    for _account, tier, points, facts in stored:
        assert sim.add(tier, facts) == (tier, points)
    assert sim.summary()["moved_up"] == sim.summary()["moved_down"] == 0
    assert sim.summary()["changes"] == []


def test_a_longer_window_counts_the_months_without_facts_as_no_data() -> None:
    rules = parse_rules(_bytes(draft_rules(window_months=8)))
    rerater = Rerater(*(_engines(rules)))
    assert rerater.missing_months == ["2026-03", "2026-04"]
    stored, _, _ = rate([random_behaviour(20, seed=1)])
    # Two months with no data: nobody meets an every-month requirement, so nobody is ideal.
    assert all(rerater.rate(facts)[0] != "ideal" for _, _, _, facts in stored)


def _engines(rules: Any) -> tuple[Any, Any]:
    from rewards.rating.engine import Engine

    return Engine(rules, PERIOD), Engine(default_rules(), PERIOD)


@pytest.mark.parametrize(
    ("doc", "path"),
    [
        (draft_rules(points__loyalty=3), "rules.points.loyalty"),  # an unknown rule
        (draft_rules(tiers__promising__min_points=-1), "rules.tiers.promising.min_points"),  # a negative threshold
        (draft_rules(points__paperless=-2), "rules.points.paperless"),
        (draft_rules(tiers__responsible__min_points=12), "rules.tiers.responsible.min_points"),  # overlaps promising
        (draft_rules(tiers__ideal__min_points=1000), "rules.tiers.ideal.min_points"),  # above 6 x 8 points
        (draft_rules(channels__reading=[], tiers__ideal__min_points=30), "rules.tiers.ideal.every_month"),
    ],
    ids=["unknown-rule", "negative-threshold", "negative-points", "overlapping", "unreachable-points",
         "unreachable-requirement"],
)
def test_bad_drafts_are_refused_naming_the_field(doc: dict[str, Any], path: str) -> None:
    with pytest.raises(RulesError) as info:
        check_draft(_bytes(doc))
    assert info.value.params["path"] == path
    assert str(info.value).startswith(path)


def test_reachable_edge_cases_are_accepted() -> None:
    # 8 points a month x 6 months = 48: exactly reachable.
    assert check_draft(_bytes(draft_rules(tiers__ideal__min_points=48))).tiers[-1].min_points == 48
    # The same threshold with a stricter monthly requirement does not overlap.
    doc = draft_rules(tiers__responsible={"min_points": 12, "every_month": ["registered"]})
    assert check_draft(_bytes(doc)).tiers[2].every_month == ("registered",)
    # No payment channel, but a kept hardship plan can still credit payment criteria.
    doc = draft_rules(channels__payment=[], tiers__ideal__min_points=30)
    assert check_draft(_bytes(doc)).payment_channels == frozenset()


def test_rules_diff_and_costs() -> None:
    new = parse_rules(_bytes(draft_rules(points__paperless=2, tiers__ideal__min_points=44)))
    diff = {d["field"]: (d["old"], d["new"]) for d in rules_diff(default_rules(), new)}
    assert diff == {"points.paperless": (1, 2), "tiers.ideal.min_points": (40, 44)}
    counts = {"beginner": 10, "promising": 5, "responsible": 3, "ideal": 2}
    assert tier_costs(counts, {"beginner": 0, "promising": 1, "responsible": 2, "ideal": 4}) == (10, 19)
