"""Appending to the event log, chaining it, checkpoints and verification.

An append never waits for another: ``record_event`` inserts the event unchained (``seq`` empty) in the
caller's transaction. The chainer (``chain_pending``) then gives the committed, unchained events their
``seq``, ``prev_hash`` and ``hash`` in id order, in short transactions of its own under an advisory
lock, so the chain's order is the order in which the chainer saw events committed. It runs right after
every commit that recorded an event (a session hook; at most once a second per process for a
transaction marked :func:`chain_later`, a busy request path), every minute in the consumer, and before
every verification and checkpoint. On SQLite writers are serial anyway (``BEGIN IMMEDIATE``), so there an
event is chained in its own transaction at once.

PostgreSQL ids come from a sequence: a rolled-back transaction leaves a gap and transactions commit out
of id order; neither matters, because ``seq`` is assigned by the chainer to what is committed, and an
event that commits later than a higher id is simply chained after it. Between its commit and its
chaining (milliseconds; up to a second under partner traffic, a minute for the last events of a burst;
longer only if the chainer fails) an event is "pending": verification reports it as such.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, String, bindparam, event, func, insert, select, text, type_coerce, update
from sqlalchemy.orm import Session

from signedjson import canonical_json
from rewards.audit.chain import GENESIS, ChainReport, Unreadable, event_body, event_hash, verify_chain
from rewards.audit.models import Checkpoint, Event
from rewards.db import utcnow
from signedjson import utc_timestamp

log = logging.getLogger("rewards.audit")

# The PostgreSQL advisory lock that serialises the chainers (never appends): any constant works for the
# first key; the second is the schema's, so installations (or test runs) in schemas of one database never
# share it: a chainer that finds it taken leaves its events to the holder, who must see them.
_CHAIN_LOCK = 0x5257_4441
_LOCK_ARGS = "(:k, hashtext(current_schema()))"
# SET LOCAL synchronous_commit = off, for the chaining transaction only: its commit is visible at once
# but may return before the write-ahead log reaches the disk (a server crash within 3 x wal_writer_delay
# may lose it, never half of it). The log is written in order, so any later commit that waits makes it
# durable too; the links are derived data, made again if lost (see chain_pending).
_UNFLUSHED = "set_config('synchronous_commit', 'off', true)"
_LOCK = text(f"SELECT {_UNFLUSHED}, pg_advisory_xact_lock{_LOCK_ARGS}")
_TRY_LOCK = text(f"SELECT {_UNFLUSHED}, pg_try_advisory_xact_lock{_LOCK_ARGS}")
_UNCHAINED = "rewards.audit.unchained"  # session.info flag: this transaction recorded an event
_LATER = "rewards.audit.later"  # session.info flag: its events may wait for the next chainer (chain_later)
CHAIN_BATCH = 2000
# A transaction marked chain_later leaves its events pending if this process chained less than this
# long ago (seconds): busy request paths chain once a second per process instead of after every commit.
LATER_SECONDS = 1.0
_defer_while: Callable[[], bool] | None = None  # see defer_chaining
_last_chained = -LATER_SECONDS  # time.monotonic() of this process's last chaining after a commit
_E = Event.__table__.c
_INSERT_EVENT = insert(Event.__table__)


def record_event(
    session: Session, actor: str, action: str, object_type: str, object_id: str, details: dict[str, Any]
) -> None:
    """Append an event in the caller's transaction (it commits or rolls back with the change it records).

    The caller's pending ORM changes are flushed first (so an error they raise comes from here, as
    before the event); the event itself is one prebuilt Core INSERT (no ORM object, no id read back:
    the partner API's redemptions write one each)."""
    session.flush()
    conn = session.connection()
    conn.execute(_INSERT_EVENT, {
        "at": utcnow(), "actor": actor, "action": action, "object_type": object_type,
        "object_id": str(object_id), "details": canonical_json(details).decode("utf-8"),
    })
    if conn.dialect.name == "sqlite":
        # this transaction holds SQLite's only write lock: every other event is committed and chained
        _chain_batch(conn, None)
    else:
        session.info[_UNCHAINED] = True


def chain_later(session: Session) -> None:
    """Let this transaction's events wait for the next chainer (PostgreSQL; on SQLite they are chained
    already): after its commit they are chained only if this process has not chained for
    ``LATER_SECONDS``; otherwise they stay pending until the next chaining, which is this process's or
    another's next commit past that interval, the periodic chainer (every minute), or a verification or
    checkpoint (which chain everything first). For busy request paths (a partner redemption): at 30
    a second a process chains once a second, a batch of events in one short transaction, instead of
    paying a chaining transaction on every request. The chain is the same: events are chained in the
    order the chainer sees them committed, whichever chainer it is."""
    session.connection()  # the mark is the current transaction's: its commit or rollback clears it
    session.info[_LATER] = True


def _chain_batch(conn: Connection, limit: int | None) -> int:
    """Chain up to ``limit`` (None: all) unchained events ``conn`` sees, in id order; how many it chained."""
    head = conn.execute(select(_E.seq, _E.hash).where(_E.seq.is_not(None)).order_by(_E.seq.desc()).limit(1)).first()
    seq, prev = (head[0], head[1]) if head else (0, GENESIS)
    pending = select(_E.id, _E.at, _E.actor, _E.action, _E.object_type, _E.object_id, _E.details)
    rows = conn.execute(pending.where(_E.seq.is_(None)).order_by(_E.id).limit(limit)).all()
    links = []
    for row in rows:
        seq += 1
        body = event_body(seq, row.at, row.actor, row.action, row.object_type, row.object_id, json.loads(row.details), prev)
        digest = event_hash(body)
        links.append({"k_id": row.id, "k_seq": seq, "k_prev": prev, "k_hash": digest})
        prev = digest
    if links:
        conn.execute(
            update(Event.__table__)
            .where(_E.id == bindparam("k_id"))
            .values(seq=bindparam("k_seq"), prev_hash=bindparam("k_prev"), hash=bindparam("k_hash")),
            links,
        )
    return len(rows)


def chain_pending(engine: Engine, batch: int = CHAIN_BATCH, *, wait: bool = True) -> int:
    """Chain every committed unchained event, ``batch`` at a time, each batch a short transaction of its
    own under the chain lock (PostgreSQL; on SQLite the write lock). Returns how many it chained.

    ``wait``: wait for the chain lock (a verification, a checkpoint, the periodic chainer: everything
    committed before the call is chained when it returns). Without it (after a commit, on a request's
    path), a chainer that finds the lock taken leaves at once: the holder takes its events, because
    every chainer, once its own batch is committed, looks for pending events again and chains them
    (trying the lock again, so the duty passes on). That look comes after the holder's commit, and
    a chainer that gave up did so after its own events were committed: the look sees them. A request
    thus never queues behind another request's chaining.

    On PostgreSQL a chaining transaction's commit does not wait for the disk
    (``_UNFLUSHED``), so the lock is never held while the disk is flushed. The chain
    is derived from the events: a crash that loses the last links leaves their events pending, and the
    next chainer links them again in id order after the durable head; the chain stays whole. Any commit
    that waits (an event's own, a checkpoint's) makes every link before it durable, so a signed
    checkpoint never names a lost link.
    """
    postgresql = engine.dialect.name == "postgresql"
    total = 0
    with engine.connect() as conn:
        while True:
            with conn.begin():
                # one round trip: this transaction's commit will not wait for the disk, and the lock
                if postgresql and wait:
                    conn.execute(_LOCK, {"k": _CHAIN_LOCK})
                elif postgresql and not conn.execute(_TRY_LOCK, {"k": _CHAIN_LOCK}).one()[1]:
                    return total  # the holder chains ours after its batch (see above)
                done = _chain_batch(conn, batch)
            total += done
            if done == batch:
                continue
            if not postgresql:
                return total
            # a chainer that gave up meanwhile left its events to us (if the lock is taken: to its holder)
            pending = conn.scalar(select(_E.id).where(_E.seq.is_(None)).limit(1)) is not None
            conn.rollback()
            if not pending:
                return total
            wait = False


def defer_chaining(while_: Callable[[], bool] | None) -> None:
    """While ``while_()`` is true, this process's commits leave their events pending for another chainer.

    The jobs consumer runs at a lower OS priority (and its database sessions too): if it held the chain
    lock while starved of CPU, every partner redemption's chaining would wait for it. While live traffic
    is served, the web workers chain after their commits (a redemption's at most once a second per
    process, :func:`chain_later`), which takes the consumer's events too;
    the periodic chainer catches the rest within a minute. None: chain after every commit (the default).
    """
    global _defer_while
    _defer_while = while_


@event.listens_for(Session, "after_commit")
def _chain_after_commit(session: Session) -> None:
    """Chain the events a transaction recorded as soon as it commits (a failure leaves them pending);
    one marked :func:`chain_later` only if this process has not chained for ``LATER_SECONDS``."""
    global _last_chained
    later = session.info.pop(_LATER, False)
    if session.info.pop(_UNCHAINED, False):
        if _defer_while is not None and _defer_while():
            return  # a foreground chainer takes them (defer_chaining)
        now = time.monotonic()
        if later and now - _last_chained < LATER_SECONDS:
            return  # the next chainer takes them (chain_later)
        _last_chained = now
        try:
            chain_pending(session.get_bind(), wait=False)  # type: ignore[arg-type]
        except Exception:  # noqa: BLE001 - the periodic chainer and the verifier try again
            log.exception("chaining the event log after a commit failed; the events stay pending")


@event.listens_for(Session, "after_rollback")
def _forget_unchained(session: Session) -> None:
    session.info.pop(_UNCHAINED, None)
    session.info.pop(_LATER, None)


def _chain_before_reading(session: Session) -> None:
    """On PostgreSQL, chain what is pending (committed by others) before a checkpoint or a verification."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        chain_pending(bind)  # type: ignore[arg-type]


def any_pending(engine: Engine) -> bool:
    """Whether an event is stored but not chained (an index look-up: no lock taken)."""
    with engine.connect() as conn:
        return conn.scalar(select(_E.id).where(_E.seq.is_(None)).limit(1)) is not None


def pending_count(session: Session) -> int:
    """Events stored but not chained yet."""
    return session.scalar(select(func.count()).select_from(Event).where(Event.seq.is_(None))) or 0


def body_of(event: Event) -> dict[str, Any]:
    """The canonical body of a stored event, as its hash was computed (chained events only)."""
    if event.seq is None or event.prev_hash is None:
        raise ValueError(f"event {event.id} is not chained yet")
    return event_body(
        event.seq,
        event.at,
        event.actor,
        event.action,
        event.object_type,
        event.object_id,
        json.loads(event.details),
        event.prev_hash,
    )


# The raw columns of an event: the time as the driver gives it (text on SQLite, so a malformed one
# is reported as a broken link instead of failing the whole read).
_RAW = Event.__table__.c
_RAW_COLUMNS = (_RAW.seq, type_coerce(_RAW.at, String), _RAW.actor, _RAW.action, _RAW.object_type,
                _RAW.object_id, _RAW.details, _RAW.prev_hash, _RAW.hash)


def _instant(value: Any) -> datetime:
    """A stored event time as an aware UTC datetime (ValueError when it is none)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise ValueError(f"not a time: {value!r}")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _raw_body(row: Any) -> dict[str, Any] | Unreadable:
    seq, at, actor, action, object_type, object_id, details, prev_hash, _hash = row
    try:
        return event_body(seq, _instant(at), actor, action, object_type, object_id, json.loads(details), prev_hash)
    except (TypeError, ValueError, OverflowError, RecursionError) as exc:
        return Unreadable(seq, f"{type(exc).__name__}: {str(exc)[:200]}")


def iter_chain(session: Session, batch: int = 5000) -> Iterator[tuple[dict[str, Any] | Unreadable, str]]:
    """Every event as ``(body, stored hash)`` in sequence order, read in batches; a row that is no
    event (bad JSON, a bad time) comes as ``Unreadable``."""
    last = 0
    while True:
        rows = session.execute(select(*_RAW_COLUMNS).where(_RAW.seq > last).order_by(_RAW.seq).limit(batch)).all()
        if not rows:
            return
        for row in rows:
            yield _raw_body(row), row[-1]
        last = rows[-1][0]


def export_lines(session: Session, batch: int = 5000) -> Iterator[str]:
    """The whole log as JSON lines in sequence order: ``{"body": ..., "hash": ...}`` per event (the
    body as its hash was computed, so an auditor can re-check every link), or ``{"seq", "unreadable",
    "hash"}`` for a row that is no event. Pending events are chained first."""
    _chain_before_reading(session)
    for body, stored in iter_chain(session, batch):
        item: dict[str, Any] = (
            {"seq": body.seq, "unreadable": body.reason, "hash": stored} if isinstance(body, Unreadable)
            else {"body": body, "hash": stored}
        )
        yield json.dumps(item, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str) + "\n"


def event_count(session: Session) -> int:
    """How many events the log holds."""
    return int(session.scalar(select(func.count()).select_from(Event)) or 0)


def verify_log(session: Session, checkpoint: dict[str, Any] | None = None) -> ChainReport:
    """Chain what is pending, then walk the whole chain; with a checkpoint payload, also detect a
    truncated tail. Events still unchained (committed meanwhile, or the chainer failing) are counted
    in ``pending``, not treated as broken links."""
    _chain_before_reading(session)
    report = verify_chain(iter_chain(session), checkpoint)
    return dataclasses.replace(report, pending=pending_count(session))


def make_checkpoint(session: Session, signer: Any, *, actor: str) -> dict[str, Any]:
    """Chain what is pending, sign the chain's head (seq, hash) and store the envelope; returns the envelope."""
    _chain_before_reading(session)
    head = session.execute(
        select(Event.seq, Event.hash).where(Event.seq.is_not(None)).order_by(Event.seq.desc()).limit(1)
    ).first()
    seq, head_hash = (head[0], head[1]) if head else (0, GENESIS)
    now = utcnow()
    payload = {
        "type": "audit-checkpoint",
        "seq": seq,
        "head_hash": head_hash,
        "created_at": utc_timestamp(now),
    }
    envelope = signer.sign(payload)
    session.add(Checkpoint(seq=seq, head_hash=head_hash, created_at=now, envelope=canonical_json(envelope).decode()))
    record_event(session, actor, "audit.checkpoint", "checkpoint", str(seq), {"head_hash": head_hash})
    return envelope
