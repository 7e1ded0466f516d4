"""The event log page's filters (action, actor, object, local dates), pages and its CSV export (both databases)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select, update

from rewards.audit.models import Event
from rewards.audit.services import record_event
from rewards.db import db
from tests.lists import check_list, get, rows, total


def _seed(app: Flask) -> None:
    with app.app_context():
        for n in range(60):
            record_event(db.session, "seeder", "draw.announced" if n % 6 == 0 else "thing.done", "draw",
                         f"obj-{n}", {"n": n, "account": f"{n:05d}"})
        db.session.commit()
        ids = db.session.scalars(select(Event.id).where(Event.actor == "seeder").order_by(Event.id)).all()
        start = datetime(2026, 9, 1, tzinfo=UTC)
        when = [start + timedelta(days=n) for n in range(58)]
        # 19:30 UTC is 00:30 the next day in Yekaterinburg (UTC+5): the local day decides.
        when += [datetime(2026, 10, 19, 19, 30, tzinfo=UTC), datetime(2026, 10, 9, 19, 30, tzinfo=UTC)]
        for event_id, at in zip(ids, when, strict=True):
            db.session.execute(update(Event).where(Event.id == event_id).values(at=at))
        db.session.commit()


def test_the_log_filters_and_pages(app: Flask, logged_in: Any) -> None:
    _seed(app)
    page = logged_in("auditor")
    check_list(page, "/audit/?actor=seeder", "events", total=60, search=("object_id=obj-33", "obj-33"),
               filters=("action=draw.", 10), bad="from=2026-02-30", per_page=50)
    dated = get(page, "/audit/?actor=seeder&from=2026-10-10&to=2026-10-19")
    assert total(dated) == 11 and "obj-59" in dated and "obj-58" not in dated
    assert len(rows(get(page, "/audit/?actor=seeder&object_type=draw&from=2026-10-28"), "events")) == 1
    refused = get(page, "/audit/?to=yesterday&lang=ru", 400)
    assert "по: " in refused and "ГГГГ-ММ-ДД" in refused


def test_the_filtered_log_downloads_as_csv_for_excel(app: Flask, logged_in: Any) -> None:
    _seed(app)
    page = logged_in("auditor")
    listed = get(page, "/audit/?actor=seeder&from=2026-10-10&to=2026-10-19")
    assert "/audit/export.csv?actor=seeder&amp;from=2026-10-10&amp;to=2026-10-19" in listed
    response = page.get("/audit/export.csv?actor=seeder&from=2026-10-10&to=2026-10-19&lang=ru")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline=""), delimiter=";"))
    assert lines[0][:5] == ["№", "Время", "Исполнитель", "Действие", "Действие словами"]
    assert len(lines) == 12 and all(len(line) == 9 for line in lines)
    first = lines[1]
    assert first[1] == "2026-10-10T00:30:00+05:00" and first[2] == "seeder" and first[6] == "obj-59"
    assert "00059" in first[7] and "59" in first[7]
    with app.app_context():
        exported = db.session.scalars(select(Event).where(Event.action == "audit.exported")).one()
        assert exported.actor.startswith("auditor-") and '"actor":"seeder"' in exported.details
    assert page.get("/audit/export.csv?from=soon").status_code == 302  # back to the page, which says why
