"""Draw use cases: one function per step, each taking the session first and never committing.

The shell (API, CLI, pages) commits on success and rolls back on any error, so a refused or failed
step changes nothing. Every state change records an event in the same transaction. Steps move the
draw's state with one conditional ``UPDATE draws SET state = new WHERE id = :id AND state = :old``
and check that exactly one row changed: a second click, a second worker or a second server cannot
run a step twice (there is no way to re-roll a draw).

Collaborators are passed in, so tests build them directly: ``signer`` (``KeyStore``: ``sign``,
``keyset``), ``box`` (``SecretBox``: seals the secret and salt key with a key outside the database).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import secrets
import sys
import zlib
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import ARRAY, Integer, any_, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from draws import engine, words
from draws.bundle import public_record
from draws.checkcode import check_code, check_codes, code_matches
from draws.drand import BeaconInvalid, DrandChain
from draws.entrants import (
    check_account,
    check_weight,
    decode_entrant_columns,
    decode_weights,
    mask_account,
)
from draws.errors import DrawError
from draws.merkle import (
    CHUNK_SIZE,
    InclusionProof,
    MerkleTree,
    chunked_proof,
    decode_chunk,
    entrant_leaf_hashes,
    entrant_salt,
    order_keys,
    upper_path,
    verify_inclusion,
)
from draws.models import (
    CreditBatch,
    Draw,
    DrawCosignature,
    DrawCredit,
    DrawDisqualification,
    DrawEntrantChunk,
    DrawEntrantList,
    DrawExclusion,
    DrawWinner,
)
from draws.secretbox import SecretBox
from rewards.audit.services import record_event
from rewards.csvread import Column, ErrorLog, Table
from rewards.db import utcnow
from rewards.errors import N_, Conflict, DomainError, NotFound
from rewards.i18n import JoinedProblems
from rewards.snapshots.models import Snapshot
from rewards.snapshots.queries import (
    iter_account_tier_batches,
    latest_snapshot,
    snapshot_for_period,
)
from rewards.tiers import TIERS
from signedjson import canonical_json, utc_timestamp

KINDS = ("quarterly", "semi-annual")
DEFAULT_ENTROPY_DELAY = timedelta(hours=1)
CREDIT_HEADER = ["credit_id", "draw", "prize_index", "account", "amount_kopecks", "batch"]
CONFIRMATION_HEADER = ["credit_id", "account", "amount_kopecks", "status"]


class Signer(Protocol):
    """What the services need from the key store."""

    def sign(self, payload: dict[str, Any]) -> dict[str, Any]: ...

    def keyset(self) -> dict[str, Any]: ...


class DrawRefused(DomainError):
    """A draw step refused its input (the message says why)."""


def _refuse(exc: DrawError, field: str | None = None) -> DrawRefused:
    code = "".join("_" + c.lower() if c.isupper() else c for c in type(exc).__name__).lstrip("_")
    return DrawRefused.of(exc, field=field, code=code)


def _whole_seconds(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise DrawRefused(N_("times must carry a time zone"), code="naive_time", field="freeze_at")
    return moment.replace(microsecond=0)


def _json(text: str | None) -> Any:
    return json.loads(text) if text else None


def _payload(text: str | None) -> dict[str, Any]:
    """The payload of a stored envelope (empty when there is none yet)."""
    return json.loads(text)["payload"] if text else {}


def protocol_version(draw: Draw) -> int:
    """The protocol version of an announced draw (1 for draws announced before protocol 2)."""
    return int(_payload(draw.announcement).get("version", 1))


def _canonical(value: Any) -> str:
    return canonical_json(value).decode("utf-8")


# ------------------------------------------------------------------------------------------- reads
def get_draw(session: Session, public_id: str) -> Draw:
    """The draw with this public id, or NotFound."""
    draw = session.scalar(select(Draw).where(Draw.public_id == public_id))
    if draw is None:
        raise NotFound(N_("no draw %(public_id)s"), code="no_draw", public_id=repr(public_id))
    return draw


def list_draws(session: Session, states: Iterable[str] | None = None) -> list[Draw]:
    """Draws, newest first (optionally only some states)."""
    query = select(Draw).order_by(Draw.id.desc())
    if states is not None:
        query = query.where(Draw.state.in_(list(states)))
    return list(session.scalars(query))


def envelopes(draw: Draw) -> dict[str, Any]:
    """The draw's signed records that exist so far."""
    return {
        name: _json(getattr(draw, column))
        for name, column in (
            ("announcement", "announcement"),
            ("freeze", "freeze_record"),
            ("result", "result_record"),
            ("cancellation", "cancellation"),
            ("head", "head_record"),
        )
        if getattr(draw, column)
    }


# ------------------------------------------------------------------------------------------- draft
@dataclass(frozen=True)
class DraftInput:
    """Everything a draft fixes. ``entropy`` is ``{"type": "drand", "chain": "quicknet",
    "delay_seconds": 3600}`` or ``{"type": "rfc3797", "sources": [...], "available_after": iso}``."""

    name: str
    kind: str
    tier_weights: Mapping[str, int]
    prizes: Sequence[Mapping[str, int]]
    reserves: int
    freeze_at: datetime
    entropy: Mapping[str, Any]
    snapshot_period: str | None = None
    algorithm: str = engine.ALGORITHM_WEIGHTED
    exclusions: Sequence[str] = ()
    witnesses: Sequence[Mapping[str, str]] = ()  # [{"name", "kid", "public_key"}], each an independent party
    quorum: int = 0  # cosignatures of the freeze needed before the draw may run
    unwitnessed: bool = False  # must be said explicitly when quorum is 0


def _check_entropy_spec(spec: Mapping[str, Any], chains: Mapping[str, Any], freeze_at: datetime) -> dict[str, Any]:
    kind = spec.get("type")
    if kind == "drand":
        chain = spec.get("chain", "quicknet")
        if not isinstance(chain, str) or chain not in chains:
            raise DrawRefused(N_("unknown drand chain %(chain)s (configured: %(chains)s)"),
                code="unknown_chain", chain=repr(chain), chains=', '.join(sorted(chains)), field="entropy")
        delay = spec.get("delay_seconds", int(DEFAULT_ENTROPY_DELAY.total_seconds()))
        if isinstance(delay, bool) or not isinstance(delay, int) or not 0 <= delay <= 30 * 86400:
            raise DrawRefused(N_("the entropy delay must be 0 to 30 days, in seconds"),
                              code="bad_entropy_delay", field="entropy")
        return {"type": "drand", "chain": chain, "delay_seconds": delay}
    if kind == "rfc3797":
        sources = spec.get("sources")
        if not isinstance(sources, list) or not all(isinstance(d, str) for d in sources):
            raise DrawRefused(N_("list the sources of public numbers as texts, in order"),
                              code="bad_sources", field="entropy")
        try:
            source = engine.rfc3797_source(sources, str(spec.get("available_after", "")))
        except DrawError as exc:
            raise _refuse(exc, "entropy") from exc
        if engine.parse_timestamp(source["available_after"]) <= int(freeze_at.timestamp()):
            raise DrawRefused(N_("the public numbers must be drawn after the freeze time"),
                              code="numbers_before_freeze", field="entropy")
        return source
    raise DrawRefused(N_("the entropy source must be 'drand' or 'rfc3797'"), code="unknown_entropy", field="entropy")


def _draft_weights(data: DraftInput) -> dict[str, int]:
    unknown = sorted(set(data.tier_weights) - set(TIERS))
    if unknown:
        raise DrawRefused(N_("unknown tier(s): %(tiers)s"),
                          code="unknown_tier", tiers=', '.join(unknown), field="tier_weights")
    try:
        weights = {tier: check_weight(data.tier_weights.get(tier, 0), f"weight of tier {tier!r}") for tier in TIERS}
    except DrawError as exc:
        raise _refuse(exc, "tier_weights") from exc
    if not any(weights.values()):
        raise DrawRefused(N_("at least one tier must have a positive weight"), code="no_weight", field="tier_weights")
    if data.algorithm == engine.ALGORITHM_RFC3797 and any(w > 1 for w in weights.values()):
        raise DrawRefused(N_("RFC 3797 mode is unweighted: tier weights must be 0 or 1"),
                          code="weighted_rfc3797", field="tier_weights")
    return weights


