"""Partners, the API clients that act for them, offers, and revoking a code."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from partners import codes as codecore
from partners.models import FIXED, ISSUED, PERCENT, REVOKED, Code, Offer, Partner, PartnerClient
from partners.services import webhooks
from rewards.apikeys.models import ApiClient
from rewards.audit.services import record_event
from rewards.db import rowcount, utcnow
from rewards.directread import DirectRead
from rewards.errors import N_, Conflict, DomainError, NotFound
from rewards.tiers import TIER_RANK, TIERS
from signedjson import utc_timestamp

PARTNER_SCOPES = ("codes:validate", "codes:redeem", "redemptions:rollback")
MAX_FIXED_KOPECKS = 100_000_000  # 1 M rubles: a sanity bound, not a business rule


def create_partner(session: Session, name: str, prefix: str, *, actor: str) -> Partner:
    """A new partner with a unique name and code prefix."""
    name = (name or "").strip()
    if not 1 <= len(name) <= 128:
        raise DomainError(N_("a partner's name has 1 to 128 characters"), field="name")
    try:
        prefix = codecore.validate_prefix(prefix)
    except codecore.InvalidPrefix as exc:
        raise DomainError.of(exc, field="prefix") from exc
    if session.scalar(select(Partner.id).where(Partner.name == name)) is not None:
        raise DomainError(N_("a partner named %(name)s exists already"), name=repr(name), field="name")
    if session.scalar(select(Partner.id).where(Partner.prefix == prefix)) is not None:
        raise DomainError(N_("the prefix %(prefix)s is taken"), prefix=prefix, field="prefix")
    partner = Partner(name=name, prefix=prefix)
    session.add(partner)
    session.flush()
    record_event(session, actor, "partner.created", "partner", str(partner.id), {"name": name, "prefix": prefix})
    return partner


def get_partner(session: Session, ref: int | str) -> Partner:
    """A partner by id, prefix or name."""
    partner: Partner | None
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        partner = session.get(Partner, int(ref))
    else:
        partner = session.scalar(select(Partner).where((Partner.prefix == ref.upper()) | (Partner.name == ref)))
    if partner is None:
        raise NotFound(N_("no partner %(ref)s"), ref=repr(ref))
    return partner


def set_partner_active(session: Session, partner: Partner, active: bool, *, actor: str) -> None:
    """Suspend or resume a partner: a suspended partner's keys get 403 on the partner API."""
    partner.active = active
    record_event(session, actor, "partner.activated" if active else "partner.suspended", "partner", str(partner.id), {})


def link_client(session: Session, partner: Partner, client_name: str, *, actor: str,
                sandbox: bool = False) -> PartnerClient:
    """Let an API client (created with the foundation's ``keys create-client``) act for ``partner``;
    a ``sandbox`` client works only with the partner's test codes."""
    client = session.scalar(select(ApiClient).where(ApiClient.name == client_name))
    if client is None:
        raise NotFound(N_("no API client %(client_name)s"), client_name=repr(client_name), field="client")
    existing = session.get(PartnerClient, client.id)
    if existing is not None:
        if existing.partner_id == partner.id and existing.sandbox == sandbox:
            return existing
        if existing.partner_id == partner.id:
            raise Conflict(N_("API client %(client_name)s is linked already, as a sandbox key or not"),
                           client_name=repr(client_name), field="client")
        raise Conflict(N_("API client %(client_name)s already acts for another partner"),
                       client_name=repr(client_name), field="client")
    if not client.scope_set & set(PARTNER_SCOPES):
        raise DomainError(
            N_("API client %(client_name)s has none of the partner scopes %(scopes)s"), field="client",
            code="no_partner_scope", client_name=repr(client_name), scopes=", ".join(PARTNER_SCOPES),
        )
    link = PartnerClient(api_client_id=client.id, partner_id=partner.id, sandbox=sandbox)
    session.add(link)
    session.flush()
    record_event(session, actor, "partner.client_linked", "partner", str(partner.id),
                 {"client": client_name, "sandbox": sandbox})
    return link


def partner_of_client(session: Session, client_id: int) -> Partner | None:
    """The partner an API client acts for, if any."""
    return session.scalar(
        select(Partner).join(PartnerClient, PartnerClient.partner_id == Partner.id).where(
            PartnerClient.api_client_id == client_id
        )
    )


_PARTNER_OF_CLIENT = DirectRead(
    select(Partner.__table__.c.id, Partner.__table__.c.prefix, Partner.__table__.c.active,
           PartnerClient.__table__.c.sandbox)
    .join_from(PartnerClient.__table__, Partner.__table__,
               PartnerClient.__table__.c.partner_id == Partner.__table__.c.id)
    .where(PartnerClient.__table__.c.api_client_id == bindparam("client_id"))
)


def partner_ref_of_client(engine: Engine, client_id: int) -> Any | None:
    """``(id, prefix, active, sandbox)`` of the partner an API client acts for, if any: one direct read (the
    partner API asks it on every call)."""
    return _PARTNER_OF_CLIENT.first(engine, {"client_id": client_id})


def _tiers(tiers: list[str] | str) -> str:
    items = tiers.replace(",", " ").split() if isinstance(tiers, str) else list(tiers)
    unknown = sorted(set(items) - set(TIERS))
    if unknown:
        raise DomainError(N_("unknown tier(s): %(tiers)s"),
                          code="unknown_tier", tiers=', '.join(unknown), field="tiers")
    if not items:
        raise DomainError(N_("choose at least one qualifying tier"), field="tiers")
    return " ".join(sorted(set(items), key=TIER_RANK.__getitem__))


