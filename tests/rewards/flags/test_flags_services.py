"""Flag use cases on both engines: tiers with grace, staff flags, history, bulk files, events."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from rewards.audit.models import Event
from rewards.db import db
from rewards.errors import Conflict
from rewards.flags import services
from rewards.flags.models import FlagClosure, PriorityFlag
from tests.rewards.flags.helpers import TODAY, store_snapshot


@pytest.fixture
def ctx(app: Flask) -> Any:
    with app.app_context():
        yield db.session
        db.session.rollback()


def _reasons(session: Any, account: str, day: date) -> dict[str, date | None]:
    answer = services.priority_of(session, account, today=day)
    assert answer["priority"] == bool(answer["reasons"])
    return {r["reason"]: r["valid_to"] for r in answer["reasons"]}


def _apply(session: Any, period: str, rows: dict[str, str], **kw: Any) -> services.TierResult:
    store_snapshot(session, period, rows)
    result = services.apply_tier_flags(session, period, rows.items(), actor="snapshots", **kw)
    session.commit()
    return result


def test_grace_period_across_two_snapshots(ctx: Any) -> None:
    s = ctx
    first = _apply(s, "2026-01", {"100": "ideal", "200": "ideal", "300": "responsible"})
    assert (first.accounts_in_tiers, first.added, first.closed) == (2, 2, 0)
    assert first.valid_to == date(2026, 3, 31)
    # February's snapshot: 200 dropped out, 300 came in
    second = _apply(s, "2026-02", {"100": "ideal", "200": "promising", "300": "ideal"})
    assert (second.added, second.closed) == (2, 0)
    # 200 keeps the January flag to the end of its grace, then loses it
    assert _reasons(s, "200", date(2026, 3, 31)) == {"tier:ideal": date(2026, 3, 31)}
    assert _reasons(s, "200", date(2026, 4, 1)) == {}
    # 100 is covered without a gap, and the answer shows the longest of its tier flags
    for day in (date(2026, 1, 1), date(2026, 2, 15), date(2026, 3, 31), date(2026, 4, 30)):
        assert "tier:ideal" in _reasons(s, "100", day), day
    assert _reasons(s, "100", date(2026, 3, 1)) == {"tier:ideal": date(2026, 4, 30)}
    assert _reasons(s, "100", date(2026, 5, 1)) == {}
    # 300 never had priority in January
    assert _reasons(s, "300", date(2026, 1, 20)) == {}
    answer = services.priority_of(s, "300", today=date(2026, 2, 20))
    assert (answer["tier"], answer["tier_period"]) == ("ideal", "2026-02")
    assert services.priority_of(s, "200", today=date(2026, 2, 20))["tier"] == "promising"


def test_tiers_and_grace_are_arguments(ctx: Any) -> None:
    result = _apply(ctx, "2026-01", {"1": "ideal", "2": "responsible", "3": "beginner"}, tiers=("ideal", "responsible"),
                    grace_months=0)
    assert (result.accounts_in_tiers, result.valid_to) == (2, date(2026, 2, 28))
    assert _reasons(ctx, "2", date(2026, 2, 1)) == {"tier:responsible": date(2026, 2, 28)}


def test_reapplying_a_period_is_idempotent_and_closes_dropped_accounts(ctx: Any) -> None:
    s = ctx
    _apply(s, "2026-01", {"1": "ideal", "2": "ideal", "3": "ideal"})
    again = _apply(s, "2026-01", {"1": "ideal", "2": "ideal", "3": "ideal"})
    assert (again.added, again.closed) == (0, 0)
    # a replaced snapshot of January drops 2; 2 comes back in a third version
    assert (_apply(s, "2026-01", {"1": "ideal", "2": "beginner", "3": "ideal"}).closed) == 1
    assert _reasons(s, "2", date(2026, 1, 20)) == {}
    assert (_apply(s, "2026-01", {"1": "ideal", "2": "ideal", "3": "ideal"}).added) == 1
    assert _reasons(s, "2", date(2026, 1, 20)) == {"tier:ideal": date(2026, 3, 31)}
    # a tier flag staff revoked stays revoked on a re-run of its period
    flag_id = services.priority_of(s, "3", today=date(2026, 1, 20))["reasons"][0]["flag_id"]
    services.revoke_flag(s, flag_id, "fraudulent readings", actor="staff", today=date(2026, 1, 20))
    s.commit()
    assert _apply(s, "2026-01", {"1": "ideal", "2": "ideal", "3": "ideal"}).added == 0
    assert _reasons(s, "3", date(2026, 1, 20)) == {}
    # nothing was ever updated or deleted: 2 has both of its January rows
    assert s.scalar(select(func.count()).select_from(PriorityFlag).where(PriorityFlag.account == "2")) == 2


def test_manual_and_derived_flags_on_one_account(ctx: Any) -> None:
    s = ctx
    _apply(s, "2026-02", {"500": "ideal"})
    services.set_flag(s, "500", "pensioner", actor="anna", today=TODAY)
    services.set_flag(s, "500", "hardship", valid_to=date(2026, 6, 30), actor="anna", today=TODAY)
    s.commit()
    assert _reasons(s, "500", TODAY) == {"hardship": date(2026, 6, 30), "pensioner": None,
                                         "tier:ideal": date(2026, 4, 30)}
    # after the tier flag ends, the pensioner flag still gives priority; revoking it leaves hardship
    assert _reasons(s, "500", date(2026, 5, 1)) == {"hardship": date(2026, 6, 30), "pensioner": None}
    pensioner = next(r for r in services.priority_of(s, "500", today=TODAY)["reasons"] if r["reason"] == "pensioner")
    services.revoke_flag(s, pensioner["flag_id"], "moved away", actor="anna", today=TODAY)
    s.commit()
    assert _reasons(s, "500", date(2026, 5, 1)) == {"hardship": date(2026, 6, 30)}
    assert _reasons(s, "500", date(2026, 7, 1)) == {}
    # a new tier snapshot does not touch staff flags
    _apply(s, "2026-03", {"500": "beginner"})
    assert _reasons(s, "500", TODAY) == {"hardship": date(2026, 6, 30), "tier:ideal": date(2026, 4, 30)}


def test_history_after_several_changes(ctx: Any) -> None:
    s = ctx
    a = services.set_flag(s, "42", "disability", valid_to=date(2026, 12, 31), actor="anna", today=TODAY)
    same = services.set_flag(s, "42", "disability", valid_to=date(2026, 12, 31), actor="boris", today=TODAY)
    b = services.set_flag(s, "42", "disability", actor="boris", today=TODAY)  # open-ended now
    c = services.set_flag(s, "42", "other", note="blind, talks slowly", actor="boris", today=TODAY)
    s.commit()
    assert (a.status, same.status, b.status, c.status) == ("created", "unchanged", "replaced", "created")
    assert b.closed_id == a.flag_id and same.flag_id == a.flag_id
    services.revoke_flag(s, c.flag_id, "set by mistake", actor="vera", today=TODAY)  # type: ignore[arg-type]
    s.commit()
    rows = services.history(s, "42")
    assert [(r["id"], r["reason"], r["closed_kind"], services.state_of(r, TODAY)) for r in rows] == [
        (c.flag_id, "other", "revoked", "closed"),
        (b.flag_id, "disability", None, "active"),
        (a.flag_id, "disability", "replaced", "closed"),
    ]
    assert rows[0]["closed_reason"] == "set by mistake" and rows[0]["closed_by"] == "vera"
    assert rows[1]["replaces_id"] == a.flag_id and rows[1]["created_by"] == "boris"
    assert rows[2]["valid_to"] == date(2026, 12, 31)  # the old row is as it was
    actions = s.scalars(select(Event.action).where(Event.object_id == "42").order_by(Event.seq)).all()
    assert actions == ["flags.set", "flags.set", "flags.set", "flags.revoked"]


def test_bad_input_changes_nothing(ctx: Any) -> None:
    s = ctx
    flag = services.set_flag(s, "7", "pensioner", actor="anna", today=TODAY)
    s.commit()
    before = (s.scalar(select(func.count()).select_from(PriorityFlag)),
              s.scalar(select(func.count()).select_from(Event)))
    with pytest.raises(services.FlagError, match="unknown reason"):
        services.set_flag(s, "7", "vip", actor="anna", today=TODAY)
    with pytest.raises(services.FlagError) as err:
        services.set_flag(s, "7", "hardship", valid_from=date(2026, 4, 1), valid_to=date(2026, 3, 1), actor="anna",
                          today=TODAY)
    assert err.value.error_details() == {"valid_to": [err.value.message]}
    with pytest.raises(services.FlagError, match="needs a note"):
        services.set_flag(s, "7", "other", actor="anna", today=TODAY)
    services.revoke_flag(s, flag.flag_id, "deceased", actor="anna", today=TODAY)  # type: ignore[arg-type]
    s.commit()
    with pytest.raises(services.FlagClosed, match="already closed") as closed:
        services.revoke_flag(s, flag.flag_id, "again", actor="anna", today=TODAY)  # type: ignore[arg-type]
    assert (closed.value.status, closed.value.code) == (409, "already_closed")
    with pytest.raises(services.FlagError, match="reason"):
        services.revoke_flag(s, flag.flag_id, " ", actor="anna", today=TODAY)  # type: ignore[arg-type]
    s.rollback()
    assert s.scalar(select(func.count()).select_from(PriorityFlag)) == before[0]
    assert s.scalar(select(func.count()).select_from(FlagClosure)) == 1
    assert s.scalar(select(func.count()).select_from(Event)) == before[1] + 1


def test_an_ended_flag_cannot_be_revoked(ctx: Any) -> None:
    flag = services.set_flag(ctx, "8", "hardship", valid_from=date(2026, 1, 1), valid_to=date(2026, 2, 1), actor="a",
                             today=TODAY)
    with pytest.raises(Conflict) as err:
        services.revoke_flag(ctx, flag.flag_id, "late", actor="a", today=TODAY)  # type: ignore[arg-type]
    assert err.value.code == "expired"


BULK = (
    "account;reason;valid_from;valid_to;note;action\n"
    "1001;pensioner;;;;\n"
    "1002;large_family;2026-03-01;2027-02-28;;\n"
    "1003;other;;;carer of a disabled child;\n"
)


def test_bulk_file_applies_all(ctx: Any) -> None:
    s = ctx
    store_snapshot(s, "2026-02", {"1001": "beginner", "1002": "ideal", "1003": "promising"})
    result = services.apply_bulk(s, BULK.encode("cp1251"), actor="anna", today=TODAY, source_name="f.csv")
    s.commit()
    assert (result.lines, result.created, result.encoding) == (3, 3, "utf-8")
    assert _reasons(s, "1002", TODAY) == {"large_family": date(2027, 2, 28)}
    # the same file again changes nothing; a revocation line closes one flag
    again = services.apply_bulk(s, BULK.encode(), actor="anna", today=TODAY)
    assert (again.unchanged, again.created) == (3, 0)
    revoke = "account;reason;note;action\n1001;pensioner;died;revoke\n"
    assert services.apply_bulk(s, revoke.encode(), actor="anna", today=TODAY).revoked == 1
    s.commit()
    assert _reasons(s, "1001", TODAY) == {}
    events = s.scalars(select(Event.action).where(Event.action == "flags.bulk_applied")).all()
    assert len(events) == 3


def test_bulk_file_with_one_bad_line_applies_nothing(ctx: Any) -> None:
    s = ctx
    store_snapshot(s, "2026-02", {"1001": "beginner", "1002": "ideal", "1003": "promising"})
    s.commit()
    flags_before = s.scalar(select(func.count()).select_from(PriorityFlag))
    events_before = s.scalar(select(func.count()).select_from(Event))
    for bad_line, expected in [
        ("1004;pensioner;;;;", "not in the latest snapshot"),
        ("1003;vip;;;;", "unknown reason"),
        ("1003;hardship;2026-05-01;2026-04-01;;", "before valid_from"),
        ("1003;hardship;;;;revoke", "needs|give a reason"),
        ("1003;hardship;;;gone;revoke", "no open flag"),
    ]:
        data = (BULK + bad_line + "\n").encode()
        with pytest.raises(services.FlagError) as err:
            services.apply_bulk(s, data, actor="anna", today=TODAY)
        s.rollback()
        assert list(err.value.error_details()) == ["line 5"], bad_line
        import re

        assert re.search(expected, err.value.error_details()["line 5"][0]), (bad_line, err.value.error_details())
    assert s.scalar(select(func.count()).select_from(PriorityFlag)) == flags_before
    assert s.scalar(select(func.count()).select_from(Event)) == events_before


def test_bulk_needs_a_snapshot(ctx: Any) -> None:
    with pytest.raises(services.FlagError) as err:
        services.apply_bulk(ctx, BULK.encode(), actor="anna", today=TODAY)
    assert sorted(err.value.error_details()) == ["line 2", "line 3", "line 4"]


def test_export(ctx: Any) -> None:
    s = ctx
    _apply(s, "2026-02", {"2": "ideal", "3": "ideal"})
    services.set_flag(s, "1", "pensioner", actor="a", today=TODAY)
    services.set_flag(s, "2", "hardship", valid_to=date(2026, 12, 31), actor="a", today=TODAY)
    services.set_flag(s, "3", "disability", actor="a", today=TODAY)
    services.set_flag(s, "4", "hardship", valid_from=date(2026, 4, 1), actor="a", today=TODAY)  # not yet
    s.commit()
    assert list(services.export_rows(s, today=TODAY)) == [
        ("1", ["pensioner"], None),
        ("2", ["hardship", "tier:ideal"], date(2026, 12, 31)),
        ("3", ["disability", "tier:ideal"], None),
    ]
    text = "".join(services.export_csv(s, today=TODAY))
    assert text.splitlines()[:3] == ["account;reasons;valid_to", "1;pensioner;", "2;hardship,tier:ideal;2026-12-31"]


def test_apply_latest_snapshot(ctx: Any) -> None:
    store_snapshot(ctx, "2026-02", {"1": "ideal", "2": "beginner"})
    result = services.apply_latest_snapshot(ctx, actor="cli", tiers=("ideal",), grace_months=1)
    assert (result.period, result.added) == ("2026-02", 1)


def test_tier_input_may_read_from_the_same_session(ctx: Any) -> None:
    """The snapshot services may pass rows they read from this session (batches between writes)."""
    from rewards.flags import services as svc
    from rewards.snapshots import queries

    snap = store_snapshot(ctx, "2026-02", {f"{i:05d}": ("ideal" if i % 2 else "beginner") for i in range(120)})
    old = svc._LOAD_BATCH
    try:
        svc._LOAD_BATCH = 7
        rows = ((a, t) for a, t, _p in queries.iter_rows(ctx, snap.id, batch=5))
        result = svc.apply_tier_flags(ctx, "2026-02", rows, actor="t")
    finally:
        svc._LOAD_BATCH = old
    assert (result.accounts_in_tiers, result.added) == (60, 60)


@pytest.mark.parametrize("as_query", [False, True], ids=["rows", "query"])
def test_a_query_of_the_snapshot_gives_what_its_rows_give(ctx: Any, as_query: bool) -> None:
    """The import passes a query (filled inside the database); rows read in Python give the same flags."""
    from rewards.snapshots import queries

    results = []
    for tiers in ({"1": "ideal", "2": "ideal", "3": "responsible", "4": "beginner"},
                  {"1": "ideal", "2": "beginner", "3": "responsible", "4": "ideal"}):
        snap = store_snapshot(ctx, "2026-01", tiers)
        rows = queries.snapshot_tiers(snap.id) if as_query else tiers.items()
        result = services.apply_tier_flags(ctx, "2026-01", rows, actor="t", tiers=("ideal", "responsible"))
        ctx.commit()
        results.append((result.accounts_in_tiers, result.added, result.closed))
    assert results == [(3, 3, 0), (3, 1, 1)]
    assert _reasons(ctx, "2", date(2026, 1, 20)) == {}
    assert _reasons(ctx, "3", date(2026, 1, 20)) == {"tier:responsible": date(2026, 3, 31)}
    assert _reasons(ctx, "4", date(2026, 1, 20)) == {"tier:ideal": date(2026, 3, 31)}