def _draft_identity(data: DraftInput) -> None:
    if not data.name or not data.name.strip() or len(data.name) > 200:
        raise DrawRefused(N_("give the draw a name (at most 200 characters)"), code="bad_name", field="name")
    if data.kind not in KINDS:
        raise DrawRefused(N_("the kind must be one of %(kinds)s"),
                          code="unknown_kind", kinds=', '.join(KINDS), field="kind")
    if data.algorithm not in engine.ALGORITHMS:
        raise DrawRefused(N_("unknown algorithm %(algorithm)s"),
                          code="unknown_algorithm", algorithm=repr(data.algorithm), field="algorithm")
    if isinstance(data.reserves, bool) or not isinstance(data.reserves, int) or not 0 <= data.reserves <= 1000:
        raise DrawRefused(N_("reserves must be an integer from 0 to 1000"), code="bad_reserves", field="reserves")


def _draft_witnesses(data: DraftInput) -> dict[str, Any]:
    try:
        return engine.validate_witnesses(
            {"quorum": data.quorum, "keys": [dict(w) for w in data.witnesses], "unwitnessed": data.unwitnessed}
        )
    except DrawError as exc:
        raise _refuse(exc, "witnesses") from exc


def _draft_columns(
    session: Session, data: DraftInput, *, chains: Mapping[str, Any], now: datetime,
) -> dict[str, Any]:
    """A draft's checked parameters as the draw's column values (shared by create and update)."""
    _draft_identity(data)
    weights = _draft_weights(data)
    try:
        prizes = engine.validate_prizes(data.prizes)
    except DrawError as exc:
        raise _refuse(exc, "prizes") from exc
    freeze_at = _whole_seconds(data.freeze_at)
    if freeze_at <= now:
        # the clock is state: 409
        raise Conflict(N_("the freeze time is in the past"), field="freeze_at", code="too_late")
    snapshot = snapshot_for_period(session, data.snapshot_period) if data.snapshot_period else latest_snapshot(session)
    if snapshot is None:
        if data.snapshot_period:
            raise Conflict(N_("no active tier snapshot %(period)s"), field="snapshot_period", code="no_snapshot",
                           period=data.snapshot_period)
        raise Conflict(N_("no active tier snapshot"), field="snapshot_period", code="no_snapshot")
    entropy = _check_entropy_spec(data.entropy, chains, freeze_at)
    witnesses = _draft_witnesses(data)
    return {
        "name": data.name.strip(),
        "kind": data.kind,
        "algorithm": data.algorithm,
        "snapshot_id": snapshot.id,
        "snapshot_period": snapshot.period,
        "tier_weights": _canonical(weights),
        "prizes": _canonical(prizes),
        "reserves": data.reserves,
        "freeze_at": freeze_at,
        "entropy_source": _canonical(entropy),
        "witnesses": _canonical(witnesses),
    }


def _draft_event(columns: Mapping[str, Any]) -> dict[str, Any]:
    witnesses = json.loads(columns["witnesses"])
    return {
        "name": columns["name"], "prizes": json.loads(columns["prizes"]), "quorum": witnesses["quorum"],
        "witnesses": [w["name"] for w in witnesses["keys"]],
    }


def create_draft(
    session: Session, data: DraftInput, *, actor: str, chains: Mapping[str, Any], yearly_cap_kopecks: int,
    now: datetime | None = None,
) -> Draw:
    """Create a draft draw; refuses bad prizes, weights, freeze time, entropy source, snapshot, witnesses."""
    now = now or utcnow()
    columns = _draft_columns(session, data, chains=chains, now=now)
    draw = Draw(
        public_id=f"{now:%Y%m%d}-{secrets.token_hex(4)}",
        state="draft",
        yearly_cap_kopecks=yearly_cap_kopecks,
        created_by=actor,
        created_at=now,
        **columns,
    )
    session.add(draw)
    session.flush()
    set_exclusions(session, draw.public_id, data.exclusions, actor=actor, record=False)
    record_event(session, actor, "draw.drafted", "draw", draw.public_id, _draft_event(columns))
    return draw


