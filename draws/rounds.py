"""The drand round of a frozen draw, fetched once it is due: by the periodic task, kept with the draw.

A frozen draw announced with a drand round needs that round to run. Once the round is due, the
periodic task (``draws.jobs.fetch_due_rounds``, on the jobs consumer, every minute unless
``DRAND_FETCH_CRON`` is empty) asks the chain's relays in order, keeps the first answer whose BLS
signature verifies, and stores the relay's record (URL, time, the answer as received) with the draw.
Running the draw with "fetch" then uses the stored answer, checked again, instead of asking again.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from draws.errors import DrawError
from draws.models import Draw
from draws.relay import RelayError, value_from
from draws.services import chain_of
from rewards.audit.services import record_event

log = logging.getLogger(__name__)
FETCHER = "system:drand"
Fetch = Callable[[str, int], tuple[dict[str, Any], dict[str, Any]]]  # (chain name, round) -> (value, relay record)


@dataclass(frozen=True)
class Due:
    """A frozen draw whose drand round exists and has not been fetched."""

    draw_id: int
    public_id: str
    chain: str
    round: int


def chain_key(chains: Mapping[str, Any], source: Mapping[str, Any]) -> str | None:
    """The name under which ``DRAND_CHAINS`` configures the announced chain (matched by its hash)."""
    wanted = source["chain"].get("chain_hash")
    name = source["chain"].get("name")
    if name in chains and chains[name].get("chain_hash") == wanted:
        return str(name)
    return next((key for key, conf in chains.items() if conf.get("chain_hash") == wanted), None)


def due_rounds(session: Session, chains: Mapping[str, Any], now: datetime) -> list[Due]:
    """Frozen drand draws whose round is due at ``now`` and not fetched yet, oldest first."""
    due = []
    rows = session.execute(select(Draw.id, Draw.public_id, Draw.entropy_source)
                           .where(Draw.state == "frozen", Draw.entropy_relay.is_(None)).order_by(Draw.id))
    for draw_id, public_id, source_text in rows:
        source = json.loads(source_text)
        if source.get("type") != "drand":
            continue
        name = chain_key(chains, source)
        if name is not None and chain_of(chains, name).round_time(int(source["round"])) <= now.timestamp():
            due.append(Due(draw_id, public_id, name, int(source["round"])))
    return due


def store_round(session: Session, due: Due, relay: Mapping[str, Any], *, actor: str = FETCHER) -> bool:
    """Keep the relay's record with the draw if it is still frozen and unfetched; True if stored."""
    text = json.dumps(dict(relay), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    stored = session.execute(
        update(Draw).where(Draw.id == due.draw_id, Draw.state == "frozen", Draw.entropy_relay.is_(None))
        .values(entropy_relay=text).execution_options(synchronize_session=False)
    ).rowcount == 1  # type: ignore[attr-defined]
    if stored:
        record_event(session, actor, "draw.round_fetched", "draw", due.public_id, {
            "chain": due.chain, "round": due.round, "url": relay.get("url"), "fetched_at": relay.get("fetched_at"),
            "response_sha256": hashlib.sha256(str(relay.get("response", "")).encode("utf-8")).hexdigest(),
        })
    return stored


def fetch_due(session: Session, chains: Mapping[str, Any], now: datetime, fetch: Fetch) -> tuple[list[str], list[str]]:
    """Fetch and store every due round; (draws stored, draws whose relays all failed).

    The list of due draws is read and its transaction ended before any relay is asked, so no lock is
    held while the network answers; each answer is stored by one conditional update."""
    due = due_rounds(session, chains, now)
    session.commit()
    fetched: list[tuple[Due, dict[str, Any]]] = []
    failed = []
    for item in due:
        try:
            _value, relay = fetch(item.chain, item.round)
        except Exception as exc:  # noqa: BLE001 - a relay problem for one draw must not stop the others
            log.warning("draw %s: drand round %s not fetched: %s", item.public_id, item.round, exc)
            failed.append(item.public_id)
            continue
        fetched.append((item, relay))
    stored = [item.public_id for item, relay in fetched if store_round(session, item, relay)]
    return stored, failed


def stored_value(chains: Mapping[str, Any], draw: Draw) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The entropy value from the relay answer stored with the draw, verified again; None if none is stored."""
    if not draw.entropy_relay:
        return None
    relay = json.loads(draw.entropy_relay)
    source = json.loads(draw.entropy_source)
    try:
        name = chain_key(chains, source)
        if name is None:
            raise KeyError(f"the chain {source['chain'].get('name')!r} is not configured")
        value = value_from(chain_of(chains, name), int(source["round"]), relay["response"])
    except (ValueError, KeyError, DrawError) as exc:  # a forged or broken answer (BeaconInvalid)
        raise RelayError(f"the stored drand answer does not verify: {exc}") from exc
    return value, relay
