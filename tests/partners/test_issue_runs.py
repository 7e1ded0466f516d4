"""Bulk issue runs: an event per committed batch, a logged failure, and the budget held against
concurrent on-demand issues (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from partners import snapshots
from partners.models import Code, IssueRun, Offer
from partners.services import issue
from rewards.audit.models import Event
from rewards.db import db
from rewards.errors import DomainError

pytestmark = pytest.mark.usefixtures("backend")

ROWS = [(f"74{i:08d}", t) for i, t in enumerate(["beginner", "promising", "responsible", "ideal"] * 5)]
QUALIFYING = sorted(a for a, t in ROWS if t in {"responsible", "ideal"})  # 10 accounts


def _events(action: str) -> list[dict[str, Any]]:
    rows = db.session.scalars(select(Event).where(Event.action == action).order_by(Event.seq)).all()
    return [json.loads(e.details) for e in rows]


@pytest.fixture
def offer_and_snapshot(make_partner, make_offer, add_snapshot) -> tuple[int, int]:
    """A partner's offer (no budget) and the active snapshot of 2026-10 with ROWS: their ids."""
    p = make_partner()
    return make_offer(p["id"]), add_snapshot("2026-10", ROWS)


def _issue_all(offer_id: int, sid: int, **more: Any) -> IssueRun:
    """Issue the offer's codes for the 2026-10 snapshot in batches of 3, committing each."""
    offer = db.session.get(Offer, offer_id)
    return issue.issue_all(db.session, offer, snapshots.SnapshotRef(sid, "2026-10"), actor="t",
                           commit=db.session.commit, batch_size=3, **more)


def _codes(offer_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(Code).where(Code.offer_id == offer_id)) or 0


def test_each_batch_has_its_event(app: Flask, offer_and_snapshot: tuple[int, int]) -> None:
    offer_id, sid = offer_and_snapshot
    with app.app_context():
        run = _issue_all(offer_id, sid)
        batches = _events("codes.issue_batch")
        assert [(b["run"], b["batch"], b["count"]) for b in batches] == [(run.id, 1, 3), (run.id, 2, 3),
                                                                         (run.id, 3, 3), (run.id, 4, 1)]
        assert [(b["first"], b["last"]) for b in batches] == [
            (QUALIFYING[0], QUALIFYING[2]), (QUALIFYING[3], QUALIFYING[5]),
            (QUALIFYING[6], QUALIFYING[8]), (QUALIFYING[9], QUALIFYING[9]),
        ]
        assert [e["issued"] for e in _events("codes.issued")] == [10]


