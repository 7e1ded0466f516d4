"""Webhooks: endpoints, the outbox, and the delivery protocol (services: take a session, never commit
unless said, raise domain errors, record events).

The protocol, for an auditor:

1. **Outbox.** A change a partner hears of (a redemption, its rollback, a revocation, an offer change,
   a code about to expire) calls :func:`emit` in the change's own transaction: one message row (its
   ``public_id`` is the ``webhook-id`` for ever) that lists, in ``fanout``, the partner's active
   endpoints subscribed to the event. It commits or rolls back with the change; the API call does no
   network work and writes no other row. After the commit a job is queued (``partners.webhooks.send``)
   to send it.
2. **Fan-out.** The sender first turns the messages that still list endpoints into one delivery row
   per endpoint (:func:`fan_out`), oldest message first, and clears the list in the same transaction:
   each message is fanned out once, by one sender.
3. **Ordering.** Deliveries of one endpoint with one ``ordering_key`` (``code:<id>``, ``offer:<id>``)
   go out one at a time in the order they were written: only the oldest pending one of a key is due
   (:func:`due`). Changes of one code are serialised by the code's row, so their order of writing is
   their order of commit, and :func:`fan_out` makes their deliveries in that order.
4. **Attempt.** A sender claims a due delivery with one conditional update that sets a lease
   (:func:`claim`), commits, sends outside any transaction, then records the attempt (:func:`settle`):
   2xx = delivered; anything else waits :func:`partners.webhooks.next_delay` and is tried again, and
   after the last step of the schedule (about 75 hours) the delivery is ``failed`` and the next one
   of its key goes. A sender killed while sending leaves the lease to expire: the message is sent
   again with the same id (at least once; receivers de-duplicate on ``webhook-id``).
"""

from __future__ import annotations

import json
import secrets as pysecrets
import threading
import time
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, and_, bindparam, cast, delete, exists, insert, literal, or_, select, update
from sqlalchemy.orm import Session, aliased

from partners import webhooks as core
from partners.models import (
    DELIVERED,
    FAILED,
    ISSUED,
    PENDING,
    Code,
    Offer,
    Partner,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookMessage,
)
from rewards.audit.services import record_event
from rewards.db import rowcount
from rewards.directread import SessionWrite
from rewards.errors import N_, DomainError, NotFound
from signedjson import utc_timestamp

PENDING_FLAG = "partners.webhooks.pending"  # session.info: a message was written in this transaction
MAX_ENDPOINTS = 10


def _refuse(exc: core.WebhookError, field: str) -> DomainError:
    return DomainError(exc.template, field=field, code="bad_webhook", **exc.params)


def create_endpoint(session: Session, partner_id: int, url: str, *, events: list[str] | None = None,
                    scheme: str = core.HMAC, description: str = "", allow_http: bool = False,
                    actor: str) -> WebhookEndpoint:
    """A new endpoint of the partner with a fresh secret (shown to the partner, also later)."""
    try:
        url = core.check_url(url, allow_http)
        chosen = core.check_events(events or [])
        if scheme not in core.SCHEMES:
            raise core.WebhookError(N_("the signature scheme is hmac or ed25519"))
    except core.WebhookError as exc:
        raise _refuse(exc, "url" if "URL" in exc.template else "events") from exc
    description = (description or "").strip()
    if len(description) > 200:
        raise DomainError(N_("a description has at most 200 characters"), field="description")
    count = len(endpoints_of(session, partner_id))
    if count >= MAX_ENDPOINTS:
        raise DomainError(N_("a partner has at most %(n)s webhook endpoints"), field="url", n=MAX_ENDPOINTS)
    endpoint = WebhookEndpoint(partner_id=partner_id, url=url, events=" ".join(chosen), scheme=scheme,
                               secret=core.new_secret(scheme), description=description, active=True)
    session.add(endpoint)
    session.flush()
    forget_endpoints()
    record_event(session, actor, "webhook.endpoint_created", "webhook_endpoint", str(endpoint.id),
                 {"partner_id": partner_id, "url": url, "events": chosen, "scheme": scheme})
    return endpoint


