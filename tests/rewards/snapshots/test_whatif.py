"""What-if, drafts and published rule versions on both databases."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from rewards.audit.models import Event
from rewards.db import db
from rewards.errors import Conflict, DomainError
from rewards.rating.rules import default_rules_bytes
from rewards.snapshots import services, whatif
from rewards.snapshots.models import RulesDraft, RulesVersion
from rewards.snapshots.queries import iter_rows
from rewards.snapshots.signals import what_if_costs
from tests.rewards.rating.helpers import draft_rules, random_behaviour

IMPORTED = b"account;tier;points\n0001;ideal;41\n0002;beginner;3\n"


def _rules(**changes: Any) -> bytes:
    return json.dumps(draft_rules(**changes)).encode()


def _compute(period: str = "2026-10", rules: bytes | None = None, replace: bool = False, accounts: int = 120) -> Any:
    return services.compute_snapshot(
        db.session, [(io.BytesIO(random_behaviour(accounts, seed=11, period=period)), "b.csv")], period=period,
        actor="tester",
        rules_bytes=rules, replace=replace,
    ).snapshot


def test_what_if_matches_a_recompute_with_the_draft_and_writes_nothing(app: Flask) -> None:
    draft = _rules(points__paperless=3, tiers__ideal__min_points=46)
    with app.app_context():
        snap = _compute()
        db.session.commit()
        events = db.session.scalar(select(func.count()).select_from(Event))
        changed: list[tuple[str, str, str, int | None, int]] = []
        result = whatif.what_if(db.session, snap.id, draft, changed=lambda *row: changed.append(row))
        assert db.session.scalar(select(func.count()).select_from(Event)) == events
        before = {a: t for a, t, _ in iter_rows(db.session, snap.id)}
        # The oracle: compute the month again from the behaviour files with the draft.
        redo = _compute(rules=draft, replace=True)
        after = {a: (t, p) for a, t, p in iter_rows(db.session, redo.id)}
        assert changed == [(a, before[a], after[a][0], p, after[a][1])
                           for a, _t, p in iter_rows(db.session, snap.id) if before[a] != after[a][0]]
        assert changed, "the draft should move someone"
        assert result["after"] == services.tier_counts(redo) and result["before"] == services.tier_counts(snap)
        assert result["accounts"] == 120 and result["snapshot"]["id"] == snap.id
        assert {c["field"] for c in result["changes"]} == {"points.paperless", "tiers.ideal.min_points"}
        assert sum(sum(r.values()) for r in result["matrix"].values()) == 120


def test_a_what_if_on_an_imported_snapshot_needs_month_facts(app: Flask) -> None:
    with app.app_context():
        snap = services.import_snapshot(db.session, io.BytesIO(IMPORTED), period="2026-10", source_name="x.csv",
                                        actor="t").snapshot
        with pytest.raises(whatif.NeedsFacts, match="needs month facts") as info:
            whatif.what_if(db.session, snap.id, default_rules_bytes())
        assert info.value.code == "needs_facts" and info.value.field == "snapshot"


def test_costs_come_from_the_features_that_answer(app: Flask) -> None:
    def receiver(_session: Any, period: str, before: dict[str, int], after: dict[str, int]) -> list[dict[str, Any]]:
        return [{"source": "test", "item": period, "measure": "qualifying", "before": before["ideal"],
                 "after": after["ideal"]}]

    with app.app_context():
        snap = _compute(accounts=40)
        what_if_costs.connect(receiver)
        try:
            result = whatif.what_if(db.session, snap.id, _rules(tiers__ideal__min_points=48))
        finally:
            what_if_costs.disconnect(receiver)
        mine = [c for c in result["costs"] if c["source"] == "test"]
        assert mine == [{"source": "test", "item": "2026-10", "measure": "qualifying",
                         "before": result["before"]["ideal"], "after": result["after"]["ideal"]}]


def test_drafts_are_stored_with_author_and_refused_by_field(app: Flask) -> None:
    with app.app_context():
        draft = whatif.save_draft(db.session, _rules(points__paperless=2), name="Paperless x2", actor="marketing")
        db.session.commit()
        assert draft.created_by == "marketing" and draft.version == "draft-v2"
        whatif.save_draft(db.session, _rules(points__paperless=3), name="Paperless x3", actor="boss",
                          draft_id=draft.id)
        db.session.commit()
        assert (draft.updated_by, json.loads(draft.content)["points"]["paperless"]) == ("boss", 3)
        for bad, field in [(_rules(points__bonus=1), "rules.points.bonus"),
                           (_rules(tiers__ideal__min_points=-5), "rules.tiers.ideal.min_points"),
                           (_rules(tiers__ideal__min_points=24, tiers__ideal__every_month=[]),
                            "rules.tiers.ideal.min_points"),
                           (_rules(tiers__ideal__min_points=49), "rules.tiers.ideal.min_points")]:
            with pytest.raises(DomainError) as info:
                whatif.save_draft(db.session, bad, name="bad", actor="m")
            assert info.value.field == field and info.value.code == "bad_rules"
            db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(RulesDraft)) == 1
        actions = db.session.scalars(select(Event.action).where(Event.object_type == "rules_draft")).all()
        assert sorted(actions) == ["rules.draft_created", "rules.draft_saved"]


def test_one_account_old_and_new_side_by_side(app: Flask) -> None:
    with app.app_context():
        snap = _compute(accounts=30)
        result_rows = {a: t for a, t, _ in iter_rows(db.session, snap.id)}
        account = next(a for a, t in result_rows.items() if t != "beginner")
        doc = whatif.explain_difference(db.session, snap.id, _rules(tiers__promising__min_points=46,
                                                                    tiers__responsible__min_points=47,
                                                                    tiers__ideal__min_points=48), account, "ru")
        assert doc["old"]["tier"] == result_rows[account] and doc["old"]["rules_version"] == "default-v1"
        assert doc["new"]["rules_version"] == "draft-v2" and doc["moved"] <= 0
        assert doc["old"]["points"] == doc["new"]["points"]  # the same points, higher thresholds
        assert doc["new"]["months"][0]["criteria"][0]["reason"]  # in words (Russian)


def test_a_published_version_rates_its_month_and_later_ones(app: Flask) -> None:
    strict = _rules(tiers__ideal__min_points=46)
    with app.app_context():
        early = _compute("2026-10")
        version = whatif.publish_version(db.session, strict, effective_from="2026-11", actor="marketing")
        db.session.commit()
        assert _compute("2026-11").rules_version == "draft-v2"
        assert _compute("2026-12").rules_version == "draft-v2"
        assert _compute("2026-10", replace=True).rules_version == "default-v1"  # before it: the default
        assert early.rules_version == "default-v1"
        event = db.session.scalars(select(Event).where(Event.action == "rules.published")).one()
        details = json.loads(event.details)
        assert (event.actor, details["sha256"], details["effective_from"]) == ("marketing", version.sha256, "2026-11")
        assert services.account_tier(db.session, "000001", "2026-12")["rules_version"] == "draft-v2"
        with pytest.raises(Conflict):
            whatif.publish_version(db.session, strict, effective_from="2026-11", actor="m")
        db.session.rollback()
        with pytest.raises(DomainError) as info:
            whatif.publish_version(db.session, _rules(points__x=1), effective_from="2027-01", actor="m")
        assert info.value.field == "rules.points.x"
        db.session.rollback()
        assert [v.effective_from for v in whatif.list_versions(db.session)] == ["2026-11"]
        assert db.session.scalar(select(func.count()).select_from(RulesVersion)) == 1
