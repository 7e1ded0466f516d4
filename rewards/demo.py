"""``flask demo load``: demo data for a first look at every feature (idempotent).

Staff users and a signing key; two months of tier snapshots (one imported, one computed by the rating
engine) with their priority flags; a few staff priority flags; partner Горсервис with an offer, issued
codes and redemptions; a published draw (verifiable) and an announced one.
"""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from rewards.auth import services as users
from rewards.auth.models import User
from rewards.db import db
from rewards.signing.keystore import KeyStore

demo_cli = AppGroup("demo", help="Demo data.")

DEMO_USERS = (("marketing", "marketing"), ("auditor", "auditor"), ("admin", "admin"))
DEMO_PASSWORD = "demo-password-1"
# Staff flags for vulnerable customers (seed 004): reason, note.
DEMO_FLAGS = (("740000000007", "pensioner", None), ("740000000011", "large_family", None),
              ("740000000023", "disability", None), ("740000000042", "other", "слабослышащий клиент"))


def _staff_flags(actor: str) -> int:
    from rewards.flags import services as flags
    from rewards.flags.shell import local_today

    made = 0
    today = local_today()
    for account, reason, note in DEMO_FLAGS:
        change = flags.set_flag(db.session, account, reason, note=note, actor=actor, today=today)
        made += change.status != "unchanged"
    return made


@demo_cli.command("load")
def load() -> None:
    """Load the demo data (running it again changes nothing); prints the staff login."""
    from draws import demo as draws_demo
    from draws import wiring
    from partners import demo as partners_demo
    from rewards.flags.shell import tier_settings
    from rewards.snapshots.demo import load_demo_snapshots

    store = KeyStore(current_app.config["KEYS_DIR"])
    if not store.keys():
        store.generate()
    method = current_app.config["PASSWORD_HASH_METHOD"]
    for name, role in DEMO_USERS:
        if db.session.scalar(select(User.id).where(User.username == name)) is None:
            users.create_user(db.session, name, DEMO_PASSWORD, role, method=method, actor="demo")
    db.session.commit()
    load_demo_snapshots(db.session, priority=tier_settings())
    db.session.commit()
    _staff_flags("demo")
    db.session.commit()
    partner = partners_demo.load(db.session, timezone=current_app.config["TIMEZONE"], commit=db.session.commit)
    db.session.commit()
    draws_made = draws_demo.load(
        db.session,
        signer=wiring.signer(),
        box=wiring.box(),
        chains=wiring.chains(),
        timezone=wiring.timezone(),
        yearly_cap_kopecks=wiring.yearly_cap(),
        keys_dir=current_app.config["KEYS_DIR"],
    )
    db.session.commit()
    click.echo("Demo data loaded.")
    if partner.token:
        click.echo(f"Partner site key of Горсервис (shown once): {partner.token}")
    if draws_made.published:
        click.echo(f"Published demo draw: /public/draws/{draws_made.published}")
    click.echo(f"Staff login: marketing / {DEMO_PASSWORD}   (also admin, auditor with the same password)")
