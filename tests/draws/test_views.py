"""Staff and public draw pages."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from draws import services
from rewards.db import db
from tests.draws.conftest import T0, make_kit

# Page tests hold no app context between requests: a request would reuse it, and its ``g``.


@pytest.fixture
def published(app: Flask) -> str:
    with app.app_context():
        return make_kit(app).full()


def test_staff_pages(app: Flask, published: str, logged_in: Callable[[str], FlaskClient]) -> None:
    marketing = logged_in("marketing")
    assert published in marketing.get("/draws/").get_data(as_text=True)
    page = marketing.get(f"/draws/{published}").get_data(as_text=True)
    assert "Disqualify" in page or "Дисквал" in page or "prize_index" in page
    verify = marketing.get(f"/draws/{published}/verify?lang=en").get_data(as_text=True)
    assert "PASS" in verify and "FAIL" not in verify
    assert marketing.get(f"/draws/{published}/bundle.json").status_code == 403
    auditor = logged_in("auditor")
    bundle = auditor.get(f"/draws/{published}/bundle.json")
    assert bundle.status_code == 200 and json.loads(bundle.data)["kind"] == "auditor"
    assert auditor.post(f"/draws/{published}/disqualify", data={"prize_index": 0, "reason": "x"}).status_code == 403
    assert marketing.get("/draws/credits").status_code == 200
    assert marketing.post("/draws/credits/export").status_code == 302
    assert "credits-1.csv" in marketing.get("/draws/credits").get_data(as_text=True)
    assert marketing.get("/").status_code == 200  # dashboard panel renders


def test_public_page_shows_masked_accounts_only(app: Flask, published: str) -> None:
    client = app.test_client()
    page = client.get(f"/public/draws/{published}?lang=en").get_data(as_text=True)
    with app.app_context():
        winners = services.frozen_columns(db.session, services.get_draw(db.session, published))[0]
    assert "******" in page
    assert not any(a in page for a in winners)
    record = client.get(f"/public/draws/{published}/record.json")
    assert record.status_code == 200 and json.loads(record.data)["kind"] == "public"
    assert published in client.get("/public/draws/").get_data(as_text=True)


def test_draft_form_and_refusal(app: Flask, logged_in: Callable[[str], FlaskClient], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "utcnow", lambda: T0)
    with app.app_context():
        make_kit(app)
    marketing = logged_in("marketing")
    form = {"name": "Page draw", "kind": "quarterly", "weight_ideal": "3", "weight_responsible": "1", "prizes": "400000 x 2\n100000 x 1",
            "reserves": "2", "freeze_at": (T0 + timedelta(days=5)).strftime("%Y-%m-%dT%H:%M"), "entropy_type": "drand",
            "chain": "quicknet", "delay_minutes": "60", "algorithm": "weighted-hmac-sha256-fenwick/1"}
    created = marketing.post("/draws/new", data=form)
    assert created.status_code == 302, created.get_data(as_text=True)
    bad = marketing.post("/draws/new?lang=en", data={**form, "prizes": "400001 x 1"})
    assert bad.status_code == 422 and "400000" in bad.get_data(as_text=True)
    pid = created.headers["Location"].rsplit("/", 1)[-1]
    assert marketing.post(f"/draws/{pid}/announce").status_code == 302
    with app.app_context():
        assert services.get_draw(db.session, pid).state == "announced"
    again = marketing.post(f"/draws/{pid}/announce?lang=en", follow_redirects=True)
    assert "announced" in again.get_data(as_text=True)


def test_public_account_check(app: Flask, published: str) -> None:
    with app.app_context():
        draw = services.get_draw(db.session, published)
        accounts = services.frozen_columns(db.session, draw)[0]
        winner_index = json.loads(draw.result_record or "")["payload"]["winners"][0]["entrant_index"]
    client = app.test_client()  # anonymous
    page = client.get(f"/public/draws/{published}?lang=en").get_data(as_text=True)
    assert 'name="account"' in page and "/check" in page
    took_part = client.post(f"/public/draws/{published}/check?lang=en", data={"account": accounts[winner_index]})
    text = took_part.get_data(as_text=True)
    assert took_part.status_code == 200
    assert "took part in this draw" in text and "winner of prize 0" in text
    assert "python -m draws.verify record.json --keyset keyset.json --proof proof.json" in text
    assert f"&#34;leaf_index&#34;: {winner_index}" in text or f'"leaf_index": {winner_index}' in text
    absent = client.post(f"/public/draws/{published}/check?lang=en", data={"account": "0000000001"}).get_data(as_text=True)
    assert "is not in the frozen entrant list" in absent
    empty = client.post(f"/public/draws/{published}/check?lang=en", data={"account": " "})
    assert empty.status_code == 422
    assert client.post("/public/draws/nope/check", data={"account": "1"}).status_code == 404


def test_public_account_check_is_rate_limited(app_factory: Callable[..., Flask]) -> None:
    app = app_factory(RATELIMIT_ENABLED=True)
    app.config["DRAW_LOOKUP_LIMIT"] = "3 per minute"  # not yet a declared setting (rewards/config.py)
    with app.app_context():
        pid = make_kit(app).full()
    client = app.test_client()
    codes = [client.post(f"/public/draws/{pid}/check", data={"account": f"00000000{i:02d}"}).status_code for i in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    assert client.get(f"/public/draws/{pid}").status_code == 200  # the page itself is not limited
