"""Issuing codes: in bulk for an offer and a snapshot, on demand for the personal cabinet; export.

Bulk issue is idempotent: it issues a code to every account of a qualifying tier that has none for
the offer yet (an anti-join against ``codes``), so a re-run, or a run after a crash, issues only what
is missing. It works in batches (keyset pages in account order) that the shell commits one by one,
which shows progress and keeps memory flat. Each batch takes the offer's lock (as on-demand issue
does), re-checks the budget and records its own event in its transaction; ``drive`` marks a failed
run and logs it. Rows go in with the driver's bulk path (``rewards.bulkload``: ``executemany``
on SQLite, ``COPY`` on PostgreSQL). A repeated 60-bit value (about 1e-6 per million codes) or a
concurrent run writing the same accounts fails the batch's savepoint; the batch is drawn again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from operator import itemgetter
from typing import Any

from sqlalchemy import String, and_, cast, exists, func, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from partners import codes as codecore
from partners import snapshots
from partners.models import ISSUED, Code, IssueRun, Offer
from rewards.audit.services import record_event
from rewards.bulkload import bulk_insert, copy_text, copy_value
from rewards.db import utcnow
from rewards.errors import N_, Conflict, DomainError, NotFound
from signedjson import utc_timestamp

BATCH = 50_000
JOB_KIND = "partners.issue"  # the job that drives a run (partners.jobs)
_COLUMNS = ("offer_id", "value", "account", "tier", "snapshot_id", "issue_run_id", "issued_at", "state", "version")


class NotQualified(DomainError):
    """The account does not qualify for the offer in the latest snapshot."""

    status = 403
    code = "not_qualified"


class BudgetExhausted(Conflict):
    """The offer's budget of codes is used up."""

    code = "budget_exhausted"


def _check_issuable(offer: Offer, now: datetime) -> None:
    if offer.withdrawn_at is not None:
        raise Conflict(N_("the offer is withdrawn"), code="offer_withdrawn")
    if now >= offer.valid_to:
        raise Conflict(N_("the offer has ended"), code="offer_ended")


def _missing(offer: Offer, snapshot_id: int, after: str | None = None) -> Any:
    """The query of the qualifying accounts without a code for the offer; after ``after`` when given.

    The bound is repeated on the codes' side, where it changes nothing but the plan: PostgreSQL may
    merge the page with the offer's codes, and then reads them from ``after`` on, not from the first
    (each page would read, even sort, every code issued so far).
    """
    rows = snapshots.ROWS
    query = snapshots.accounts_query(snapshot_id, offer.tier_list)
    has_code = and_(Code.offer_id == offer.id, Code.account == rows.c.account)
    if after is not None:
        query = query.where(rows.c.account > after)
        has_code = and_(has_code, Code.account > after)
    return query.where(~exists().where(has_code))


def issued_count(session: Session, offer_id: int) -> int:
    """Codes issued for the offer (counted, never stored)."""
    return session.scalar(
        select(func.count()).select_from(Code).where(Code.offer_id == offer_id, Code.test.is_(False))
    ) or 0


def missing_count(session: Session, offer: Offer, snapshot_id: int) -> int:
    """Accounts of a qualifying tier in the snapshot that have no code for the offer yet."""
    return session.scalar(select(func.count()).select_from(_missing(offer, snapshot_id).subquery())) or 0


# A batch of codes takes about a second; a run still marked running with no progress for this long
# lost the process that drove it (a worker restarted, a CLI was killed).
STALE_AFTER = timedelta(minutes=10)
INTERRUPTED = "interrupted"


def shown_state(run: IssueRun, now: datetime) -> str:
    """The run's state as pages and the CLI show it: ``interrupted`` for a run still marked
    running that has made no progress for ``STALE_AFTER``."""
    if run.state == "running" and now - run.updated_at > STALE_AFTER:
        return INTERRUPTED
    return run.state


def _orphaned(offer_id: int | None) -> Any:
    """Runs still marked running whose job has finished: its consumer was killed and the job closed as
    interrupted (a job that ends any other way settles its run first)."""
    from rewards.jobs.models import FINISHED, Job

    job_params = literal('{"run_id":', String) + cast(IssueRun.id, String) + literal("}", String)  # its canonical JSON
    finished_job = select(Job.id).where(Job.kind == JOB_KIND, Job.params == job_params, Job.state.in_(FINISHED))
    query = select(IssueRun).where(IssueRun.state == "running", exists(finished_job))
    return query if offer_id is None else query.where(IssueRun.offer_id == offer_id)