def update_draft(
    session: Session, public_id: str, data: DraftInput, *, actor: str, chains: Mapping[str, Any],
    now: datetime | None = None,
) -> Draw:
    """Change a draft's parameters (the same checks as ``create_draft``). Refused once the draw is
    announced: the change is one conditional ``UPDATE ... WHERE state = 'draft'``, so an announcement
    that lands first wins. The exclusion list is replaced only when ``data.exclusions`` lists accounts."""
    now = now or utcnow()
    draw = get_draw(session, public_id)
    _require_state(draw, "draft", doing="edit")
    columns = _draft_columns(session, data, chains=chains, now=now)
    changed = {name: value for name, value in columns.items() if getattr(draw, name) != value}
    result = session.execute(
        update(Draw).where(Draw.id == draw.id, Draw.state == "draft").values(**columns)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(N_("the draw is no longer %(expected)s: someone else changed it; reload"),
                       code="changed_meanwhile", expected=words.state("draft"))
    session.refresh(draw)
    if data.exclusions:
        set_exclusions(session, draw.public_id, data.exclusions, actor=actor, record=False)
        changed["exclusions"] = draw.exclusions_count
    record_event(session, actor, "draw.draft_updated", "draw", draw.public_id,
                 {**_draft_event(columns), "changed": ";".join(sorted(changed))})  # column names: an identifier
    return draw


def parse_witness_lines(text: str) -> list[dict[str, str]]:
    """Witnesses typed on a page, one per line: the JSON entry ``python -m draws.witness keygen``
    printed, or ``name; public key`` (the kid is computed). Refuses a line it cannot read, naming it."""
    from signedjson import b64u_decode, kid_for

    witnesses: list[dict[str, str]] = []
    errors = ErrorLog()
    for lineno, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        try:
            if line.startswith("{"):
                entry = json.loads(line)
                witnesses.append({"name": str(entry["name"]), "kid": str(entry["kid"]),
                                  "public_key": str(entry["public_key"])})
            else:
                name, public_key = (part.strip() for part in line.rsplit(";", 1))
                witnesses.append({"name": name, "kid": kid_for(b64u_decode(public_key)), "public_key": public_key})
        except (ValueError, KeyError, TypeError):
            errors.add(lineno, "bad_witness",
                       N_("expected the JSON entry of python -m draws.witness keygen, or: name; public key"))
    if errors:
        raise DrawRefused(N_("the witness list has lines that cannot be read"), code="bad_witnesses", field="witnesses",
                          errors=errors.by_line(), problems=errors.details)
    return witnesses


def parse_exclusions(text: str) -> list[str]:
    """Accounts from an uploaded file: one per line (CSV: the first column), ``#`` comments ignored."""
    accounts: list[str] = []
    errors = ErrorLog()
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise DrawRefused(N_("the exclusion file is not readable as CSV: %(problem)s"),
                          code="bad_exclusions", problem=str(exc)) from exc
    for lineno, row in enumerate(rows, start=1):
        if not row or not row[0].strip() or row[0].strip().startswith("#"):
            continue
        account = row[0].strip()
        if lineno == 1 and account.lower() in {"account", "лицевой счёт", "лицевой счет"}:
            continue
        try:
            check_account(account)
        except DrawError as exc:
            params: dict[str, Any] = dict(exc.params)  # the engine's values, as the template's parameters
            errors.add(lineno, "bad_account", exc.template, **params)
            continue
        accounts.append(account)
    if errors:
        raise DrawRefused(N_("the exclusion file has bad lines; nothing was changed"), code="bad_exclusions",
                          errors=errors.by_line(), problems=errors.details)
    return accounts


def set_exclusions(session: Session, public_id: str, accounts: Sequence[str], *, actor: str,
                   record: bool = True) -> int:
    """Replace a draft's exclusion list; returns the number of distinct accounts."""
    draw = get_draw(session, public_id)
    if draw.state != "draft":
        raise Conflict(N_("the exclusion list is fixed once the draw is announced"), code="exclusions_fixed")
    distinct = sorted(set(accounts))
    for account in distinct:
        try:
            check_account(account)
        except DrawError as exc:
            raise _refuse(exc, "exclusions") from exc
    session.query(DrawExclusion).filter(DrawExclusion.draw_id == draw.id).delete()
    if distinct:
        session.execute(DrawExclusion.__table__.insert(), [{"draw_id": draw.id, "account": a} for a in distinct])
    draw.exclusions_count = len(distinct)
    if record:
        record_event(session, actor, "draw.exclusions_set", "draw", draw.public_id, {"count": len(distinct)})
    return len(distinct)


def _exclusions(session: Session, draw: Draw) -> list[str]:
    return list(session.scalars(select(DrawExclusion.account).where(DrawExclusion.draw_id == draw.id)))


def _transition(session: Session, draw: Draw, expected: str, new: str, **values: Any) -> None:
    result = session.execute(
        update(Draw)
        .where(Draw.id == draw.id, Draw.state == expected)
        .values(state=new, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(N_("the draw is no longer %(expected)s: someone else changed it; reload"),
                       code="changed_meanwhile",
                       expected=words.state(expected))
    session.refresh(draw)


def _require_state(draw: Draw, *states: str, doing: str) -> None:
    if draw.state not in states:
        raise Conflict(N_("cannot %(doing)s a draw that is %(state)s (it must be %(states)s)"), code="wrong_state",
                       doing=words.step(doing), state=words.state(draw.state), states=words.Alternatives(states))


CHAIN_FIELDS = ("name", "chain_hash", "public_key", "scheme", "period", "genesis_time")


def chain_of(chains: Mapping[str, Any], name: str) -> DrandChain:
    """The configured drand chain ``name`` (its full info; ``relays`` is the service's own business)."""
    conf = chains[name]
    try:
        return DrandChain.from_json({key: conf[key] for key in CHAIN_FIELDS})
    except (KeyError, BeaconInvalid) as exc:
        raise DrawRefused(N_("the drand chain %(name)s is misconfigured (DRAND_CHAINS): %(problem)s"),
                          code="chain_misconfigured", name=repr(name), problem=str(exc)) from exc


# ----------------------------------------------------------------------------------------- announce
def announce(
    session: Session, public_id: str, *, actor: str, signer: Signer, box: SecretBox, chains: Mapping[str, Any],
    now: datetime | None = None,
) -> Draw:
    """Draw the secret, seal it, fix the entropy source and publish the signed announcement."""
    now = (now or utcnow()).replace(microsecond=0)
    draw = get_draw(session, public_id)
    _require_state(draw, "draft", doing="announce")
    if draw.freeze_at <= now:
        raise Conflict(N_("the freeze time has passed: change the draft's freeze time first"), field="freeze_at",
                       code="too_late")
    if draw.witnesses is None:
        raise Conflict(N_("name the draw's witnesses and quorum (or mark it unwitnessed) before announcing it"),
                       field="witnesses", code="no_witnesses")
    spec = json.loads(draw.entropy_source)
    freeze_unix = int(draw.freeze_at.timestamp())
    secret, salt_key = secrets.token_bytes(32), secrets.token_bytes(32)
    snapshot = session.get(Snapshot, draw.snapshot_id)
    box.ensure_key()
    try:
        if spec["type"] == "drand":
            source = engine.drand_source(chain_of(chains, spec["chain"]), freeze_unix, spec["delay_seconds"])
        else:
            source = spec
        payload = engine.build_announcement(
            draw_id=draw.public_id, name=draw.name, kind=draw.kind,
            snapshot={"period": draw.snapshot_period, "digest": snapshot.digest if snapshot else ""},
            announced_at=utc_timestamp(now), freeze_at=utc_timestamp(draw.freeze_at), algorithm=draw.algorithm,
            tier_weights=json.loads(draw.tier_weights), exclusions=_exclusions(session, draw),
            prizes=json.loads(draw.prizes), reserves=draw.reserves, commitment=engine.commitment_of(secret),
            salt_commitment=engine.salt_commitment_of(salt_key), entropy_source=source,
            witnesses=json.loads(draw.witnesses), yearly_cap_kopecks=draw.yearly_cap_kopecks,
        )
    except DrawError as exc:
        raise _refuse(exc) from exc
    envelope = signer.sign(payload)
    _transition(
        session, draw, "draft", "announced",
        announced_at=now, entropy_source=_canonical(source), commitment=payload["commitment"],
        secret_sealed=box.seal(secret, draw.public_id), salt_key_sealed=box.seal(salt_key, draw.public_id + "/salt"),
        announcement=_canonical(envelope),
    )
    record_event(session, actor, "draw.announced", "draw", draw.public_id, {
        "commitment": payload["commitment"], "announcement_digest": engine.payload_digest(payload),
        "entropy_source": source,
    })
    return draw


# ------------------------------------------------------------------------------------------- freeze
def _year_of(draw: Draw, timezone: str) -> int:
    return draw.freeze_at.astimezone(ZoneInfo(timezone)).year


def won_this_year(session: Session, year: int, timezone: str | None = None, *,
                  excluding: int | None = None) -> dict[str, int]:
    """Kopecks won per account in ``year``, for the yearly cap.

    Counts the credits of published draws (not cancelled by a disqualification) and, when
    ``timezone`` is given, the prize holders of draws of that year that are drawn but not yet
    published (their credits are only created at publication).
    """
    rows = session.execute(
        select(DrawCredit.account, func.sum(DrawCredit.amount_kopecks))
        .where(DrawCredit.year == year, DrawCredit.state != "cancelled")
        .group_by(DrawCredit.account)
    )
    won = {account: int(total) for account, total in rows}
    if timezone is None:
        return won
    for other in session.scalars(select(Draw).where(Draw.state == "drawn")):
        if other.id == excluding or _year_of(other, timezone) != year:
            continue
        amounts = engine.expand_prizes(json.loads(other.prizes))
        holders = session.execute(
            select(DrawWinner.account, DrawWinner.prize_index)
            .where(DrawWinner.draw_id == other.id, DrawWinner.status.in_(("holder", "promoted")))
        )
        for account, prize_index in holders:
            if prize_index is not None:
                won[account] = won.get(account, 0) + amounts[prize_index]
    return won


def _frozen_not_drawn(session: Session, draw: Draw, year: int, timezone: str) -> Draw | None:
    """Another draw of ``year`` whose list is frozen but whose winners are not known yet."""
    for other in session.scalars(select(Draw).where(Draw.state == "frozen", Draw.id != draw.id).order_by(Draw.id)):
        if _year_of(other, timezone) == year:
            return other
    return None


def freeze(
    session: Session, public_id: str, *, actor: str, signer: Signer, box: SecretBox, timezone: str,
    now: datetime | None = None,
) -> Draw:
    """Compute and fix the entrant list: snapshot x weights, minus exclusions and the yearly cap."""
    now = (now or utcnow()).replace(microsecond=0)
    draw = get_draw(session, public_id)
    _require_state(draw, "announced", doing="freeze")
    if now < draw.freeze_at:
        raise Conflict(N_("it is not yet the freeze time announced for this draw"), code="too_early")
    source = json.loads(draw.entropy_source)
    if int(now.timestamp()) >= engine.entropy_available_at(source):
        raise Conflict(N_("too late: the announced entropy already exists; cancel this draw and announce a new one"),
                       code="too_late")
    announcement = json.loads(draw.announcement or "{}")["payload"]
    weights = announcement["tier_weights"]
    excluded = set(_exclusions(session, draw))
    year = _year_of(draw, timezone)
    pending = _frozen_not_drawn(session, draw, year, timezone)
    if pending is not None:
        raise Conflict(
            N_("draw %(public_id)s (%(name)s) of %(year)s is frozen but not drawn yet: its winners are unknown, "
               "so the yearly cap cannot be applied; draw it first, then freeze this one"),
            code="earlier_draw_pending", public_id=pending.public_id, name=pending.name, year=year,
        )
    largest = engine.largest_prize(p["amount_kopecks"] for p in announcement["prizes"])
    capped = engine.capped_accounts(won_this_year(session, year, timezone, excluding=draw.id), largest,
                                    draw.yearly_cap_kopecks)
    salt_key = box.open(draw.salt_key_sealed or "", draw.public_id + "/salt")
    batches = _entrant_batches(session, draw.snapshot_id, weights, excluded | capped)
    try:
        frozen = engine.freeze_batches(batches, salt_key, engine.PROTOCOL_VERSION)
        payload = engine.build_freeze(announcement, frozen, utc_timestamp(now))
    except DrawError as exc:
        raise _refuse(exc) from exc
    envelope = signer.sign(payload)
    # The state moves first: a concurrent freeze waits on this row and then finds it no longer
    # announced (Conflict), instead of colliding on the entrant list's key (IntegrityError).
    _transition(session, draw, "announced", "frozen", frozen_at=now, freeze_record=_canonical(envelope),
                entrant_count=frozen.count)
    session.add(DrawEntrantList(draw_id=draw.id, count=frozen.count, digest=frozen.digest, data=frozen.encoding_z,
                                merkle_upper=frozen.upper, weights=frozen.weights_z))
    session.flush()
    _store_proof_chunks(session, draw, frozen)
    record_event(session, actor, "draw.frozen", "draw", draw.public_id, {
        "count": payload["count"], "total_weight": payload["total_weight"], "entrant_digest": payload["entrant_digest"],
        "merkle_root": payload["merkle_root"], "excluded": len(excluded), "capped": len(capped),
    })
    return draw


def _entrant_batches(
    session: Session, snapshot_id: int, weights: Mapping[str, int], skip: set[str]
) -> Iterator[tuple[list[str], list[str], list[int]]]:
    """The snapshot's entrants as column batches in account order (eligible tiers only, minus the
    excluded and capped accounts), streamed: the freeze keeps them as compact records, not strings."""
    eligible = sorted(t for t, w in weights.items() if w > 0)
    for rows in iter_account_tier_batches(session, snapshot_id, tiers=eligible):
        if skip:
            rows = [row for row in rows if row[0] not in skip]
        tiers = list(map(sys.intern, map(itemgetter(1), rows)))
        yield list(map(itemgetter(0), rows)), tiers, list(map(weights.__getitem__, tiers))


def _store_proof_chunks(session: Session, draw: Draw, frozen: engine.FrozenList) -> None:
    rows = [{"draw_id": draw.id, "chunk": c, "first_key": first, "data": data}
            for c, (first, data) in enumerate(frozen.chunks)]
    for i in range(0, len(rows), 500):
        session.execute(DrawEntrantChunk.__table__.insert(), rows[i:i + 500])


def frozen_columns(session: Session, draw: Draw) -> tuple[list[str], list[str], list[int]]:
    """The stored frozen list, checked against the signed entrant digest."""
    _stored, data = _checked_list(session, draw)
    return decode_entrant_columns(data)


def _checked_list(session: Session, draw: Draw) -> tuple[DrawEntrantList, bytes]:
    """The stored list row and its ``ENTRANTS`` bytes, checked against the signed entrant digest."""
    stored = session.get(DrawEntrantList, draw.id)
    if stored is None:
        raise Conflict(N_("the draw has no frozen entrant list"), code="not_frozen")
    data = zlib.decompress(stored.data)
    if hashlib.sha256(data).hexdigest() != _payload(draw.freeze_record)["entrant_digest"]:
        raise Conflict(N_("the stored entrant list does not match the signed freeze record"), code="entrants_mismatch")
    return stored, data


def _draw_inputs(
    session: Session, draw: Draw, freeze_payload: Mapping[str, Any], salt_key: bytes
) -> tuple[Sequence[str], list[int]]:
    """The frozen weights and (lazily) accounts the draw step selects from, each checked against the
    signed freeze record: the list against its entrant digest, the weights against its weights digest,
    each account read against its Merkle root. Lists frozen before the weights were stored are decoded
    whole, as before."""
    stored, data = _checked_list(session, draw)
    if stored.weights is None or stored.merkle_upper is None:
        accounts, _tiers, weights = decode_entrant_columns(data)
        return accounts, weights
    encoded = zlib.decompress(stored.weights)
    if hashlib.sha256(encoded).hexdigest() != freeze_payload["weights_digest"]:
        raise Conflict(N_("the stored weights do not match the signed freeze record"), code="weights_mismatch")
    weights = decode_weights(encoded)
    root = bytes.fromhex(freeze_payload["merkle_root"])
    return ProvenAccounts(session, draw.id, salt_key, weights, stored.merkle_upper, root), weights


class ProvenAccounts(Sequence[str]):
    """The frozen list's accounts by position, each read from its proof chunk and proven by an
    inclusion proof against the signed Merkle root (with its weight): the draw step needs ~120 of a
    million, so it reads ~120 chunks instead of decoding the whole list."""

    def __init__(self, session: Session, draw_id: int, salt_key: bytes, weights: list[int], upper: bytes,
                 root: bytes) -> None:
        self.session, self.draw_id, self.salt_key = session, draw_id, salt_key
        self.weights, self.upper, self.root = weights, upper, root
        # Each chunk's tree is built once and each account proven once: the draw step reads a winner's
        # account twice, and two winners may share a chunk (240 trees of 1,024 leaves -> ~113).
        self.chunks: dict[int, tuple[list[str], MerkleTree]] = {}
        self.proven: dict[int, str] = {}

    def __len__(self) -> int:
        return len(self.weights)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if not 0 <= index < len(self):
            raise IndexError(index)
        if index not in self.proven:
            self.proven[index] = self._proven(index)
        return self.proven[index]

    def _proven(self, index: int) -> str:
        chunk, offset = divmod(index, CHUNK_SIZE)
        accounts, tree = self._chunk(chunk)
        try:
            path: list[bytes] | None = tree.proof(offset) + upper_path(chunk, len(self), self.upper)
        except DrawError:  # a truncated chunk, or upper levels of another size
            path = None
        if path is None or not verify_inclusion(tree.levels[0][offset], index, len(self), path, self.root):
            raise Conflict(N_("the stored proof chunks do not lead to the signed Merkle root"), code="proofs_mismatch")
        return accounts[offset]

    def _chunk(self, chunk: int) -> tuple[list[str], MerkleTree]:
        if chunk not in self.chunks:
            data = self.session.scalar(select(DrawEntrantChunk.data).where(
                DrawEntrantChunk.draw_id == self.draw_id, DrawEntrantChunk.chunk == chunk))
            if data is None:
                raise Conflict(N_("proof chunk %(chunk)s of the frozen list is missing"), code="chunk_missing",
                               chunk=chunk)
            accounts, weights = decode_chunk(zlib.decompress(data))
            start = chunk * CHUNK_SIZE
            if weights != self.weights[start:start + len(weights)]:
                raise Conflict(N_("the stored proof chunks do not match the signed weights"), code="proofs_mismatch")
            self.chunks[chunk] = accounts, MerkleTree(entrant_leaf_hashes(self.salt_key, accounts, weights))
        return self.chunks[chunk]


# ------------------------------------------------------------------------------------------- witness
def freeze_package_of(draw: Draw, keyset: dict[str, Any]) -> dict[str, Any]:
    """What the witnesses cosign: the signed announcement and freeze records with the key set."""
    if not draw.freeze_record:
        raise NotFound(N_("draw %(public_id)s is not frozen yet"), code="not_frozen", public_id=draw.public_id)
    env = envelopes(draw)
    return engine.freeze_package(keyset, env["announcement"], env["freeze"])


def cosignatures_of(session: Session, draw: Draw) -> list[dict[str, Any]]:
    """The stored cosignatures of the draw's freeze, in the order they arrived."""
    rows = session.scalars(
        select(DrawCosignature.envelope).where(DrawCosignature.draw_id == draw.id).order_by(DrawCosignature.id)
    )
    return [json.loads(text) for text in rows]


def add_cosignature(
    session: Session, public_id: str, envelope: Any, *, actor: str, now: datetime | None = None
) -> DrawCosignature:
    """Store a witness's cosignature of the freeze, once per witness, if it is valid and timely.

    Refused with the rule it breaks: not an envelope, not signed by a witness named in the
    announcement, for another draw or freeze, cosigned before the announced freeze time or not before
    the entropy existed (by the witness's own clock), or a second one of the same witness.
    """
    now = now or utcnow()
    draw = get_draw(session, public_id)
    _require_state(draw, "frozen", doing="add a cosignature to")  # the draw step counts them, once
    announcement, freeze_payload = _payload(draw.announcement), _payload(draw.freeze_record)
    if not isinstance(envelope, dict):
        raise DrawRefused(N_("a cosignature is a JSON object (the output of python -m draws.witness cosign)"),
                          code="bad_cosignature", field="cosignature")
    signature = envelope.get("signature")
    kid = signature.get("kid") if isinstance(signature, dict) else None
    entry = next((w for w in announcement.get("witnesses", {}).get("keys", []) if w["kid"] == kid), None)
    if entry is None:
        raise DrawRefused(N_("the cosignature is signed by key %(kid)s, which is not a witness of this draw"),
                          kid=repr(str(kid)[:40]),
                          field="cosignature", code="not_a_witness")
    single = engine.witness_quorum([envelope], announcement, freeze_payload)
    if not single.counted:
        raise DrawRefused(single.problems[0] if single.problems else "the cosignature is not valid",
                          field="cosignature", code="cosignature_refused")
    if session.scalar(select(DrawCosignature.id).where(DrawCosignature.draw_id == draw.id,
                                                       DrawCosignature.witness_kid == kid)):
        raise Conflict(N_("witness %(witness)s has already cosigned this draw"),
                       code="already_cosigned", witness=entry['name'])
    cosigned_at = engine.parse_timestamp(envelope["payload"]["cosigned_at"])  # counted above: a valid time
    row = DrawCosignature(draw_id=draw.id, witness_kid=kid, witness_name=entry["name"], envelope=_canonical(envelope),
                          cosigned_at=datetime.fromtimestamp(cosigned_at, UTC), received_at=now, received_by=actor)
    session.add(row)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(N_("witness %(witness)s has already cosigned this draw"),
                       code="already_cosigned", witness=entry['name']) from exc
    record_event(session, actor, "draw.cosigned", "draw", draw.public_id,
                 {"witness": entry["name"], "kid": kid, "cosigned_at": envelope["payload"]["cosigned_at"]})
    return row


def quorum_status(session: Session, draw: Draw) -> Any:
    """The draw's witness quorum as of now (``draws.witness.QuorumResult``), or None before the freeze."""
    if not draw.freeze_record:
        return None
    return engine.witness_quorum(cosignatures_of(session, draw), _payload(draw.announcement),
                                 _payload(draw.freeze_record))


# --------------------------------------------------------------------------------------------- draw
def run_draw(
    session: Session, public_id: str, entropy_value: Mapping[str, Any], *, actor: str, signer: Signer, box: SecretBox,
    now: datetime | None = None, relay: Mapping[str, Any] | None = None,
) -> Draw:
    """Reveal the secret, check the entropy, select winners and reserves, sign the result (once).

    Refuses to run until the announced entropy exists and the freeze has its witness quorum; a draw
    whose quorum was not reached before the entropy existed can never run, so it is cancelled
    publicly with that reason instead (the returned draw is then ``cancelled``). ``relay`` is the
    drand relay's answer when the service fetched the round (``wiring.fetch_drand``); it is stored
    with the draw so that what the relay said can be shown later."""
    now = (now or utcnow()).replace(microsecond=0)
    if not isinstance(entropy_value, Mapping):
        raise DrawRefused('the entropy value must be a JSON object such as {"type": "drand", "round": ...}',
                          field="entropy")
    draw = get_draw(session, public_id)
    _require_state(draw, "frozen", doing="draw")
    announcement, freeze_payload = _payload(draw.announcement), _payload(draw.freeze_record)
    if int(now.timestamp()) < engine.entropy_available_at(announcement["entropy_source"]):
        raise Conflict(N_("the announced entropy does not exist yet: wait for it"), code="too_early")
    cosignatures = cosignatures_of(session, draw)
    if announcement.get("version", 1) >= 2:
        quorum = engine.witness_quorum(cosignatures, announcement, freeze_payload)
        if not quorum.met:
            return _cancel_for_missing_quorum(session, draw, quorum, cosignatures, actor=actor, signer=signer, now=now)
    secret = box.open(draw.secret_sealed or "", draw.public_id)
    salt_key = box.open(draw.salt_key_sealed or "", draw.public_id + "/salt")
    accounts, weights = _draw_inputs(session, draw, freeze_payload, salt_key)
    try:
        payload, outcome = engine.build_result(
            announcement, freeze_payload, accounts, weights, salt_key, secret, dict(entropy_value), utc_timestamp(now),
            cosignatures
        )
    except DrawError as exc:
        raise _refuse(exc, "entropy") from exc
    envelope = signer.sign(payload)
    extra = {"entropy_relay": _canonical(dict(relay))} if relay is not None else {}
    if payload["version"] >= 2:
        extra["head_record"] = _canonical(signer.sign(engine.build_head(payload, [], utc_timestamp(now))))
    _transition(session, draw, "frozen", "drawn", drawn_at=now, result_record=_canonical(envelope), **extra)
    rows = [
        {"draw_id": draw.id, "role": "winner", "position": i, "entrant_index": idx, "account": accounts[idx],
         "status": "holder", "prize_index": i}
        for i, idx in enumerate(outcome.winners)
    ] + [
        {"draw_id": draw.id, "role": "reserve", "position": i, "entrant_index": idx, "account": accounts[idx],
         "status": "waiting", "prize_index": None}
        for i, idx in enumerate(outcome.reserves)
    ]
    session.execute(DrawWinner.__table__.insert(), rows)
    record_event(session, actor, "draw.drawn", "draw", draw.public_id, {
        "seed": payload["seed"], "entropy_digest": payload["entropy_digest"],
        "winners": [w["account_masked"] for w in payload["winners"]],
        "witnesses": [c["payload"]["witness"]["name"] for c in payload.get("cosignatures", [])],
        **({"relay_url": relay.get("url"),
            "relay_response_sha256": hashlib.sha256(str(relay.get("response", "")).encode("utf-8")).hexdigest()}
           if relay is not None else {}),
    })
    return draw


def _cancel_for_missing_quorum(
    session: Session, draw: Draw, quorum: Any, cosignatures: list[dict[str, Any]], *, actor: str, signer: Signer,
    now: datetime,
) -> Draw:
    reason = (f"the witnesses' quorum was not reached before the entropy existed: {len(quorum.counted)} of "
              f"{quorum.quorum} valid cosignatures")
    payload = engine.build_cancellation(
        _payload(draw.announcement), state_before="frozen", reason=reason, cancelled_at=utc_timestamp(now),
        reason_code="witness_quorum_not_reached", cosignatures=cosignatures,
    )
    _transition(session, draw, "frozen", "cancelled", cancelled_at=now, cancel_reason=reason,
                cancellation=_canonical(signer.sign(payload)))
    record_event(session, actor, "draw.cancelled", "draw", draw.public_id,
                 {"reason": reason, "reason_code": "witness_quorum_not_reached"})
    return draw


# ------------------------------------------------------------------------------------------ publish
def publish(session: Session, public_id: str, *, actor: str, timezone: str, now: datetime | None = None) -> Draw:
    """Make the result public and turn each prize into a pending credit order for billing."""
    now = now or utcnow()
    draw = get_draw(session, public_id)
    _require_state(draw, "drawn", doing="publish")
    _transition(session, draw, "drawn", "published", published_at=now)
    year = draw.freeze_at.astimezone(ZoneInfo(timezone)).year
    result = json.loads(draw.result_record or "{}")["payload"]
    holders = session.scalars(
        select(DrawWinner)
        .where(DrawWinner.draw_id == draw.id, DrawWinner.role == "winner")
        .order_by(DrawWinner.position)
    )
    for winner, row in zip(holders, result["winners"], strict=True):
        session.add(DrawCredit(draw_id=draw.id, prize_index=winner.position, account=winner.account,
                               amount_kopecks=row["amount_kopecks"], year=year, state="pending", created_at=now))
    session.flush()
    record_event(session, actor, "draw.published", "draw", draw.public_id, {"credits": len(result["winners"])})
    return draw


# ------------------------------------------------------------------------------------------- cancel
def cancel(
    session: Session, public_id: str, reason: str, *, actor: str, signer: Signer, now: datetime | None = None
) -> Draw:
    """Cancel a draw before it is drawn; once announced the cancellation is a signed public record.

    A frozen draw can no longer be cancelled by staff once its announced entropy exists: from then on
    whoever holds the secret can compute the winners, so a cancellation followed by a new announcement
    would be a re-roll. Only the draw step is possible then (which cancels the draw itself, with the
    reason, when the witnesses' quorum was not reached in time). An announced draw that was never
    frozen can still be cancelled late: it has no list, so there are no winners to know.
    """
    now = (now or utcnow()).replace(microsecond=0)
    if not isinstance(reason, str) or not reason.strip():
        raise DrawRefused(N_("give the reason for cancelling (it is public)"), code="no_reason", field="reason")
    draw = get_draw(session, public_id)
    _require_state(draw, "draft", "announced", "frozen", doing="cancel")
    values: dict[str, Any] = {"cancelled_at": now, "cancel_reason": reason.strip()}
    if draw.announcement:
        announcement = _payload(draw.announcement)
        entropy_at = engine.entropy_available_at(announcement["entropy_source"])
        if draw.state == "frozen" and int(now.timestamp()) >= entropy_at:
            raise Conflict(
                N_("the announced entropy exists since %(since)s: a frozen draw cannot be "
                   "cancelled any more (the winners are already determined); run the draw"),
                code="entropy_exists", since=engine.format_timestamp(entropy_at),
            )
        payload = engine.build_cancellation(announcement, state_before=draw.state, reason=reason,
                                            cancelled_at=utc_timestamp(now))
        values["cancellation"] = _canonical(signer.sign(payload))
    _transition(session, draw, draw.state, "cancelled", **values)
    record_event(session, actor, "draw.cancelled", "draw", draw.public_id, {"reason": reason.strip()})
    return draw


def late_cancellation(payloads: Mapping[str, Any]) -> str | None:
    """The entropy time, if a frozen draw was cancelled at or after it by a person (a possible
    re-roll: the winners were already determined); None otherwise, including a draw cancelled
    because its witnesses' quorum was not reached (it could never run)."""
    cancel, ann = payloads.get("cancellation"), payloads.get("announcement")
    if not cancel or not ann or cancel.get("reason_code") == "witness_quorum_not_reached":
        return None
    try:
        entropy_at = engine.entropy_available_at(ann["entropy_source"])
        late = engine.parse_timestamp(cancel["cancelled_at"]) >= entropy_at
    except (DrawError, KeyError, TypeError):
        return None
    was_frozen = "freeze" in payloads or cancel.get("state_before") == "frozen"
    return engine.format_timestamp(entropy_at) if late and was_frozen else None


# --------------------------------------------------------------------------------------- disqualify
def disqualify(
    session: Session, public_id: str, prize_index: int, reason: str, *, actor: str, signer: Signer,
    now: datetime | None = None,
) -> DrawDisqualification:
    """Disqualify the current holder of a prize; the prize passes to the next reserve in order."""
    now = (now or utcnow()).replace(microsecond=0)
    draw = get_draw(session, public_id)
    _require_state(draw, "published", doing="disqualify a winner of")
    if not reason or not reason.strip():
        raise DrawRefused(N_("give the reason for the disqualification (it is public)"),
                          code="no_reason", field="reason")
    result = json.loads(draw.result_record or "{}")["payload"]
    holder_rows, reserves = _prize_holders(session, draw)
    holders: list[int | None] = [None] * len(result["winners"])
    for index, person in holder_rows.items():
        holders[index] = person.entrant_index
    earlier = disqualification_envelopes(session, draw)
    sequence = len(earlier)
    used = min(sequence, len(reserves))
    try:
        replacement = engine.next_replacement(holders, [r.entrant_index for r in reserves], used, prize_index)
    except DrawError as exc:
        # No such prize, or no holder left: this draw's result decides, so a conflict with its state.
        raise Conflict(str(exc), field="prize_index", code="no_holder") from exc
    holder = holder_rows[prize_index]
    credit = _pending_credit(session, draw, prize_index, holder.account)
    credit.state = "cancelled"
    holder.status = "disqualified"
    replacement_account = None
    if replacement.reserve_index is not None:
        reserve = reserves[replacement.reserve_index]
        reserve.status, reserve.prize_index = "promoted", prize_index
        replacement_account = reserve.account
        amount = result["winners"][prize_index]["amount_kopecks"]
        session.add(DrawCredit(draw_id=draw.id, prize_index=prize_index, account=reserve.account, amount_kopecks=amount,
                               year=credit.year, state="pending", created_at=now))
    try:
        payload = engine.build_disqualification(result, earlier[-1]["payload"] if earlier else None, replacement,
                                                reason,
                                                utc_timestamp(now))
    except DrawError as exc:
        raise _refuse(exc, "reason") from exc
    record = DrawDisqualification(
        draw_id=draw.id, sequence=sequence, prize_index=prize_index, account=holder.account,
        replacement_account=replacement_account, reason=reason.strip(), actor=actor, at=now,
        envelope=_canonical(signer.sign(payload)),
    )
    session.add(record)
    if payload["version"] >= 2:
        head = engine.build_head(result, [e["payload"] for e in earlier] + [payload], utc_timestamp(now))
        draw.head_record = _canonical(signer.sign(head))
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(N_("another disqualification was recorded at the same time; reload"),
                       code="changed_meanwhile") from exc
    record_event(session, actor, "draw.disqualified", "draw", draw.public_id, {
        "prize_index": prize_index, "account": mask_account(holder.account), "reason": reason.strip(),
        "replacement": mask_account(replacement_account) if replacement_account else None,
    })
    return record


def _prize_holders(session: Session, draw: Draw) -> tuple[dict[int, DrawWinner], list[DrawWinner]]:
    """The current holder of each prize, and the reserves in published order."""
    people = list(session.scalars(select(DrawWinner).where(DrawWinner.draw_id == draw.id)))
    holders = {p.prize_index: p for p in people if p.status in ("holder", "promoted") and p.prize_index is not None}
    return holders, sorted((p for p in people if p.role == "reserve"), key=lambda p: p.position)


def _pending_credit(session: Session, draw: Draw, prize_index: int, account: str) -> DrawCredit:
    credit = session.scalar(select(DrawCredit).where(
        DrawCredit.draw_id == draw.id, DrawCredit.prize_index == prize_index, DrawCredit.account == account,
        DrawCredit.state != "cancelled",
    ))
    if credit is None:  # every holder of a published draw has a credit order (publish, promotion)
        raise Conflict(N_("prize %(prize_index)s has no credit order for its holder; reload"),
                       code="no_credit", prize_index=prize_index)
    if credit.state != "pending":
        raise Conflict(
            N_("the credit of prize %(prize_index)s was already sent to billing (%(state)s); reverse it in billing "
               "first"),
            code="credit_sent", prize_index=prize_index, state=words.credit_state(credit.state),
        )
    return credit


def disqualification_envelopes(session: Session, draw: Draw) -> list[dict[str, Any]]:
    """The draw's signed disqualifications in sequence order."""
    rows = session.scalars(
        select(DrawDisqualification)
        .where(DrawDisqualification.draw_id == draw.id)
        .order_by(DrawDisqualification.sequence)
    )
    return [json.loads(r.envelope) for r in rows]


# ------------------------------------------------------------------------------------------ credits
def export_credits(session: Session, *, actor: str, now: datetime | None = None) -> CreditBatch:
    """Put every pending credit into one new batch file, exactly once.

    Set-based, for any number of credits: one ``UPDATE ... SET batch_id = :batch WHERE state =
    'pending'`` claims the credits, and the file is written from what the batch then holds. A
    concurrent export waits for this one's row locks (PostgreSQL re-checks the WHERE, SQLite's
    writer lock serialises), so a credit lands in exactly one batch; one that finds nothing left is
    refused. A killed export commits nothing.
    """
    now = now or utcnow()
    batch = CreditBatch(created_at=now, created_by=actor, count=0, total_kopecks=0, digest="", content="")
    session.add(batch)
    session.flush()
    claimed = session.execute(
        update(DrawCredit).where(DrawCredit.state == "pending")
        .values(state="exported", batch_id=batch.id).execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if not claimed:
        raise Conflict(N_("there are no pending credits to export"), code="nothing_pending")
    rows = session.execute(
        select(DrawCredit.id, Draw.public_id, DrawCredit.prize_index, DrawCredit.account, DrawCredit.amount_kopecks)
        .join(Draw, Draw.id == DrawCredit.draw_id).where(DrawCredit.batch_id == batch.id).order_by(DrawCredit.id)
    )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CREDIT_HEADER)
    count = total = 0
    for credit_id, draw_public_id, prize_index, account, amount in rows:
        writer.writerow([credit_id, draw_public_id, prize_index, account, amount, batch.id])
        count += 1
        total += amount
    if count != claimed:  # pragma: no cover - the rows were claimed in this transaction
        raise Conflict(N_("the batch changed while it was written; nothing was exported"), code="changed_meanwhile")
    batch.count, batch.total_kopecks = count, total
    batch.content = out.getvalue()
    batch.digest = hashlib.sha256(batch.content.encode("utf-8")).hexdigest()
    record_event(session, actor, "draw.credits_exported", "credit_batch", str(batch.id),
                 {"count": batch.count, "total_kopecks": batch.total_kopecks, "digest": batch.digest})
    return batch


def get_batch(session: Session, batch_id: int) -> CreditBatch:
    """A stored batch (its file is byte-identical at every download)."""
    batch = session.get(CreditBatch, batch_id) if 0 < batch_id < 2**31 else None  # an INTEGER key
    if batch is None:
        raise NotFound(N_("no credit batch %(batch_id)s"), code="no_batch", batch_id=batch_id)
    return batch


_MAX_ID = 2**31 - 1  # INTEGER columns on both engines
_DIGITS = frozenset("0123456789")

# Billing's confirmation file: header names in English or Russian, any order, ``,`` (or ``;``/TAB).
CONFIRMATION_COLUMNS = (
    Column.of("credit_id", "номер начисления", "id начисления"),
    Column.of("account", "лицевой счет", "лс"),
    Column.of("amount_kopecks", "сумма в копейках", "сумма коп"),
    Column.of("status", "статус"),
)
# Error kinds of confirmation files (the common ones are rewards.csvread.Kind).
BAD_NUMBER = "bad_number"
BAD_STATUS = "bad_status"
UNKNOWN_CREDIT = "unknown_credit"
CREDIT_MISMATCH = "credit_mismatch"
CREDIT_STATE = "credit_state"


@dataclass(frozen=True, slots=True)
class _Confirmed:
    """One checked line of a confirmation file."""

    line: int
    credit_id: int
    account: str
    amount: int


def _whole_number(text: str, maximum: int) -> int | None:
    """``text`` as an integer 0..maximum if it is ASCII digits only (no ``²``, signs or spaces), else None."""
    if not text or len(text) > 18 or not set(text) <= _DIGITS:
        return None
    value = int(text)
    return value if value <= maximum else None


def _confirmation_line(line: int, values: Mapping[str, str], log: ErrorLog) -> _Confirmed | None:
    """The line's values, or None after logging every problem it has."""
    cid_text, account, amount_text, status = (
        values[key].strip() for key in ("credit_id", "account", "amount_kopecks", "status")
    )
    cid = _whole_number(cid_text, _MAX_ID)
    amount = _whole_number(amount_text, _MAX_ID)
    if cid is None:
        log.add(line, BAD_NUMBER, N_("credit_id must be a whole number from 1 to %(maximum)s, got %(value)s"),
                field="credit_id",
                maximum=_MAX_ID, value=repr(cid_text[:30]))
    if amount is None:
        log.add(line, BAD_NUMBER, N_("amount_kopecks must be a whole number of kopecks, got %(value)s"),
                field="amount_kopecks",
                value=repr(amount_text[:30]))
    if status != "posted":
        log.add(line, BAD_STATUS, N_("unknown status %(value)s (expected posted)"),
                field="status", value=repr(status[:30]))
    if cid is None or amount is None or status != "posted":
        return None
    return _Confirmed(line, cid, account, amount)


def _read_confirmation(data: str | bytes) -> tuple[list[_Confirmed], ErrorLog]:
    """The good lines of a confirmation file and the problems of the others (``rewards.csvread``)."""
    log = ErrorLog()
    raw = data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass")
    table = Table(io.BytesIO(raw), CONFIRMATION_COLUMNS, log, delimiter=None)
    if not table.ok:
        raise DrawRefused(N_("the first line must be %(header)s (%(why)s)"),
                          code="bad_header", header=",".join(CONFIRMATION_HEADER),
                          why=JoinedProblems(log.details), errors=log.by_line())
    wanted = [checked for line, values in table.records() if (checked := _confirmation_line(line, values, log))]
    return wanted, log


def _id_among(session: Session, ids: Sequence[int]) -> Any:
    """``draw_credits.id`` among ``ids``, sent as one parameter whatever their number (no ``IN`` list).

    A driver refuses more than 65,535 bind parameters, and a confirmation file may have more lines:
    PostgreSQL takes one integer array (``= ANY``), SQLite one JSON array (``json_each``).
    """
    if session.get_bind().dialect.name == "postgresql":
        return DrawCredit.id == any_(bindparam("credit_ids", list(ids), type_=ARRAY(Integer)))
    return DrawCredit.id.in_(select(func.json_each(json.dumps(list(ids))).table_valued("value").c.value))


def _check_credits(session: Session, wanted: Sequence[_Confirmed], log: ErrorLog) -> list[int]:
    """Log every line whose credit does not exist, differs, or is not exported or posted; the ids."""
    ids = sorted({w.credit_id for w in wanted})
    credits: dict[int, tuple[str, int, str]] = {}
    if ids:
        rows = session.execute(
            select(DrawCredit.id, DrawCredit.account, DrawCredit.amount_kopecks, DrawCredit.state)
            .where(_id_among(session, ids))
        )
        credits = {cid: (account, amount, state) for cid, account, amount, state in rows}
    for w in wanted:
        credit = credits.get(w.credit_id)
        if credit is None:
            log.add(w.line, UNKNOWN_CREDIT, N_("no such credit"), field="credit_id")
        elif credit[0] != w.account or credit[1] != w.amount:
            log.add(w.line, CREDIT_MISMATCH, N_("account or amount differs from the credit order"))
        elif credit[2] not in ("exported", "posted"):
            log.add(w.line, CREDIT_STATE, N_("the credit is %(state)s, not exported"),
                    field="credit_id", state=credit[2])
    return ids


def import_confirmation(
    session: Session, text: str | bytes, *, actor: str, now: datetime | None = None
) -> dict[str, int]:
    """Billing's confirmation file (``credit_id,account,amount_kopecks,status`` with status ``posted``).

    ``text`` is the file's text, or its bytes (then UTF-8 with or without BOM, or Windows-1251, as
    every import). Every line is checked first; any bad line refuses the whole file (nothing
    changes), with the problems by line. Lines of credits already posted are accepted again
    (re-importing the same file is harmless). Set-based: one query reads the credits and one
    ``UPDATE`` posts them, for any number of lines.
    """
    now = now or utcnow()
    wanted, log = _read_confirmation(text)
    ids = _check_credits(session, wanted, log)
    if log:
        raise DrawRefused(N_("the confirmation file has errors; nothing was changed"),
                          code="bad_file", errors=log.by_line(),
                          problems=log.details)
    posted = 0
    if ids:
        posted = session.execute(
            update(DrawCredit).where(_id_among(session, ids), DrawCredit.state == "exported")
            .values(state="posted", posted_at=now).execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
    record_event(session, actor, "draw.credits_confirmed", "credit_batch", "-",
                 {"posted": posted, "lines": len(wanted)})
    return {"posted": posted, "already_posted": len(wanted) - posted}


# -------------------------------------------------------------------------------- records and proofs
def _require_record(draw: Draw) -> None:
    if draw.state not in ("published",):
        raise NotFound(N_("the result of draw %(public_id)s is not published"),
                       code="not_published", public_id=draw.public_id)


def public_record_of(session: Session, draw: Draw, keyset: dict[str, Any], *,
                     with_weights: bool = True) -> dict[str, Any]:
    """The public record (masked accounts; the signed head; optionally the weights vector).

    A cancelled draw that was announced has a public record too: the announcement, the freeze record
    if any, and the signed cancellation (the verifier checks it came before the entropy existed)."""
    env = envelopes(draw)
    if draw.state == "cancelled" and "announcement" in env and "cancellation" in env:
        record = public_record(keyset, env["announcement"], env.get("freeze"), None)  # type: ignore[arg-type]
        record.pop("result")
        record.pop("disqualifications")
        if record["freeze"] is None:
            record.pop("freeze")
        record["cancellation"] = env["cancellation"]
        return record
    _require_record(draw)
    weights = frozen_columns(session, draw)[2] if with_weights else None
    return public_record(keyset, env["announcement"], env["freeze"], env["result"],
                         disqualification_envelopes(session, draw),
                         weights, head=env.get("head"))


def auditor_bundle_of(session: Session, draw: Draw, keyset: dict[str, Any], box: SecretBox) -> dict[str, Any]:
    """The auditor bundle: the public record plus the full list, the salt key and the exclusions."""
    if draw.state not in ("drawn", "published"):
        raise NotFound(N_("draw %(public_id)s has no result yet"), code="not_drawn", public_id=draw.public_id)
    env = envelopes(draw)
    accounts, tiers, weights = frozen_columns(session, draw)
    salt_key = box.open(draw.salt_key_sealed or "", draw.public_id + "/salt")
    bundle = public_record(keyset, env["announcement"], env["freeze"], env["result"],
                           disqualification_envelopes(session, draw),
                           head=env.get("head"))
    bundle.update(
        kind="auditor",
        entrants={"accounts": accounts, "tiers": tiers, "weights": weights},
        salt_key=salt_key.hex(),
        exclusions=sorted(_exclusions(session, draw)),
    )
    return bundle


def verification(bundle: dict[str, Any], keyset: dict[str, Any], chains: Mapping[str, Any]) -> list[Any]:
    """The verifier's checks of a bundle as the service can run them: its own key set and its configured
    drand chains (the witnesses' keys are those the announcement names, so that check stays a WARN:
    only an auditor with the witnesses' own keys can close it)."""
    from draws.verify import verify_bundle

    return verify_bundle(bundle, keyset, drand_chains=[{k: c[k] for k in CHAIN_FIELDS} for c in chains.values()])


# ----------------------------------------------------------------------------------- customer checks
def _salt_key(draw: Draw, box: SecretBox) -> bytes:
    if not draw.salt_key_sealed or protocol_version(draw) < 2:
        raise NotFound(N_("draw %(public_id)s gives no check codes"), code="no_check_codes", public_id=draw.public_id)
    return box.open(draw.salt_key_sealed, draw.public_id + "/salt")


def check_code_for(session: Session, draw: Draw, account: str, box: SecretBox) -> str:
    """An account's personal check code for a draw (any account: entrant or not, codes reveal nothing)."""
    try:
        check_account(account)
    except DrawError as exc:
        raise _refuse(exc, "account") from exc
    return check_code(_salt_key(draw, box), draw.public_id, account)


def check_code_lines(session: Session, draw: Draw, box: SecretBox) -> Iterator[str]:
    """``account;check_code`` lines (LF, with a header) for every account of the draw's snapshot, in
    account order: the bill export's column, the same for entrants and non-entrants alike."""
    salt_key = _salt_key(draw, box)
    yield "account;check_code\n"
    for rows in iter_account_tier_batches(session, draw.snapshot_id):
        accounts = [account for account, _tier in rows]
        for account, code in zip(accounts, check_codes(salt_key, draw.public_id, accounts), strict=True):
            yield f"{account};{code}\n"


def bill_check_code_columns(session: Session, snapshot_id: int, box: SecretBox) -> list[tuple[str, Any]]:
    """``(header, code_of_account)`` for each version 2 draw on this snapshot whose codes customers need
    (announced, frozen, drawn or published), oldest first: the bills export adds them as columns."""
    draws = session.scalars(select(Draw).where(
        Draw.snapshot_id == snapshot_id, Draw.state.in_(("announced", "frozen", "drawn", "published")),
    ).order_by(Draw.id))
    columns = []
    for draw in draws:
        if protocol_version(draw) < 2:
            continue
        salt_key, draw_id = _salt_key(draw, box), draw.public_id
        columns.append((f"Код проверки розыгрыша {draw_id}",
                        lambda account, key=salt_key, pid=draw_id: check_code(key, pid, account)))
    return columns


@dataclass(frozen=True)
class OwnEntry:
    """What the owner of an account learns about their entry, once account and check code match."""

    proof: dict[str, Any]
    role: str  # "entrant", "winner" or "reserve" (winners and reserves only once published)
    prize_index: int | None = None
    amount_kopecks: int | None = None
    reserve_index: int | None = None


def own_entry(session: Session, draw: Draw, account: str, code: str, box: SecretBox) -> OwnEntry | None:
    """The public "did I take part?" check: the owner's entry and inclusion proof, or None.

    None means "no entry for this account and check code", and is the one answer for a wrong code,
    a malformed account and a non-entrant alike, so that nobody learns anything about an account
    whose code they do not have. Winners and reserves are told only once the result is published.
    """
    if draw.state not in ("frozen", "drawn", "published") or protocol_version(draw) < 2:
        return None
    try:
        check_account(account)
    except DrawError:
        return None
    if not code_matches(_salt_key(draw, box), draw.public_id, account, code):
        return None
    try:
        proof = inclusion_proof(session, draw, account, box)
    except NotFound:
        return None
    if draw.state != "published":
        return OwnEntry(proof, "entrant")
    amounts = engine.expand_prizes(json.loads(draw.prizes))
    person = session.scalar(select(DrawWinner).where(DrawWinner.draw_id == draw.id, DrawWinner.account == account))
    if person is not None and person.status in ("holder", "promoted") and person.prize_index is not None:
        return OwnEntry(proof, "winner", person.prize_index, amounts[person.prize_index])
    if person is not None and person.status == "waiting":
        return OwnEntry(proof, "reserve", reserve_index=person.position)
    return OwnEntry(proof, "entrant")


def inclusion_proof(session: Session, draw: Draw, account: str, box: SecretBox) -> dict[str, Any]:
    """A customer's proof of inclusion in the frozen list (NotFound when not an entrant).

    Reads the account's chunk and the upper tree levels stored at freeze (a few rows, whatever the
    list's size); draws frozen before those were stored rebuild the tree from the whole list. The
    proof is checked against the signed root before it is returned.
    """
    if draw.state not in ("frozen", "drawn", "published"):
        raise NotFound(N_("draw %(public_id)s has no frozen list"), code="not_frozen", public_id=draw.public_id)
    salt_key = box.open(draw.salt_key_sealed or "", draw.public_id + "/salt")
    freeze_payload = json.loads(draw.freeze_record or "{}")["payload"]
    upper = session.scalar(select(DrawEntrantList.merkle_upper).where(DrawEntrantList.draw_id == draw.id))
    if upper is not None:
        proof = _chunked_inclusion_proof(session, draw, account, salt_key, upper, freeze_payload["count"])
    else:
        proof = _rebuilt_inclusion_proof(session, draw, account, salt_key)
    if proof is None:
        raise NotFound(N_("account %(account)s is not an entrant of draw %(public_id)s"),
                       code="not_an_entrant", account=mask_account(account), public_id=draw.public_id)
    if not proof.verify(bytes.fromhex(freeze_payload["merkle_root"])) or proof.tree_size != freeze_payload["count"]:
        raise Conflict(N_("the stored entrant list does not lead to the signed Merkle root"), code="entrants_mismatch")
    return proof.as_json()


def _chunked_inclusion_proof(
    session: Session, draw: Draw, account: str, salt_key: bytes, upper: bytes, size: int
) -> InclusionProof | None:
    try:
        key = order_keys(salt_key, [account])[0] if protocol_version(draw) >= 2 else account.encode("utf-8")
    except UnicodeEncodeError:
        return None
    row = session.execute(
        select(DrawEntrantChunk.chunk, DrawEntrantChunk.data)
        .where(DrawEntrantChunk.draw_id == draw.id, DrawEntrantChunk.first_key <= key)
        .order_by(DrawEntrantChunk.first_key.desc()).limit(1)
    ).first()
    if row is None:
        return None
    accounts, weights = decode_chunk(zlib.decompress(row.data))
    keys = order_keys(salt_key, accounts)
    offset = bisect_left(keys, key) if protocol_version(draw) >= 2 else bisect_left(accounts, account)
    if offset >= len(accounts) or accounts[offset] != account:
        return None
    leaves = entrant_leaf_hashes(salt_key, accounts, weights, keys)
    path = chunked_proof(leaves, offset, row.chunk, size, upper)
    return InclusionProof(draw.public_id, account, weights[offset], entrant_salt(salt_key, account),
                          row.chunk * CHUNK_SIZE + offset, size, tuple(path))


def _rebuilt_inclusion_proof(session: Session, draw: Draw, account: str, salt_key: bytes) -> InclusionProof | None:
    accounts, tiers, weights = frozen_columns(session, draw)
    frozen = engine.freeze_columns(accounts, tiers, weights, salt_key, protocol_version(draw))
    try:
        return frozen.proof_for(draw.public_id, account, salt_key)
    except DrawError:
        return None


# ------------------------------------------------------------- public pages (their rules, out of the shell)
PUBLIC_STATES = ("announced", "frozen", "drawn", "published", "cancelled")
CHECKABLE_STATES = ("frozen", "drawn", "published")
MAX_CHECK_ACCOUNT, MAX_CHECK_CODE = 64, 32  # longer input is no account or check code: refused unread


@dataclass(frozen=True)
class PublicDraw:
    """What the public page of a draw shows: its signed payloads, the disqualifications' payloads,
    whether the result is shown, the late-cancellation warning and the witnesses' quorum."""

    draw: Draw
    payloads: dict[str, Any]
    disqualifications: list[dict[str, Any]]
    show_result: bool
    late_cancel: str | None
    quorum: Any


def public_draw(session: Session, public_id: str) -> PublicDraw | None:
    """The public facts of a draw, or None when it is not public (never announced: never public)."""
    draw = get_draw(session, public_id)
    if draw.state not in PUBLIC_STATES or not draw.announcement:
        return None
    payloads = {k: v["payload"] for k, v in envelopes(draw).items()}
    dqs = [json.loads(e)["payload"] for e in session.scalars(
        select(DrawDisqualification.envelope).where(DrawDisqualification.draw_id == draw.id)
        .order_by(DrawDisqualification.sequence))]
    return PublicDraw(draw, payloads, dqs, draw.state == "published", late_cancellation(payloads),
                      quorum_status(session, draw) if protocol_version(draw) >= 2 else None)


@dataclass(frozen=True)
class PublicCheck:
    """The answer of the public "did I take part?" check: a refusal (``not_frozen``: 409,
    ``incomplete``: 422) or, with ``refusal`` None, the entry (None: one answer for every miss)."""

    refusal: str | None
    entry: OwnEntry | None = None

    @property
    def status(self) -> int:
        """The HTTP status of the page that shows this answer."""
        return {None: 200, "not_frozen": 409}.get(self.refusal, 422)


def public_check(session: Session, draw: Draw, account: str, code: str, box: SecretBox) -> PublicCheck:
    """The public check of one's own entry: the list must be frozen and both account and check code
    given (of sane length); then :func:`own_entry`, whose None is the same for every miss."""
    if draw.state not in CHECKABLE_STATES:
        return PublicCheck("not_frozen")
    if not account or len(account) > MAX_CHECK_ACCOUNT or not code or len(code) > MAX_CHECK_CODE:
        return PublicCheck("incomplete")
    return PublicCheck(None, own_entry(session, draw, account, code, box))
