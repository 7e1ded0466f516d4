"""Priority flags: insert-only rows, closed by insert-only closure rows.

History is never lost because nothing here is ever updated or deleted:

- ``priority_flags``: one row per grant (account, reason, validity, who, when). A change of a staff
  flag (new dates or note) is a *new* row that names the row it replaces (``replaces_id``).
- ``priority_flag_closures``: a flag is *closed* when a closure row exists for it; the primary key on
  ``flag_id`` makes a second closure of the same flag impossible (so "revoke exactly once" holds under
  concurrency on both engines). A closure ends the flag at once (``closed_at``); ``kind`` says why:
  ``revoked`` (staff, with a reason), ``replaced`` (a newer row took over), ``recomputed`` (the
  snapshot of its period was replaced and no longer puts the account in a priority tier).
- ``priority_tier_runs``: one row per application of a snapshot's tiers (period, tiers, grace, counts).

A flag is *active* on day ``d`` when ``valid_from <= d <= valid_to`` (``valid_to`` NULL: open-ended)
and no closure row exists. The call-centre look-up reads one account's rows through the index on
``account`` and anti-joins the closures by their primary key.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from rewards.db import UTCDateTime, db, intpk

_BIGINT = BigInteger().with_variant(Integer, "sqlite")


class PriorityFlag(db.Model):
    """One grant of priority service to an account, for one reason and a validity window."""

    __tablename__ = "priority_flags"
    __table_args__ = (
        # written with OR rather than IN: on SQLite an IN check costs far more per insert
        CheckConstraint("source = 'staff' OR source = 'tier'", name="source"),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="validity"),
        Index("ix_priority_flags_account", "account"),
        # (period, account): the tier runs probe "has this account a flag of this period?"; an index
        # on period alone lets SQLite scan the whole period per probe (quadratic on a second run).
        Index("ix_priority_flags_period_account", "period", "account"),
    )

    id: Mapped[int] = mapped_column(_BIGINT, primary_key=True, autoincrement=True)
    account: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(32))  # a staff reason, or tier:<tier>
    source: Mapped[str] = mapped_column(String(8))  # staff | tier
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date, nullable=True)  # last valid day; NULL: open-ended
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    period: Mapped[str | None] = mapped_column(String(7), nullable=True)  # the snapshot of a tier flag
    replaces_id: Mapped[int | None] = mapped_column(_BIGINT, ForeignKey("priority_flags.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(128))


class FlagClosure(db.Model):
    """The end of a flag: at most one per flag, never changed."""

    __tablename__ = "priority_flag_closures"
    __table_args__ = (
        CheckConstraint("kind = 'revoked' OR kind = 'replaced' OR kind = 'recomputed'", name="kind"),
    )

    flag_id: Mapped[int] = mapped_column(_BIGINT, ForeignKey("priority_flags.id"), primary_key=True,
                                         autoincrement=False)
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_by: Mapped[str] = mapped_column(String(128))


class TierRun(db.Model):
    """One application of a snapshot's tiers to the flags."""

    __tablename__ = "priority_tier_runs"

    id: Mapped[intpk]
    period: Mapped[str] = mapped_column(String(7), index=True)
    tiers: Mapped[str] = mapped_column(String(128))  # space-separated tier codes
    grace_months: Mapped[int] = mapped_column(Integer)
    valid_to: Mapped[date] = mapped_column(Date)
    accounts_in_tiers: Mapped[int] = mapped_column(Integer)
    added: Mapped[int] = mapped_column(Integer)
    closed: Mapped[int] = mapped_column(Integer)
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime())
    applied_by: Mapped[str] = mapped_column(String(128))


class FlagNeed(db.Model):
    """A need of a register entry (a staff flag of reason ``needs``): never changed; a change of the
    entry is a new flag row with its own needs (the old row and its needs stay as history)."""

    __tablename__ = "priority_flag_needs"
    __table_args__ = (
        Index("ix_priority_flag_needs_ends_on", "ends_on"),
        Index("ix_priority_flag_needs_verify_by", "verify_by"),
    )

    flag_id: Mapped[int] = mapped_column(_BIGINT, ForeignKey("priority_flags.id"), primary_key=True,
                                         autoincrement=False)
    need: Mapped[str] = mapped_column(String(40), primary_key=True)  # a code of the declared list
    ends_on: Mapped[date | None] = mapped_column(Date, nullable=True)  # last day of a temporary need
    verify_by: Mapped[date | None] = mapped_column(Date, nullable=True)  # re-verification date


class FlagConsent(db.Model):
    """The consent and contacts of a register entry (one per flag row, never changed).

    ``nominee_*`` are personal data (shown only to roles with ``flags.personal``); the call-centre
    password is kept only as a hash and never returned.
    """

    __tablename__ = "priority_flag_consents"

    flag_id: Mapped[int] = mapped_column(_BIGINT, ForeignKey("priority_flags.id"), primary_key=True,
                                         autoincrement=False)
    list_version: Mapped[int] = mapped_column(Integer)
    consent_on: Mapped[date] = mapped_column(Date)
    consent_channel: Mapped[str] = mapped_column(String(16))
    consent_by: Mapped[str] = mapped_column(String(128))
    share: Mapped[bool] = mapped_column(Boolean)  # may go to partner organisations
    nominee_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    nominee_phone: Mapped[str | None] = mapped_column(String(32), nullable=True)
    password_hash: Mapped[str | None] = mapped_column(String(256), nullable=True)


__all__ = ["FlagClosure", "FlagConsent", "FlagNeed", "PriorityFlag", "TierRun"]