def close_interrupted(session: Session, offer_id: int | None, now: datetime) -> list[int]:
    """Mark interrupted runs failed (of one offer, or of all), each with a ``codes.issue_failed`` event;
    their ids. Interrupted: no progress for ``STALE_AFTER``, or its job already closed as interrupted."""
    stale = select(IssueRun).where(IssueRun.state == "running", IssueRun.updated_at < now - STALE_AFTER)
    if offer_id is not None:
        stale = stale.where(IssueRun.offer_id == offer_id)
    runs = {run.id: run for query in (stale, _orphaned(offer_id)) for run in session.scalars(query)}
    for run in runs.values():
        fail_run(session, run.id, DomainError(N_("interrupted: no progress since %(since)s UTC"),
                                              since=f"{run.updated_at:%Y-%m-%d %H:%M}"))
    return sorted(runs)


def start_run(session: Session, offer: Offer, snapshot: snapshots.SnapshotRef, *, actor: str) -> IssueRun:
    """Plan a bulk issue: counts what is missing; the caller commits, then drives ``run_batches``.
    Runs of the offer left running by a process that stopped are closed as failed first."""
    now = utcnow()
    _check_issuable(offer, now)
    close_interrupted(session, offer.id, now)
    missing = missing_count(session, offer, snapshot.id)
    planned = missing
    if offer.budget is not None:
        planned = max(0, min(missing, offer.budget - issued_count(session, offer.id)))
    run = IssueRun(
        offer_id=offer.id,
        snapshot_id=snapshot.id,
        actor=actor,
        state="running",
        planned=planned,
        issued=0,
        skipped_budget=missing - planned,
        started_at=now,
        updated_at=now,
    )
    session.add(run)
    session.flush()
    record_event(
        session,
        actor,
        "codes.issue_started",
        "offer",
        str(offer.id),
        {"run": run.id, "snapshot_id": snapshot.id, "period": snapshot.period, "planned": planned},
    )
    return run


def _time_text(session: Session, at: datetime) -> Any:
    """``at`` as the driver wants it for a raw insert of a UTCDateTime column."""
    dialect = session.get_bind().dialect
    processor = Code.__table__.c.issued_at.type.bind_processor(dialect)
    value = processor(at) if processor else at
    if dialect.name == "sqlite" and isinstance(value, datetime):
        # The text sqlite3's default adapter stores (deprecated from Python 3.12), made once per batch
        # instead of once per code.
        return value.isoformat(" ")
    return value


_SHARED = itemgetter(0, 4, 5, 6, 7, 8)  # the columns every code of a batch shares: offer, snapshot, run, time...


def _codes_copy_text(rows: Sequence[Sequence[Any]]) -> str:
    """COPY text of a batch of code rows, in one ``join``: the columns the rows share are formatted once.

    Rows that do not all share them, or a value that would need escaping (accounts and tiers come from
    the snapshot: digits and codes), take the general path instead; the checks run in C.
    """
    shared = set(map(_SHARED, rows))
    if len(shared) != 1:
        return copy_text(rows)
    offer_id, *rest = (copy_value(value) for value in shared.pop())
    head, tail = f"{offer_id}\t", "\t" + "\t".join(rest) + "\n"
    text = "".join([f"{head}{row[1]}\t{row[2]}\t{row[3]}{tail}" for row in rows])
    if "\\" in text or "\r" in text or text.count("\n") != len(rows) or text.count("\t") != 8 * len(rows):
        return copy_text(rows)
    return text


def insert_codes(session: Session, rows: list[tuple[Any, ...]]) -> None:
    """Bulk-insert code rows (tuples in ``_COLUMNS`` order) in the session's transaction."""
    bulk_insert(session, "codes", _COLUMNS, rows, format_chunk=_codes_copy_text)


def _is_integrity_error(exc: BaseException) -> bool:
    if isinstance(exc, IntegrityError):
        return True
    name = type(exc).__name__
    return name in {"IntegrityError", "UniqueViolation"}


def _lock_offer(session: Session, offer_id: int) -> Offer:
    """The offer, re-read under the lock that serialises everyone who issues its codes.

    PostgreSQL: a row lock held to the end of the transaction; SQLite: BEGIN IMMEDIATE already holds
    the database's write lock. Bulk batches and on-demand issues take it before counting the budget.
    """
    offer = session.scalar(
        select(Offer).where(Offer.id == offer_id).with_for_update().execution_options(populate_existing=True)
    )
    if offer is None:
        raise NotFound(N_("no offer %(offer_id)s"), offer_id=offer_id)
    return offer


