"""The snapshot read interface other features use: the same rows whichever way a database reads them."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import insert

from rewards.db import db
from rewards.snapshots.models import SnapshotRow
from rewards.snapshots.queries import account_tier_columns, iter_account_tier_batches
from tests.support import make_snapshot

ROWS = {f"{n * 37:07d}": ("ideal", "responsible", "beginner", "promising")[n % 4] for n in range(2_500)}


def _batched(snapshot_id: int, tiers: list[str]) -> tuple[list[str], list[str]]:
    rows = [
        row for batch in iter_account_tier_batches(db.session, snapshot_id, batch=300, tiers=tiers) for row in batch
    ]
    return [a for a, _t in rows], [t for _a, t in rows]


def test_columns_are_the_rows_of_the_named_tiers_in_account_order(app: Flask) -> None:
    with app.app_context():
        snap = make_snapshot(db.session, "2026-04", ROWS)
        other = make_snapshot(db.session, "2026-05", {"0000001": "ideal"})  # another month: never mixed in
        db.session.commit()
        accounts, tiers = account_tier_columns(db.session, snap.id, {"ideal", "responsible"})
        expected = sorted((a, t) for a, t in ROWS.items() if t in ("ideal", "responsible"))
        assert list(zip(accounts, tiers, strict=True)) == expected
        assert (accounts, tiers) == _batched(snap.id, ["ideal", "responsible"])
        assert len({id(t) for t in tiers}) == 2  # one string per tier, not one per row
        assert account_tier_columns(db.session, snap.id, set()) == ([], [])
        assert account_tier_columns(db.session, other.id, {"beginner"}) == ([], [])


def test_a_value_the_database_had_to_escape_reads_the_same(app: Flask) -> None:
    """A backslash and a tab (which PostgreSQL's text formats escape) come back as they were stored."""
    with app.app_context():
        snap = make_snapshot(db.session, "2026-04", {"0000002": "ideal"})
        db.session.execute(insert(SnapshotRow), [{"snapshot_id": snap.id, "account": "00\\01\t", "tier": "ideal"}])
        db.session.commit()
        columns = account_tier_columns(db.session, snap.id, ["ideal"])
        assert columns == (["0000002", "00\\01\t"], ["ideal", "ideal"])


# -- "latest" is the newest non-future period, for every feature (issue 14 item 4) ------------------------------


def _next_month(period: str) -> str:
    year, month = map(int, period.split("-"))
    return f"{year + month // 12}-{month % 12 + 1:02d}"


def test_the_current_period_is_the_local_month() -> None:
    from datetime import UTC, datetime

    from rewards.snapshots.queries import current_period, is_future

    new_year_eve = datetime(2026, 12, 31, 20, 0, tzinfo=UTC)  # already 2027-01-01 01:00 in Yekaterinburg
    assert current_period(new_year_eve, "Asia/Yekaterinburg") == "2027-01"
    assert current_period(new_year_eve, "UTC") == "2026-12"
    assert is_future("2027-02", "2027-01") and not is_future("2027-01", "2027-01")
    assert _next_month("2026-12") == "2027-01" and _next_month("2026-05") == "2026-06"


def test_a_future_snapshot_is_never_the_latest_anywhere(app: Flask) -> None:
    """Dashboard, draws' default, partners, flags' look-up and the account API all read the same latest."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from partners import snapshots as partner_snapshots
    from rewards.flags import services as flags
    from rewards.snapshots import services
    from rewards.snapshots.queries import current_period, latest_snapshot

    with app.app_context():
        now = current_period()
        ahead = _next_month(now)
        current = make_snapshot(db.session, now, {"0000001": "ideal"})
        future = make_snapshot(db.session, ahead, {"0000001": "beginner", "0000002": "ideal"})
        db.session.commit()
        assert latest_snapshot(db.session).id == current.id  # type: ignore[union-attr]
        assert latest_snapshot(db.session, current=ahead).id == future.id  # type: ignore[union-attr]
        assert services.active_for(db.session, None).id == current.id
        assert services.active_for(db.session, ahead).id == future.id  # asked for by name: it is there
        assert partner_snapshots.latest(db.session) == partner_snapshots.SnapshotRef(current.id, now)
        today = datetime.now(ZoneInfo(app.config["TIMEZONE"])).date()
        assert flags.latest_tier(db.session, "0000001", today) == (now, "ideal")
        assert flags.priority_now(db.engine, "0000001", today=today)["tier"] == "ideal"
        assert flags.known_accounts(db.session, ["0000001", "0000002"]) == {"0000001"}
        assert services.account_tier(db.session, "0000001")["period"] == now


def test_only_a_future_snapshot_means_no_latest(app: Flask) -> None:
    from rewards.snapshots.queries import current_period, latest_snapshot

    with app.app_context():
        make_snapshot(db.session, _next_month(current_period()), {"0000001": "ideal"})
        db.session.commit()
        assert latest_snapshot(db.session) is None
