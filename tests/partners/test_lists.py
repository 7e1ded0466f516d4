"""The staff lists of partners, offers and issued codes: search, filters, pages, bad filters (both databases)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import update

from partners.models import Code, Partner
from rewards.db import db, utcnow
from tests.lists import check_list, get, rows, total


def test_the_partner_list(app: Flask, logged_in: Any) -> None:
    with app.app_context():
        for n in range(60):
            db.session.add(Partner(name="Горсервис" if n == 7 else f"Partner {n:02d}", prefix=f"P{n:02d}",
                                   active=n % 4 != 0))
        db.session.commit()
    page = logged_in("marketing")
    check_list(page, "/partners/", "partners", total=60, search=("q=горсерв", "Горсервис"),
               filters=("state=suspended", 15), bad="state=bankrupt")


def test_the_offer_and_code_lists(app: Flask, logged_in: Any, make_partner: Any, make_offer: Any,
                                  add_snapshot: Any, issue_codes: Any) -> None:
    gorserv = make_partner()
    other = make_partner("Чистый дом", "CHD")
    now = utcnow()
    for n in range(58):
        make_offer(gorserv["id"], title=f"Offer {n:02d}")
    make_offer(other["id"], title="Скидка на уборку", valid_from=now + timedelta(days=3))
    offer = make_offer(other["id"], title="Ended", valid_from=now - timedelta(days=9), valid_to=now - timedelta(days=1))
    page = logged_in("auditor")
    check_list(page, "/partners/offers", "offers", total=60, search=("q=уборк", "Скидка на уборку"),
               filters=(f"partner={other['id']}", 2), bad="state=forever")
    assert len(rows(get(page, "/partners/offers?state=upcoming"), "offers")) == 1
    assert len(rows(get(page, "/partners/offers?state=expired"), "offers")) == 1
    assert total(get(page, "/partners/offers?state=open&tier=ideal")) == 58

    fresh = make_offer(gorserv["id"], title="Codes")
    snap = add_snapshot("2026-10", [(f"{n:06d}", "ideal") for n in range(61)])
    printed = issue_codes(fresh, snap)
    with app.app_context():
        db.session.execute(update(Code).where(Code.account.in_(["000003", "000004"])).values(state="redeemed"))
        db.session.commit()
    check_list(page, "/partners/codes", "codes", total=61, search=(f"code={printed[5].lower()}", "000005"),
               filters=("state=redeemed", 2), bad="offer=abc")
    assert printed[12] in rows(get(page, "/partners/codes?account=0000-12"), "codes")[0]
    refused = get(page, "/partners/codes?code=GSRV-0000&lang=ru", 400)
    assert "Код" in refused and len(rows(refused, "codes")) == 50  # the rest of the list is still shown
    assert rows(get(page, f"/partners/codes?offer={offer}"), "codes") == []