def run_batches(session: Session, run_id: int, batch_size: int = BATCH) -> Iterator[IssueRun]:
    """Issue the run's codes batch by batch; yields the run after each batch (commit there).

    Each batch takes the offer's lock, re-reads the offer (withdrawn or ended meanwhile: ``Conflict``)
    and its budget against the codes issued so far (on-demand issues may have used some), and records a
    ``codes.issue_batch`` event in its own transaction, so every committed code has its event even when
    a later batch fails or the process is killed.
    """
    run = session.get(IssueRun, run_id)
    if run is None:
        raise NotFound(N_("no issue run %(run_id)s"), run_id=run_id)
    offer_id = run.offer_id
    last = ""
    attempts = 0
    batches = 0
    budget_stop = False
    while True:
        offer = _lock_offer(session, offer_id)
        _check_issuable(offer, utcnow())
        size = batch_size
        if offer.budget is not None:
            left = offer.budget - issued_count(session, offer_id)
            if left <= 0:
                budget_stop = run.issued < run.planned
                break
            size = min(size, left)
        page = session.execute(_missing(offer, run.snapshot_id, after=last).limit(size)).all()
        if not page:
            break
        now = utcnow()
        at = _time_text(session, now)
        values = codecore.random_values(len(page))
        snapshot_id, run_number = run.snapshot_id, run.id  # read once: ORM attributes cost a call each
        rows = [
            (offer_id, v, account, tier, snapshot_id, run_number, at, ISSUED, 0)
            for v, (account, tier) in zip(values, page, strict=True)
        ]
        savepoint = session.begin_nested()
        try:
            insert_codes(session, rows)
        except Exception as exc:
            savepoint.rollback()
            if not _is_integrity_error(exc) or attempts >= 5:
                raise
            attempts += 1  # a repeated value or a concurrent run: draw this page again
            continue
        savepoint.commit()
        attempts = 0
        batches += 1
        last = page[-1][0]
        run.issued += len(page)
        run.updated_at = now
        record_event(
            session,
            run.actor,
            "codes.issue_batch",
            "offer",
            str(offer_id),
            {"run": run.id, "batch": batches, "count": len(page), "first": page[0][0], "last": last},
        )
        session.flush()
        yield run
    if budget_stop:  # on-demand issues used part of the budget meanwhile
        run.skipped_budget += run.planned - run.issued
        run.planned = run.issued
    run.state = "done"
    run.finished_at = run.updated_at = utcnow()
    record_event(
        session,
        run.actor,
        "codes.issued",
        "offer",
        str(offer_id),
        {
            "run": run.id,
            "snapshot_id": run.snapshot_id,
            "issued": run.issued,
            "batches": batches,
            "skipped_budget": run.skipped_budget,
            "prefix": offer.partner.prefix,
        },
    )
    session.flush()
    yield run


def fail_run(session: Session, run_id: int, exc: BaseException) -> IssueRun | None:
    """Mark a running run failed after its batch was rolled back, with a ``codes.issue_failed`` event
    (the caller commits). The batches committed before stay, each with its event."""
    run = session.get(IssueRun, run_id)
    if run is None or run.state != "running":
        return run
    reason = exc.message if isinstance(exc, DomainError) else type(exc).__name__
    run.state = "failed"
    run.message = f"failed ({reason}); re-run the issue: it continues where this one stopped"
    run.finished_at = run.updated_at = utcnow()
    session.flush()
    record_event(
        session,
        run.actor,
        "codes.issue_failed",
        "offer",
        str(run.offer_id),
        {"run": run.id, "snapshot_id": run.snapshot_id, "issued": run.issued, "error": reason},
    )
    return run


def drive(
    session: Session,
    run_id: int,
    *,
    commit: Callable[[], None],
    progress: Callable[[IssueRun], None] | None = None,
    batch_size: int = BATCH,
) -> IssueRun:
    """Run a planned issue to its end, calling ``commit`` after each batch (the shells: page, CLI, bench).

    On any failure (an interrupt included) the batch in progress is rolled back, the run is marked
    ``failed`` with its event and committed, and the exception propagates.
    """
    run: IssueRun | None = None
    try:
        for run in run_batches(session, run_id, batch_size):
            commit()
            if progress is not None:
                progress(run)
    except BaseException as exc:
        session.rollback()
        try:
            fail_run(session, run_id, exc)
            commit()
        except Exception:  # noqa: BLE001 - the database itself may be gone; the first error matters
            session.rollback()
        raise
    assert run is not None
    return run


def issue_all(
    session: Session,
    offer: Offer,
    snapshot: snapshots.SnapshotRef,
    *,
    actor: str,
    commit: Callable[[], None],
    progress: Callable[[IssueRun], None] | None = None,
    batch_size: int = BATCH,
) -> IssueRun:
    """Plan and run a bulk issue, calling ``commit`` after the plan and after each batch (CLI, bench)."""
    run = start_run(session, offer, snapshot, actor=actor)
    commit()
    return drive(session, run.id, commit=commit, progress=progress, batch_size=batch_size)