def endpoints_of(session: Session, partner_id: int) -> list[WebhookEndpoint]:
    """The partner's active endpoints, oldest first."""
    return list(session.scalars(select(WebhookEndpoint).where(
        WebhookEndpoint.partner_id == partner_id, WebhookEndpoint.active.is_(True)).order_by(WebhookEndpoint.id)))


def get_endpoint(session: Session, endpoint_id: int, partner_id: int | None = None) -> WebhookEndpoint:
    """An active endpoint (of ``partner_id`` only, when given: another partner's is 'not found')."""
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or not endpoint.active or (partner_id is not None and endpoint.partner_id != partner_id):
        raise NotFound(N_("no webhook endpoint %(endpoint_id)s"), endpoint_id=endpoint_id)
    return endpoint


def rotate_secret(session: Session, endpoint: WebhookEndpoint, now: datetime, overlap: timedelta, *,
                  actor: str) -> WebhookEndpoint:
    """A new secret; the old one keeps signing too (both signatures sent) until ``now + overlap``."""
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_until = now + overlap
    endpoint.secret = core.new_secret(endpoint.scheme)
    session.flush()
    record_event(session, actor, "webhook.secret_rotated", "webhook_endpoint", str(endpoint.id),
                 {"partner_id": endpoint.partner_id, "overlap_until": utc_timestamp(endpoint.previous_until)})
    return endpoint


def disable_endpoint(session: Session, endpoint: WebhookEndpoint, *, actor: str) -> None:
    """Stop sending to the endpoint (its pending deliveries are not sent any more)."""
    endpoint.active = False
    session.flush()
    forget_endpoints()
    record_event(session, actor, "webhook.endpoint_disabled", "webhook_endpoint", str(endpoint.id),
                 {"partner_id": endpoint.partner_id})