def create_offer(
    session: Session,
    partner: Partner,
    *,
    title: str,
    discount_kind: str,
    discount_value: int,
    tiers: list[str] | str,
    valid_from: datetime,
    valid_to: datetime,
    budget: int | None = None,
    actor: str,
) -> Offer:
    """A new offer of ``partner``. Validity is ``[valid_from, valid_to)`` in UTC instants."""
    title = (title or "").strip()
    if not 1 <= len(title) <= 200:
        raise DomainError(N_("a title has 1 to 200 characters"), field="title")
    if discount_kind == PERCENT:
        if not isinstance(discount_value, int) or not 1 <= discount_value <= 100:
            raise DomainError(N_("a percent discount is a whole number from 1 to 100"), field="discount_value")
    elif discount_kind == FIXED:
        if not isinstance(discount_value, int) or not 1 <= discount_value <= MAX_FIXED_KOPECKS:
            raise DomainError(N_("a fixed discount is a positive number of kopecks"), field="discount_value")
    else:
        raise DomainError(N_("the discount is 'percent' or 'fixed'"), field="discount_kind")
    if valid_from.tzinfo is None or valid_to.tzinfo is None:
        raise DomainError(N_("validity instants must carry a time zone"), field="valid_from")
    if valid_to <= valid_from:
        raise DomainError(N_("the offer must end after it starts"), field="valid_to")
    if budget is not None and (not isinstance(budget, int) or budget < 1):
        raise DomainError(N_("a budget is a positive number of codes"), field="budget")
    offer = Offer(
        partner=partner,
        title=title,
        discount_kind=discount_kind,
        discount_value=discount_value,
        tiers=_tiers(tiers),
        valid_from=valid_from,
        valid_to=valid_to,
        budget=budget,
    )
    session.add(offer)
    session.flush()
    record_event(
        session,
        actor,
        "offer.created",
        "offer",
        str(offer.id),
        {
            "partner_id": partner.id,
            "title": title,
            "discount_kind": discount_kind,
            "discount_value": discount_value,
            "tiers": offer.tier_list,
            "valid_from": valid_from.isoformat(),
            "valid_to": valid_to.isoformat(),
            "budget": budget,
        },
    )
    offer_changed(session, offer, "created")
    return offer


def get_offer(session: Session, offer_id: int, partner_id: int | None = None) -> Offer:
    """An offer by id (of ``partner_id`` only, when given: another partner's offer is 'not found')."""
    offer = session.get(Offer, offer_id)
    if offer is None or (partner_id is not None and offer.partner_id != partner_id):
        raise NotFound(N_("no offer %(offer_id)s"), offer_id=offer_id)
    return offer


def withdraw_offer(session: Session, offer: Offer, *, actor: str) -> None:
    """Stop an offer early: its codes answer ``revoked`` from now on."""
    if offer.withdrawn_at is not None:
        raise Conflict(N_("the offer is withdrawn already"))
    offer.withdrawn_at = utcnow()
    # Write the row (and take its lock) before the event log's lock: issuers take them in that order.
    session.flush()
    record_event(session, actor, "offer.withdrawn", "offer", str(offer.id), {})
    offer_changed(session, offer, "withdrawn")


def revoke_code(session: Session, text: str, *, actor: str) -> Code:
    """Revoke an issued, unredeemed code (e.g. sent to the wrong customer)."""
    try:
        parsed = codecore.parse(text)
    except codecore.MalformedCode as exc:
        raise DomainError(N_("not a code: %(reason)s"), reason=exc.reason, field="code", code="malformed") from exc
    code = session.scalar(
        select(Code).join(Offer).join(Partner).where(Code.value == parsed.value, Partner.prefix == parsed.prefix)
    )
    if code is None:
        raise NotFound(N_("no such code"), field="code")
    result = session.execute(
        update(Code)
        .where(Code.id == code.id, Code.state == ISSUED)
        .values(state=REVOKED, version=Code.version + 1)
        .execution_options(synchronize_session=False)
    )
    if rowcount(result) != 1:
        raise Conflict(N_("only an issued, unredeemed code can be revoked (this one is %(state)s)"), state=code.state)
    session.expire(code)
    record_event(session, actor, "code.revoked", "code", str(code.id), {"offer_id": code.offer_id})
    partner_id = session.scalar(select(Offer.partner_id).where(Offer.id == code.offer_id))
    webhooks.emit(session, int(partner_id or 0), "code.revoked", f"code:{code.id}",
                  {"code": codecore.format_code(parsed.prefix, parsed.value), "offer_id": code.offer_id,
                   "revoked_at": utc_timestamp(utcnow())}, utcnow())
    return code


def offer_changed(session: Session, offer: Offer, change: str) -> None:
    """Tell the partner's endpoints (``offer.changed``) in the change's transaction."""
    webhooks.emit(session, offer.partner_id, "offer.changed", f"offer:{offer.id}", {
        "change": change,
        "offer": {
            "id": offer.id, "title": offer.title,
            "discount": {"kind": offer.discount_kind, "value": offer.discount_value},
            "tiers": offer.tier_list, "budget": offer.budget,
            "valid_from": utc_timestamp(offer.valid_from), "expires_at": utc_timestamp(offer.valid_to),
            "withdrawn": offer.withdrawn_at is not None,
        },
    }, utcnow())
