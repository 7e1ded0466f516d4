"""Use cases of priority flags. Each takes the session first, never commits, and records its events.

Dates (``today``) are local dates of the retailer's time zone, computed by the shell and passed in;
settings (the priority tiers, the grace months) are passed in too: services never read the app.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Date,
    Insert,
    Select,
    String,
    and_,
    bindparam,
    case,
    column,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    table,
    text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from rewards.audit.services import record_event
from rewards.bulkload import bulk_insert
from rewards.db import UTCDateTime, rowcount, utcnow
from rewards.directread import DirectRead
from rewards.errors import N_, Conflict, DomainError, NotFound
from rewards.flags import core
from rewards.flags import needs as needs_core
from rewards.flags.models import FlagClosure, FlagConsent, FlagNeed, PriorityFlag, TierRun
from rewards.tiers import TIERS

F = PriorityFlag.__table__
C = FlagClosure.__table__

_CHUNK = 500
_LOAD_BATCH = 50_000
_TMP = "flags_tier_input"


class FlagError(DomainError):
    """A flag operation was refused (bad input); nothing was changed."""


class FlagClosed(Conflict):
    """The flag is already closed (revoked, replaced or recomputed) or has run out."""

    code = "already_closed"


def _closure_word(kind: str) -> Any:
    """How a flag was closed, lazily in the page's language."""
    words = {core.CLOSED_REVOKED: _l("revoked"), core.CLOSED_REPLACED: _l("replaced"),
             core.CLOSED_RECOMPUTED: _l("recomputed")}
    return words.get(kind, kind)


def _input_error(exc: core.FlagInputError) -> FlagError:
    return FlagError.of(exc, field=exc.field)


