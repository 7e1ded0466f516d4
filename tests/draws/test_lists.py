"""The staff list of draws: search, filters by state and kind, pages, a bad filter (both databases)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Flask

from draws.models import Draw
from rewards.db import db
from tests.lists import check_list, get, rows
from tests.support import make_snapshot


def test_the_draw_list_searches_filters_and_pages(app: Flask, logged_in: Any) -> None:
    with app.app_context():
        snap = make_snapshot(db.session, "2026-10", {"1": "ideal"})
        for n in range(60):
            db.session.add(Draw(
                public_id=f"20261001-{n:08x}", name=f"Draw number {n}" if n != 33 else "Осенний розыгрыш",
                kind="quarterly" if n % 2 else "semi-annual", state="published" if n % 10 == 0 else "draft",
                algorithm="test", snapshot_id=snap.id, snapshot_period="2026-10", tier_weights="{}", prizes="[]",
                reserves=0, freeze_at=datetime(2026, 11, 1, tzinfo=UTC), entropy_source="{}",
                yearly_cap_kopecks=0, created_by="test",
            ))
        db.session.commit()
    page = logged_in("auditor")
    check_list(page, "/draws/", "draws", total=60, search=("q=осенний", "Осенний розыгрыш"),
               filters=("state=published", 6), bad="state=won")
    assert "20261001-00000021" in get(page, "/draws/?q=20261001-00000021&kind=quarterly")
    assert "Розыгрыши" in get(page, "/draws/?kind=yearly&lang=ru", 400)
    assert len(rows(get(page, "/draws/?period=2026-10"), "draws")) == 50
    get(page, "/draws/?period=2026-13", 400)
