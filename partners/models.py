"""Partners, offers, codes, the redemption ledger, idempotency records and bulk issue runs.

Invariants the database holds (not only the code):
- a code's 60-bit ``value`` is unique across all partners (``uq_codes_value``);
- one code per account per offer (``uq_codes_offer_id``);
- redemption ledger: one entry per (code, seq) — the code's version after the change — so two
  redemptions of one code can never both be written, whatever the isolation level; a redemption is
  reversed at most once (``uq_redemption_events_reverses_id``);
- one idempotency record per (partner, key).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rewards.apikeys import models as _api_client_tables  # noqa: F401  (partner_clients references api_clients.id)
from rewards.db import UTCDateTime, db, intpk, partial_index, timestamp

BigId = BigInteger().with_variant(Integer, "sqlite")

# Code states. The state column is the "exactly once" gate; counts come from the ledger.
ISSUED = "issued"
REDEEMED = "redeemed"
REVOKED = "revoked"

PERCENT = "percent"
FIXED = "fixed"


class Partner(db.Model):
    """A partner company whose web site checks and redeems codes."""

    __tablename__ = "partners"

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(128), unique=True)
    prefix: Mapped[str] = mapped_column(String(6), unique=True)  # immutable once codes exist
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    created_at: Mapped[timestamp]
    offers: Mapped[list[Offer]] = relationship(back_populates="partner", order_by="Offer.id")
    clients: Mapped[list[PartnerClient]] = relationship(back_populates="partner")


class PartnerClient(db.Model):
    """Links an API client (the foundation's keys and scopes) to the partner it acts for."""

    __tablename__ = "partner_clients"

    api_client_id: Mapped[int] = mapped_column(ForeignKey("api_clients.id"), primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"), index=True)
    # a sandbox key works only with the partner's test codes (printed TEST-...), never with live ones
    sandbox: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    created_at: Mapped[timestamp]
    partner: Mapped[Partner] = relationship(back_populates="clients")


class Offer(db.Model):
    """A partner's discount for customers of qualifying tiers, valid between two instants."""

    __tablename__ = "offers"

    id: Mapped[intpk]
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    discount_kind: Mapped[str] = mapped_column(String(8))  # percent | fixed
    discount_value: Mapped[int] = mapped_column(Integer)  # 1..100 percent, or kopecks
    tiers: Mapped[str] = mapped_column(String(64))  # space-separated tier codes, lowest first
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime())
    valid_to: Mapped[datetime] = mapped_column(UTCDateTime())  # exclusive
    budget: Mapped[int | None] = mapped_column(Integer, default=None)  # maximum number of codes
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    created_at: Mapped[timestamp]
    partner: Mapped[Partner] = relationship(back_populates="offers")

    @property
    def tier_list(self) -> list[str]:
        """The qualifying tiers."""
        return self.tiers.split()


class Code(db.Model):
    """One issued code: ``value`` is the 60-bit body; the display form is rebuilt from the prefix."""

    __tablename__ = "codes"
    __table_args__ = (UniqueConstraint("offer_id", "account"), Index("ix_codes_account", "account"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id"))
    value: Mapped[int] = mapped_column(BigInteger, unique=True)
    account: Mapped[str] = mapped_column(String(32))
    tier: Mapped[str] = mapped_column(String(16))
    snapshot_id: Mapped[int | None] = mapped_column(Integer, default=None)
    issue_run_id: Mapped[int | None] = mapped_column(Integer, default=None)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(10), default=ISSUED)
    version: Mapped[int] = mapped_column(Integer, default=0)  # seq of the last ledger entry
    # a test code (sandbox keys only; printed TEST-...): counted in no live count, report or total
    test: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    offer: Mapped[Offer] = relationship()


class RedemptionEvent(db.Model):
    """Append-only ledger: a redemption, or the rollback of one. Never updated, never deleted."""

    __tablename__ = "redemption_events"
    __table_args__ = (
        UniqueConstraint("code_id", "seq"),
        Index("ix_redemption_events_offer_id_at", "offer_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(10))  # redeem | rollback
    code_id: Mapped[int] = mapped_column(ForeignKey("codes.id"))
    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id"))
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)  # the code's version after this entry
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("redemption_events.id"), unique=True, default=None)
    order_ref: Mapped[str | None] = mapped_column(String(128), default=None)
    amount_kopecks: Mapped[int | None] = mapped_column(BigInteger, default=None)
    discount_kopecks: Mapped[int | None] = mapped_column(BigInteger, default=None)
    reason: Mapped[str | None] = mapped_column(String(200), default=None)
    api_client_id: Mapped[int | None] = mapped_column(Integer, default=None)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    test: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))  # of a test code


