"""Staff pages: search, set and revoke with full history, bulk upload with the report by line, export."""

from __future__ import annotations

import io
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from rewards.db import db
from tests.rewards.flags.helpers import store_snapshot


def test_account_page_set_change_revoke(app: Flask, logged_in: Callable[[str], FlaskClient]) -> None:
    c = logged_in("marketing")
    page = c.get("/flags/?lang=en")  # the session keeps English for the rest of the test
    assert page.status_code == 200 and "Priority flags" in page.get_data(as_text=True)
    r = c.post("/flags/set", data={"account": "314", "reason": "large_family", "valid_to": "2099-06-30"})
    assert r.status_code == 302
    r = c.post("/flags/set", data={"account": "314", "reason": "large_family", "valid_to": ""})
    assert r.status_code == 302
    html = c.get("/flags/?account=314").get_data(as_text=True)
    assert "30.06.2099" in html and "Flag changed" in html  # the replaced row stays in the history
    r = c.post("/flags/set",
               data={"account": "314", "reason": "hardship", "valid_from": "2030-02-01", "valid_to": "2030-01-01"})
    assert r.status_code == 422 and "before valid_from" in r.get_data(as_text=True)
    r = c.post("/flags/revoke/2", data={"account": "314", "why": "children grew up"})
    assert r.status_code == 302
    r = c.post("/flags/revoke/2", data={"account": "314", "why": "again"})
    assert r.status_code == 409 and "already closed" in r.get_data(as_text=True)
    html = c.get("/flags/?account=314").get_data(as_text=True)
    assert "children grew up" in html and "No priority service today" in html
    assert c.get("/flags/?account=31x").status_code == 422


def test_auditor_reads_only(logged_in: Callable[[str], FlaskClient]) -> None:
    c = logged_in("auditor")
    html = c.get("/flags/?account=1&lang=en").get_data(as_text=True)
    assert "Set or change a flag" not in html and "Bulk upload" not in html
    assert c.post("/flags/set", data={"account": "1", "reason": "pensioner"}).status_code == 403
    assert c.get("/flags/bulk").status_code == 403


def test_bulk_upload_report_and_export(app: Flask, logged_in: Callable[[str], FlaskClient]) -> None:
    with app.app_context():
        store_snapshot(db.session, "2026-01", {"1": "ideal", "2": "beginner"})
        db.session.commit()
    c = logged_in("marketing")
    bad = "account;reason\n1;pensioner\n2;vip\n".encode("cp1251")
    r = c.post("/flags/bulk?lang=en", data={"file": (io.BytesIO(bad), "flags.csv")}, content_type="multipart/form-data")
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "line 3" in html and "unknown reason" in html and "nothing was applied" in html
    good = b"account;reason\n1;pensioner\n2;disability\n"
    r = c.post("/flags/bulk?lang=en", data={"file": (io.BytesIO(good), "flags.csv")},
               content_type="multipart/form-data")
    assert r.status_code == 200 and "Applied 2 line(s)" in r.get_data(as_text=True)
    r = c.get("/flags/export.csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert r.get_data(as_text=True).splitlines() == ["account;reasons;valid_to", "1;pensioner;", "2;disability;"]


def test_the_flag_form_takes_spaced_accounts_and_keeps_the_values(logged_in: Callable[[str], FlaskClient]) -> None:
    c = logged_in("marketing")
    r = c.post("/flags/set", data={"account": "00 31-4", "reason": "pensioner"})
    assert r.status_code == 302 and r.headers["Location"].endswith("account=00314")  # leading zeros kept
    assert "00314" in c.get("/flags/?account=003 14&lang=en").get_data(as_text=True)
    bad = c.post("/flags/set?lang=en", data={"account": "00314", "reason": "pensioner", "valid_from": "someday",
                                             "note": "keep me"})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422 and 'id="valid_from-errors"' in html
    assert 'value="someday"' in html and 'value="keep me"' in html
