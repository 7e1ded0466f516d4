"""The record of a background job: what, who, when, its state, progress, result or error."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from rewards.db import UTCDateTime, db, intpk

QUEUED = "queued"
RUNNING = "running"
DONE = "done"
FAILED = "failed"
CANCELLED = "cancelled"
STATES = (QUEUED, RUNNING, DONE, FAILED, CANCELLED)
FINISHED = (DONE, FAILED, CANCELLED)

_count = BigInteger().with_variant(Integer, "sqlite")


class Job(db.Model):
    """One piece of long work; the consumer moves it queued -> running -> done / failed / cancelled."""

    __tablename__ = "jobs"

    id: Mapped[intpk]
    kind: Mapped[str] = mapped_column(String(64), index=True)  # a registered kind, e.g. "snapshots.import"
    title: Mapped[str] = mapped_column(String(200))  # what people see in the list, e.g. "2025-03 (file.csv)"
    params: Mapped[str] = mapped_column(Text)  # canonical JSON: the handler's input
    state: Mapped[str] = mapped_column(String(16), index=True)
    started_by: Mapped[str] = mapped_column(String(128), index=True)  # the actor, as the event log names them
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    worker: Mapped[str | None] = mapped_column(String(128))  # host:pid of the consumer that ran it
    progress_done: Mapped[int] = mapped_column(_count, default=0)
    progress_total: Mapped[int | None] = mapped_column(_count)
    result: Mapped[str | None] = mapped_column(Text)  # JSON of the handler's answer
    error_code: Mapped[str | None] = mapped_column(String(64))  # e.g. "invalid_file", "interrupted"
    error_status: Mapped[int | None] = mapped_column(Integer)  # the refusal's HTTP status (422, 409, ...)
    error_message: Mapped[str | None] = mapped_column(Text)
    error_details: Mapped[str | None] = mapped_column(Text)  # JSON, e.g. the per-line errors of a file
    # The refusal's English template and its parameters (JSON): a page says it again in its language.
    error_template: Mapped[str | None] = mapped_column(Text)
    error_params: Mapped[str | None] = mapped_column(Text)
