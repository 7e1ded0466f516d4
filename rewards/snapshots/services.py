"""Use cases of tier snapshots: import, compute, explain, compare, export.

Each function takes the SQLAlchemy session first, raises ``rewards.errors.DomainError`` subclasses, and
never commits: the shell commits, or rolls back so that a failure half way leaves nothing (one
transaction for a whole import, so even a process killed with -9 leaves no partial snapshot).

Snapshots are never edited or deleted: a replacing import supersedes the old one, which stays.

Bulk rows go through the driver, not the ORM (``rewards.bulkload``: ``executemany`` over a generator on
SQLite, so the rows stream from the file into the database without being held; ``COPY`` on PostgreSQL).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain, repeat
from operator import itemgetter
from typing import Any, BinaryIO

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rewards.audit.services import record_event
from rewards.bulkload import NULL, batches, bulk_insert, is_unique_violation
from rewards.db import utcnow
from rewards.errors import N_, Conflict, DomainError, NotFound
from rewards.pacing import pause_point
from rewards.rating.behaviour import month_of
from rewards.rating.engine import Engine, explain
from rewards.rating.rules import Rules, RulesError, default_rules_bytes, parse_rules
from rewards.snapshots.csvfile import ErrorLog, SnapshotReport, read_snapshot
from rewards.snapshots.digest import SnapshotDigest
from rewards.snapshots.models import RulesFile, RulesVersion, Snapshot, SnapshotRow
from rewards.snapshots.queries import (  # noqa: F401  (list_snapshots: part of this module's interface)
    current_period,
    iter_rows,
    latest_snapshot,
    list_snapshots,
    snapshot_for_period,
)
from rewards.snapshots.signals import bill_columns, snapshot_loaded
from rewards.tiers import RUSSIAN_NAMES, TIERS
from signedjson import canonical_json


class FileRejected(DomainError):
    """The file has problems; nothing was loaded. ``errors`` holds them by line (first 100, and totals)."""

    status = 422
    code = "invalid_file"


@dataclass
class Outcome:
    """What an import or computation did."""

    snapshot: Snapshot
    replaced: Snapshot | None = None
    report: dict[str, Any] = field(default_factory=dict)


class _HashingReader:
    """Passes reads through, hashing the bytes (the uploaded file's SHA-256 is provenance)."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.sha256 = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self.sha256.update(data)
        self.size += len(data)
        return data


def check_period(period: str) -> str:
    """``period`` when it is ``YYYY-MM`` from 1000-01 on; else a DomainError naming the field.

    The floor keeps every rating window (months back from the period) within the calendar: a compute
    for 0001-01 reached year 0 and failed with a 500. ``schemas.PERIOD`` documents the same range.
    """
    ym = month_of(period.strip()) if isinstance(period, str) else None
    if ym is None or ym[0] < 1000:
        raise DomainError(N_("period %(period)s is not a month YYYY-MM"), field="period", code="bad_period",
                          period=repr(period))
    return period.strip()


def check_not_future(period: str, future: bool) -> None:
    """Refuse a ``period`` after the retailer's current local month unless ``future`` confirms it.

    Such a snapshot is stored like any other but is never "latest" until its month comes
    (``queries.latest_query``); the refusal keeps a mistyped year from becoming what every feature reads.
    """
    if future or month_of(period) is None:  # a malformed period is check_period's to refuse
        return
    current = current_period()
    if period > current:
        raise DomainError(
            N_("%(period)s is after the current month %(current)s; confirm that it is a future month to load it"),
            field="period", code="future_period", period=period, current=current,
        )


def _tier_counts_json(counts: dict[str, int]) -> str:
    return canonical_json({t: int(counts.get(t, 0)) for t in TIERS}).decode("utf-8")


def tier_counts(snapshot: Snapshot) -> dict[str, int]:
    """The snapshot's count per tier, every tier present, lowest first."""
    stored = json.loads(snapshot.tier_counts or "{}")
    return {t: int(stored.get(t, 0)) for t in TIERS}


def _begin_snapshot(
    session: Session,
    *,
    period: str,
    source: str,
    source_name: str,
    actor: str,
    replace: bool,
    file_format: str,
) -> tuple[Snapshot, Snapshot | None]:
    """Supersede the period's active snapshot when asked, and add the new one (counts filled in later)."""
    existing = snapshot_for_period(session, period)
    if existing is not None and not replace:
        raise Conflict(
            N_("%(period)s already has a snapshot (#%(id)s, loaded %(loaded_at)s UTC by %(loaded_by)s); ask to replace "
               "it"),
            code="period_taken", period=period, id=existing.id,
            loaded_at=f"{existing.loaded_at:%Y-%m-%d %H:%M}", loaded_by=existing.loaded_by,
        )
    if existing is not None:
        existing.status = "superseded"
        existing.superseded_at = utcnow()
        existing.superseded_by_actor = actor
        session.flush()
    snapshot = Snapshot(
        period=period,
        status="active",
        source=source,
        source_name=source_name[:255],
        loaded_by=actor,
        loaded_at=utcnow(),
        row_count=0,
        tier_counts=_tier_counts_json({}),
        digest="",
        file_format=file_format,
    )
    session.add(snapshot)
    try:
        session.flush()
    except IntegrityError:
        # Another import of the same period committed first (PostgreSQL waits on the unique index).
        raise Conflict(
            N_("%(period)s was loaded by someone else meanwhile; try again"), code="period_taken", period=period
        ) from None
    if existing is not None:
        existing.superseded_by_id = snapshot.id
    return snapshot, existing


ROW_COLUMNS = ("snapshot_id", "account", "tier", "points", "facts")


def _rows_copy_text(rows: Sequence[Sequence[Any]]) -> str:
    """``(snapshot_id, account, tier, points, facts)`` rows as COPY text, a whole chunk in one ``join``. No
    value needs escaping: accounts are digits, tiers are codes, points integers, and facts use only
    [0-9a-z.,-] (``rewards.rating.engine.Engine.decode``)."""
    return "".join([
        f"{snapshot_id}\t{account}\t{tier}\t{NULL if points is None else points}\t{NULL if facts is None else facts}\n"
        for snapshot_id, account, tier, points, facts in rows
    ])


def _bulk_insert(session: Session, rows: Iterable[tuple[int, str, str, int | None, str | None]]) -> None:
    """Insert ``(snapshot_id, account, tier, points, facts)`` rows through the driver, streaming.

    Then fresh PostgreSQL statistics, or the planner sorts the whole snapshot for every keyset page
    that readers (iter_rows: draws, exports) ask for.
    """
    bulk_insert(session, "snapshot_rows", ROW_COLUMNS, rows, format_chunk=_rows_copy_text, analyze=True,
                rows_per_statement=100)


_RATED_CHUNK = 10_000
_ACCOUNT_TIER_POINTS = itemgetter(0, 1, 2)
_TIER = itemgetter(1)


def _with_id(snapshot_id: int, chunk: list[tuple[str, str, int, str]]) -> Iterator[tuple[Any, ...]]:
    """The chunk's rows with the snapshot's id in front, built by zip (columns in, rows out)."""
    accounts, tiers, points, facts = zip(*chunk, strict=True)
    return zip(repeat(snapshot_id), accounts, tiers, points, facts, strict=False)


def _insert_rated(session: Session, snapshot_id: int, chunks: Iterable[list[tuple[str, str, int, str]]]) -> None:
    """Insert the rating engine's ``(account, tier, points, facts)`` rows, given in chunks, into
    snapshot ``snapshot_id`` (the snapshot's id is added by C code: zip on SQLite, the COPY line's
    prefix on PostgreSQL)."""
    if session.connection().dialect.name != "postgresql":
        _bulk_insert(session, chain.from_iterable(_with_id(snapshot_id, chunk) for chunk in chunks))
        return
    prefix = f"{snapshot_id}\t"

    def copy_text(chunk: Sequence[Sequence[Any]]) -> str:
        return "".join([f"{prefix}{account}\t{tier}\t{points}\t{facts}\n" for account, tier, points, facts in chunk])

    bulk_insert(session, "snapshot_rows", ROW_COLUMNS, chain.from_iterable(chunks), format_chunk=copy_text,
                analyze=True)


def _insert_read_rows(
    session: Session, snapshot_id: int, rows: Iterable[tuple[str, str, int | None]], errors: ErrorLog
) -> None:
    """Insert a reader's ``(account, tier, points)`` rows into snapshot ``snapshot_id``; nothing more is
    inserted once ``errors`` has a problem (the reader is still read to the end: it counts the rest).

    On PostgreSQL the reader's tuples go straight into the COPY text, a chunk at a time, and a chunk read
    after a problem is not sent: a generator adding the snapshot's id to each row, and checking the errors
    for each, cost 0.4 s of the client's CPU at 1.5 M rows.
    """
    if session.connection().dialect.name != "postgresql":
        _bulk_insert(session, ((snapshot_id, account, tier, points, None)
                               for account, tier, points in rows if not errors))
        return
    prefix = f"{snapshot_id}\t"

    def copy_text(chunk: Sequence[Sequence[Any]]) -> str:
        if errors:
            return ""
        return "".join([f"{prefix}{account}\t{tier}\t{NULL if points is None else points}\t{NULL}\n"
                        for account, tier, points in chunk])

    bulk_insert(session, "snapshot_rows", ROW_COLUMNS, rows, format_chunk=copy_text, analyze=True)


# The canonical digest line of a stored row (``digest.py``), formatted by the database.
_DIGEST_LINE_PG = "account || E'\\t' || tier || E'\\t' || coalesce(points::text, '') || E'\\n'"
# Read back in the primary key's order (an index scan), Python checking the order and hashing: for
# account digits every collation seen sorts as bytes; update_lines refuses any other order, as add() did.
_DIGEST_LINES_PG = f"SELECT {_DIGEST_LINE_PG} FROM snapshot_rows WHERE snapshot_id = %s ORDER BY account"
_DIGEST_LINES_SQLITE = (
    "SELECT account || char(9) || tier || char(9) || coalesce(points, '') || char(10) FROM snapshot_rows "
    "WHERE snapshot_id = ? ORDER BY account"
)
_DIGEST_BATCH = 50_000
# Or hashed by PostgreSQL itself, in one query, so that no row crosses to Python (the read-back cost 0.9 s
# of server and 0.3 s of client CPU at 1.5 M rows, the two taking turns; this costs the server 0.8 s):
# string_agg takes a sorted subquery's rows in their order when the query does nothing else (the
# PostgreSQL manual's way; string_agg(... ORDER BY ...) sorts inside the aggregate, and ORDER BY account
# COLLATE "C" sorts too, in parallel workers: 1.2-1.8 s). The query runs with parallel plans off
# (_SERIAL_PG): from PostgreSQL 16 string_agg can be split between workers, whose parts would be joined
# in no particular order. With no line to check, the collation's order of
# digit strings is checked first, on a sample that tells byte order from other orders (a numeric collation
# puts "1" before "09"); another order falls back to the read-back, which refuses it. The joined text is
# one value in the server's memory (about 26 bytes a row; 1 GB at most), so only a snapshot of at most
# _DIGEST_IN_DB_ROWS rows is hashed there.
_DIGEST_IN_DB_PG = (
    "SELECT encode(sha256(convert_to(string_agg(line, ''), 'UTF8')), 'hex') FROM ("
    f"SELECT {_DIGEST_LINE_PG} AS line FROM snapshot_rows WHERE snapshot_id = %s ORDER BY account) lines"
)
_DIGEST_IN_DB_ROWS = 4_000_000
_SERIAL_PG = "SET LOCAL max_parallel_workers_per_gather = %s"
# The column's collation (a set operation takes it over the sample's default one).
_ORDER_PROBE_PG = (
    "SELECT array_agg(account ORDER BY account) FROM (SELECT account FROM snapshot_rows WHERE false "
    "UNION ALL SELECT unnest(%s::varchar[])) probe"
)
_ORDER_SAMPLE = sorted(["0", "00", "007", "01", "07", "09", "1", "10", "100", "19", "2", "9", "90", "99"])
_EMPTY_DIGEST = SnapshotDigest().hexdigest()


def _digest_from_db(session: Session, snapshot_id: int, rows: int | None = None) -> str:
    """The canonical digest of the stored rows, in account (byte) order.

    The database formats each canonical line, so Python at most checks their order and hashes them. On
    PostgreSQL, a snapshot of at most ``_DIGEST_IN_DB_ROWS`` rows (``rows``: the caller's count of them)
    is hashed by the database when its collation sorts account digits as bytes.
    """
    connection = session.connection()
    raw: Any = connection.connection.driver_connection  # typed Optional; a live connection has one
    postgresql = connection.dialect.name == "postgresql"
    if postgresql and rows is not None and rows <= _DIGEST_IN_DB_ROWS:
        with raw.cursor() as cursor:
            (order,) = cursor.execute(_ORDER_PROBE_PG, (_ORDER_SAMPLE,)).fetchone()
            if order == _ORDER_SAMPLE:
                (workers,) = cursor.execute("SHOW max_parallel_workers_per_gather").fetchone()
                cursor.execute(_SERIAL_PG % 0)
                (hexdigest,) = cursor.execute(_DIGEST_IN_DB_PG, (snapshot_id,)).fetchone()
                cursor.execute(_SERIAL_PG % int(workers))
                pause_point()
                return hexdigest or _EMPTY_DIGEST  # string_agg of no rows is NULL
    digest = SnapshotDigest()
    cursor = raw.cursor(name=f"digest_{snapshot_id}") if postgresql else raw.cursor()
    try:
        cursor.execute(_DIGEST_LINES_PG if postgresql else _DIGEST_LINES_SQLITE, (snapshot_id,))
        while batch := cursor.fetchmany(_DIGEST_BATCH):
            digest.update_lines([line for (line,) in batch])
            pause_point()  # inside a job, yield to live traffic between batches
    finally:
        cursor.close()
    return digest.hexdigest()


def _finish(
    session: Session,
    snapshot: Snapshot,
    replaced: Snapshot | None,
    *,
    rows: int,
    counts: dict[str, int],
    digest: str,
    actor: str,
    action: str,
    details: dict[str, Any],
) -> None:
    snapshot.row_count = rows
    snapshot.tier_counts = _tier_counts_json(counts)
    snapshot.digest = digest
    session.flush()
    record_event(
        session,
        actor,
        action,
        "snapshot",
        str(snapshot.id),
        {
            "period": snapshot.period,
            "source_name": snapshot.source_name,
            "rows": rows,
            "tier_counts": {t: counts.get(t, 0) for t in TIERS},
            "digest": digest,
            "replaces": replaced.id if replaced else None,
            **details,
        },
    )
    if replaced is not None:
        record_event(
            session,
            actor,
            "snapshot.superseded",
            "snapshot",
            str(replaced.id),
            {
                "period": replaced.period,
                "superseded_by": snapshot.id,
                "digest": replaced.digest,
            },
        )


def _announce(session: Session, snapshot: Snapshot, actor: str, announce: bool) -> None:
    """Tell the features that listen (``signals.snapshot_loaded``: flags gives the priority tiers their
    flags) that the snapshot is stored, in the same transaction; ``announce=False`` loads it alone
    (tests of the import alone, benchmarks)."""
    if announce:
        snapshot_loaded.send(session, snapshot_id=snapshot.id, period=snapshot.period, actor=actor)


def _report_of(stream: BinaryIO, start: int, fmt: str, source_name: str) -> SnapshotReport:
    """Read a rejected file again, repeated accounts checked, for the report of every problem by line."""
    stream.seek(start)
    report = SnapshotReport()
    for _row in read_snapshot(stream, fmt, report, source_name):
        pass
    if report.ok:  # the store refused a row the reader finds good: not a problem of the file
        raise RuntimeError("the snapshot rows were refused, but the file reads without a problem")
    return report


def import_snapshot(
    session: Session,
    stream: BinaryIO,
    *,
    period: str,
    source_name: str,
    actor: str,
    fmt: str = "csv",
    replace: bool = False,
    announce: bool = False,
    future: bool = False,
) -> Outcome:
    """Load a snapshot file (CSV or JSON lines) for ``period``: all or nothing, streaming.

    Refused (``Conflict``) when the period already has a snapshot and ``replace`` is false; the
    replaced snapshot is kept, superseded. A file with any problem raises :class:`FileRejected` with
    every problem by line (the first 100 in detail, and the totals); the caller rolls back.
    ``announce``: send ``snapshot_loaded`` once the snapshot is stored (the shells do).
    ``future``: a period after the current local month is loaded (else refused, ``future_period``).
    """
    period = check_period(period)
    check_not_future(period, future)
    if fmt not in ("csv", "jsonl"):
        raise DomainError(N_("unknown format %(format)s (csv or jsonl)"), field="format", code="unknown_format",
                          format=repr(fmt))
    snapshot, replaced = _begin_snapshot(
        session,
        period=period,
        source="import",
        source_name=source_name,
        actor=actor,
        replace=replace,
        file_format=fmt,
    )
    hashing = _HashingReader(stream)
    report = SnapshotReport()
    errors = report.errors
    snapshot_id = snapshot.id
    # A seekable file leaves repeated accounts to the table's primary key (memory stays flat whatever
    # the size) and is read again, with the reader's own check, only to report a bad file's lines.
    seekable = getattr(stream, "seekable", None)
    start = stream.tell() if seekable is not None and seekable() else None

    reader = read_snapshot(hashing, fmt, report, source_name, duplicates=start is None)  # type: ignore[arg-type]
    try:
        _insert_read_rows(session, snapshot_id, reader, errors)
        repeated = False
    except Exception as exc:
        if start is None or not is_unique_violation(exc):
            raise
        repeated = True
    if start is not None and (errors or repeated):
        report = _report_of(stream, start, fmt, source_name)
        errors = report.errors
    if errors:
        raise FileRejected(
            N_("%(file)s: %(total)s problem(s); nothing was loaded"), errors=report.as_dict()["errors"],
            file=source_name, total=errors.total,
        )
    snapshot.file_sha256 = hashing.sha256.hexdigest()
    snapshot.has_points = report.has_points
    digest = _digest_from_db(session, snapshot_id, report.rows)
    _finish(
        session,
        snapshot,
        replaced,
        rows=report.rows,
        counts=report.tier_counts,
        digest=digest,
        actor=actor,
        action="snapshot.imported",
        details={
            "format": fmt,
            "encoding": report.encoding,
            "file_sha256": snapshot.file_sha256,
            "bytes": hashing.size,
        },
    )
    _announce(session, snapshot, actor, announce)
    return Outcome(snapshot, replaced, report.as_dict())


def store_rules(session: Session, rules: Rules, data: bytes) -> RulesFile:
    """Keep the rules file's exact bytes (once per hash): explanations read the rules from here."""
    stored = session.get(RulesFile, rules.sha256)
    if stored is None:
        stored = RulesFile(sha256=rules.sha256, version=rules.version, content=data.decode("utf-8"))
        session.add(stored)
        session.flush()
    return stored


def rules_for(session: Session, sha256: str) -> Rules:
    """The rules a computed snapshot used, by their hash."""
    stored = session.get(RulesFile, sha256)
    if stored is None:
        data = default_rules_bytes()
        if hashlib.sha256(data).hexdigest() != sha256:
            raise NotFound(N_("rules file %(sha256)s... is not stored"), code="no_rules", sha256=sha256[:12])
        return parse_rules(data, "default")
    return parse_rules(stored.content.encode("utf-8"), f"stored {stored.version}")


def rules_in_force(session: Session, period: str) -> tuple[bytes, str]:
    """The rules bytes for computing ``period`` and where they come from (a version, or the default)."""
    version = session.scalar(
        select(RulesVersion).where(RulesVersion.effective_from <= period)
        .order_by(RulesVersion.effective_from.desc()).limit(1)
    )
    if version is None:
        return default_rules_bytes(), "default"
    stored = session.get(RulesFile, version.sha256)
    assert stored is not None  # the foreign key keeps it
    data = stored.content.encode("utf-8")
    if hashlib.sha256(data).hexdigest() != version.sha256:  # pragma: no cover - a damaged row
        raise DomainError(N_("the stored rules file does not match its hash"), code="inconsistent")
    return data, f"version from {version.effective_from}"


def compute_snapshot(
    session: Session,
    files: Sequence[tuple[BinaryIO, str]],
    *,
    period: str,
    actor: str,
    rules_bytes: bytes | None = None,
    replace: bool = False,
    announce: bool = False,
    future: bool = False,
) -> Outcome:
    """Compute ``period``'s snapshot from behaviour files (each sorted by account), all or nothing.

    Without ``rules_bytes``, the rules version published for the period (:func:`rules_in_force`), or
    the shipped default. Records the rules version and the rules file's hash (and keeps the file), and each account's
    month-by-month facts for explanations. A problem in any file raises :class:`FileRejected`.
    ``announce``: send ``snapshot_loaded`` once the snapshot is stored (the shells do).
    ``future``: a period after the current local month is computed (else refused, ``future_period``).
    """
    period = check_period(period)
    check_not_future(period, future)
    if not files:
        raise DomainError(N_("no behaviour file given"), field="files", code="no_file")
    data = rules_bytes if rules_bytes is not None else rules_in_force(session, period)[0]
    try:
        rules = parse_rules(data, "rules")
    except RulesError as exc:
        raise DomainError.of(exc, field="rules", code="bad_rules") from None
    names = [name for _, name in files]
    snapshot, replaced = _begin_snapshot(
        session,
        period=period,
        source="computed",
        source_name=", ".join(names),
        actor=actor,
        replace=replace,
        file_format="behaviour-csv",
    )
    snapshot.rules_version = rules.version
    snapshot.rules_hash = rules.sha256
    store_rules(session, rules, data)
    hashers = [_HashingReader(stream) for stream, _ in files]
    engine = Engine(rules, period)
    errors = ErrorLog()
    digest = SnapshotDigest()
    tiers: Counter[str] = Counter()

    def checked() -> Iterator[list[tuple[str, str, int, str]]]:
        # A chunk at a time: the digest's loop, the counts and the driver each take a whole list (a
        # generator calling the digest for each account cost 1.3 us per account, a tenth of its rating).
        for chunk in batches(engine.rate(list(zip(hashers, names, strict=True)), errors), _RATED_CHUNK):  # type: ignore[arg-type]
            if not errors:  # all or nothing: after a problem the files are only read on, to report
                digest.update(map(_ACCOUNT_TIER_POINTS, chunk))
                tiers.update(map(_TIER, chunk))
                yield chunk

    _insert_rated(session, snapshot.id, checked())
    counts = {t: tiers[t] for t in TIERS}
    total = digest.count
    if errors:
        raise FileRejected(
            N_("%(total)s problem(s) in the behaviour file(s); nothing was computed"), total=errors.total,
            errors=errors.as_dict(),
        )
    if total == 0:
        raise FileRejected(N_("the behaviour file(s) have no rows"), code="empty_file", errors=errors.as_dict())
    file_hashes = [h.sha256.hexdigest() for h in hashers]
    snapshot.file_sha256 = (
        file_hashes[0]
        if len(file_hashes) == 1
        else hashlib.sha256("\n".join(file_hashes).encode()).hexdigest()
    )
    snapshot.has_points = True
    _finish(
        session,
        snapshot,
        replaced,
        rows=total,
        counts=counts,
        digest=digest.hexdigest(),
        actor=actor,
        action="snapshot.computed",
        details={
            "rules_version": rules.version,
            "rules_sha256": rules.sha256,
            "files": names,
            "file_sha256": file_hashes,
        },
    )
    _announce(session, snapshot, actor, announce)
    return Outcome(snapshot, replaced, {"rows": total, "tier_counts": counts})


# -- reading -------------------------------------------------------------------------------------


def get_snapshot(session: Session, snapshot_id: int) -> Snapshot:
    """The snapshot with this id (any status), or NotFound."""
    if not 0 < snapshot_id < 2**31:  # an id outside the column's range cannot exist
        raise NotFound(N_("no snapshot #%(id)s"), code="no_snapshot", id=snapshot_id)
    snapshot = session.get(Snapshot, snapshot_id)
    if snapshot is None:
        raise NotFound(N_("no snapshot #%(id)s"), code="no_snapshot", id=snapshot_id)
    return snapshot


def active_for(session: Session, period: str | None) -> Snapshot:
    """The active snapshot of ``period``, or the latest one (newest non-future period) when None."""
    if period:
        snapshot = snapshot_for_period(session, check_period(period))
        if snapshot is None:
            raise NotFound(N_("no snapshot for %(period)s"), code="no_snapshot", period=period)
        return snapshot
    snapshot = latest_snapshot(session)
    if snapshot is None:
        raise NotFound(N_("no snapshot has been loaded yet"), code="no_snapshot")
    return snapshot


def describe(snapshot: Snapshot) -> dict[str, Any]:
    """A snapshot's provenance as a JSON-ready dict."""
    return {
        "id": snapshot.id,
        "period": snapshot.period,
        "status": snapshot.status,
        "source": snapshot.source,
        "source_name": snapshot.source_name,
        "file_sha256": snapshot.file_sha256,
        "format": snapshot.file_format,
        "loaded_by": snapshot.loaded_by,
        "loaded_at": snapshot.loaded_at,
        "row_count": snapshot.row_count,
        "tier_counts": tier_counts(snapshot),
        "has_points": snapshot.has_points,
        "digest": snapshot.digest,
        "rules_version": snapshot.rules_version,
        "rules_sha256": snapshot.rules_hash,
        "superseded_at": snapshot.superseded_at,
        "superseded_by": snapshot.superseded_by_id,
        "superseded_by_actor": snapshot.superseded_by_actor,
    }


def account_history(session: Session, account: str) -> list[dict[str, Any]]:
    """The account's tier in every active snapshot, oldest period first."""
    rows = session.execute(
        select(Snapshot.period, Snapshot.id, SnapshotRow.tier, SnapshotRow.points)
        .join(SnapshotRow, SnapshotRow.snapshot_id == Snapshot.id)
        .where(Snapshot.status == "active", SnapshotRow.account == account)
        .order_by(Snapshot.period)
    ).all()
    return [
        {"period": p, "snapshot_id": i, "tier": t, "tier_label": RUSSIAN_NAMES[t], "points": pts}
        for p, i, t, pts in rows
    ]


def account_tier(
    session: Session, account: str, period: str | None = None, lang: str = "en"
) -> dict[str, Any]:
    """The account's tier in the period's snapshot, with the full explanation when it was computed.

    ``lang`` (``en`` or ``ru``) is the language of the reasons and advice.
    """
    account = account.strip()
    snapshot = active_for(session, period)
    row = session.get(SnapshotRow, (snapshot.id, account))
    if row is None:
        raise NotFound(N_("account %(account)s is not in the %(period)s snapshot"), code="no_account",
                       account=account, period=snapshot.period)
    base = {
        "account": account,
        "period": snapshot.period,
        "snapshot_id": snapshot.id,
        "tier": row.tier,
        "tier_label": RUSSIAN_NAMES[row.tier],
        "points": row.points,
        "source": snapshot.source,
        "rules_version": snapshot.rules_version,
        "rules_sha256": snapshot.rules_hash,
    }
    if not (row.facts and snapshot.rules_hash):
        return {
            **base,
            "explained": False,
            "months": [],
            "next_tier": None,
            "note": "imported from the billing system: no month-by-month detail is available",
        }
    engine = Engine(rules_for(session, snapshot.rules_hash), snapshot.period)
    detail = explain(engine, account, engine.decode(row.facts), lang if lang in ("en", "ru") else "en")
    if (detail["tier"], detail["points"]) != (row.tier, row.points):  # pragma: no cover - a corrupt row
        raise DomainError(N_("the stored facts do not reproduce the stored tier"), code="inconsistent")
    return {**base, **detail, "snapshot_id": snapshot.id, "source": snapshot.source, "explained": True}


def compare(session: Session, from_period: str, to_period: str) -> dict[str, Any]:
    """The tier transition matrix between two periods' active snapshots, and per-tier counts.

    ``matrix[a][b]`` counts accounts in tier a then tier b; ``left[a]`` those only in the first,
    ``joined[b]`` those only in the second.
    """
    a = active_for(session, from_period)
    b = active_for(session, to_period)
    A, B = SnapshotRow.__table__.alias("a"), SnapshotRow.__table__.alias("b")
    pairs = session.execute(
        select(A.c.tier, B.c.tier, func.count())
        .select_from(A.join(B, (B.c.account == A.c.account) & (B.c.snapshot_id == b.id)))
        .where(A.c.snapshot_id == a.id)
        .group_by(A.c.tier, B.c.tier)
    ).all()
    matrix = {t: {u: 0 for u in TIERS} for t in TIERS}
    for ta, tb, n in pairs:
        matrix[ta][tb] = int(n)
    ca, cb = tier_counts(a), tier_counts(b)
    left = {t: ca[t] - sum(matrix[t].values()) for t in TIERS}
    joined = {t: cb[t] - sum(matrix[u][t] for u in TIERS) for t in TIERS}
    rank = {t: i for i, t in enumerate(TIERS)}
    up = sum(matrix[x][y] for x in TIERS for y in TIERS if rank[y] > rank[x])
    down = sum(matrix[x][y] for x in TIERS for y in TIERS if rank[y] < rank[x])
    same = sum(matrix[x][x] for x in TIERS)
    return {
        "from": describe(a),
        "to": describe(b),
        "tiers": list(TIERS),
        "matrix": matrix,
        "left": left,
        "joined": joined,
        "counts": {"from": ca, "to": cb},
        "moved_up": up,
        "moved_down": down,
        "unchanged": same,
    }


# -- exports -------------------------------------------------------------------------------------

BILLS_HEADER = "Лицевой счет;Рейтинг"
FULL_HEADER = "account;tier;points"


def export_lines(session: Session, snapshot: Snapshot, kind: str) -> Iterator[str]:
    """Lines (LF) of an export, streamed in account order.

    ``bills``: ``account;Russian tier label`` for printing on bills, then the columns other features add
    through the ``bill_columns`` signal (e.g. each open draw's check codes). ``full``: ``account;tier;points``
    with tier codes: the canonical digest is recomputable from it (docs/snapshots.md).
    """
    if kind == "bills":
        columns = [column for _receiver,
                   answer in bill_columns.send(session, snapshot=snapshot) for column in answer or ()]
        yield ";".join([BILLS_HEADER, *(header for header, _value in columns)]) + "\n"
        labels = RUSSIAN_NAMES
        for account, tier, _points in iter_rows(session, snapshot.id, batch=100_000):
            extra = "".join(f";{value(account)}" for _header, value in columns)
            yield f"{account};{labels[tier]}{extra}\n"
    elif kind == "full":
        yield FULL_HEADER + "\n"
        for account, tier, points in iter_rows(session, snapshot.id, batch=100_000):
            yield f"{account};{tier};{'' if points is None else points}\n"
    else:
        raise DomainError(N_("unknown export %(kind)s (bills or full)"),
                          field="kind", code="unknown_export", kind=repr(kind))


def record_export(session: Session, snapshot: Snapshot, kind: str, actor: str) -> None:
    """Log who took a full list of accounts (personal data) out of the service."""
    record_event(
        session,
        actor,
        "snapshot.exported",
        "snapshot",
        str(snapshot.id),
        {"period": snapshot.period, "kind": kind, "rows": snapshot.row_count},
    )


def verify_digest(session: Session, snapshot: Snapshot) -> bool:
    """Recompute the stored digest from the stored rows."""
    return _digest_from_db(session, snapshot.id, snapshot.row_count) == snapshot.digest
