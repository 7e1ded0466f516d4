"""The lists' kernel helper: page numbers, refusals of values that do not fit, search escaping."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from rewards.auth.models import User
from rewards.db import db
from rewards.listing import BadFilter, Filter, Listing, listing, search


def _listing(page: int, total: int) -> Listing:
    return Listing(items=[object()], total=total, page=page, per_page=10, filters=[])


def test_page_numbers_keep_the_ends_and_the_neighbours() -> None:
    assert _listing(1, 30).page_numbers() == [1, 2, 3]
    assert _listing(10, 200).page_numbers() == [1, 2, None, 8, 9, 10, 11, 12, None, 19, 20]
    assert _listing(1, 0).pages == 1


@pytest.mark.parametrize(("kind", "raw"), [("int", "-3"), ("int", "1e9"), ("int", "²"), ("date_from", "2026-02-30"),
                                          ("date_from", "0001-01-01"), ("date_to", "9999-12-31"),
                                          ("date_to", "31.12.2026"), ("choice", "x")])
def test_values_that_do_not_fit_are_refused_with_the_filter_named(app: Flask, kind: str, raw: str) -> None:
    with app.test_request_context("/?lang=en"):
        with pytest.raises(BadFilter) as refused:
            Filter("f", "My filter", kind, choices=[("a", "A")]).parse(raw)
        assert refused.value.message.startswith("My filter: ") and refused.value.field == "f"


def test_search_escapes_like_wildcards_and_a_bad_page_is_page_one(app: Flask) -> None:
    with app.app_context():
        for name in ("a_b", "axb", "100%", "1000"):
            db.session.add(User(username=name, password_hash="-", role="auditor"))
        db.session.commit()
        query = select(User).order_by(User.username)

        def found(args: dict[str, Any]) -> tuple[list[str], int]:
            page = listing(db.session, query, [search(User.username)], args=args)
            return [u.username for u in page.items], page.status

        assert found({"q": "_"}) == (["a_b"], 200)
        assert found({"q": "0%"}) == (["100%"], 200)
        assert found({"q": "a", "page": "0"}) == (["a_b", "axb"], 400)
        assert found({"q": "a", "page": "99"}) == (["a_b", "axb"], 200)  # past the end: the last page