class IdempotencyRecord(db.Model):
    """The first response to a request with an ``Idempotency-Key``, stored byte for byte."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("partner_id", "key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"))
    key: Mapped[str] = mapped_column(String(255))
    endpoint: Mapped[str] = mapped_column(String(64))
    request_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(10))  # in_flight | done
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    content_type: Mapped[str | None] = mapped_column(String(100), default=None)
    body: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    locked_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class IssueRun(db.Model):
    """One bulk issue of codes for an offer from a snapshot, with its progress."""

    __tablename__ = "code_issue_runs"

    id: Mapped[intpk]
    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id"), index=True)
    snapshot_id: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(10))  # running | done | failed
    planned: Mapped[int] = mapped_column(Integer, default=0)
    issued: Mapped[int] = mapped_column(Integer, default=0)
    skipped_budget: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str | None] = mapped_column(Text, default=None)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class WebhookEndpoint(db.Model):
    """A partner's URL that receives signed event messages (Standard Webhooks).

    ``secret`` signs every message; after a rotation ``previous_secret`` signs too until
    ``previous_until`` (both signatures are sent meanwhile), then it is forgotten."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[intpk]
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"), index=True)
    url: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(String(200), default="")
    events: Mapped[str] = mapped_column(String(200), default="")  # space-separated; empty: every event
    scheme: Mapped[str] = mapped_column(String(8), default="hmac")  # hmac | ed25519
    secret: Mapped[str] = mapped_column(String(100))
    previous_secret: Mapped[str | None] = mapped_column(String(100), default=None)
    previous_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    created_at: Mapped[timestamp]


class WebhookMessage(db.Model):
    """The outbox: one event for one partner, written in the transaction of the change it tells of.
    ``public_id`` is the ``webhook-id`` of every attempt; ``ordering_key`` (``code:<id>``,
    ``offer:<id>``) orders deliveries; ``dedupe`` makes periodic events (``code.expiring``) once only.
    ``fanout`` lists the endpoints (ids, space-separated) that get a delivery row, until the sender
    has made those rows (then NULL): the change's transaction writes this one row only."""

    __tablename__ = "webhook_messages"
    __table_args__ = (
        # only the messages still to fan out are in it: the sender's look-up stays small
        partial_index("ix_webhook_messages_fanout", "id", where="fanout IS NOT NULL"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"), index=True)
    event_type: Mapped[str] = mapped_column(String(40))
    ordering_key: Mapped[str] = mapped_column(String(40))
    dedupe: Mapped[str | None] = mapped_column(String(80), unique=True, default=None)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    live: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    fanout: Mapped[str | None] = mapped_column(String(120), default=None)  # at most 10 endpoint ids


# delivery states
PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"


class WebhookDelivery(db.Model):
    """One message to one endpoint: pending until a 2xx answer, retried on the schedule, failed after
    the last attempt. ``lease_until`` marks an attempt under way (a consumer killed mid-send leaves it to
    expire, and the message is sent again: at least once)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("message_id", "endpoint_id"),
        Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
        Index("ix_webhook_deliveries_order", "endpoint_id", "ordering_key", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("webhook_messages.id"))
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id"))
    ordering_key: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(10), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    last_status: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str | None] = mapped_column(String(200), default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    message: Mapped[WebhookMessage] = relationship()
    endpoint: Mapped[WebhookEndpoint] = relationship()


class WebhookAttempt(db.Model):
    """The delivery log: every attempt with its answer (status code or error) and latency."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("webhook_deliveries.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    latency_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(200), default=None)
    replay: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
