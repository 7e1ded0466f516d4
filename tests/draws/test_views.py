"""Staff and public draw pages."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from draws import services
from rewards.db import db
from tests.draws.conftest import T0, make_kit, snapshot_tiers, witness_entries

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


def test_draft_form_and_refusal(app: Flask, logged_in: Callable[[str], FlaskClient],
                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "utcnow", lambda: T0)
    with app.app_context():
        make_kit(app)
    marketing = logged_in("marketing")
    form = {"name": "Page draw", "kind": "quarterly", "weight_ideal": "3", "weight_responsible": "1",
            "prizes": "4 000 x 2\n1000 × 1",
            "reserves": "2", "freeze_at": (T0 + timedelta(days=5)).strftime("%Y-%m-%dT%H:%M"), "entropy_type": "drand",
            "chain": "test", "delay_minutes": "60", "algorithm": "weighted-hmac-sha256-fenwick/1",
            "witnesses": "\n".join(json.dumps(w) for w in witness_entries()), "quorum": "2"}
    created = marketing.post("/draws/new", data=form)
    assert created.status_code == 302, created.get_data(as_text=True)
    bad = marketing.post("/draws/new?lang=en", data={**form, "prizes": "4000,01 x 1"})
    assert bad.status_code == 422 and "4,000.00" in bad.get_data(as_text=True)
    unsaid = marketing.post("/draws/new?lang=en", data={**form, "witnesses": "", "quorum": "0"})
    assert unsaid.status_code == 422 and "unwitnessed" in unsaid.get_data(as_text=True)
    garbled = marketing.post("/draws/new?lang=en", data={**form, "witnesses": "Notary; not-a-key!"})
    assert garbled.status_code == 422 and "line 1" in garbled.get_data(as_text=True)
    pid = created.headers["Location"].rsplit("/", 1)[-1]
    assert marketing.post(f"/draws/{pid}/announce").status_code == 302
    with app.app_context():
        assert services.get_draw(db.session, pid).state == "announced"
    again = marketing.post(f"/draws/{pid}/announce?lang=en", follow_redirects=True)
    assert "announced" in again.get_data(as_text=True)


def _answer(response: Any, account: str) -> str:
    """The page without what the visitor typed (echoed back in the form) and per-request tokens."""
    text = response.get_data(as_text=True).replace(account, "ACCOUNT")
    return re.sub(r'(name="csrf_token" value=")[^"]*|Request id: <code>[^<]*', r"\1", text)


def _winner_entrant_outsider(app: Flask, published: str) -> tuple[str, str, str, dict[str, str]]:
    """A winner, an entrant without a prize, an account of the snapshot that is no entrant, and their check
    codes."""
    with app.app_context():
        draw = services.get_draw(db.session, published)
        accounts = services.frozen_columns(db.session, draw)[0]
        snapshot_accounts = list(snapshot_tiers(40))
        result = json.loads(draw.result_record or "")["payload"]
        winner = accounts[result["winners"][0]["entrant_index"]]
        entrant = next(a for i, a in enumerate(accounts) if i not in {w["entrant_index"] for w in result["winners"]}
                       and i not in {r["entrant_index"] for r in result["reserves"]})
        outsider = next(a for a in snapshot_accounts if a not in accounts)  # a beginner: not an entrant
        from draws import wiring

        with app.test_request_context():
            codes = {a: services.check_code_for(db.session, draw, a, wiring.box()) for a in (winner, entrant, outsider)}
    return winner, entrant, outsider, codes


def test_public_account_check(app: Flask, published: str) -> None:
    winner, entrant, outsider, codes = _winner_entrant_outsider(app, published)
    client = app.test_client()  # anonymous
    page = client.get(f"/public/draws/{published}?lang=en").get_data(as_text=True)
    assert 'name="account"' in page and 'name="code"' in page
    # Without the code, every account gets the same answer: nothing about membership, tier or prize.
    answers = {_answer(client.post(f"/public/draws/{published}/check?lang=en",
                                   data={"account": a, "code": "AAAAA-AAAAA"}), a)
               for a in (winner, entrant, outsider, "0000000001")}
    assert len(answers) == 1 and "No entry found for this account number and check code" in answers.pop()
    wrong = {_answer(client.post(f"/public/draws/{published}/check?lang=en",
                                 data={"account": a, "code": codes[outsider]}), a)
             for a in (winner, entrant)}  # someone else's valid code
    assert len(wrong) == 1 and "No entry found" in wrong.pop()
    # The owner, with their code, sees their entry, their prize and their proof.
    own = client.post(f"/public/draws/{published}/check?lang=en",
                      data={"account": winner, "code": codes[winner].lower()})
    text = own.get_data(as_text=True)
    assert own.status_code == 200 and "took part in this draw" in text and "Winner of prize 1" in text
    assert "python -m draws.verify record.json --keyset keyset.json --proof proof.json" in text
    mine = client.post(f"/public/draws/{published}/check?lang=en", data={"account": entrant, "code": codes[entrant]})
    assert "took part in this draw" in mine.get_data(as_text=True) and "Winner" not in mine.get_data(as_text=True)
    theirs = client.post(f"/public/draws/{published}/check?lang=en",
                         data={"account": outsider, "code": codes[outsider]})
    assert "No entry found" in theirs.get_data(as_text=True)  # the owner of a non-entry learns just that
    empty = client.post(f"/public/draws/{published}/check?lang=en", data={"account": " ", "code": ""})
    assert empty.status_code == 422
    assert client.post("/public/draws/nope/check", data={"account": "1", "code": "1"}).status_code == 404


def test_public_record_links_no_masked_winner_to_an_account(app: Flask, published: str) -> None:
    """Entrant positions follow keyed hashes, not account order: a winner's neighbours in the list
    are not its neighbours among account numbers, and the public record carries no account."""
    with app.app_context():
        draw = services.get_draw(db.session, published)
        accounts = services.frozen_columns(db.session, draw)[0]
    assert accounts != sorted(accounts)
    record = app.test_client().get(f"/public/draws/{published}/record.json").get_data(as_text=True)
    assert not any(a in record for a in accounts)


def test_public_account_check_is_rate_limited(app_factory: Callable[..., Flask]) -> None:
    app = app_factory(RATELIMIT_ENABLED=True)
    app.config["DRAW_LOOKUP_LIMIT"] = "3 per minute"  # not yet a declared setting (rewards/config.py)
    with app.app_context():
        pid = make_kit(app).full()
    client = app.test_client()
    codes = [client.post(f"/public/draws/{pid}/check",
                         data={"account": f"00000000{i:02d}", "code": "AAAAA-AAAAA"}).status_code
             for i in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    assert client.get(f"/public/draws/{pid}").status_code == 200  # the page itself is not limited


def _draft_form(**changes: str) -> dict[str, Any]:
    form = {"name": "Page draw", "kind": "quarterly", "weight_ideal": "3", "weight_responsible": "1",
            "prizes": "4 000 × 2\n1 000,50 x 1", "reserves": "2",
            "freeze_at": (T0 + timedelta(days=5)).strftime("%Y-%m-%dT%H:%M"), "entropy_type": "drand",
            "chain": "test", "delay_minutes": "60", "algorithm": "weighted-hmac-sha256-fenwick/1",
            "witnesses": "\n".join(json.dumps(w) for w in witness_entries()), "quorum": "2"}
    form.update(changes)
    return form


def _field_errors(html: str) -> dict[str, list[str]]:
    """The errors shown beside each field: ``<ul class="field-errors" id="NAME-errors">``."""
    found = re.findall(r'<ul class="field-errors" id="([\w-]+)-errors">(.*?)</ul>', html, re.S)
    return {name: re.findall(r"<li>(.*?)</li>", items, re.S) for name, items in found}


def test_the_draft_form_shows_every_error_beside_its_field_and_keeps_the_values(
        app: Flask, logged_in: Callable[[str], FlaskClient], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "utcnow", lambda: T0)
    with app.app_context():
        make_kit(app)
    marketing = logged_in("marketing")
    bad = _draft_form(name="", prizes="4 000,001 × 2\nмного", reserves="-1", freeze_at="завтра",
                      weight_ideal="x", snapshot_period="2026-13", delay_minutes="soon", witnesses="Notary; not-a-key!")
    answer = marketing.post("/draws/new?lang=en", data=bad)
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    errors = _field_errors(html)
    assert set(errors) == {"name", "prizes", "reserves", "freeze_at", "weight_ideal", "snapshot_period",
                           "delay_minutes", "witnesses"}, errors
    assert errors["witnesses"][0].startswith("the witness list has lines that cannot be read (line 1: ")
    assert errors["prizes"] == ["Line 1: At most two digits after the comma: kopecks.",
                                "Line 2: write the amount in rubles × the number of prizes, e.g. 4 000 × 10."]
    assert errors["freeze_at"] == ["Enter a date and time."]
    assert "The form has 9 errors" in html  # two for the prize lines
    assert 'value="2026-13"' in html and "4 000,001 × 2\nмного" in html and 'value="завтра"' in html
    assert "<details class=\"advanced\" open>" in html  # delay_minutes is under the fold: it opens
    with app.app_context():
        assert services.list_draws(db.session) == []
    # A refusal of the service (a past freeze time) lands beside its field too; nothing written.
    late = marketing.post("/draws/new?lang=en", data=_draft_form(freeze_at="2020-01-01T10:00"))
    assert late.status_code == 409
    assert _field_errors(late.get_data(as_text=True)) == {"freeze_at": ["the freeze time is in the past"]}
    weights = marketing.post("/draws/new?lang=en", data=_draft_form(weight_ideal="0", weight_responsible="0"))
    assert _field_errors(weights.get_data(as_text=True)) == {
        "tier_weights": ["at least one tier must have a positive weight"]}
    with app.app_context():
        assert services.list_draws(db.session) == []
    russian = marketing.post("/draws/new?lang=ru", data={**bad, "name": "Зимний"})
    errors = _field_errors(russian.get_data(as_text=True))
    assert errors["prizes"][0] == "Строка 1: После запятой не больше двух цифр: копейки."
    assert "Зимний" in russian.get_data(as_text=True)


def test_a_draft_is_edited_on_its_page_and_not_after_the_announcement(
        app: Flask, logged_in: Callable[[str], FlaskClient], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "utcnow", lambda: T0)
    with app.app_context():
        kit = make_kit(app)
        pid = kit.draft()
    marketing = logged_in("marketing")
    detail = marketing.get(f"/draws/{pid}?lang=ru").get_data(as_text=True)
    assert f"/draws/{pid}/edit" in detail
    page = marketing.get(f"/draws/{pid}/edit?lang=ru").get_data(as_text=True)
    assert "4\u00a0000,00 × 2" in page and "1\u00a0000,00 × 1" in page  # the stored prizes, in rubles
    assert 'value="Summer draw"' in page and 'value="2026-06-30T14:00:00"' in page  # freeze time, local
    bad = marketing.post(f"/draws/{pid}/edit?lang=en", data=_draft_form(prizes="4 001 × 1"))
    assert bad.status_code == 422 and _field_errors(bad.get_data(as_text=True)) == {
        "prizes": ["Line 1: At most 4,000.00\u00a0₽."]}
    saved = marketing.post(f"/draws/{pid}/edit", data=_draft_form(name="Осенний розыгрыш", prizes="2 500 × 4"))
    assert saved.status_code == 302 and saved.headers["Location"].endswith(f"/draws/{pid}")
    with app.app_context():
        draw = services.get_draw(db.session, pid)
        assert draw.name == "Осенний розыгрыш" and json.loads(draw.prizes) == [{"amount_kopecks": 250_000, "count": 4}]
        kit.announce(pid)
    refused = marketing.get(f"/draws/{pid}/edit?lang=en", follow_redirects=True)
    assert "Only a draft can be changed; this draw is announced." in refused.get_data(as_text=True)
    late = marketing.post(f"/draws/{pid}/edit", data=_draft_form(name="Too late"))
    assert late.status_code == 302
    with app.app_context():
        assert services.get_draw(db.session, pid).name == "Осенний розыгрыш"
    assert logged_in("auditor").get(f"/draws/{pid}/edit").status_code == 403


def test_pages_number_prizes_from_one(app: Flask, published: str, logged_in: Callable[[str], FlaskClient]) -> None:
    with app.app_context():
        result = json.loads(services.get_draw(db.session, published).result_record or "")["payload"]
    assert sorted(w["prize_index"] for w in result["winners"]) == [0, 1, 2]  # the signed record counts from 0
    page = app.test_client().get(f"/public/draws/{published}?lang=en").get_data(as_text=True)
    cells = re.findall(r'<tr><td class="num">(\d+)</td><td class="num">[^<]*₽</td>', page)
    assert sorted(cells) == ["1", "2", "3"]
    marketing = logged_in("marketing")
    staff = marketing.get(f"/draws/{published}?lang=en").get_data(as_text=True)
    assert 'name="prize" type="number" min="1"' in staff
    # Disqualifying "prize 1" on the page is the signed record's prize 0.
    dq_page = marketing.post(f"/draws/{published}/disqualify", data={"prize": "1", "reason": "employee"})
    assert dq_page.status_code == 302
    with app.app_context():
        [dq] = services.disqualification_envelopes(db.session, services.get_draw(db.session, published))
        assert dq["payload"]["prize_index"] == 0
    assert marketing.post(f"/draws/{published}/disqualify?lang=en", data={"prize": "0", "reason": "x"},
                          follow_redirects=True).status_code == 200