def signing_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The secrets that sign an attempt now: the current one, and the previous one during its overlap."""
    out = [endpoint.secret]
    if endpoint.previous_secret and endpoint.previous_until and now < endpoint.previous_until:
        out.append(endpoint.previous_secret)
    return out


def verification_key(endpoint: WebhookEndpoint) -> str:
    """What the partner verifies with: the ``whsec_`` secret, or the ``whpk_`` public key."""
    return core.public_key(endpoint.secret) or endpoint.secret


# --- the outbox ---------------------------------------------------------------------------------

# Which endpoints a partner has is read on every redemption: a process keeps it for
# ENDPOINT_CACHE_SECONDS after its read (as the API key cache does). A change made through these
# services clears this process's copy at once; other processes see it at the latest that many seconds
# after it commits (an endpoint added gets the events from then on; a disabled one is never sent to).
ENDPOINT_CACHE_SECONDS = 2.0
_Cached = dict[int, tuple[float, tuple[tuple[int, str], ...]]]
_endpoint_cache: weakref.WeakKeyDictionary[Any, _Cached] = weakref.WeakKeyDictionary()  # per engine
_cache_lock = threading.Lock()


def forget_endpoints() -> None:
    """Drop this process's copy of every partner's endpoints."""
    with _cache_lock:
        _endpoint_cache.clear()


def _endpoints(session: Session, partner_id: int) -> tuple[tuple[int, str], ...]:
    now = time.monotonic()
    bind = session.get_bind()
    cached = _endpoint_cache.get(bind)
    hit = cached.get(partner_id) if cached is not None else None
    if hit is not None and hit[0] > now:
        return hit[1]
    rows = tuple((r.id, r.events) for r in session.execute(
        select(WebhookEndpoint.id, WebhookEndpoint.events).where(
            WebhookEndpoint.partner_id == partner_id, WebhookEndpoint.active.is_(True))))
    with _cache_lock:
        cached = _endpoint_cache.setdefault(bind, {})
        if len(cached) > 4096:
            cached.clear()
        cached[partner_id] = (now + ENDPOINT_CACHE_SECONDS, rows)
    return rows


# The outbox row goes on the driver connection of the change's transaction (rewards.directread.SessionWrite):
# every redemption with an endpoint pays for it, and SQLAlchemy's execution of a Core insert costs more
# than the insert itself (docs/benchmarks.md, issue 17).
_MESSAGE_COLUMNS = ("public_id", "partner_id", "event_type", "ordering_key", "dedupe", "live", "created_at",
                    "fanout", "payload")
_INSERT_MESSAGE = SessionWrite(insert(WebhookMessage.__table__).values({c: bindparam(c) for c in _MESSAGE_COLUMNS}))
_INSERT_DELIVERY = insert(WebhookDelivery.__table__)


def emit(session: Session, partner_id: int, event_type: str, ordering_key: str, data: dict[str, Any],
         now: datetime, *, live: bool = True, dedupe: str | None = None) -> str | None:
    """Store the event for every subscribed active endpoint of the partner, in the caller's transaction
    (one row: the deliveries are made by the sender, :func:`fan_out`); returns the message's
    ``webhook-id``, or None when no endpoint wants it (nothing is written)."""
    targets = [e for e, events in _endpoints(session, partner_id) if not events or event_type in events.split()]
    if not targets:
        return None
    payload = {"type": event_type, "timestamp": utc_timestamp(now), "livemode": live, "data": data}
    public_id = "msg_" + pysecrets.token_hex(12)
    _INSERT_MESSAGE.execute(session, {
        "public_id": public_id, "partner_id": partner_id, "event_type": event_type, "ordering_key": ordering_key,
        "dedupe": dedupe, "live": live, "created_at": now, "fanout": " ".join(map(str, targets)),
        "payload": json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8"),
    })
    session.info[PENDING_FLAG] = True
    return public_id


def fan_out(session: Session, limit: int = 500) -> int:
    """Make the delivery rows of up to ``limit`` messages still listing endpoints, oldest first, and
    clear their lists, in the caller's transaction; returns how many deliveries were made."""
    rows = session.execute(
        select(WebhookMessage.id, WebhookMessage.fanout, WebhookMessage.ordering_key, WebhookMessage.created_at)
        .where(WebhookMessage.fanout.is_not(None))
        .order_by(WebhookMessage.id)
        .limit(limit)
        # locked in id order (PostgreSQL; SQLite's writers are serial): another sender waits for our
        # commit, then skips these, so the deliveries of one key are made in their messages' order
        .with_for_update()
    ).all()
    if not rows:
        return 0
    session.execute(update(WebhookMessage).where(WebhookMessage.id.in_([r.id for r in rows]))
                    .values(fanout=None).execution_options(synchronize_session=False))
    made = [{"message_id": r.id, "endpoint_id": int(e), "ordering_key": r.ordering_key, "state": PENDING,
             "attempts": 0, "next_attempt_at": r.created_at} for r in rows for e in (r.fanout or "").split()]
    if made:  # in the messages' order: a delivery's id orders it within its key (see due)
        session.connection().execute(_INSERT_DELIVERY, made)
    return len(made)


# --- delivery -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outgoing:
    """One claimed attempt, with everything the sender needs outside any transaction."""

    delivery_id: int
    url: str
    msg_id: str
    body: bytes
    secrets: tuple[str, ...]


def due(session: Session, now: datetime, limit: int) -> list[int]:
    """Deliveries to attempt now: pending, due, not leased, of an active endpoint, and the oldest
    pending one of their endpoint and ordering key (oldest first)."""
    earlier = aliased(WebhookDelivery)
    blocked = exists().where(
        earlier.endpoint_id == WebhookDelivery.endpoint_id,
        earlier.ordering_key == WebhookDelivery.ordering_key,
        earlier.id < WebhookDelivery.id,
        earlier.state == PENDING,
    )
    return list(session.scalars(
        select(WebhookDelivery.id)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(
            WebhookDelivery.state == PENDING,
            WebhookDelivery.next_attempt_at <= now,
            or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until < now),
            WebhookEndpoint.active.is_(True),
            ~blocked,
        )
        .order_by(WebhookDelivery.id)
        .limit(limit)
    ))


