"""Demo draws for ``flask demo load``: one published (with its whole history) and one announced.

The published draw is run through the same services as a real one, with its steps dated in the
past, so its records verify with ``python -m draws.verify``. Its entropy is a set of public numbers
marked as demo numbers: a real draw uses numbers drawn by a lottery after the freeze, or drand.
Both are witnessed by one **demo witness** whose key the demo itself holds (``demo-witness.pem`` in
the instance's key folder, named as such on every page): a real draw's witnesses are independent
parties who keep their keys and run ``python -m draws.witness`` themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from draws import services
from draws.models import Draw
from draws.secretbox import SecretBox
from draws.witness import cosign, generate_key_file, load_key_file, public_entry
from rewards.db import utcnow
from rewards.snapshots.queries import latest_snapshot
from signedjson import utc_timestamp

DEMO_WITNESS = "Демо-свидетель (ключ у самой демонстрации, не независимый)"
PUBLISHED_NAME = "Демо: квартальный розыгрыш (опубликован)"
ANNOUNCED_NAME = "Демо: полугодовой розыгрыш (объявлен)"
WEIGHTS = {"beginner": 0, "promising": 0, "responsible": 1, "ideal": 3}
DEMO_NUMBERS = "# демо-числа, не настоящий тираж\n17 3 44 29 8 61\n5 12 33"


@dataclass(frozen=True)
class DemoDraws:
    """What the demo made (ids are public ids; None when it already existed or could not be made)."""

    published: str | None
    announced: str | None
    note: str


def _existing(session: Session, name: str) -> Draw | None:
    return session.scalar(select(Draw).where(Draw.name == name))


def demo_witness(keys_dir: str) -> tuple[dict[str, str], Any]:
    """The demo witness's public entry and key (made once in the key folder)."""
    path = Path(keys_dir) / "demo-witness.pem"
    key = load_key_file(str(path)) if path.exists() else generate_key_file(str(path))
    return public_entry(key, DEMO_WITNESS), key


def load(
    session: Session,
    *,
    signer: Any,
    box: SecretBox,
    chains: dict[str, Any],
    timezone: str,
    yearly_cap_kopecks: int,
    keys_dir: str,
    actor: str = "demo",
    now: datetime | None = None,
) -> DemoDraws:
    """Create the two demo draws unless they exist; needs an active snapshot. Never commits."""
    now = (now or utcnow()).replace(microsecond=0)
    witness, witness_key = demo_witness(keys_dir)
    if latest_snapshot(session) is None:
        return DemoDraws(None, None, "no tier snapshot: demo draws skipped")
    published = None
    if _existing(session, PUBLISHED_NAME) is None:
        start = now - timedelta(days=20)
        freeze_at = start + timedelta(days=2)
        numbers_at = freeze_at + timedelta(days=1)
        draft = services.DraftInput(
            name=PUBLISHED_NAME,
            kind="quarterly",
            tier_weights=WEIGHTS,
            prizes=[{"amount_kopecks": 400_000, "count": 1}, {"amount_kopecks": 100_000, "count": 3}],
            reserves=2,
            freeze_at=freeze_at,
            entropy={
                "type": "rfc3797",
                "sources": ["Демо: «Русское лото», 6 чисел тиража", "Демо: «Жилищная лотерея», 3 числа"],
                "available_after": utc_timestamp(numbers_at),
            },
            witnesses=[witness],
            quorum=1,
        )
        draw = services.create_draft(
            session, draft, actor=actor, chains=chains, yearly_cap_kopecks=yearly_cap_kopecks, now=start
        )
        pid = draw.public_id
        services.announce(session, pid, actor=actor, signer=signer, box=box, chains=chains,
                          now=start + timedelta(hours=1))
        services.freeze(session, pid, actor=actor, signer=signer, box=box, timezone=timezone,
                        now=freeze_at + timedelta(minutes=5))
        package = services.freeze_package_of(services.get_draw(session, pid), signer.keyset())
        cosigned_at = freeze_at + timedelta(minutes=20)  # the witness's clock, well before the numbers exist
        envelope = cosign(package, witness_key, now=int(cosigned_at.timestamp()), keyset=signer.keyset())
        services.add_cosignature(session, pid, envelope, actor=actor, now=cosigned_at + timedelta(minutes=1))
        from draws.rfc3797 import parse_public_numbers

        value = {"type": "rfc3797", "sources": parse_public_numbers(DEMO_NUMBERS)}
        services.run_draw(session, pid, value, actor=actor, signer=signer, box=box, now=numbers_at + timedelta(hours=2))
        services.publish(session, pid, actor=actor, timezone=timezone, now=numbers_at + timedelta(hours=3))
        published = pid
    announced = None
    if _existing(session, ANNOUNCED_NAME) is None:
        draft = services.DraftInput(
            name=ANNOUNCED_NAME,
            kind="semi-annual",
            tier_weights=WEIGHTS,
            prizes=[{"amount_kopecks": 400_000, "count": 2}, {"amount_kopecks": 200_000, "count": 5}],
            reserves=3,
            freeze_at=now + timedelta(days=14),
            entropy={"type": "drand", "chain": "quicknet", "delay_seconds": 3600},
            witnesses=[witness],
            quorum=1,
        )
        draw = services.create_draft(session, draft, actor=actor, chains=chains, yearly_cap_kopecks=yearly_cap_kopecks,
                                     now=now)
        services.announce(session, draw.public_id, actor=actor, signer=signer, box=box, chains=chains, now=now)
        announced = draw.public_id
    return DemoDraws(published, announced, "demo draws ready")
