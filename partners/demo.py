"""Demo data of the partners feature: partner "Горсервис" with its site's API client, a 10 % offer for
the responsible and ideal tiers, its codes issued from the latest snapshot, and a few redeemed.

Idempotent: each step looks for what an earlier run made (the partner by its prefix, the client by
name, the offer by title, codes by the anti-join of bulk issue, redemptions by the ledger) and makes
only what is missing, so a second run changes nothing. Everything goes through the services, so the
event log records it. ``rewards/demo.py`` calls ``load`` (the integrator wires it in).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from partners import dates, snapshots
from partners.models import ISSUED, PERCENT, Code, Offer, Partner, PartnerClient, RedemptionEvent
from partners.services import catalog, issue, redemption
from rewards.apikeys.models import ApiClient
from rewards.apikeys.services import create_client
from rewards.db import utcnow
from rewards.snapshots.models import Snapshot
from rewards.snapshots.queries import latest_snapshot

PARTNER_NAME = "Горсервис"
PREFIX = "GSRV"
CLIENT_NAME = "gorserv-site"
OFFER_TITLE = "Скидка 10 % на бытовые услуги"
OFFER_TIERS = ("responsible", "ideal")
OFFER_DAYS = 90
ORDER_AMOUNT_KOPECKS = 250_000


@dataclass(frozen=True)
class DemoPartners:
    """What ``load`` found or made. ``token`` is the API client's bearer token when this call created
    the client (shown once, never stored), else None."""

    partner_id: int | None
    offer_id: int | None
    client: str | None
    token: str | None
    issued: int
    redeemed: int
    note: str = ""


def _partner(session: Session, actor: str) -> Partner:
    partner = session.scalar(select(Partner).where(Partner.prefix == PREFIX))
    return partner if partner is not None else catalog.create_partner(session, PARTNER_NAME, PREFIX, actor=actor)


def _client(session: Session, partner: Partner, actor: str) -> str | None:
    """Create the partner site's API client unless it exists, and link it; returns a new token."""
    token = None
    client = session.scalar(select(ApiClient).where(ApiClient.name == CLIENT_NAME))
    if client is None:
        client, token = create_client(session, CLIENT_NAME, list(catalog.PARTNER_SCOPES), actor=actor)
    if session.get(PartnerClient, client.id) is None:
        catalog.link_client(session, partner, CLIENT_NAME, actor=actor)
    return token


def _offer(session: Session, partner: Partner, timezone: str, actor: str) -> Offer:
    offer = session.scalar(select(Offer).where(Offer.partner_id == partner.id, Offer.title == OFFER_TITLE))
    if offer is not None:
        return offer
    today = utcnow().astimezone(ZoneInfo(timezone)).date()
    start, end = dates.validity(today, today + timedelta(days=OFFER_DAYS - 1), timezone)
    return catalog.create_offer(
        session,
        partner,
        title=OFFER_TITLE,
        discount_kind=PERCENT,
        discount_value=10,
        tiers=list(OFFER_TIERS),
        valid_from=start,
        valid_to=end,
        budget=None,
        actor=actor,
    )


def _redeem_some(
    session: Session, partner: Partner, offer: Offer, client_id: int | None, count: int, actor: str
) -> int:
    """Redeem the first ``count`` codes (account order) that have no ledger entry yet."""
    first = select(Code).where(Code.offer_id == offer.id).order_by(Code.account).limit(count)
    candidates = session.scalars(first).all()
    done = 0
    now = utcnow()
    for n, code in enumerate(candidates, start=1):
        touched = session.scalar(select(exists().where(RedemptionEvent.code_id == code.id)))
        if touched or code.state != ISSUED:
            continue
        redemption.redeem(
            session,
            redemption.PartnerRef(partner.id, partner.prefix),
            issue.display(partner.prefix, code),
            order_ref=f"DEMO-{n:04d}",
            amount_kopecks=ORDER_AMOUNT_KOPECKS,
            client_id=client_id,
            now=now,
            actor=actor,
        )
        done += 1
    return done


def load(
    session: Session,
    *,
    snapshot: Snapshot | None = None,
    timezone: str = "Asia/Yekaterinburg",
    redeem: int = 3,
    actor: str = "demo",
    commit: Callable[[], None] | None = None,
) -> DemoPartners:
    """Make the partners demo data from ``snapshot`` (default: ``latest_snapshot``; none loaded:
    nothing is made).

    ``timezone`` is the retailer's (``app.config["TIMEZONE"]``): the offer runs for 90 local days
    from today. Without ``commit`` everything happens in the caller's transaction (the caller commits);
    with it (``db.session.commit``) bulk issue commits batch by batch, as the CLI does, and ``commit``
    is also called at the end.
    """
    snap = snapshot if snapshot is not None else latest_snapshot(session)
    if snap is None:
        return DemoPartners(None, None, None, None, 0, 0, note="no snapshot loaded: partners demo skipped")
    partner = _partner(session, actor)
    token = _client(session, partner, actor)
    offer = _offer(session, partner, timezone, actor)
    now = utcnow()
    if offer.withdrawn_at is not None or not offer.valid_from <= now < offer.valid_to:
        if commit is not None:
            commit()
        return DemoPartners(partner.id, offer.id, CLIENT_NAME, token, 0, 0, note="the demo offer is not open")
    issued = 0
    ref = snapshots.SnapshotRef(snap.id, snap.period)
    if issue.missing_count(session, offer, snap.id) > 0:
        if commit is not None:
            issued = issue.issue_all(session, offer, ref, actor=actor, commit=commit).issued
        else:
            run = issue.start_run(session, offer, ref, actor=actor)
            for batch in issue.run_batches(session, run.id):
                run = batch  # each batch yields the run as it stands; the last one is finished
            issued = run.issued
    client_id = session.scalar(select(ApiClient.id).where(ApiClient.name == CLIENT_NAME))
    redeemed = _redeem_some(session, partner, offer, client_id, redeem, actor)
    if commit is not None:
        commit()
    return DemoPartners(partner.id, offer.id, CLIENT_NAME, token, issued, redeemed)
