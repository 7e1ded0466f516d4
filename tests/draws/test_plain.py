"""The public page in plain words: what the draw used (public numbers or a drand round, with a link)
and who received a prize passed on after a disqualification."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from draws import plain
from tests.draws.conftest import make_kit

RESULT = {
    "winners": [{"prize_index": 0, "amount_kopecks": 400_000, "account_masked": "******0001"},
                {"prize_index": 1, "amount_kopecks": 100_000, "account_masked": "******0002"}],
    "reserves": [{"reserve_index": 0, "account_masked": "******0003"}],
}


def test_public_numbers_are_named_with_their_draws() -> None:
    source = {"type": "rfc3797", "sources": ["Русское лото", "Жилищная лотерея"]}
    value = {"type": "rfc3797", "sources": [["17", "3", "44"], ["5", "12"]]}
    assert plain.entropy_used(source, value, {}) == {
        "type": "rfc3797", "sources": [("Русское лото", "17 3 44"), ("Жилищная лотерея", "5 12")],
    }
    assert plain.entropy_used(source, None, {}) is None  # not drawn yet


def test_a_drand_round_links_to_a_public_relay() -> None:
    v2 = {"type": "drand", "chain": {"name": "quicknet", "chain_hash": "abc"}, "round": 7}
    used = plain.entropy_used(v2, {"type": "drand", "round": 7}, {})
    assert used == {"type": "drand", "round": 7, "chain": "quicknet", "url": "https://api.drand.sh/abc/public/7"}
    v1 = {"type": "drand", "chain": "quicknet", "delay_seconds": 60}
    used = plain.entropy_used(v1, {"type": "drand", "round": 9}, {"quicknet": {"chain_hash": "def"}})
    assert used is not None and used["url"] == "https://api.drand.sh/def/public/9"


def test_passed_on_follows_each_disqualification_in_order() -> None:
    dqs = [
        {"sequence": 0, "prize_index": 1, "reason": "сотрудник", "replacement_reserve_index": 0,
         "disqualified_at": "2026-11-03T10:00:00Z"},
        {"sequence": 1, "prize_index": 1, "reason": "отказ", "replacement_reserve_index": None,
         "disqualified_at": "2026-11-04T10:00:00Z"},
    ]
    steps = plain.passed_on(RESULT, dqs)
    assert [(s["prize"], s["from"], s["reserve"], s["to"]) for s in steps] == [
        (2, "******0002", 1, "******0003"),  # numbered from 1
        (2, "******0003", None, None),  # the reserve who received it lost it too; nobody was left
    ]
    assert steps[0]["amount_kopecks"] == 100_000
    assert plain.passed_on(None, dqs) == []


def test_public_page_says_what_was_used_and_who_received_a_passed_on_prize(
    app: Flask, logged_in: Callable[[str], FlaskClient]
) -> None:
    with app.app_context():
        published = make_kit(app).full()
    marketing = logged_in("marketing")
    answer = marketing.post(f"/draws/{published}/disqualify", data={"prize": "1", "reason": "сотрудник компании"})
    assert answer.status_code == 302
    page = app.test_client().get(f"/public/draws/{published}").get_data(as_text=True)
    used = page[page.index('id="randomness-used"') :]
    assert "раунда №" in used and "drand" in used
    assert 'href="https://api.drand.sh/' in used
    passed = page[page.index('id="passed-on"') :]
    assert "Приз №1" in passed and "резервному участнику №1" in passed and "сотрудник компании" in passed
    assert "******" in passed
    prizes = re.findall(r'<tr><td class="num">(\d+)</td><td class="num">[\d\xa0]+,\d\d\xa0₽</td>', page)
    assert prizes and prizes[0] == "1" and "0" not in prizes  # the result table numbers prizes from 1
