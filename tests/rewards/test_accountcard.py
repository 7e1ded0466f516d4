"""The customer card: every feature's section for one account, the search box, links, access."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from rewards import policy
from rewards.accountcard import typed_account
from rewards.db import db


def _demo_winner(app: Flask) -> str:
    """Load the demo; the holder of the first prize of the published demo draw gets a staff flag."""
    result = app.test_cli_runner().invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    from draws.models import Draw, DrawWinner
    from rewards.flags import services as flags
    from rewards.flags.shell import local_today

    with app.app_context():
        draw = db.session.scalar(select(Draw).where(Draw.state == "published"))
        assert draw is not None
        winner = db.session.scalar(
            select(DrawWinner.account).where(DrawWinner.draw_id == draw.id, DrawWinner.prize_index == 0)
        )
        assert winner is not None
        flags.set_flag(db.session, winner, "pensioner", note=None, actor="test", today=local_today())
        db.session.commit()
    return winner


def _redeem_roll_back_redeem(app: Flask, account: str) -> str:
    """The account's code is redeemed, the order cancelled (rolled back), and redeemed again."""
    from partners.models import Code, Offer, Partner
    from partners.services import issue, redemption
    from rewards.db import utcnow

    with app.app_context():
        code, prefix, partner_id = db.session.execute(
            select(Code, Partner.prefix, Partner.id).join(Offer, Offer.id == Code.offer_id)
            .join(Partner, Partner.id == Offer.partner_id).where(Code.account == account)
        ).one()
        text = issue.display(prefix, code)
        ref = redemption.PartnerRef(partner_id, prefix)
        first, _offer, _parsed = redemption.redeem(db.session, ref, text, order_ref="A-1", amount_kopecks=250_000,
                                                   client_id=None, now=utcnow(), actor="test")
        redemption.rollback(db.session, ref, first.public_id, reason="order cancelled", client_id=None,
                            now=utcnow(), actor="test")
        redemption.redeem(db.session, ref, text, order_ref="A-2", amount_kopecks=120_000, client_id=None,
                          now=utcnow(), actor="test")
        db.session.commit()
    return text


def _section(page: str, ident: str) -> str:
    start = page.index(f'id="{ident}"')
    return page[start : page.index("</section>", start)]


def test_card_of_a_demo_account_shows_all_five_sections(app: Flask, logged_in: Callable[[str], FlaskClient]) -> None:
    account = _demo_winner(app)
    code = _redeem_roll_back_redeem(app, account)
    response = logged_in("marketing").get(f"/accounts/{account}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    history = _section(page, "card-history")
    assert 'role="img"' in history and "<title" in history and 'id="tier-history-chart"' in history
    assert re.search(r"<td><a [^>]*>2026-10</a></td>", history)  # the text table of the chart
    assert "2026-09" in history  # the imported month before
    tier = _section(page, "card-tier")
    assert "За период 2026-10 рейтинг лицевого счёта" in tier and 'id="card-next"' in tier
    codes = _section(page, "card-codes")
    assert f"<code>{code}</code>" in codes and "Горсервис" in codes
    ledger = re.findall(r"<li>(использован|использование отменено) ", codes)
    assert ledger == ["использован", "использование отменено", "использован"]  # the ledger in order
    assert "2\xa0500,00\xa0₽" in codes and "1\xa0200,00\xa0₽" in codes  # the orders' amounts
    assert "с отменой использования: 1" in codes
    draws = _section(page, "card-draws")
    assert "Демо: квартальный розыгрыш (опубликован)" in draws
    assert "да, в зафиксированном списке" in draws  # entered: its inclusion proof checks out
    assert "победитель №1" in draws  # prizes numbered from 1
    assert "4\xa0000,00\xa0₽ · <span class=\"state-word\">ожидает выгрузки</span>" in draws  # credit and its state
    flags = _section(page, "card-flags")
    assert "пенсионер" in flags


def test_card_sections_follow_the_features_order(app: Flask) -> None:
    from rewards.accountcard import sections

    templates = [template for template, _build in sections(app)]
    assert templates == [
        "snapshots/_card_history.html", "snapshots/_card_tier.html", "draws/_card_draws.html",
        "partners/_card_codes.html", "flags/_card_flags.html",
    ]


def test_unknown_account_is_a_clear_404(app: Flask, logged_in: Callable[[str], FlaskClient]) -> None:
    response = logged_in("auditor").get("/accounts/123456")
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert 'id="card-unknown"' in page and "123456" in page


def test_search_accepts_spaces_and_dashes(app: Flask, logged_in: Callable[[str], FlaskClient]) -> None:
    client = logged_in("marketing")
    response = client.get("/accounts/", query_string={"q": " 7400 0000-0007 "})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/accounts/740000000007")
    bad = client.get("/accounts/", query_string={"q": "74A-1"})
    assert bad.status_code == 400
    assert 'aria-invalid="true"' in bad.get_data(as_text=True)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("740000000007", "740000000007"), ("74 0000 0000 07", "740000000007"), ("74-00\u201300", "740000"),
     ("", None), ("74a", None), ("1" * 21, None), ("007", "007")],
)
def test_typed_account(typed: str, stored: str | None) -> None:
    assert typed_account(typed) == stored


def test_a_role_without_the_action_is_refused(
    app: Flask, logged_in: Callable[[str], FlaskClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(policy.ACTIONS, "accounts.view", frozenset({"admin"}))
    assert logged_in("marketing").get("/accounts/740000000007").status_code == 403
    assert logged_in("admin").get("/accounts/740000000007").status_code == 404  # allowed; nothing known
    assert app.test_client().get("/accounts/740000000007").status_code in (302, 401)  # not logged in


def test_account_numbers_on_staff_pages_link_to_the_card(app: Flask, logged_in: Callable[[str], FlaskClient]) -> None:
    account = _demo_winner(app)
    client = logged_in("auditor")
    page = client.get(f"/flags/?account={account}").get_data(as_text=True)
    assert f'href="/accounts/{account}"' in page
    from draws.models import Draw

    with app.app_context():
        public_id = db.session.scalar(select(Draw.public_id).where(Draw.state == "published"))
    page = client.get(f"/draws/{public_id}").get_data(as_text=True)
    assert f'href="/accounts/{account}"' in page
