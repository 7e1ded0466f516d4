"""Register-of-needs pages: record an entry (consent first), personal data by role, the due list,
bulk upload with the report by line, the partner export."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient

from rewards.db import db
from rewards.flags import services
from rewards.flags.needs import NeedRequest
from rewards.flags.shell import local_today
from tests.rewards.flags.helpers import store_snapshot


def _entry(app: Flask, account: str, *requests: NeedRequest, **kw: object) -> None:
    with app.app_context():
        services.set_needs(db.session, account, list(requests), consent_on=local_today(), consent_channel="office",
                           actor="t", today=local_today(), **kw)  # type: ignore[arg-type]
        db.session.commit()


def test_record_needs_on_the_account_page(app: Flask, logged_in: Callable[[str], FlaskClient]) -> None:
    c = logged_in("marketing")
    c.get("/flags/?lang=en")
    form = {"account": "555", "need": ["pensioner", "young_children"], "consent_channel": "phone",
            "nominee_name": "Мария", "password": "1234"}
    r = c.post("/flags/needs", data=form)
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "consent" in html and 'value="1234"' not in html
    # The refusal stands beside its field; the values typed are kept (never the password).
    assert 'id="consent_on-errors"' in html and 'aria-invalid="true"' in html
    assert 'value="Мария"' in html and 'value="young_children" checked' in html
    assert '<option value="phone" selected>' in html
    r = c.post("/flags/needs", data={**form, "consent_on": "31.02.2026", "nominee_phone": "x" * 40})
    html = r.get_data(as_text=True)  # fields that cannot even be read: every one named at once
    assert r.status_code == 422 and 'id="consent_on-errors"' in html and 'id="nominee_phone-errors"' in html
    with app.app_context():
        day = local_today()
    form["consent_on"] = day.isoformat()
    r = c.post("/flags/needs", data=form)
    assert r.status_code == 422 and "temporary" in r.get_data(as_text=True)
    form["ends_on"] = (day + timedelta(days=10)).isoformat()
    r = c.post("/flags/needs", data=form)
    assert r.status_code == 302
    html = c.get("/flags/?account=555").get_data(as_text=True)
    assert "Register entry saved" in html and "Young children in the home" in html and "Мария" in html
    assert "ends" in html  # the temporary need is due within the window
    auditor = logged_in("auditor")
    html = auditor.get("/flags/?account=555&lang=en").get_data(as_text=True)
    assert "Мария" not in html and "shown to authorised roles only" in html and "Record needs" not in html
    assert auditor.post("/flags/needs", data=form).status_code == 403


def test_due_list_bulk_and_export(app: Flask, logged_in: Callable[[str], FlaskClient]) -> None:
    with app.app_context():
        day = local_today()
        store_snapshot(db.session, day.strftime("%Y-%m"), {"601": "beginner", "602": "beginner"})
        db.session.commit()
    _entry(app, "600", NeedRequest("disability.sight", verify_by=day + timedelta(days=5)), share=True,
           nominee_name="Оля")
    c = logged_in("marketing")
    html = c.get("/flags/due?lang=en").get_data(as_text=True)
    assert "600" in html and "to re-verify" in html
    bad = f"account;needs;consent_on;consent_channel\n601;pensioner;{day};phone\n602;astronaut;{day};phone\n"
    r = c.post("/flags/needs/bulk", data={"file": (io.BytesIO(bad.encode()), "n.csv")},
               content_type="multipart/form-data")
    assert r.status_code == 422 and "line 3" in r.get_data(as_text=True) and "astronaut" in r.get_data(as_text=True)
    good = "\n".join(bad.splitlines()[:2]) + "\n"
    r = c.post("/flags/needs/bulk", data={"file": (io.BytesIO(good.encode()), "n.csv")},
               content_type="multipart/form-data")
    assert r.status_code == 200 and "Applied 1 line(s)" in r.get_data(as_text=True)
    shared = c.get("/flags/needs.csv").get_data(as_text=True).splitlines()
    assert shared[0].endswith("nominee_name;nominee_phone") and len(shared) == 2 and "Оля" in shared[1]
    every = c.get("/flags/needs.csv?consent=any").get_data(as_text=True).splitlines()
    assert [line.split(";")[0] for line in every[1:]] == ["600", "601"]
    auditor_csv = logged_in("auditor").get("/flags/needs.csv").get_data(as_text=True)
    assert "nominee" not in auditor_csv and "Оля" not in auditor_csv
