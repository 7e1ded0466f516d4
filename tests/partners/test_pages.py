"""Staff pages of the partners feature: forms, refusals, 404s, the CSV export (a POST), Russian."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from partners.models import IssueRun, Offer, Partner
from rewards.audit.models import Event
from rewards.db import db

pytestmark = pytest.mark.usefixtures("backend")

ROWS = [(f"74{i:08d}", t) for i, t in enumerate(["beginner", "promising", "responsible", "ideal"] * 5)]


def _events(action: str) -> list[Event]:
    return list(db.session.scalars(select(Event).where(Event.action == action).order_by(Event.seq)))


def _flashes(client: Any) -> list[tuple[str, str]]:
    with client.session_transaction() as s:
        return list(s.get("_flashes", []))


def test_export_is_a_post_that_records_who_exported(app: Flask, logged_in, make_partner, make_offer, add_snapshot,
                                                     issue_codes) -> None:
    p = make_partner()
    offer_id = make_offer(p["id"])
    codes = issue_codes(offer_id, add_snapshot("2026-10", ROWS))
    c = logged_in("marketing")
    url = f"/partners/offers/{offer_id}/codes.csv"
    assert c.get(url).status_code == 405  # a GET never writes
    with app.app_context():
        assert _events("codes.exported") == []
    r = c.post(url)
    assert r.status_code == 200 and r.mimetype == "text/csv"
    lines = r.get_data(as_text=True).split("\r\n")
    assert lines[0] == "account;tier;code;issued_at;state"
    assert sorted(line.split(";")[2] for line in lines[1:-1]) == sorted(codes)
    with app.app_context():
        [event] = _events("codes.exported")
        assert (event.actor.startswith("marketing-"), event.object_id) == (True, str(offer_id))
        assert json.loads(event.details) == {"codes": 10}
    page = c.get(f"/partners/offers/{offer_id}?lang=en").get_data(as_text=True)
    assert f'action="/partners/offers/{offer_id}/export"' in page and 'name="csrf_token"' in page  # a job
    assert c.post("/partners/offers/999/codes.csv").status_code == 404


def test_forms_flash_refusals_and_roll_back(app: Flask, logged_in, make_partner) -> None:
    c = logged_in("marketing")
    r = c.post("/partners/", data={"name": "Gorserv", "prefix": "GSRV"})
    assert r.status_code == 302
    bad = c.post("/partners/", data={"name": "Other", "prefix": "GSRV"})  # prefix taken
    assert bad.status_code == 422
    with app.app_context():
        assert [p.name for p in db.session.scalars(select(Partner))] == ["Gorserv"]
        pid = db.session.scalar(select(Partner.id))
    form = {"op": "offer", "title": "500 roubles off", "kind": "fixed", "amount": "500", "tiers": ["ideal"],
            "first": "2026-01-01", "last": "2026-12-31"}
    assert c.post(f"/partners/{pid}", data=form).status_code == 302
    assert _flashes(c)[-1][0] == "info"
    ten = c.post(f"/partners/{pid}?lang=en", data={**form, "amount": "ten"})
    assert ten.status_code == 422 and "Enter an amount in rubles" in ten.get_data(as_text=True)
    bogus = c.post(f"/partners/{pid}", data={**form, "kind": "bogus"})
    assert bogus.status_code == 422
    percent = c.post(f"/partners/{pid}?lang=en", data={**form, "kind": "percent", "percent": "101"})
    assert percent.status_code == 422 and 'id="percent-errors"' in percent.get_data(as_text=True)
    c.post(f"/partners/{pid}", data={"op": "nonsense"})
    assert _flashes(c)[-1][0] == "error"
    with app.app_context():
        [offer] = db.session.scalars(select(Offer)).all()
        assert (offer.discount_kind, offer.discount_value, offer.tier_list) == ("fixed", 50000, ["ideal"])
    c.post(f"/partners/{pid}", data={"op": "suspend"})
    with app.app_context():
        assert db.session.get(Partner, pid).active is False
    r = c.post(f"/partners/offers/{offer.id}", data={"op": "issue", "period": "1999-01"})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/partners/offers/{offer.id}")
    assert _flashes(c)[-1][0] == "error"


def test_missing_objects_are_404(logged_in) -> None:
    c = logged_in("auditor")
    for url in ("/partners/7", "/partners/offers/7", "/partners/runs/7", "/partners/runs/7/progress"):
        assert c.get(url).status_code == 404, url
    m = logged_in("marketing")
    assert m.post("/partners/7", data={"op": "suspend"}).status_code == 404
    assert m.post("/partners/offers/7", data={"op": "withdraw"}).status_code == 404


def test_a_failed_run_from_the_page_is_logged(app: Flask, logged_in, make_partner, make_offer, add_snapshot,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from partners.services import issue

    p = make_partner()
    offer_id = make_offer(p["id"])
    add_snapshot("2026-10", ROWS)

    def broken(session: Any, rows: Any) -> None:
        raise RuntimeError("connection lost")

    monkeypatch.setattr(issue, "insert_codes", broken)
    c = logged_in("marketing")
    r = c.post(f"/partners/offers/{offer_id}", data={"op": "issue", "period": "2026-10"})
    assert r.status_code == 302
    with app.app_context():
        run = db.session.scalars(select(IssueRun)).one()
        assert run.state == "failed"
        assert [e.object_id for e in _events("codes.issue_failed")] == [str(offer_id)]
    assert c.get(f"/partners/runs/{run.id}/progress").get_json()["state"] == "failed"


def test_attempt_helper(app: Flask) -> None:
    from rewards.errors import DomainError
    from rewards.web import attempt

    def ok(session: Any, value: int) -> int:
        return value

    def refused(session: Any) -> None:
        raise DomainError("no", errors={"line 2": ["bad"]})

    with app.test_request_context("/"):
        assert attempt(ok, 5, success="done") == 5
        assert attempt(refused, success="done") is None
        from flask import get_flashed_messages

        # in Russian
        assert get_flashed_messages(with_categories=True) == [("info", "done"), ("error", "no (строка 2: bad)")]


def test_the_offer_form_shows_each_error_beside_its_field_in_rubles(app: Flask, logged_in, make_partner) -> None:
    import re

    p = make_partner()
    c = logged_in("marketing")
    form = {"op": "offer", "title": "", "kind": "fixed", "amount": "1 500,505", "first": "2026-12-31",
            "last": "2026-01-01", "budget": "0"}
    r = c.post(f"/partners/{p['id']}?lang=en", data=form)
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    errors = dict(re.findall(r'<ul class="field-errors" id="([\w-]+)-errors"><li>(.*?)</li>', html))
    assert set(errors) == {"title", "amount", "tiers", "last", "budget"}, errors
    assert errors["amount"] == "At most two digits after the comma: kopecks."
    assert 'value="1 500,505"' in html and 'value="2026-12-31"' in html  # what was typed stays
    with app.app_context():
        assert db.session.scalars(select(Offer)).all() == []
    ok = c.post(f"/partners/{p['id']}", data={**form, "title": "Скидка", "amount": "1 500,50", "tiers": ["ideal"],
                                               "first": "2026-01-01", "last": "2026-12-31", "budget": ""})
    assert _flashes(c)[-1][0] == "info"  # an empty optional number is no error
    assert ok.status_code == 302
    with app.app_context():
        [offer] = db.session.scalars(select(Offer)).all()
        assert (offer.discount_kind, offer.discount_value) == ("fixed", 150_050)
    page = c.get(f"/partners/{p['id']}?lang=ru").get_data(as_text=True)
    assert "1\u00a0500,50\u00a0₽" in page
