"""``flask demo load``: demo data for a first look at every feature (idempotent).

The kernel makes staff users and a signing key; then each feature's demo step runs, in the order of
the ``FEATURES`` setting, each committed on its own (a feature adds its step in its ``init_app``
with :func:`add_step`). Every ``flask`` command imports this module (features add their steps): the
services ``load`` uses are imported when it runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from rewards.db import db

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

demo_cli = AppGroup("demo", help="Demo data.")

DEMO_USERS = (("marketing", "marketing"), ("auditor", "auditor"), ("admin", "admin"))
DEMO_PASSWORD = "demo-password-1"
DEMO_ACTOR = "demo"

# A feature's demo step: adds its data through the session (idempotent: a second run adds nothing)
# and returns the lines to show the operator (e.g. a key shown once). The kernel commits after it.
DemoStep = Callable[["Session"], Iterable[str]]
_STEPS_KEY = "rewards.demo_steps"


def add_step(app: Flask, step: DemoStep) -> None:
    """Run ``step`` in ``flask demo load`` of ``app``, after the steps of the features before it."""
    app.extensions.setdefault(_STEPS_KEY, []).append(step)


@demo_cli.command("load")
def load() -> None:
    """Load the demo data (running it again changes nothing); prints the staff login."""
    from sqlalchemy import select

    from rewards.auth import services as users
    from rewards.auth.models import User
    from rewards.signing.keystore import KeyStore

    store = KeyStore(current_app.config["KEYS_DIR"])
    if not store.keys():
        store.generate()
    method = current_app.config["PASSWORD_HASH_METHOD"]
    for name, role in DEMO_USERS:
        if db.session.scalar(select(User.id).where(User.username == name)) is None:
            users.create_user(db.session, name, DEMO_PASSWORD, role, method=method, actor=DEMO_ACTOR)
    db.session.commit()
    messages: list[str] = []
    for step in current_app.extensions.get(_STEPS_KEY, ()):
        messages.extend(step(db.session))
        db.session.commit()
    click.echo("Demo data loaded.")
    for message in messages:
        click.echo(message)
    click.echo(f"Staff login: marketing / {DEMO_PASSWORD}   (also admin, auditor with the same password)")