def _is_pg(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _lock_account(session: Session, account: str) -> None:
    """Serialise changes to one account's staff flags (PostgreSQL; SQLite's BEGIN IMMEDIATE already does)."""
    if _is_pg(session):
        key = (0x464C4147 << 32) | zlib.crc32(account.encode())
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def _open() -> Any:
    """The condition "no closure row exists" for a flag row of F."""
    return ~exists().where(C.c.flag_id == F.c.id)


def _valid_on(day: Any) -> Any:  # a date, or a bound parameter of one
    return and_(F.c.valid_from <= day, or_(F.c.valid_to.is_(None), F.c.valid_to >= day))


def _close(session: Session, rows: list[dict[str, Any]]) -> int:
    """Insert closure rows, skipping any flag already closed; returns how many were inserted.

    The primary key on ``flag_id`` decides: of two requests closing one flag, exactly one inserts.
    Callers compare the count with ``len(rows)``.
    """
    done = 0
    for start in range(0, len(rows), _CHUNK):  # multi-row VALUES: keep under SQLite's variable limit
        stmt = _insert_new_closures(session, rows[start : start + _CHUNK])
        # psycopg reports INSERT counts only when asked
        done += rowcount(session.execute(stmt.execution_options(preserve_rowcount=True)))
    return done


def _insert_new_closures(session: Session, rows: list[dict[str, Any]]) -> Insert:
    """INSERT ... ON CONFLICT (flag_id) DO NOTHING in the engine's dialect, imported here: a command that
    only reads flags on SQLite never imports the PostgreSQL dialect (some 20 ms of its start)."""
    if _is_pg(session):
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(C).values(rows).on_conflict_do_nothing(index_elements=["flag_id"])
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(C).values(rows).on_conflict_do_nothing(index_elements=["flag_id"])


# --- snapshots (read through rewards.snapshots.queries) ---------------------------------------------


def known_accounts(session: Session, accounts: Iterable[str]) -> set[str]:
    """Which of ``accounts`` are in the latest snapshot (none are when no snapshot is loaded)."""
    from rewards.snapshots import queries

    latest = queries.latest_snapshot(session)
    if latest is None:
        return set()
    return queries.known_accounts(session, latest.id, accounts)


def latest_tier(session: Session, account: str, today: date | None = None) -> tuple[str | None, str | None]:
    """``(period, tier)`` of the account in the latest snapshot (the newest period not after ``today``'s
    month, default the current local month); tier None when it is not in it.

    One indexed query (the newest active snapshot, then the row by its primary key), Core only: the
    look-up's own statement, run in the session (no key asked about).
    """
    from rewards.snapshots import queries

    current = f"{today:%Y-%m}" if today is not None else queries.current_period()
    row = session.execute(_head_read().statement, {"account": account, "current_period": current}).one()
    return row.period, row.tier


# --- staff flags ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """What one set or revoke did: ``created``, ``replaced`` (a new row closed the old), ``unchanged``
    or ``revoked``; with the flag row ids involved."""

    status: str
    account: str
    reason: str
    flag_id: int | None
    closed_id: int | None = None


def _open_staff_flags(session: Session, accounts: Sequence[str]) -> dict[tuple[str, str], Any]:
    """The open (unclosed) staff flag rows of these accounts, by (account, reason)."""
    found: dict[tuple[str, str], Any] = {}
    wanted = list(dict.fromkeys(accounts))
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        rows = session.execute(
            select(F.c.id, F.c.account, F.c.reason, F.c.valid_from, F.c.valid_to, F.c.note)
            .where(F.c.account.in_(chunk), F.c.source == core.SOURCE_STAFF, _open())
            .order_by(F.c.id)
        ).all()
        for row in rows:
            found[(row.account, row.reason)] = row
    return found


def _apply_sets(
    session: Session,
    items: list[core.StaffFlagInput],
    *,
    actor: str,
    current: dict[tuple[str, str], Any] | None = None,
) -> list[Change]:
    """Insert the new rows and close the rows they replace; identical requests change nothing.

    ``current``: the open staff flags of these accounts when the caller has already read them.
    """
    now = utcnow()
    if current is None:
        current = _open_staff_flags(session, [i.account for i in items])
    changes: list[Change] = []
    new_rows: list[dict[str, Any]] = []
    closures: list[dict[str, Any]] = []
    for item in items:
        old = current.get((item.account, item.reason))
        if old is not None and (old.valid_from, old.valid_to, old.note) == (item.valid_from, item.valid_to, item.note):
            changes.append(Change("unchanged", item.account, item.reason, old.id))
            continue
        new_rows.append(
            {
                "account": item.account,
                "reason": item.reason,
                "source": core.SOURCE_STAFF,
                "valid_from": item.valid_from,
                "valid_to": item.valid_to,
                "note": item.note,
                "period": None,
                "replaces_id": old.id if old is not None else None,
                "created_at": now,
                "created_by": actor,
            }
        )
        if old is not None:
            closures.append(
                {"flag_id": old.id, "kind": core.CLOSED_REPLACED, "reason": None, "closed_at": now, "closed_by": actor}
            )
        changes.append(Change("replaced" if old is not None else "created", item.account, item.reason, None,
                              old.id if old else None))
    if closures:
        if _close(session, closures) != len(closures):
            raise Conflict(N_("a flag changed while this request ran; nothing was saved, try again"),
                           code="flag_changed")
    if new_rows:
        # One executemany ("insertmanyvalues" batches) with RETURNING in parameter order on both engines.
        ids = session.execute(insert(F).returning(F.c.id, sort_by_parameter_order=True), new_rows).scalars().all()
        it = iter(ids)
        changes = [c if c.status == "unchanged" else Change(c.status, c.account, c.reason, next(it),
                                                            c.closed_id) for c in changes]
    return changes


def set_flag(
    session: Session,
    account: str,
    reason: str,
    *,
    valid_from: date | None = None,
    valid_to: date | None = None,
    note: str | None = None,
    actor: str,
    today: date,
) -> Change:
    """Set a staff flag. If the account already has an open flag with this reason and other dates or
    note, a new row replaces it (the old row is closed as ``replaced``); the same values change nothing.

    The account need not be in a snapshot yet (a new customer's first bill may still be on its way);
    bulk files are stricter (:func:`apply_bulk`).
    """
    try:
        item = core.check_staff_flag(account, reason, valid_from, valid_to, note, today=today)
    except core.FlagInputError as exc:
        raise _input_error(exc) from exc
    _lock_account(session, item.account)
    (change,) = _apply_sets(session, [item], actor=actor)
    if change.status != "unchanged":
        record_event(
            session,
            actor,
            "flags.set",
            "account",
            item.account,
            {
                "flag_id": change.flag_id,
                "reason": item.reason,
                "valid_from": item.valid_from.isoformat(),
                "valid_to": item.valid_to.isoformat() if item.valid_to else None,
                "replaces": change.closed_id,
            },
        )
    return change


def revoke_flag(session: Session, flag_id: int, why: str, *, actor: str, today: date) -> Change:
    """Close an open flag (staff or tier) now, with a reason. A flag already closed, or one whose
    validity has ended, cannot be revoked (``already_closed``)."""
    try:
        why = core.check_revoke_reason(why)
    except core.FlagInputError as exc:
        raise _input_error(exc) from exc
    row = None
    if 0 < flag_id < 2**63:  # a larger number fits no BIGINT column: no such flag
        row = session.execute(select(F.c.id, F.c.account, F.c.reason, F.c.valid_to).where(F.c.id == flag_id)).first()
    if row is None:
        raise NotFound(N_("no flag %(flag)s"), code="no_flag", flag=flag_id)
    _lock_account(session, row.account)
    closed = session.execute(select(C.c.kind, C.c.closed_at).where(C.c.flag_id == flag_id)).first()
    if closed is not None:
        raise FlagClosed(N_("flag %(flag)s is already closed (%(how)s at %(closed_at)s UTC)"), flag=flag_id,
                         how=_closure_word(closed.kind), closed_at=f"{closed.closed_at:%Y-%m-%d %H:%M}")
    if row.valid_to is not None and row.valid_to < today:
        raise FlagClosed(N_("flag %(flag)s already ended on %(date)s"), code="expired", flag=flag_id,
                         date=row.valid_to.isoformat())
    closure = {"flag_id": flag_id, "kind": core.CLOSED_REVOKED, "reason": why, "closed_at": utcnow(),
               "closed_by": actor}
    if _close(session, [closure]) != 1:  # another request closed it between our read and our insert
        raise FlagClosed(N_("flag %(flag)s is already closed"), flag=flag_id)
    record_event(session, actor, "flags.revoked", "account", row.account,
                 {"flag_id": flag_id, "reason": row.reason, "why": why})
    return Change("revoked", row.account, row.reason, None, flag_id)


def revoke_reason(session: Session, account: str, reason: str, why: str, *, actor: str, today: date) -> Change:
    """Revoke the account's open staff flag with this reason (CLI and bulk files name flags this way)."""
    try:
        account = core.check_account(account)
    except core.FlagInputError as exc:
        raise _input_error(exc) from exc
    row = _open_staff_flags(session, [account]).get((account, reason))
    if row is None:
        raise FlagClosed(f"account {account} has no open flag with reason {reason!r}")
    return revoke_flag(session, row.id, why, actor=actor, today=today)


# --- bulk files -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BulkResult:
    """What a bulk file (of flags or of needs) changed."""

    lines: int
    created: int
    replaced: int
    unchanged: int
    revoked: int
    encoding: str


def apply_bulk(session: Session, data: bytes, *, actor: str, today: date, source_name: str = "") -> BulkResult:
    """Apply a bulk flag file (see :func:`rewards.flags.core.read_bulk`) all or nothing.

    Every line is checked first: format, reasons, dates, accounts unknown to the latest snapshot,
    revocations of flags that are not open. Any problem raises FlagError with ``errors`` by line and
    nothing is applied. One event records the file (its SHA-256 and the counts).
    """
    report = core.read_bulk(data, today=today)
    accounts = [line.account for line in report.lines]
    known = known_accounts(session, accounts)
    open_now = _open_staff_flags(session, accounts)
    for line in report.lines:
        if line.account not in known:
            report.add_error(line.line, N_("account %(account)s is not in the latest snapshot"),
                             core.UNKNOWN_ACCOUNT, "account",
                             account=line.account)
        elif line.action == core.ACTION_REVOKE:
            row = open_now.get((line.account, line.reason))
            if row is None:
                report.add_error(line.line, N_("account %(account)s has no open flag with reason %(reason)s"),
                                 core.NOT_OPEN,
                                 account=line.account, reason=line.reason)
            elif row.valid_to is not None and row.valid_to < today:
                report.add_error(line.line, N_("the %(reason)s flag of account %(account)s already ended"),
                                 core.NOT_OPEN,
                                 account=line.account, reason=line.reason)
    if report.log:
        count = report.problem_lines()
        raise FlagError(
            N_("the file has problems on %(count)s line(s); nothing was applied"), errors=report.errors_by_line(),
            code="bad_file", count=count, problems=report.log.details,  # pages word each one in their language
        )
    sets = [
        core.StaffFlagInput(line.account, line.reason, line.valid_from or today, line.valid_to, line.note)
        for line in report.lines
        if line.action == core.ACTION_SET
    ]
    changes = _apply_sets(session, sets, actor=actor, current=open_now) if sets else []
    now = utcnow()
    revokes = [
        {"flag_id": open_now[(line.account, line.reason)].id, "kind": core.CLOSED_REVOKED, "reason": line.note,
         "closed_at": now, "closed_by": actor}
        for line in report.lines
        if line.action == core.ACTION_REVOKE
    ]
    if revokes:
        if _close(session, revokes) != len(revokes):
            raise Conflict(N_("a flag changed while the file was applied; nothing was saved, try again"),
                           code="flag_changed")
    counts = {s: sum(1 for c in changes if c.status == s) for s in ("created", "replaced", "unchanged")}
    result_obj = BulkResult(len(report.lines), counts["created"], counts["replaced"], counts["unchanged"], len(revokes),
                            report.encoding)
    record_event(
        session,
        actor,
        "flags.bulk_applied",
        "flag_file",
        hashlib.sha256(data).hexdigest()[:16],
        {
            "file": source_name[:200],
            "sha256": hashlib.sha256(data).hexdigest(),
            "lines": result_obj.lines,
            "created": result_obj.created,
            "replaced": result_obj.replaced,
            "unchanged": result_obj.unchanged,
            "revoked": result_obj.revoked,
        },
    )
    return result_obj


# --- flags from tiers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TierResult:
    """What applying a snapshot's tiers did."""

    period: str
    valid_to: date
    accounts_in_tiers: int
    added: int
    closed: int


def _load_tier_input(
    session: Session, rows: Iterable[tuple[str, str]] | Select[Any], reasons: dict[str, str]
) -> int:
    """Fill the temporary input table with (account, reason) of the accounts in the tiers; their count.

    A query (columns ``account`` and ``tier``) fills it inside the database, one INSERT ... SELECT. Other
    rows are streamed in batches, each written before the next is read, so ``rows`` may itself read from
    the same session (e.g. ``rewards.snapshots.queries.iter_rows``).
    """
    if isinstance(rows, Select):
        given = rows.subquery()
        reason = case(reasons, value=given.c.tier)
        query = select(given.c.account, reason).where(given.c.tier.in_(sorted(reasons)))
        target = table(_TMP, column("account"), column("reason"))
        return rowcount(session.execute(insert(target).from_select(["account", "reason"], query),
                                        execution_options={"preserve_rowcount": True}))
    in_tiers = ((acct, reasons[tier]) for acct, tier in rows if tier in reasons)
    return bulk_insert(session, _TMP, ("account", "reason"), in_tiers, batch_rows=_LOAD_BATCH, rows_per_statement=100)


def apply_tier_flags(
    session: Session,
    period: str,
    tier_of_account: Iterable[tuple[str, str]] | Select[Any],
    *,
    actor: str,
    tiers: Sequence[str] = ("ideal",),
    grace_months: int = 1,
) -> TierResult:
    """Give every account of the snapshot of ``period`` that is in one of ``tiers`` a flag
    ``tier:<tier>`` valid from the first day of the period to the last day of month
    ``period + 1 + grace_months``; call it after the snapshot is stored (settings PRIORITY_TIERS and
    PRIORITY_GRACE_MONTHS).

    Set-based: the accounts in the tiers are streamed into a temporary table (``COPY`` on PostgreSQL,
    ``executemany`` on SQLite) and two INSERT ... SELECT statements do the rest, so 1.5 million
    accounts never become ORM objects.

    ``tier_of_account`` may be any iterable, also one that reads from this session (it is consumed
    in batches of 50,000 between writes), or a query of ``account, tier`` (run inside the database:
    the accounts never pass through Python).

    Calling it again for the same period (a replaced or recomputed snapshot) is safe: accounts that
    already hold a flag of that period keep it (no duplicate), accounts that are no longer in the
    tiers have their flag of that period closed (``recomputed``), and a flag of that period that
    staff revoked stays revoked. Flags of earlier periods are never touched: an account that drops
    out keeps its earlier flag until that flag's end date.
    """
    try:
        valid_from, valid_to = core.tier_validity(period, grace_months)
    except core.FlagInputError as exc:
        raise _input_error(exc) from exc
    tier_set = set(tiers)
    unknown = sorted(tier_set - set(TIERS))
    if unknown:
        raise FlagError(N_("unknown tier(s): %(tiers)s"), field="tiers", code="unknown_tier", tiers=", ".join(unknown))
    reasons = {t: core.tier_reason(t) for t in tier_set}
    pg = _is_pg(session)
    session.execute(text(f"DROP TABLE IF EXISTS {_TMP}" if pg else f"DROP TABLE IF EXISTS temp.{_TMP}"))
    session.execute(
        text(
            f"CREATE TEMPORARY TABLE {_TMP} (account VARCHAR(32) NOT NULL, reason VARCHAR(32) NOT NULL)"
            + (" ON COMMIT DROP" if pg else "")
        )
    )
    in_tiers = _load_tier_input(session, tier_of_account, reasons)
    session.execute(text(f"CREATE INDEX ix_{_TMP} ON {_TMP} (account, reason)"))
    if pg:
        session.execute(text(f"ANALYZE {_TMP}"))
    t = table(_TMP, column("account"), column("reason"))
    now = utcnow()

    # 1. Close the open flags of this period whose account left the tiers (a recomputed snapshot). It
    #    comes first so that it does not scan the flags that step 2 adds (every one in the tiers): the
    #    two steps touch disjoint (account, reason) pairs, so their order changes nothing else.
    still_in = exists().where(t.c.account == F.c.account, t.c.reason == F.c.reason)
    closed = rowcount(session.execute(
        insert(C).from_select(
            ["flag_id", "kind", "reason", "closed_at", "closed_by"],
            select(
                F.c.id,
                literal(core.CLOSED_RECOMPUTED),
                literal(f"not in the tiers of the replaced snapshot {period}"),
                literal(now, UTCDateTime()),
                literal(actor),
            ).where(F.c.period == period, F.c.source == core.SOURCE_TIER, _open(), ~still_in),
        ),
        execution_options={"preserve_rowcount": True},
    ))

    # 2. New flags for accounts in the tiers that have no flag of this period yet (or only one closed
    #    by an earlier recomputation). A flag of this period revoked by staff is not given back.
    earlier = F.alias("earlier")
    already = exists().where(
        earlier.c.account == t.c.account,
        earlier.c.reason == t.c.reason,
        earlier.c.period == period,
        earlier.c.source == core.SOURCE_TIER,
        ~exists().where(C.c.flag_id == earlier.c.id, C.c.kind == core.CLOSED_RECOMPUTED),
    )
    added = rowcount(session.execute(
        insert(F).from_select(
            ["account", "reason", "source", "valid_from", "valid_to", "period", "created_at", "created_by"],
            select(
                t.c.account,
                t.c.reason,
                literal(core.SOURCE_TIER),
                literal(valid_from, Date()),
                literal(valid_to, Date()),
                literal(period),
                literal(now, UTCDateTime()),
                literal(actor),
            )
            .where(~already)
            .order_by(t.c.account),
        ),
        execution_options={"preserve_rowcount": True},
    ))
    session.execute(text(f"DROP TABLE {_TMP}" if pg else f"DROP TABLE temp.{_TMP}"))
    if pg and (added or closed):
        # Hundreds of thousands of new rows make the planner's statistics stale until autovacuum
        # runs; without fresh ones, the look-ups by account that follow may choose sequential scans.
        session.execute(text("ANALYZE priority_flags, priority_flag_closures"))

    session.add(
        TierRun(
            period=period,
            tiers=" ".join(sorted(tier_set)),
            grace_months=grace_months,
            valid_to=valid_to,
            accounts_in_tiers=in_tiers,
            added=added,
            closed=closed,
            applied_at=now,
            applied_by=actor,
        )
    )
    record_event(
        session,
        actor,
        "flags.tiers_applied",
        "snapshot_period",
        period,
        {
            "tiers": sorted(tier_set),
            "grace_months": grace_months,
            "valid_to": valid_to.isoformat(),
            "accounts_in_tiers": in_tiers,
            "added": added,
            "closed": closed,
        },
    )
    return TierResult(period, valid_to, in_tiers, added, closed)


def apply_latest_snapshot(
    session: Session, *, actor: str, tiers: Sequence[str] = ("ideal",), grace_months: int = 1
) -> TierResult:
    """Apply the tiers of the latest snapshot (``flask flags apply-tiers``: a catch-up or a re-run)."""
    from rewards.snapshots import queries

    latest = queries.latest_snapshot(session)
    if latest is None:
        raise NotFound(N_("no snapshot is loaded yet"), code="no_snapshot")
    rows = ((acct, tier) for acct, tier, _points in queries.iter_rows(session, latest.id, tiers))
    return apply_tier_flags(session, latest.period, rows, actor=actor, tiers=tiers, grace_months=grace_months)


# --- reading --------------------------------------------------------------------------------------


_ACTIVE_STMT = (
    select(F.c.id, F.c.reason, F.c.source, F.c.valid_from, F.c.valid_to)
    .where(F.c.account == bindparam("account"), _valid_on(bindparam("today", type_=Date())), _open())
    .order_by(F.c.reason, F.c.id)
)


_ACTIVE_READ = DirectRead(_ACTIVE_STMT)
_HEAD_READ: DirectRead | None = None


def _head_read() -> DirectRead:
    """One row: the latest snapshot's period (``queries.latest_query``: not after the bound
    ``current_period``) and the account's tier in it.
    Built once (the snapshot models are imported lazily): building it costs as much as running it."""
    global _HEAD_READ
    if _HEAD_READ is None:
        from rewards.snapshots.models import Snapshot, SnapshotRow
        from rewards.snapshots.queries import latest_query

        s, r = Snapshot.__table__, SnapshotRow.__table__
        latest = latest_query(bindparam("current_period", type_=String())).scalar_subquery()
        period = select(s.c.period).where(s.c.id == latest).scalar_subquery().label("period")
        tier = select(r.c.tier).where(r.c.snapshot_id == latest, r.c.account == bindparam("account"))
        _HEAD_READ = DirectRead(select(period, tier.scalar_subquery().label("tier")))
    return _HEAD_READ


_LOOKUP_READ: DirectRead | None = None


def _lookup_read() -> DirectRead:
    """The look-up's one statement: the latest period and the account's tier in it (the one row of
    ``_head_read``), left-joined to the account's open flags valid on ``today`` (``_ACTIVE_STMT``'s
    rows, in its order): at least one row, whose flag columns are NULL when the account has none.
    One round trip instead of two, and one snapshot of the data; used on PostgreSQL only (see
    :func:`priority_now`)."""
    global _LOOKUP_READ
    if _LOOKUP_READ is None:
        head = _head_read().statement.subquery("head")
        flags_on = and_(F.c.account == bindparam("account"), _valid_on(bindparam("today", type_=Date())), _open())
        _LOOKUP_READ = DirectRead(
            select(head.c.period, head.c.tier, F.c.id, F.c.reason, F.c.source, F.c.valid_from, F.c.valid_to)
            .select_from(head.outerjoin(F, flags_on))
            .order_by(F.c.reason, F.c.id)
        )
    return _LOOKUP_READ


def priority_now(engine: Engine, account: str, *, today: date) -> dict[str, Any]:
    """The call-centre answer as the API gives it: :func:`priority_of` from committed data, in direct
    reads (``rewards.directread``) instead of a session (and one more for an account with an active
    register entry).

    On PostgreSQL one statement (``_lookup_read``: each statement is a round trip to another process);
    on SQLite the two simpler statements, which cost less CPU there than the joined one (82–89 µs
    against 114–116 µs, docs/benchmarks.md, 2026-12-07 "round trips counted")."""
    current = f"{today:%Y-%m}"
    if engine.dialect.name == "postgresql":
        joined = _lookup_read().all(engine, {"account": account, "today": today, "current_period": current})
        head = joined[0]
        rows = [row for row in joined if row.id is not None]
    else:
        rows = _ACTIVE_READ.all(engine, {"account": account, "today": today})
        head = _head_read().all(engine, {"account": account, "current_period": current})[0]  # always one row
    register = _register_id(rows)
    entry = _entry_read().all(engine, {"flag_id": register}) if register is not None else []
    return _priority_answer(account, today, rows, head.period, head.tier, entry)


def priority_of(session: Session, account: str, *, today: date) -> dict[str, Any]:
    """The call-centre answer: priority now, every active reason with its validity, the tier.

    Two indexed Core queries, no ORM objects: the account's open flags valid today (index on
    ``account``, closures anti-joined by primary key) and its tier in the latest snapshot.
    """
    rows = session.execute(_ACTIVE_STMT, {"account": account, "today": today}).all()
    period, tier = latest_tier(session, account, today)
    register = _register_id(rows)
    entry = session.execute(_entry_read().statement, {"flag_id": register}).all() if register is not None else []
    return _priority_answer(account, today, rows, period, tier, entry)


_ENTRY_READ: DirectRead | None = None


def _entry_read() -> DirectRead:
    """The needs of register entries, each with whether its entry names a nominee / has a password.
    Run only for an account that has an active register entry (most look-ups have none)."""
    global _ENTRY_READ
    if _ENTRY_READ is None:
        n, k = FlagNeed.__table__, FlagConsent.__table__
        _ENTRY_READ = DirectRead(
            select(n.c.flag_id, n.c.need, n.c.ends_on, n.c.verify_by, k.c.nominee_name.is_not(None).label("nominee"),
                   k.c.password_hash.is_not(None).label("password_set"))
            .select_from(n.outerjoin(k, k.c.flag_id == n.c.flag_id))
            .where(n.c.flag_id == bindparam("flag_id"))
            .order_by(n.c.flag_id, n.c.need)
        )
    return _ENTRY_READ


def _register_id(rows: Sequence[Any]) -> int | None:
    """The account's active register entry (one at most: changes to an account are serialised)."""
    ids = [row.id for row in rows if row.reason == needs_core.REGISTER_REASON]
    return ids[-1] if ids else None


def _needs_answer(entry: Sequence[Any], today: date) -> tuple[list[dict[str, Any]], bool, bool]:
    """The needs with what the call centre should do, and whether a nominee / a password exists."""
    needs: list[dict[str, Any]] = []
    for row in entry:
        declared = needs_core.need_def(row.need)
        needs.append({
            "code": row.need,
            "label": dict(declared.label) if declared else {"en": row.need, "ru": row.need},
            "action": dict(declared.action) if declared else {"en": "", "ru": ""},
            "temporary": bool(declared and declared.temporary),
            "ends_on": row.ends_on,
            "verify_by": row.verify_by,
            "lapsed": row.ends_on is not None and row.ends_on < today,
        })
    return needs, any(bool(r.nominee) for r in entry), any(bool(r.password_set) for r in entry)


def _priority_answer(account: str, today: date, rows: Sequence[Any], period: str | None,
                     tier: str | None, entry_rows: Sequence[Any] = ()) -> dict[str, Any]:
    by_reason: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = {
            "flag_id": row.id,
            "reason": row.reason,
            "source": row.source,
            "valid_from": row.valid_from,
            "valid_to": row.valid_to,
        }
        seen = by_reason.get(row.reason)
        # tier flags of consecutive snapshots overlap: show the one that lasts longest
        if seen is None or _later(row.valid_to, seen["valid_to"]):
            if seen is not None:
                entry["valid_from"] = min(seen["valid_from"], row.valid_from)
            by_reason[row.reason] = entry
    needs, nominee, password_set = _needs_answer(entry_rows, today)
    tier_reasons = [r for r in by_reason if r.startswith(core.TIER_PREFIX)]
    return {
        "account": account,
        "priority": bool(by_reason),
        "as_of": today,
        "reasons": list(by_reason.values()),
        "tier": tier,
        "tier_period": period,
        "tier_reason": tier_reasons[0] if tier_reasons else None,
        "needs": needs,
        "nominee": nominee,
        "password_set": password_set,
    }


def _later(a: date | None, b: date | None) -> bool:
    if a is None:
        return b is not None
    return b is not None and a > b


def history(session: Session, account: str) -> list[dict[str, Any]]:
    """Every flag row of the account, newest first, with its closure if any (the full history)."""
    rows = session.execute(
        select(
            F.c.id,
            F.c.reason,
            F.c.source,
            F.c.valid_from,
            F.c.valid_to,
            F.c.note,
            F.c.period,
            F.c.replaces_id,
            F.c.created_at,
            F.c.created_by,
            C.c.kind.label("closed_kind"),
            C.c.reason.label("closed_reason"),
            C.c.closed_at,
            C.c.closed_by,
        )
        .select_from(F.outerjoin(C, C.c.flag_id == F.c.id))
        .where(F.c.account == account)
        .order_by(F.c.id.desc())
    ).all()
    return [dict(row._mapping) for row in rows]


def state_of(row: dict[str, Any], today: date) -> str:
    """``active``, ``closed``, ``ended`` or ``future`` for a history row on ``today``."""
    if row["closed_kind"] is not None:
        return "closed"
    if row["valid_to"] is not None and row["valid_to"] < today:
        return "ended"
    if row["valid_from"] > today:
        return "future"
    return "active"


def export_rows(session: Session, *, today: date, batch: int = 10_000) -> Iterator[tuple[str, list[str], date | None]]:
    """``(account, reasons, valid_to)`` of every account with priority today, in account order;
    ``valid_to`` is the latest end of its flags (None when one is open-ended). Streamed."""
    stmt = (
        select(F.c.account, F.c.reason, F.c.valid_to)
        .where(_valid_on(today), _open())
        .order_by(F.c.account, F.c.reason)
        .execution_options(yield_per=batch)
    )
    current: str | None = None
    reasons: list[str] = []
    until: date | None = None
    open_ended = False
    for account, reason, valid_to in session.execute(stmt):
        if account != current:
            if current is not None:
                yield current, reasons, None if open_ended else until
            current, reasons, until, open_ended = account, [], None, False
        if reason not in reasons:
            reasons.append(reason)
        if valid_to is None:
            open_ended = True
        elif until is None or valid_to > until:
            until = valid_to
    if current is not None:
        yield current, reasons, None if open_ended else until


def export_csv(session: Session, *, today: date) -> Iterator[str]:
    """The export as CSV text chunks: ``account;reasons;valid_to`` (reasons comma-separated)."""
    yield "account;reasons;valid_to\r\n"
    buf: list[str] = []
    for account, reasons, valid_to in export_rows(session, today=today):
        buf.append(f"{account};{','.join(reasons)};{valid_to.isoformat() if valid_to else ''}\r\n")
        if len(buf) >= 5000:
            yield "".join(buf)
            buf.clear()
    if buf:
        yield "".join(buf)


# --- the register of needs ------------------------------------------------------------------------

N = FlagNeed.__table__
K = FlagConsent.__table__
SYSTEM_ACTOR = "system:flags"


def _open_register(session: Session, account: str) -> Any:
    """The account's open register entry (a staff flag of reason ``needs``), or None."""
    return _open_staff_flags(session, [account]).get((account, needs_core.REGISTER_REASON))


def _entry_state(session: Session, flag_id: int) -> tuple[list[Any], Any]:
    """The needs and the consent row of a register flag."""
    rows = session.execute(select(N).where(N.c.flag_id == flag_id).order_by(N.c.need)).all()
    consent = session.execute(select(K).where(K.c.flag_id == flag_id)).first()
    return list(rows), consent


def _same_entry(old: Any, old_needs: list[Any], old_consent: Any, item: needs_core.RegisterInput) -> bool:
    if item.password is not None or old_consent is None:
        return False
    wanted = {(n.code, n.ends_on, n.verify_by) for n in item.needs}
    have = {(n.need, n.ends_on, n.verify_by) for n in old_needs}
    c = item.consent
    return (
        wanted == have
        and (old.valid_from, old.valid_to, old.note) == (item.valid_from, None, item.note)
        and (old_consent.consent_on, old_consent.consent_channel, old_consent.consent_by, bool(old_consent.share))
        == (c.on, c.channel, c.by, c.share)
        and (old_consent.nominee_name, old_consent.nominee_phone) == (item.nominee_name, item.nominee_phone)
    )


def _store_entry(session: Session, item: needs_core.RegisterInput, *, actor: str, password_hash: str | None,
                 now: Any, old: Any = None) -> Change:
    """Insert the flag row, its needs and its consent; close the entry it replaces."""
    if old is not None:
        closure = {"flag_id": old.id, "kind": core.CLOSED_REPLACED, "reason": None, "closed_at": now,
                   "closed_by": actor}
        if _close(session, [closure]) != 1:
            raise Conflict(N_("a flag changed while this request ran; nothing was saved, try again"),
                           code="flag_changed")
    flag_id = session.execute(insert(F).returning(F.c.id), {
        "account": item.account, "reason": needs_core.REGISTER_REASON, "source": core.SOURCE_STAFF,
        "valid_from": item.valid_from, "valid_to": None, "note": item.note, "period": None,
        "replaces_id": old.id if old is not None else None, "created_at": now, "created_by": actor,
    }).scalar_one()
    session.execute(insert(N), [{"flag_id": flag_id, "need": n.code, "ends_on": n.ends_on, "verify_by": n.verify_by}
                                for n in item.needs])
    c = item.consent
    session.execute(insert(K), {
        "flag_id": flag_id, "list_version": item.list_version, "consent_on": c.on, "consent_channel": c.channel,
        "consent_by": c.by, "share": c.share, "nominee_name": item.nominee_name, "nominee_phone": item.nominee_phone,
        "password_hash": password_hash,
    })
    return Change("replaced" if old is not None else "created", item.account, needs_core.REGISTER_REASON, flag_id,
                  old.id if old is not None else None)


def _entry_event(item: needs_core.RegisterInput, change: Change) -> dict[str, Any]:
    """Event details: the needs and the consent; of the personal data only whether it exists."""
    # nested records (shown as identifiers on the event log page): need -> end date, and the consent
    return {
        "flag_id": change.flag_id,
        "replaces": change.closed_id,
        "needs": {n.code: n.ends_on.isoformat() if n.ends_on else None for n in item.needs},
        "list_version": item.list_version,
        "consent": {"on": item.consent.on.isoformat(), "channel": item.consent.channel, "by": item.consent.by,
                    "share": item.consent.share},
        "nominee": item.nominee_name is not None,
    }


def set_needs(
    session: Session,
    account: str,
    requests: list[needs_core.NeedRequest],
    *,
    consent_on: date | None,
    consent_channel: str | None,
    consent_by: str | None = None,
    share: bool = False,
    nominee_name: str | None = None,
    nominee_phone: str | None = None,
    password: str | None = None,
    note: str | None = None,
    valid_from: date | None = None,
    actor: str,
    today: date,
    reverify_years: int = 2,
    password_method: str = "scrypt:131072:8:1",
) -> Change:
    """Record the account's register entry: one or more needs, after the customer's consent.

    The consent is checked first: without its date and channel nothing is stored (``field`` names what
    is missing). ``consent_by`` defaults to ``actor``. An open entry is replaced by a new row (the old
    one and its needs stay in the history); the same values again change nothing. Without a new
    ``password`` the entry keeps the password it had; the password is stored only as a hash.
    """
    try:
        consent = needs_core.check_consent(consent_on, consent_channel, consent_by or actor, share, today=today)
        item = needs_core.check_register(account, requests, consent, nominee_name=nominee_name,
                                         nominee_phone=nominee_phone, password=password, note=note,
                                         valid_from=valid_from, today=today, reverify_years=reverify_years)
    except core.FlagInputError as exc:
        raise _input_error(exc) from exc
    _lock_account(session, item.account)
    old = _open_register(session, item.account)
    kept_hash = None
    if old is not None:
        old_needs, old_consent = _entry_state(session, old.id)
        if _same_entry(old, old_needs, old_consent, item):
            return Change("unchanged", item.account, needs_core.REGISTER_REASON, old.id)
        kept_hash = old_consent.password_hash if old_consent is not None else None
    password_hash = generate_password_hash(item.password, method=password_method) if item.password else kept_hash
    change = _store_entry(session, item, actor=actor, password_hash=password_hash, now=utcnow(), old=old)
    details = _entry_event(item, change)
    details["password"] = {"set": bool(item.password or kept_hash), "changed": item.password is not None}
    record_event(session, actor, "flags.needs_set", "account", item.account, details)
    return change


def check_password(session: Session, account: str, password: str) -> bool:
    """Whether ``password`` is the call-centre password of the account's open register entry."""
    row = _open_register(session, account)
    if row is None:
        return False
    stored = session.execute(select(K.c.password_hash).where(K.c.flag_id == row.id)).scalar()
    return stored is not None and check_password_hash(stored, password)


def register_of(session: Session, account: str, *, today: date, personal: bool, due_days: int = 30
                ) -> dict[str, Any] | None:
    """The account's open register entry for pages and the CLI: needs (with what is due), consent, and
    the nominee's name and phone only when ``personal`` (the viewer's role has ``flags.personal``)."""
    row = _open_register(session, account)
    if row is None:
        return None
    needs_rows, consent = _entry_state(session, row.id)
    needs = []
    for n in needs_rows:
        declared = needs_core.need_def(n.need)
        needs.append({
            "code": n.need, "declared": declared, "ends_on": n.ends_on, "verify_by": n.verify_by,
            "lapsed": n.ends_on is not None and n.ends_on < today,
            "due": needs_core.due_reason(n.ends_on, n.verify_by, today=today, within_days=due_days),
        })
    out: dict[str, Any] = {
        "flag_id": row.id, "valid_from": row.valid_from, "note": row.note, "needs": needs,
        "consent_on": consent.consent_on if consent else None,
        "consent_channel": consent.consent_channel if consent else None,
        "consent_by": consent.consent_by if consent else None,
        "share": bool(consent.share) if consent else False,
        "list_version": consent.list_version if consent else None,
        "nominee": bool(consent and consent.nominee_name),
        "password_set": bool(consent and consent.password_hash),
    }
    if personal and consent is not None:
        out["nominee_name"] = consent.nominee_name
        out["nominee_phone"] = consent.nominee_phone
    return out


def due_needs(session: Session, *, today: date, within_days: int, limit: int = 1000) -> list[dict[str, Any]]:
    """Needs of open register entries that end (temporary) or are to be re-verified within
    ``within_days`` (or already are), soonest first: ``account, flag_id, need, ends_on, verify_by, due``."""
    horizon = today + timedelta(days=within_days)
    rows = session.execute(
        select(F.c.account, N.c.flag_id, N.c.need, N.c.ends_on, N.c.verify_by)
        .select_from(N.join(F, F.c.id == N.c.flag_id))
        .where(or_(N.c.ends_on <= horizon, N.c.verify_by <= horizon), _open(), _valid_on(today))
        .order_by(func.coalesce(N.c.ends_on, N.c.verify_by), F.c.account, N.c.need)
        .limit(limit)
    ).all()
    out = []
    for r in rows:
        item = dict(r._mapping)
        item["due"] = needs_core.due_reason(r.ends_on, r.verify_by, today=today, within_days=within_days)
        item["lapsed"] = r.ends_on is not None and r.ends_on < today
        out.append(item)
    return out


@dataclass(frozen=True)
class LapseResult:
    """What ending lapsed temporary needs did."""

    needs_ended: int
    entries_replaced: int
    entries_closed: int


def end_lapsed_needs(session: Session, *, today: date, grace_days: int, actor: str = SYSTEM_ACTOR) -> LapseResult:
    """End the temporary needs whose end date is more than ``grace_days`` past (setting
    PRIORITY_NEEDS_GRACE_DAYS): an entry that keeps other needs is replaced by a new row without the
    lapsed ones; an entry left with none is closed (``revoked``, reason "temporary needs lapsed").
    Nothing is deleted: the old rows and their needs stay as history. Run daily by the jobs consumer.
    """
    cutoff = today - timedelta(days=grace_days)
    flag_ids = session.execute(
        select(N.c.flag_id).distinct().select_from(N.join(F, F.c.id == N.c.flag_id))
        .where(N.c.ends_on < cutoff, _open()).order_by(N.c.flag_id)
    ).scalars().all()
    ended = replaced = closed = 0
    now = utcnow()
    for flag_id in flag_ids:
        old = session.execute(select(F).where(F.c.id == flag_id)).one()
        _lock_account(session, old.account)  # staff may be changing this entry right now
        if session.execute(select(C.c.flag_id).where(C.c.flag_id == flag_id)).first() is not None:
            continue  # replaced or revoked since the list was read: the next run sees the new entry
        needs_rows, consent = _entry_state(session, flag_id)
        lapsed = [n.need for n in needs_rows if n.ends_on is not None and n.ends_on < cutoff]
        kept = [n for n in needs_rows if n.need not in lapsed]
        ended += len(lapsed)
        if kept and consent is not None:
            item = needs_core.RegisterInput(
                old.account, tuple(needs_core.NeedInput(n.need, n.ends_on, n.verify_by) for n in kept),
                needs_core.Consent(consent.consent_on, consent.consent_channel, consent.consent_by,
                                   bool(consent.share)),
                consent.nominee_name, consent.nominee_phone, None, old.note, old.valid_from, consent.list_version)
            change = _store_entry(session, item, actor=actor, password_hash=consent.password_hash, now=now, old=old)
            replaced += 1
            new_id: int | None = change.flag_id
        else:
            closure = {"flag_id": flag_id, "kind": core.CLOSED_REVOKED, "reason": "temporary needs lapsed",
                       "closed_at": now, "closed_by": actor}
            if _close(session, [closure]) != 1:
                continue  # staff closed it meanwhile
            closed += 1
            new_id = None
        ends = {n.need: n.ends_on.isoformat() for n in needs_rows if n.need in lapsed and n.ends_on}
        record_event(session, actor, "flags.needs_lapsed", "account", old.account,
                     {"flag_id": flag_id, "needs": ends, "new_flag_id": new_id, "grace_days": grace_days})
    return LapseResult(ended, replaced, closed)


CONSENT_SHARED, CONSENT_ANY = needs_core.CONSENT_SHARED, needs_core.CONSENT_ANY  # (defined in the pure core)


def export_needs_rows(session: Session, *, today: date, consent: str = CONSENT_SHARED, batch: int = 10_000
                      ) -> Iterator[dict[str, Any]]:
    """The full current set of register entries, one per account in account order (not deltas): the
    entries valid today, with ``consent="shared"`` only those whose customer agreed to share them with
    partner organisations. Streamed."""
    if consent not in (CONSENT_SHARED, CONSENT_ANY):
        raise FlagError(N_("consent must be shared or any, not %(value)s"), field="consent", code="bad_consent",
                        value=repr(consent))
    stmt = (
        select(F.c.id, F.c.account, K.c.consent_on, K.c.consent_channel, K.c.share, K.c.nominee_name,
               K.c.nominee_phone, N.c.need, N.c.ends_on, N.c.verify_by)
        .select_from(F.join(K, K.c.flag_id == F.c.id).join(N, N.c.flag_id == F.c.id))
        .where(F.c.reason == needs_core.REGISTER_REASON, _valid_on(today), _open())
        .order_by(F.c.account, F.c.id, N.c.need)
        .execution_options(yield_per=batch)
    )
    if consent == CONSENT_SHARED:
        stmt = stmt.where(K.c.share.is_(True))
    current: dict[str, Any] | None = None
    for row in session.execute(stmt):
        if current is None or current["flag_id"] != row.id:
            if current is not None:
                yield current
            current = {"flag_id": row.id, "account": row.account, "consent_on": row.consent_on,
                       "consent_channel": row.consent_channel, "share": bool(row.share),
                       "nominee_name": row.nominee_name, "nominee_phone": row.nominee_phone, "needs": []}
        current["needs"].append((row.need, row.ends_on, row.verify_by))
    if current is not None:
        yield current


def _csv_field(value: str) -> str:
    if any(ch in value for ch in ';"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def export_needs_csv(session: Session, *, today: date, consent: str = CONSENT_SHARED, personal: bool = False
                     ) -> Iterator[str]:
    """The full-state CSV for partner organisations:
    ``account;needs;ends_on;verify_by;consent_on;consent_channel;share[;nominee_name;nominee_phone]``
    (needs comma-separated; ``ends_on``/``verify_by`` as ``code=YYYY-MM-DD`` pairs). The nominee's
    columns only when ``personal`` (the role has ``flags.personal``); never the password."""
    head = "account;needs;ends_on;verify_by;consent_on;consent_channel;share"
    yield head + (";nominee_name;nominee_phone" if personal else "") + "\r\n"
    buf: list[str] = []
    for e in export_needs_rows(session, today=today, consent=consent):
        fields = [
            e["account"],
            ",".join(n for n, _e, _v in e["needs"]),
            ",".join(f"{n}={end.isoformat()}" for n, end, _v in e["needs"] if end),
            ",".join(f"{n}={ver.isoformat()}" for n, _e, ver in e["needs"] if ver),
            e["consent_on"].isoformat(),
            e["consent_channel"],
            "yes" if e["share"] else "no",
        ]
        if personal:
            fields += [_csv_field(e["nominee_name"] or ""), _csv_field(e["nominee_phone"] or "")]
        buf.append(";".join(fields) + "\r\n")
        if len(buf) >= 5000:
            yield "".join(buf)
            buf.clear()
    if buf:
        yield "".join(buf)


def apply_needs_bulk(session: Session, data: bytes, *, actor: str, today: date, reverify_years: int = 2,
                     source_name: str = "") -> BulkResult:
    """Apply a bulk needs file (:func:`rewards.flags.needs.read_bulk`) all or nothing: every line is
    checked first (format, needs, dates, consent, accounts unknown to the latest snapshot, revocations
    of accounts without an entry); any problem raises FlagError with ``errors`` by line."""
    report = needs_core.read_bulk(data, today=today, reverify_years=reverify_years, actor=actor)
    accounts = [line.account for line in report.lines]
    known = known_accounts(session, accounts)
    open_now = _open_staff_flags(session, accounts)
    for line in report.lines:
        if line.account not in known:
            report.add_error(line.line, N_("account %(account)s is not in the latest snapshot"), core.UNKNOWN_ACCOUNT,
                             "account", account=line.account)
        elif line.entry is None and (line.account, needs_core.REGISTER_REASON) not in open_now:
            report.add_error(line.line, N_("account %(account)s has no open register entry"), core.NOT_OPEN,
                             account=line.account)
    if report.log:
        raise FlagError(
            N_("the file has problems on %(count)s line(s); nothing was applied"),
            errors=report.log.by_line(), code="bad_file", count=report.problem_lines(), problems=report.log.details,
        )
    counts = {"created": 0, "replaced": 0, "unchanged": 0, "revoked": 0}
    now = utcnow()
    for line in report.lines:
        old = open_now.get((line.account, needs_core.REGISTER_REASON))
        if line.entry is None:
            assert old is not None  # checked above
            closure = {"flag_id": old.id, "kind": core.CLOSED_REVOKED, "reason": line.why, "closed_at": now,
                       "closed_by": actor}
            if _close(session, [closure]) != 1:
                raise Conflict(N_("a flag changed while the file was applied; nothing was saved, try again"),
                               code="flag_changed")
            counts["revoked"] += 1
            continue
        kept_hash = None
        if old is not None:
            old_needs, old_consent = _entry_state(session, old.id)
            if _same_entry(old, old_needs, old_consent, line.entry):
                counts["unchanged"] += 1
                continue
            kept_hash = old_consent.password_hash if old_consent is not None else None
        change = _store_entry(session, line.entry, actor=actor, password_hash=kept_hash, now=now, old=old)
        counts[change.status] += 1
    digest = hashlib.sha256(data).hexdigest()
    record_event(session, actor, "flags.needs_bulk_applied", "flag_file", digest[:16],
                 {"file": source_name[:200], "sha256": digest, "lines": len(report.lines), **counts})
    return BulkResult(len(report.lines), counts["created"], counts["replaced"], counts["unchanged"],
                           counts["revoked"], report.encoding)