def claim(session: Session, delivery_id: int, now: datetime, lease: timedelta) -> Outgoing | None:
    """Take the delivery for one attempt (None when another sender has it, or it is settled)."""
    result = session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.state == PENDING,
               or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until < now))
        .values(lease_until=now + lease)
        .execution_options(synchronize_session=False)
    )
    if rowcount(result) != 1:
        return None
    row = session.execute(
        select(WebhookEndpoint, WebhookMessage.public_id, WebhookMessage.payload)
        .join(WebhookDelivery, WebhookDelivery.endpoint_id == WebhookEndpoint.id)
        .join(WebhookMessage, WebhookMessage.id == WebhookDelivery.message_id)
        .where(WebhookDelivery.id == delivery_id)
    ).one()
    endpoint = row[0]
    return Outgoing(delivery_id, endpoint.url, row[1], bytes(row[2]), tuple(signing_secrets(endpoint, now)))


def settle(session: Session, delivery_id: int, *, status: int | None, error: str | None, latency_ms: int,
           now: datetime) -> str:
    """Record an attempt's outcome; returns the delivery's new state."""
    delivery = session.get(WebhookDelivery, delivery_id, with_for_update=True)
    assert delivery is not None
    replay = delivery.delivered_at is not None or delivery.attempts > len(core.SCHEDULE)
    session.add(WebhookAttempt(delivery_id=delivery_id, at=now, status_code=status, latency_ms=latency_ms,
                               error=(error or None) and error[:200], replay=replay))
    delivery.attempts += 1
    delivery.last_status, delivery.last_error, delivery.lease_until = status, error and error[:200], None
    if status is not None and 200 <= status < 300:
        delivery.state, delivery.delivered_at = DELIVERED, now
    else:
        wait = core.next_delay(delivery.attempts)
        if wait is None:
            delivery.state = FAILED
        else:
            delivery.next_attempt_at = now + timedelta(seconds=wait)
    session.flush()
    return delivery.state


def replay(session: Session, delivery_id: int, partner_id: int | None, now: datetime, *, actor: str) -> None:
    """Send a delivered or failed message again (same ``webhook-id``), as soon as a sender runs."""
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None or (partner_id is not None and delivery.endpoint.partner_id != partner_id):
        raise NotFound(N_("no webhook delivery %(delivery_id)s"), delivery_id=delivery_id)
    session.execute(
        update(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
        .values(state=PENDING, next_attempt_at=now, lease_until=None)
        .execution_options(synchronize_session=False)
    )
    session.expire(delivery)
    session.info[PENDING_FLAG] = True
    record_event(session, actor, "webhook.replayed", "webhook_delivery", str(delivery_id),
                 {"message": delivery.message.public_id, "endpoint_id": delivery.endpoint_id})


def deliveries(session: Session, partner_id: int, *, limit: int = 100, before: int | None = None,
               message: str | None = None) -> list[WebhookDelivery]:
    """The partner's deliveries, newest first (the delivery log)."""
    stmt = (select(WebhookDelivery).join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .where(WebhookEndpoint.partner_id == partner_id))
    if before is not None:
        stmt = stmt.where(WebhookDelivery.id < before)
    if message is not None:
        stmt = stmt.join(WebhookMessage).where(WebhookMessage.public_id == message)
    return list(session.scalars(stmt.order_by(WebhookDelivery.id.desc()).limit(limit)))


def attempts_of(session: Session, delivery_id: int) -> list[WebhookAttempt]:
    """A delivery's attempts, oldest first."""
    return list(session.scalars(select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery_id)
                                .order_by(WebhookAttempt.id)))


