"""Fixtures of the partners tests: a partner with linked keys, offers, snapshots, codes.

Snapshots belong to the snapshots feature; ``add_snapshot`` stores one through its models.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, text

from partners.models import Offer, Partner
from partners.services import catalog
from rewards.apikeys.models import ApiClient
from rewards.db import db, utcnow


@pytest.fixture
def add_snapshot(app: Flask) -> Callable[..., int]:
    """Add a snapshot ``period`` with ``rows`` of (account, tier); returns its id."""
    def add(period: str, rows: Iterable[tuple[str, str]]) -> int:
        from tests.support import make_snapshot

        with app.app_context():
            snap = make_snapshot(db.session, period, dict(rows))
            db.session.commit()
            return snap.id

    return add


@pytest.fixture
def make_partner(app: Flask, api_token: Callable[..., str]) -> Callable[..., dict[str, Any]]:
    """A partner with one linked key holding the three partner scopes; returns ids, prefix, token."""

    def make(name: str = "Gorserv", prefix: str = "GSRV",
             scopes: tuple[str, ...] = catalog.PARTNER_SCOPES) -> dict[str, Any]:
        client_name = f"{prefix.lower()}-site"
        token = api_token(*scopes, name=client_name)
        with app.app_context():
            partner = catalog.create_partner(db.session, name, prefix, actor="test")
            catalog.link_client(db.session, partner, client_name, actor="test")
            db.session.commit()
            client_id = db.session.scalar(select(ApiClient.id).where(ApiClient.name == client_name))
            return {"id": partner.id, "prefix": partner.prefix, "token": token, "client": client_name,
                    "client_id": client_id}

    return make


@pytest.fixture
def make_offer(app: Flask) -> Callable[..., int]:
    """An offer of a partner (valid from an hour ago for 30 days unless told); returns its id."""

    def make(partner_id: int, **kw: Any) -> int:
        now = utcnow()
        args: dict[str, Any] = {
            "title": "10% off plumbing",
            "discount_kind": "percent",
            "discount_value": 10,
            "tiers": ["responsible", "ideal"],
            "valid_from": now - timedelta(hours=1),
            "valid_to": now + timedelta(days=30),
            "budget": None,
        }
        args.update(kw)
        with app.app_context():
            partner = db.session.get(Partner, partner_id)
            offer = catalog.create_offer(db.session, partner, actor="test", **args)
            db.session.commit()
            return offer.id

    return make


@pytest.fixture
def issue_codes(app: Flask) -> Callable[..., list[str]]:
    """Bulk-issue codes of an offer from a snapshot; returns the printed codes in account order."""

    def issue(offer_id: int, snapshot_id: int) -> list[str]:
        from sqlalchemy import select

        from partners import snapshots
        from partners.models import Code
        from partners.services import issue as issue_svc

        with app.app_context():
            offer = db.session.get(Offer, offer_id)
            period = db.session.execute(text("SELECT period FROM snapshots WHERE id = :i"), {"i": snapshot_id}).scalar()
            issue_svc.issue_all(
                db.session, offer, snapshots.SnapshotRef(snapshot_id, period), actor="test", commit=db.session.commit
            )
            prefix = offer.partner.prefix
            rows = db.session.scalars(select(Code).where(Code.offer_id == offer_id).order_by(Code.account)).all()
            return [issue_svc.display(prefix, c) for c in rows]

    return issue
