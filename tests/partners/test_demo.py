"""partners.demo.load: Горсервис, its site's key, a 10 % offer, codes and a few redemptions; twice = once."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from partners import demo
from partners.models import Code, IssueRun, Offer, Partner, PartnerClient, RedemptionEvent
from rewards.apikeys.models import ApiClient, ApiKey
from rewards.audit.models import Event
from rewards.db import db
from tests.support import bearer

pytestmark = pytest.mark.usefixtures("backend")

ROWS = {f"74{i:08d}": t for i, t in enumerate(["beginner", "promising", "responsible", "ideal"] * 5)}
TABLES = (Partner, PartnerClient, ApiClient, ApiKey, Offer, Code, IssueRun, RedemptionEvent, Event)


def _counts() -> dict[str, int]:
    return {t.__name__: db.session.scalar(select(func.count()).select_from(t)) or 0 for t in TABLES}


@pytest.mark.parametrize("with_commit", [True, False])
def test_demo_is_complete_and_idempotent(app: Flask, client: Any, with_commit: bool) -> None:
    from tests.support import make_snapshot

    with app.app_context():
        make_snapshot(db.session, "2026-09", {"7400000001": "ideal"})
        make_snapshot(db.session, "2026-10", ROWS)
        db.session.commit()
        commit = db.session.commit if with_commit else None
        first = demo.load(db.session, timezone=app.config["TIMEZONE"], commit=commit)
        db.session.commit()
        assert (first.issued, first.redeemed, first.client) == (10, 3, "gorserv-site")
        assert first.token
        partner = db.session.get(Partner, first.partner_id)
        assert (partner.name, partner.prefix, partner.active) == ("Горсервис", "GSRV", True)
        api_client = db.session.scalar(select(ApiClient).where(ApiClient.name == "gorserv-site"))
        assert api_client.scope_set == {"codes:validate", "codes:redeem", "redemptions:rollback"}
        assert db.session.get(PartnerClient, api_client.id).partner_id == partner.id
        offer = db.session.get(Offer, first.offer_id)
        assert (offer.discount_kind, offer.discount_value, offer.tier_list) == ("percent", 10, ["responsible", "ideal"])
        codes = db.session.scalars(select(Code).where(Code.offer_id == offer.id)).all()
        assert sorted(c.account for c in codes) == sorted(a for a, t in ROWS.items() if t in {"responsible", "ideal"})
        assert sorted(c.state for c in codes).count("redeemed") == 3
        before = _counts()

        second = demo.load(db.session, timezone=app.config["TIMEZONE"], commit=commit)
        db.session.commit()
        assert (second.partner_id, second.offer_id, second.issued, second.redeemed, second.token) == (
            first.partner_id, first.offer_id, 0, 0, None)
        assert _counts() == before
        assert db.session.scalar(select(func.count()).select_from(Event).where(Event.action.like("code%"))) > 0

    # the key works on the partner API, for this partner's codes
    from partners.services import issue

    with app.app_context():
        code = db.session.scalar(select(Code).where(Code.state == "issued").order_by(Code.account))
        text = issue.display("GSRV", code)
    r = client.post("/api/v1/partner/codes/validate", json={"code": text}, headers=bearer(first.token))
    assert r.status_code == 200, r.get_json()


def test_demo_without_a_snapshot_makes_nothing(app: Flask) -> None:
    with app.app_context():
        before = _counts()
        result = demo.load(db.session)
        db.session.commit()
        assert result.partner_id is None and result.note
        assert _counts() == before
