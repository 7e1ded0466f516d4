"""Use cases of rules drafts, what-ifs over computed snapshots, and rule versions published from a month.

A what-if reads a computed snapshot's stored month facts (no behaviour files), rates them with a draft
and writes nothing to the database: the job that runs it keeps its result (the job's record, and the
changed accounts as a CSV file for download and search).

Rule versions: :func:`publish_version` makes a rules file the one computed snapshots of a month and the
later months use (``compute_snapshot`` without a rules file asks :func:`rules_in_force`); snapshots of
earlier months keep theirs, each snapshot records the version and hash it was rated with.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rewards.audit.services import record_event
from rewards.db import utcnow
from rewards.errors import N_, Conflict, DomainError, NotFound
from rewards.rating.engine import Engine, explain
from rewards.rating.rules import Rules, RulesError
from rewards.rating.whatif import Rerater, Simulation, check_draft
from rewards.snapshots.models import RulesDraft, RulesVersion, Snapshot, SnapshotRow
from rewards.snapshots.services import check_period, get_snapshot, rules_for, store_rules
from rewards.snapshots.signals import what_if_costs
from rewards.tiers import RUSSIAN_NAMES, TIER_RANK

CHANGED_HEADER = "account;old_tier;new_tier;old_points;new_points"


class NeedsFacts(DomainError):
    """A what-if needs the month facts that only a computed snapshot keeps."""

    status = 422
    code = "needs_facts"


def validate_rules(data: bytes) -> Rules:
    """A draft's rules, or a refusal naming the field (``rules.tiers.ideal.min_points``)."""
    try:
        return check_draft(data)
    except RulesError as exc:
        raise DomainError.of(exc, field=str(exc.params.get("path", "rules")), code="bad_rules") from None


# -- drafts --------------------------------------------------------------------------------------


def save_draft(session: Session, content: bytes, *, name: str, actor: str, draft_id: int | None = None) -> RulesDraft:
    """Store a new draft, or a new text of draft ``draft_id``; refused whole when the rules are not valid."""
    name = (name or "").strip()
    if not name:
        raise DomainError(N_("a draft needs a name"), field="name", code="no_name")
    rules = validate_rules(content)
    now = utcnow()
    if draft_id is None:
        draft = RulesDraft(name=name[:200], content=content.decode("utf-8"), sha256=rules.sha256,
                           version=rules.version[:64], created_by=actor, created_at=now, updated_by=actor,
                           updated_at=now)
        session.add(draft)
        action = "rules.draft_created"
    else:
        draft = get_draft(session, draft_id)
        draft.name, draft.content, draft.sha256 = name[:200], content.decode("utf-8"), rules.sha256
        draft.version, draft.updated_by, draft.updated_at = rules.version[:64], actor, now
        action = "rules.draft_saved"
    session.flush()
    record_event(session, actor, action, "rules_draft", str(draft.id),
                 {"name": draft.name, "version": rules.version, "sha256": rules.sha256})
    return draft


def get_draft(session: Session, draft_id: int) -> RulesDraft:
    """The draft, or NotFound."""
    draft = session.get(RulesDraft, draft_id) if 0 < draft_id < 2**31 else None
    if draft is None:
        raise NotFound(N_("no rules draft #%(id)s"), code="no_draft", id=draft_id)
    return draft


def list_drafts(session: Session, limit: int = 200) -> list[RulesDraft]:
    """Drafts, most recently saved first."""
    return list(session.scalars(select(RulesDraft).order_by(RulesDraft.updated_at.desc(), RulesDraft.id.desc())
                                .limit(limit)))


def describe_draft(draft: RulesDraft) -> dict[str, Any]:
    """A draft as a JSON-ready dict (its rules as a JSON object)."""
    return {"id": draft.id, "name": draft.name, "version": draft.version, "sha256": draft.sha256,
            "created_by": draft.created_by, "created_at": draft.created_at, "updated_by": draft.updated_by,
            "updated_at": draft.updated_at, "rules": json.loads(draft.content)}


# -- what-if -------------------------------------------------------------------------------------


def computed_snapshot(session: Session, snapshot_id: int) -> Snapshot:
    """The snapshot, refused unless it was computed (only a computed snapshot keeps month facts)."""
    snapshot = get_snapshot(session, snapshot_id)
    if snapshot.source != "computed" or not snapshot.rules_hash:
        raise NeedsFacts(
            N_("snapshot #%(id)s (%(period)s) was imported, not computed: a what-if needs month facts, which only a "
               "computed snapshot keeps"),
            field="snapshot", id=snapshot.id, period=snapshot.period,
        )
    return snapshot


def iter_facts(session: Session, snapshot_id: int, batch: int = 20_000) -> Iterator[tuple[str, str, int | None, str]]:
    """``(account, tier, points, facts)`` of a snapshot in account order, streamed through the driver."""
    connection = session.connection()
    raw: Any = connection.connection.driver_connection
    sql = "SELECT account, tier, points, facts FROM snapshot_rows WHERE snapshot_id = {} ORDER BY account"
    if connection.dialect.name == "postgresql":
        with raw.cursor(name=f"whatif_{snapshot_id}") as cursor:
            cursor.itersize = batch
            cursor.execute(sql.format("%s"), (snapshot_id,))
            yield from cursor
    else:
        cursor = raw.cursor()
        try:
            cursor.arraysize = batch
            cursor.execute(sql.format("?"), (snapshot_id,))
            while rows := cursor.fetchmany():
                yield from rows
        finally:
            cursor.close()


