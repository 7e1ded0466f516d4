"""The list of every priority flag: by account, reason, source and state, a page at a time (both databases)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Flask

from rewards.db import db
from rewards.flags.models import FlagClosure, PriorityFlag
from tests.lists import check_list, get, rows


def test_the_flag_list_searches_filters_and_pages(app: Flask, logged_in: Any) -> None:
    today = date.today()
    with app.app_context():
        for n in range(60):
            tier = n % 5 == 0
            db.session.add(PriorityFlag(
                account=f"{1000 + n}", reason="tier:ideal" if tier else "pensioner", source="tier" if tier else "staff",
                valid_from=today - timedelta(days=40), valid_to=today + timedelta(days=30) if n != 1 else None,
                period="2026-10" if tier else None, created_at=datetime.now(UTC), created_by="test",
            ))
        db.session.flush()
        db.session.add(FlagClosure(flag_id=db.session.query(PriorityFlag.id).filter_by(account="1002").scalar(),
                                   kind="revoked", reason="moved", closed_at=datetime.now(UTC), closed_by="test"))
        db.session.commit()
    page = logged_in("marketing")
    check_list(page, "/flags/list", "flags", total=60, search=("account=10-33", "1033"),
               filters=("source=tier", 12), bad="reason=vip")
    assert len(rows(get(page, "/flags/list?state=closed"), "flags")) == 1
    assert len(rows(get(page, "/flags/list?reason=tier:ideal&state=active"), "flags")) == 12
    assert "/flags/list" in get(page, "/flags/")
    refused = get(page, "/flags/list?account=abc&lang=ru", 400)
    assert "Лицевой счёт" in refused or "Лицевой счет" in refused