def code_for_account(session: Session, offer: Offer, account: str, *, actor: str) -> tuple[Code, bool]:
    """The account's code for the offer: the existing one, or a new one if the account qualifies in
    the latest snapshot. Returns ``(code, created)``."""
    account = (account or "").strip()
    if not 1 <= len(account) <= 32:
        raise DomainError(N_("an account number has 1 to 32 characters"), field="account")
    existing = session.scalar(select(Code).where(Code.offer_id == offer.id, Code.account == account))
    if existing is not None:
        return existing, False
    now = utcnow()
    _check_issuable(offer, now)
    snap = snapshots.latest(session)
    tier = snapshots.tier_of(session, snap.id, account) if snap else None
    if tier is None or tier not in offer.tier_list:
        raise NotQualified(N_("the account does not qualify for this offer in the latest snapshot"))
    if offer.budget is not None:
        _lock_offer(session, offer.id)  # the lock bulk batches take too
        if issued_count(session, offer.id) >= offer.budget:
            raise BudgetExhausted(N_("the offer's codes are all given out"))
    for _attempt in range(5):
        code = Code(
            offer_id=offer.id,
            value=codecore.random_values(1)[0],
            account=account,
            tier=tier,
            snapshot_id=snap.id if snap else None,
            issued_at=now,
            state=ISSUED,
            version=0,
        )
        try:
            with session.begin_nested():
                session.add(code)
        except IntegrityError:
            again = session.scalar(select(Code).where(Code.offer_id == offer.id, Code.account == account))
            if again is not None:  # a concurrent call issued it first: same code for both
                return again, False
            continue  # a repeated value: draw again
        record_event(session, actor, "code.issued", "code", str(code.id), {"offer_id": offer.id, "tier": tier})
        return code, True
    raise Conflict(N_("could not issue a code; retry"))


def display(prefix: str, code: Code) -> str:
    """The printed form of a code."""
    return codecore.format_code(prefix, code.value)


def export_lines(session: Session, offer: Offer, batch: int = 20_000) -> Iterator[str]:
    """CSV lines (``;``-separated, header first) of the offer's codes for the mailing system."""
    prefix = offer.partner.prefix
    fmt = codecore.format_code
    yield "account;tier;code;issued_at;state\r\n"
    last = 0
    while True:
        rows = session.execute(
            select(Code.id, Code.account, Code.tier, Code.value, Code.issued_at, Code.state)
            .where(Code.offer_id == offer.id, Code.id > last, Code.test.is_(False))
            .order_by(Code.id)
            .limit(batch)
        ).all()
        if not rows:
            return
        yield "".join(
            f"{r.account};{r.tier};{fmt(prefix, r.value)};{utc_timestamp(r.issued_at)};{r.state}\r\n"
            for r in rows
        )
        last = rows[-1].id


def codes_of_account(session: Session, account: str) -> list[tuple[Code, Offer, str]]:
    """Every code of an account with its offer and printed form (for the cabinet)."""
    from partners.models import Partner

    rows = session.execute(
        select(Code, Offer, Partner.prefix)
        .join(Offer, Offer.id == Code.offer_id)
        .join(Partner, Partner.id == Offer.partner_id)
        .where(Code.account == account, Code.test.is_(False))
        .order_by(Code.id)
    ).all()
    return [(code, offer, codecore.format_code(prefix, code.value)) for code, offer, prefix in rows]


MAX_TEST_CODES = 100  # per offer: enough to build an integration against


def issue_test_codes(session: Session, offer: Offer, count: int, *, actor: str) -> list[str]:
    """Issue ``count`` test codes of ``offer`` (printed ``TEST-...``; sandbox keys only). They count in
    no live figure (issued counts, budget, reports, exports); returns them printed."""
    if not isinstance(count, int) or count < 1:
        raise DomainError(N_("the number of test codes is a whole number from 1"), field="count")
    have = session.scalar(select(func.count()).select_from(Code).where(Code.offer_id == offer.id,
                                                                       Code.test.is_(True))) or 0
    if have + count > MAX_TEST_CODES:
        raise DomainError(N_("an offer has at most %(n)s test codes"), field="count", n=MAX_TEST_CODES)
    now = utcnow()
    codes = [Code(offer_id=offer.id, value=v, account=f"TEST-{have + i + 1:06d}", tier="test", issued_at=now,
                  state=ISSUED, version=0, test=True)
             for i, v in enumerate(codecore.random_values(count))]
    session.add_all(codes)
    session.flush()
    record_event(session, actor, "codes.test_issued", "offer", str(offer.id), {"count": count})
    prefix = offer.partner.prefix
    return [codecore.printed(prefix, c.value, True) for c in codes]