def delivery_view(d: WebhookDelivery, attempts: list[WebhookAttempt] | None = None) -> dict[str, Any]:
    """A delivery for the API and the log page."""
    out: dict[str, Any] = {
        "id": d.id,
        "message_id": d.message.public_id,
        "event_type": d.message.event_type,
        "endpoint_id": d.endpoint_id,
        "state": d.state,
        "attempts": d.attempts,
        "last_status": d.last_status,
        "last_error": d.last_error,
        "next_attempt_at": utc_timestamp(d.next_attempt_at) if d.state == PENDING else None,
        "delivered_at": utc_timestamp(d.delivered_at) if d.delivered_at else None,
        "created_at": utc_timestamp(d.message.created_at),
    }
    if attempts is not None:
        out["log"] = [{"at": utc_timestamp(a.at), "status_code": a.status_code, "latency_ms": a.latency_ms,
                       "error": a.error, "replay": a.replay} for a in attempts]
    return out


def endpoint_view(e: WebhookEndpoint, now: datetime) -> dict[str, Any]:
    """An endpoint for the API (with the key to verify with, and the previous one during an overlap)."""
    previous = None
    if e.previous_secret and e.previous_until and now < e.previous_until:
        previous = core.public_key(e.previous_secret) or e.previous_secret
    return {
        "id": e.id,
        "url": e.url,
        "description": e.description,
        "events": e.events.split() or list(core.EVENTS),
        "scheme": e.scheme,
        "secret": verification_key(e),
        "previous_secret": previous,
        "previous_until": utc_timestamp(e.previous_until) if previous and e.previous_until else None,
        "created_at": utc_timestamp(e.created_at),
    }


# --- code.expiring ------------------------------------------------------------------------------


def emit_expiring(session: Session, now: datetime, days: int, display: Any, limit: int = 5000) -> int:
    """``code.expiring`` once for every issued, unredeemed live code whose offer ends within ``days``
    (of partners with an endpoint that wants it); returns how many messages were written."""
    partners = select(WebhookEndpoint.partner_id).where(WebhookEndpoint.active.is_(True))
    already = exists().where(WebhookMessage.dedupe == literal("expiring:").concat(cast(Code.id, String)))
    rows = session.execute(
        select(Code, Offer, Partner.prefix)
        .join(Offer, Offer.id == Code.offer_id)
        .join(Partner, Partner.id == Offer.partner_id)
        .where(
            Code.state == ISSUED,
            Offer.withdrawn_at.is_(None),
            and_(Offer.valid_to > now, Offer.valid_to <= now + timedelta(days=days)),
            Offer.partner_id.in_(partners),
            ~already,
        )
        .order_by(Code.id)
        .limit(limit)
        # the codes' rows locked (PostgreSQL; SQLite's writers are serial): a redemption of one of them
        # commits wholly before or after this message, so a code's messages keep their order
        .with_for_update(of=Code)
    ).all()
    made = 0
    for code, offer, prefix in rows:
        data = {"code": display(prefix, code), "offer_id": offer.id, "expires_at": utc_timestamp(offer.valid_to)}
        message = emit(session, offer.partner_id, "code.expiring", f"code:{code.id}", data, now,
                       dedupe=f"expiring:{code.id}")
        made += message is not None
    return made


def purge(session: Session, before: datetime) -> int:
    """Delete the delivery log of messages created before ``before`` once they are fanned out and none
    of their deliveries is pending (attempts, deliveries, then the messages); returns how many went."""
    pending = exists().where(WebhookDelivery.message_id == WebhookMessage.id, WebhookDelivery.state == PENDING)
    old = select(WebhookMessage.id).where(WebhookMessage.created_at < before, WebhookMessage.fanout.is_(None),
                                          ~pending)
    done = select(WebhookDelivery.id).where(WebhookDelivery.message_id.in_(old))
    session.execute(delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(done)))
    session.execute(delete(WebhookDelivery).where(WebhookDelivery.message_id.in_(old)))
    return rowcount(session.execute(delete(WebhookMessage).where(WebhookMessage.id.in_(old)))) or 0
