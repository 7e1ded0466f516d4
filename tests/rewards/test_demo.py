"""``flask demo load``: every feature's demo data, once, with an intact event log."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select

from draws.models import Draw
from partners.models import Code
from rewards.audit.services import verify_log
from rewards.auth.models import User
from rewards.db import db
from rewards.flags.models import PriorityFlag
from rewards.snapshots.models import Snapshot


def _counts() -> dict[str, object]:
    return {
        "users": db.session.scalar(select(func.count()).select_from(User)),
        "snapshots": db.session.scalars(select(Snapshot.period).order_by(Snapshot.period)).all(),
        "flags": db.session.scalar(select(func.count()).select_from(PriorityFlag)),
        "codes": db.session.scalar(select(func.count()).select_from(Code)),
        "draws": sorted(db.session.scalars(select(Draw.state))),
    }


def test_demo_load_builds_every_feature_once(app: Flask) -> None:
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo", "load"])
    assert first.exit_code == 0, first.output
    assert "Staff login: marketing / demo-password-1" in first.output
    assert "Partner site key of Горсервис (shown once): rwk_" in first.output
    with app.app_context():
        counts = _counts()
        assert counts["users"] == 3
        assert counts["snapshots"] == ["2026-09", "2026-10"]
        assert counts["flags"] > 4  # tier flags of both months and the staff flags
        assert counts["codes"] > 100
        assert counts["draws"] == ["announced", "published"]
    second = runner.invoke(args=["demo", "load"])
    assert second.exit_code == 0, second.output
    assert "rwk_" not in second.output
    with app.app_context():
        assert _counts() == counts
        report = verify_log(db.session)
        assert report.ok, report.problem
