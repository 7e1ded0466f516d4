"""Demo snapshots for ``flask demo load``: an imported month and a computed one (idempotent)."""

from __future__ import annotations

import io
import random

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rewards.rating.behaviour import window
from rewards.snapshots import services
from rewards.snapshots.models import Snapshot

PERIOD = "2026-10"
ACCOUNTS = 3000  # "a few thousand accounts over two months"


def _behaviour(period: str, accounts: int) -> bytes:
    rng = random.Random(2026)
    lines = [
        "account;month;reading_at;reading_channel;payment_at;payment_channel;registered;"
        "email_confirmed;paperless;plan;plan_kept"
    ]
    months = window(period, 6)
    for n in range(accounts):
        account = f"74{n:010d}"
        habit = rng.random()
        for m in months:
            y, mo = int(m[:4]), int(m[5:])
            ny, nm = (y + 1, 1) if mo == 12 else (y, mo + 1)
            if habit > 0.75:  # the model customer: cabinet, on time, early, paperless
                reading = f"{m}-{rng.choice([15, 20, 24]):02d}T06:00:00Z;{rng.choice(['cabinet', 'app'])}"
                payment = f"{m}-28T10:00:00+05:00;{rng.choice(['app', 'autopay', 'cabinet'])}"
                lines.append(f"{account};{m};{reading};{payment};1;1;1;;")
                continue
            day = rng.choice([15, 20, 24, 25, 27]) if rng.random() < habit + 0.2 else None
            reading = f"{m}-{day:02d}T06:00:00Z;{rng.choice(['cabinet', 'app', 'phone'])}" if day else ";"
            pay_day = rng.choice([5, 9, 10, 12, 20])
            channel = rng.choice(["cabinet", "app", "autopay", "bank"] if habit > 0.3 else ["bank", "post"])
            payment = f"{ny:04d}-{nm:02d}-{pay_day:02d}T10:00:00+05:00;{channel}"
            plan = "deferral;1" if rng.random() < 0.03 else ";"
            flags = "1;1;1" if habit > 0.6 else rng.choice(["1;0;0", "0;0;0", "1;1;0"])
            lines.append(f"{account};{m};{reading};{payment};{flags};{plan}")
    return ("\n".join(lines) + "\n").encode("utf-8")


def load_demo_snapshots(session: Session, actor: str = "demo", announce: bool = False) -> None:
    """Compute the demo period from generated behaviour and import the month before it (once);
    ``announce`` as in the services (``flask demo load`` announces: flags get their tier flags)."""
    if session.scalar(select(func.count()).select_from(Snapshot)):
        return
    previous = window(PERIOD, 2)[0]
    rng = random.Random(7)
    tiers = ["beginner", "promising", "responsible", "ideal"]
    rows = "".join(f"74{n:010d};{rng.choices(tiers, [30, 35, 25, 10])[0]}\n" for n in range(ACCOUNTS))
    services.import_snapshot(
        session,
        io.BytesIO(("account;tier\n" + rows).encode()),
        period=previous,
        source_name="demo-billing.csv",
        actor=actor,
        announce=announce,
    )
    services.compute_snapshot(
        session,
        [(io.BytesIO(_behaviour(PERIOD, ACCOUNTS)), "demo-behaviour.csv")],
        period=PERIOD,
        actor=actor,
        announce=announce,
    )


def load_demo_draft(session: Session, actor: str = "demo") -> None:
    """A rules draft to try a what-if with (once): the paperless bill counts double."""
    import json

    from rewards.rating.rules import default_rules_bytes
    from rewards.snapshots.models import RulesDraft
    from rewards.snapshots.whatif import save_draft

    if session.scalar(select(func.count()).select_from(RulesDraft)):
        return
    doc = json.loads(default_rules_bytes())
    doc["version"] = "paperless-x2"
    doc["title"] = "Электронная квитанция — два балла"
    doc["points"]["paperless"] = 2
    doc["tiers"]["ideal"]["min_points"] = 44
    save_draft(session, json.dumps(doc, indent=2, ensure_ascii=False).encode("utf-8"),
               name="Электронная квитанция ×2", actor=actor)
