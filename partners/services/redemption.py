"""The partner API's core: validate a code, redeem it exactly once, roll a redemption back.

Exactly once, on SQLite and PostgreSQL alike: the redemption is one conditional
``UPDATE codes SET state='redeemed', version=version+1 WHERE id=:id AND state='issued'`` checked by
``rowcount == 1``; the loser of a race matches no row (PostgreSQL re-checks the WHERE after waiting
for the winner's lock; SQLite serialises writers with BEGIN IMMEDIATE). The ledger entry is written
with ``seq`` = the code's new version, and ``(code_id, seq)`` is unique, so even a broken isolation
level could not record two redemptions of one code state. Counts come from the ledger.

A partner sees only its own codes: a code whose prefix is another partner's, or whose row belongs to
another partner, is refused exactly like one that does not exist.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import and_, bindparam, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from partners import codes as codecore
from partners.models import (
    FIXED,
    ISSUED,
    PERCENT,
    REDEEMED,
    REVOKED,
    Code,
    Offer,
    Partner,
    PartnerClient,
    RedemptionEvent,
)
from partners.services import webhooks
from rewards.audit.services import chain_later, record_event
from rewards.db import rowcount
from rewards.directread import DirectRead
from rewards.errors import N_, DomainError
from signedjson import utc_timestamp

NOT_FOUND = "not_found"
MALFORMED = "malformed"
EXPIRED = "expired"
NOT_YET_VALID = "not_yet_valid"
ALREADY_REDEEMED = "already_redeemed"
REVOKED_REASON = "revoked"
ALREADY_ROLLED_BACK = "already_rolled_back"

_STATUS = {
    NOT_FOUND: 404,
    MALFORMED: 422,
    EXPIRED: 409,
    NOT_YET_VALID: 409,
    ALREADY_REDEEMED: 409,
    REVOKED_REASON: 409,
    ALREADY_ROLLED_BACK: 409,
}
_MESSAGES = {
    NOT_FOUND: N_("No such code."),
    MALFORMED: N_("This is not a well-formed code (a typing mistake?)."),
    EXPIRED: N_("The offer of this code has ended."),
    NOT_YET_VALID: N_("The offer of this code has not started yet."),
    ALREADY_REDEEMED: N_("This code has been redeemed already."),
    REVOKED_REASON: N_("This code has been revoked."),
    ALREADY_ROLLED_BACK: N_("This redemption has been rolled back already."),
}


class Refused(DomainError):
    """A code or redemption was refused; ``code`` is the refusal reason."""

    def __init__(self, reason: str, message: str | None = None):
        super().__init__(message or _MESSAGES[reason], code=reason)
        self.status = _STATUS[reason]


@dataclass(frozen=True)
class PartnerRef:
    """The calling partner, as the API shell resolved it from the key."""

    id: int
    prefix: str
    sandbox: bool = False  # a sandbox key: test codes only (TEST-...), live ones are "not found"


def _parse_text(text: Any) -> tuple[codecore.ParsedCode, bool]:
    """The code a partner sent and whether it is marked a test code, or ``malformed`` (the check symbol
    caught a typo, or not text at all)."""
    if not isinstance(text, str):
        raise Refused(MALFORMED)
    test, text = codecore.split_test(text)
    try:
        return codecore.parse(text), test
    except codecore.MalformedCode as exc:
        raise Refused(MALFORMED) from exc


def printed(parsed: codecore.ParsedCode, test: bool) -> str:
    """A parsed code as printed (``TEST-`` in front of a test code)."""
    return codecore.printed(parsed.prefix, parsed.value, test)


def canonical(text: Any) -> str | None:
    """The printed form of what a partner sent, or None when it is no well-formed code."""
    try:
        parsed, test = _parse_text(text)
    except Refused:
        return None
    return printed(parsed, test)


def _parse(partner: PartnerRef, text: Any) -> codecore.ParsedCode:
    parsed, test = _parse_text(text)
    # another partner's code, a live code asked with a sandbox key or a test code with a live key: no
    # look-up, the same answer as an absent code
    if parsed.prefix != partner.prefix or test != partner.sandbox:
        raise Refused(NOT_FOUND)
    return parsed


def _find(session: Session, partner: PartnerRef, text: Any) -> tuple[codecore.ParsedCode, Code, Offer]:
    parsed = _parse(partner, text)
    row = session.execute(
        select(Code, Offer)
        .join(Offer, Offer.id == Code.offer_id)
        .where(Code.value == parsed.value, Offer.partner_id == partner.id, Code.test.is_(partner.sandbox))
    ).first()
    if row is None:
        raise Refused(NOT_FOUND)
    return parsed, row[0], row[1]


def _refusal(code: Code, offer: Offer, now: datetime) -> str | None:
    if code.state == REVOKED or offer.withdrawn_at is not None:
        return REVOKED_REASON
    if code.state == REDEEMED:
        return ALREADY_REDEEMED
    if now < offer.valid_from:
        return NOT_YET_VALID
    if now >= offer.valid_to:
        return EXPIRED
    return None


def offer_view(offer: Offer) -> dict[str, Any]:
    """What a partner site needs to know about an offer."""
    return {
        "id": offer.id,
        "title": offer.title,
        "discount": {"kind": offer.discount_kind, "value": offer.discount_value},
        "valid_from": _iso(offer.valid_from),
        "expires_at": _iso(offer.valid_to),
    }


@lru_cache(maxsize=1024)
def _iso(dt: datetime) -> str:
    # an offer's two instants, written on every validate of its codes: formatted once
    return utc_timestamp(dt)


# validate reads only, in one direct read (no session, no ORM objects): the partner the calling API
# client acts for, and the code with its offer when this partner has it (NULLs otherwise).
_C, _O = Code.__table__.c, Offer.__table__.c
_P, _PC = Partner.__table__.c, PartnerClient.__table__.c
_VALIDATE_STMT = DirectRead(
    select(
        _P.prefix,
        _P.active,
        _PC.sandbox,
        _C.test,
        _C.state,
        _O.id,
        _O.title,
        _O.discount_kind,
        _O.discount_value,
        _O.valid_from,
        _O.valid_to,
        _O.withdrawn_at,
    )
    .select_from(PartnerClient.__table__)
    .join(Partner.__table__, _P.id == _PC.partner_id)
    # the code by its unique value alone (so every planner takes that index), then its offer only
    # when the offer is this partner's: another partner's code comes back without an offer
    .outerjoin(Code.__table__, _C.value == bindparam("value"))
    .outerjoin(Offer.__table__, and_(_O.id == _C.offer_id, _O.partner_id == _P.id))
    .where(_PC.api_client_id == bindparam("client_id"))
)


class NoActivePartner(Exception):
    """The calling API client acts for no partner, or for a suspended one (the shell answers 403)."""


def validate(engine: Engine, client_id: int, text: Any, now: datetime) -> dict[str, Any]:
    """Whether the code can be used now (committed state), asked by the partner of API client
    ``client_id``, as the API answers it. Raises :class:`Refused` for
    malformed and not_found only (a real code of this partner gets an answer with its offer whatever
    its state), :class:`NoActivePartner` when the client has no active partner. A malformed code is
    refused before any database read."""
    parsed, test = _parse_text(text)
    row = _VALIDATE_STMT.first(engine, {"client_id": client_id, "value": parsed.value})
    if row is None or not row.active:
        raise NoActivePartner
    # Another partner's code (or a forged prefix on this partner's number) answers like an absent one,
    # and so does a live code asked with a sandbox key, or a test code with a live key.
    if row.id is None or parsed.prefix != row.prefix or not test == row.sandbox == row.test:
        raise Refused(NOT_FOUND)
    # the row has the attributes _refusal and offer_view read of a code (state) and an offer (the rest)
    reason = _refusal(row, row, now)  # type: ignore[arg-type]
    return {"code": printed(parsed, test), "valid": reason is None, "reason": reason, "offer": offer_view(row)}  # type: ignore[arg-type]


def discount_for(offer: Offer, amount_kopecks: int | None) -> int | None:
    """The discount in kopecks on an order of ``amount_kopecks`` (None when it cannot be known)."""
    if offer.discount_kind == FIXED:
        return offer.discount_value if amount_kopecks is None else min(offer.discount_value, amount_kopecks)
    if offer.discount_kind == PERCENT and amount_kopecks is not None:
        return amount_kopecks * offer.discount_value // 100
    return None


def _public_id(prefix: str) -> str:
    return prefix + "_" + secrets.token_hex(10)


# The redemption's writes, prebuilt once (bound parameters; compiled once per dialect), on the session's
# connection: the conditional update returns the new version (no second read), and the ledger entry is
# one INSERT without the ORM's flush and id read-back.
_REDEEM_CODE = (
    update(Code.__table__)
    .where(_C.id == bindparam("code_id"), _C.state == ISSUED)
    .values(state=REDEEMED, version=_C.version + 1)
    .returning(_C.version)
)
_INSERT_REDEMPTION = insert(RedemptionEvent.__table__)


def redeem(
    session: Session,
    partner: PartnerRef,
    text: Any,
    *,
    order_ref: str,
    amount_kopecks: int | None,
    client_id: int | None,
    now: datetime,
    actor: str,
) -> tuple[RedemptionEvent, Offer, codecore.ParsedCode]:
    """Redeem the code once; every later attempt is refused with ``already_redeemed``. Returns the
    ledger entry as written (not attached to the session), the offer and the parsed code."""
    parsed, code, offer = _find(session, partner, text)
    reason = _refusal(code, offer, now)
    if reason is not None:
        raise Refused(reason)
    conn = session.connection()
    seq = conn.execute(_REDEEM_CODE, {"code_id": code.id}).scalar()  # the code's new version, our row lock
    if seq is None:  # lost the race: someone redeemed (or revoked) it since we read it
        session.expire(code)
        state = session.scalar(select(Code.state).where(Code.id == code.id))
        raise Refused(REVOKED_REASON if state == REVOKED else ALREADY_REDEEMED)
    values: dict[str, Any] = {
        "public_id": _public_id("rd"), "kind": "redeem", "code_id": code.id, "offer_id": offer.id,
        "partner_id": partner.id, "seq": seq, "reverses_id": None, "order_ref": order_ref,
        "amount_kopecks": amount_kopecks, "discount_kopecks": discount_for(offer, amount_kopecks), "reason": None,
        "api_client_id": client_id, "at": now, "test": partner.sandbox,
    }
    conn.execute(_INSERT_REDEMPTION, values)
    event = RedemptionEvent(**values)  # the entry as written, for the answer (transient: no id read back)
    record_event(  # a sandbox redemption under its own action: the live totals never count it
        session, actor, "sandbox.code_redeemed" if partner.sandbox else "code.redeemed", "code", str(code.id),
        {"offer_id": offer.id, "redemption": event.public_id},
    )
    chain_later(session)  # the busiest writer of the log: its events are chained in batches
    webhooks.emit(session, partner.id, "code.redeemed", f"code:{code.id}",
                  redemption_view(event, offer, printed(parsed, partner.sandbox)), now, live=not partner.sandbox)
    return event, offer, parsed


def redemption_view(event: RedemptionEvent, offer: Offer, code_text: str) -> dict[str, Any]:
    """The answer to a successful redemption."""
    return {
        "redemption_id": event.public_id,
        "code": code_text,
        "offer": offer_view(offer),
        "order_ref": event.order_ref,
        "amount_kopecks": event.amount_kopecks,
        "discount_kopecks": event.discount_kopecks,
        "redeemed_at": _iso(event.at),
    }


def rollback(
    session: Session,
    partner: PartnerRef,
    redemption_id: str,
    *,
    reason: str | None,
    client_id: int | None,
    now: datetime,
    actor: str,
) -> tuple[RedemptionEvent, RedemptionEvent]:
    """Undo a redemption (order cancelled): the code becomes usable again. Once only."""
    original = session.scalar(
        select(RedemptionEvent).where(
            RedemptionEvent.public_id == redemption_id,
            RedemptionEvent.partner_id == partner.id,
            RedemptionEvent.kind == "redeem",
            RedemptionEvent.test.is_(partner.sandbox),
        )
    )
    if original is None:
        raise Refused(NOT_FOUND, N_("No such redemption."))
    result = session.execute(
        update(Code)
        .where(Code.id == original.code_id, Code.state == REDEEMED, Code.version == original.seq)
        .values(state=ISSUED, version=Code.version + 1)
        .execution_options(synchronize_session=False)
    )
    if rowcount(result) != 1:  # this redemption is not the code's current state any more
        raise Refused(ALREADY_ROLLED_BACK)
    event = RedemptionEvent(
        public_id=_public_id("rb"),
        kind="rollback",
        code_id=original.code_id,
        offer_id=original.offer_id,
        partner_id=partner.id,
        seq=original.seq + 1,
        reverses_id=original.id,
        reason=reason,
        api_client_id=client_id,
        at=now,
        test=partner.sandbox,
    )
    session.add(event)
    session.flush()
    record_event(
        session,
        actor,
        "sandbox.redemption_rolled_back" if partner.sandbox else "code.redemption_rolled_back",
        "code",
        str(original.code_id),
        {"offer_id": original.offer_id, "redemption": original.public_id, "rollback": event.public_id},
    )
    value = session.scalar(select(Code.value).where(Code.id == original.code_id))
    webhooks.emit(session, partner.id, "code.rollback", f"code:{original.code_id}",
                  {**rollback_view(original, event), "code": codecore.printed(partner.prefix, int(value or 0),
                                                                             partner.sandbox),
                   "offer_id": original.offer_id, "reason": reason}, now, live=not partner.sandbox)
    return original, event


def rollback_view(original: RedemptionEvent, event: RedemptionEvent) -> dict[str, Any]:
    """The answer to a successful rollback."""
    return {"redemption_id": original.public_id, "rollback_id": event.public_id, "rolled_back_at": _iso(event.at)}
