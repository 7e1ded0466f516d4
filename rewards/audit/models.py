"""Rows of the event log and its signed checkpoints."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from rewards.db import UTCDateTime, db, intpk

_BIG = BigInteger().with_variant(Integer, "sqlite")


class Event(db.Model):
    """One state change; hash-chained to the one before it once the chainer gives it a ``seq``.

    ``id`` is the insertion order (a database sequence: it has gaps and commits out of order);
    ``seq``, ``prev_hash`` and ``hash`` are empty until the event is chained (``rewards.audit.services``).
    """

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(_BIG, primary_key=True, autoincrement=True)
    seq: Mapped[int | None] = mapped_column(_BIG, unique=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(128), index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(128))
    details: Mapped[str] = mapped_column(Text)  # canonical JSON
    prev_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    hash: Mapped[str | None] = mapped_column(String(64), unique=True)


class Checkpoint(db.Model):
    """A signed statement of the log's head (seq, hash) at a moment."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[intpk]
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    head_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    envelope: Mapped[str] = mapped_column(Text)  # canonical JSON of the signed envelope