def what_if(
    session: Session,
    snapshot_id: int,
    rules_bytes: bytes,
    *,
    changed: Callable[[str, str, str, int | None, int], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Rate every account of a computed snapshot with ``rules_bytes``; the summary, JSON-ready.

    ``changed(account, old tier, new tier, old points, new points)`` hears each account whose tier
    changes (in account order); ``progress(done, total)`` every 50,000 accounts. Reads only.
    """
    snapshot = computed_snapshot(session, snapshot_id)
    new_rules = validate_rules(rules_bytes)
    old_rules = rules_for(session, snapshot.rules_hash or "")
    sim = Simulation(new_rules, old_rules, snapshot.period)
    add = sim.add
    total = snapshot.row_count
    done = 0
    for account, tier, points, facts in iter_facts(session, snapshot.id):
        if facts is None:  # pragma: no cover - a computed snapshot stores facts for every row
            raise NeedsFacts(N_("account %(account)s has no month facts"), account=account)
        new_tier, new_points = add(tier, facts)
        if new_tier != tier and changed is not None:
            changed(account, tier, new_tier, points, new_points)
        done += 1
        if progress is not None and done % 50_000 == 0:
            progress(done, total)
    result = sim.summary()
    result["snapshot"] = {"id": snapshot.id, "period": snapshot.period, "rules_version": snapshot.rules_version}
    result["costs"] = costs(session, snapshot.period, result["before"], result["after"])
    return result


def costs(session: Session, period: str, before: dict[str, int], after: dict[str, int]) -> list[dict[str, Any]]:
    """What the other features say the counts cost (``signals.what_if_costs``), in their answering order."""
    out: list[dict[str, Any]] = []
    for _receiver, answer in what_if_costs.send(session, period=period, before=before, after=after):
        out.extend(answer or ())
    return out


def explain_difference(
    session: Session, snapshot_id: int, rules_bytes: bytes, account: str, lang: str = "en"
) -> dict[str, Any]:
    """One account under the snapshot's rules and under the draft, side by side (each ``explain``)."""
    snapshot = computed_snapshot(session, snapshot_id)
    account = account.strip()
    row = session.get(SnapshotRow, (snapshot.id, account))
    if row is None or row.facts is None:
        raise NotFound(N_("account %(account)s is not in the %(period)s snapshot"), code="no_account",
                       account=account, period=snapshot.period)
    lang = lang if lang in ("en", "ru") else "en"
    new_rules = validate_rules(rules_bytes)
    old_engine = Engine(rules_for(session, snapshot.rules_hash or ""), snapshot.period)
    rerater = Rerater(Engine(new_rules, snapshot.period), old_engine)
    old = explain(old_engine, account, old_engine.decode(row.facts), lang)
    new = explain(rerater.engine, account, rerater.month_facts(row.facts.split(",")), lang)
    return {"account": account, "period": snapshot.period, "snapshot_id": snapshot.id, "old": old, "new": new,
            "moved": TIER_RANK[new["tier"]] - TIER_RANK[old["tier"]],
            "old_label": RUSSIAN_NAMES[old["tier"]], "new_label": RUSSIAN_NAMES[new["tier"]],
            "missing_months": list(rerater.missing_months)}


# -- published versions --------------------------------------------------------------------------


def publish_version(session: Session, rules_bytes: bytes, *, effective_from: str, actor: str) -> RulesVersion:
    """Make ``rules_bytes`` the rules of computed snapshots from ``effective_from`` on.

    Refused when that month already has a version. Snapshots already stored keep the rules they were
    rated with (recorded on each); a compute (or recompute) of ``effective_from`` or a later month
    without an explicit rules file uses this version, until a later month's version. The event log
    records who published what, with the file's hash.
    """
    period = check_period(effective_from)
    rules = validate_rules(rules_bytes)
    store_rules(session, rules, rules_bytes)
    if session.scalar(select(RulesVersion).where(RulesVersion.effective_from == period)) is not None:
        raise Conflict(N_("a rules version is already published from %(period)s"), code="version_taken",
                       field="effective_from", period=period)
    version = RulesVersion(effective_from=period, sha256=rules.sha256, version=rules.version[:64],
                           published_by=actor, published_at=utcnow())
    session.add(version)
    try:
        session.flush()
    except IntegrityError:  # another publication for the month committed first
        raise Conflict(N_("a rules version is already published from %(period)s"), code="version_taken",
                       field="effective_from", period=period) from None
    record_event(session, actor, "rules.published", "rules_version", str(version.id),
                 {"effective_from": period, "version": rules.version, "sha256": rules.sha256,
                  "bytes": len(rules_bytes)})
    return version


def list_versions(session: Session) -> list[RulesVersion]:
    """Published versions, latest month first."""
    return list(session.scalars(select(RulesVersion).order_by(RulesVersion.effective_from.desc())))