def test_a_failing_run_keeps_its_batches_logged_and_logs_the_failure(
    app: Flask, offer_and_snapshot: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    offer_id, sid = offer_and_snapshot
    real = issue.insert_codes
    calls = {"n": 0}

    def third_batch_fails(session: Any, rows: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk full")
        real(session, rows)

    monkeypatch.setattr(issue, "insert_codes", third_batch_fails)
    with app.app_context():
        with pytest.raises(RuntimeError):
            _issue_all(offer_id, sid)
        db.session.rollback()
        assert _codes(offer_id) == 6
        assert sum(b["count"] for b in _events("codes.issue_batch")) == 6
        run = db.session.scalars(select(IssueRun)).one()
        assert (run.state, run.issued) == ("failed", 6)
        assert run.finished_at is not None
        assert _events("codes.issue_failed") == [{"run": run.id, "snapshot_id": sid, "issued": 6,
                                                  "error": "RuntimeError"}]
        assert _events("codes.issued") == []
    monkeypatch.setattr(issue, "insert_codes", real)
    with app.app_context():  # a re-run issues only the rest
        again = _issue_all(offer_id, sid)
        assert (again.planned, again.issued, again.state) == (4, 4, "done")
        assert _codes(offer_id) == 10 == sum(b["count"] for b in _events("codes.issue_batch"))


def test_a_killed_run_leaves_no_code_without_its_event(app: Flask, offer_and_snapshot: tuple[int, int]) -> None:
    offer_id, sid = offer_and_snapshot
    with app.app_context():
        offer = db.session.get(Offer, offer_id)
        run = issue.start_run(db.session, offer, snapshots.SnapshotRef(sid, "2026-10"), actor="t")
        db.session.commit()
        batches = issue.run_batches(db.session, run.id, 4)
        next(batches)
        db.session.commit()
        next(batches)  # the process dies here: the second batch is never committed
        batches.close()
        db.session.rollback()
        assert _codes(offer_id) == 4
        assert [b["count"] for b in _events("codes.issue_batch")] == [4]


def test_withdrawing_the_offer_stops_a_run(app: Flask, offer_and_snapshot: tuple[int, int]) -> None:
    from partners.services import catalog

    offer_id, sid = offer_and_snapshot

    def withdraw_after_first(run: IssueRun) -> None:
        if run.issued == 3:
            catalog.withdraw_offer(db.session, db.session.get(Offer, offer_id), actor="t")
            db.session.commit()

    with app.app_context():
        with pytest.raises(DomainError):
            _issue_all(offer_id, sid, progress=withdraw_after_first)
        assert _codes(offer_id) == 3
        assert db.session.scalars(select(IssueRun.state)).one() == "failed"
        assert [e["error"] for e in _events("codes.issue_failed")] == ["the offer is withdrawn"]


def test_budget_holds_against_a_concurrent_on_demand_issue(
    app: Flask, make_partner, make_offer, add_snapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the bulk run's first batch is being written, the cabinet asks for a code in another
    connection (it has to wait for that batch: PostgreSQL's row lock on the offer, SQLite's write
    lock); the run's next batch starts only once the cabinet has its answer. Budget 5, batches of 3."""
    p = make_partner()
    offer_id = make_offer(p["id"], budget=5)
    sid = add_snapshot("2026-10", ROWS)
    outcome: dict[str, Any] = {}

    def on_demand() -> None:
        with app.app_context():
            try:
                offer = db.session.get(Offer, offer_id)
                _code, created = issue.code_for_account(db.session, offer, QUALIFYING[-1], actor="cabinet")
                db.session.commit()
                outcome["created"] = created
            except DomainError as exc:
                db.session.rollback()
                outcome["refused"] = exc.code
            finally:
                db.session.remove()

    real = issue.insert_codes
    worker = threading.Thread(target=on_demand)

    def insert_while_the_cabinet_asks(session: Any, rows: Any) -> None:
        real(session, rows)
        if "started" not in outcome:
            outcome["started"] = True
            worker.start()
            worker.join(timeout=0.5)  # give it time to reach the offer while this batch is open

    def after_first_batch(run: IssueRun) -> None:
        worker.join(timeout=30)  # the cabinet's call ends before the next batch begins
        assert not worker.is_alive()

    monkeypatch.setattr(issue, "insert_codes", insert_while_the_cabinet_asks)
    with app.app_context():
        run = _issue_all(offer_id, sid, progress=after_first_batch)
        assert outcome.get("created") is True, outcome
        assert _codes(offer_id) == 5  # 3 + the cabinet's + 1: never 6
        assert (run.state, run.issued, run.planned, run.skipped_budget) == ("done", 4, 4, 6)


def test_two_bulk_runs_share_one_budget(app: Flask, make_partner, make_offer, add_snapshot, monkeypatch) -> None:
    """A second bulk run (another snapshot) starts while the first is between batches."""
    p = make_partner()
    offer_id = make_offer(p["id"], budget=7)
    sid = add_snapshot("2026-10", ROWS)
    sid2 = add_snapshot("2026-11", [(f"75{i:08d}", "ideal") for i in range(10)])
    second: dict[str, Any] = {}

    def start_the_other(run: IssueRun) -> None:
        if "run" in second:
            return
        second["run"] = True
        offer = db.session.get(Offer, offer_id)
        other = issue.issue_all(db.session, offer, snapshots.SnapshotRef(sid2, "2026-11"), actor="t2",
                                commit=db.session.commit, batch_size=3)
        second["issued"] = other.issued

    with app.app_context():
        offer = db.session.get(Offer, offer_id)
        first = issue.issue_all(db.session, offer, snapshots.SnapshotRef(sid, "2026-10"), actor="t",
                                commit=db.session.commit, progress=start_the_other, batch_size=3)
        assert _codes(offer_id) == 7
        assert first.issued + second["issued"] == 7
        assert first.issued == 3 and first.state == "done"


def test_a_run_whose_process_stopped_shows_interrupted_and_is_closed_by_the_next(
    app: Flask, offer_and_snapshot: tuple[int, int], logged_in
) -> None:
    from datetime import timedelta

    from rewards.db import utcnow

    offer_id, sid = offer_and_snapshot
    with app.app_context():
        offer = db.session.get(Offer, offer_id)
        # a run started, then its process died: still 'running', no progress for longer than STALE_AFTER
        run = issue.start_run(db.session, offer, snapshots.SnapshotRef(sid, "2026-10"), actor="t")
        run.updated_at = utcnow() - issue.STALE_AFTER - timedelta(minutes=1)
        db.session.commit()
        stale_id = run.id
        assert issue.shown_state(run, utcnow()) == "interrupted"
        fresh = db.session.get(IssueRun, stale_id)
        assert issue.shown_state(fresh, fresh.updated_at + timedelta(minutes=1)) == "running"
    client = logged_in("marketing")
    assert client.get(f"/partners/runs/{stale_id}/progress").get_json()["state"] == "interrupted"
    page = client.get(f"/partners/runs/{stale_id}").get_data(as_text=True)
    assert 'data-state="interrupted"' in page and 'http-equiv="refresh"' not in page
    with app.app_context():
        offer = db.session.get(Offer, offer_id)
        issue.issue_all(db.session, offer, snapshots.SnapshotRef(sid, "2026-10"), actor="t", commit=db.session.commit)
        stale = db.session.get(IssueRun, stale_id)
        assert stale.state == "failed" and "interrupted" in (stale.message or "")
        assert [e["run"] for e in _events("codes.issue_failed")] == [stale_id]
        assert _codes(offer_id) == len(QUALIFYING)  # the new run issued everything
