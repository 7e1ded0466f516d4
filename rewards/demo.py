"""``flask demo load``: demo data for a first look (users, keys; features add theirs)."""

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


@demo_cli.command("load")
def load() -> None:
    """Create demo users and a signing key (idempotent); prints the staff login."""
    store = KeyStore(current_app.config["KEYS_DIR"])
    if not store.keys():
        store.generate()
    method = current_app.config["PASSWORD_HASH_METHOD"]
    for name, role in DEMO_USERS:
        if db.session.scalar(select(User.id).where(User.username == name)) is None:
            users.create_user(db.session, name, DEMO_PASSWORD, role, method=method, actor="demo")
    from rewards.snapshots.demo import load_demo_snapshots

    load_demo_snapshots(db.session)
    db.session.commit()
    click.echo("Demo data loaded.")
    click.echo(f"Staff login: marketing / {DEMO_PASSWORD}   (also admin, auditor with the same password)")
