"""Command-line interface of the service core: users, keys, audit. Features add their own groups.

Every ``flask`` command imports this module (the app factory registers the groups here, and the
features' commands use :func:`fail` and :func:`run_service`), so it imports only what is cheap: each
command imports its services and models when it runs (``rewards.lazycli``).
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from rewards.actor import current_actor
from rewards.db import db
from rewards.errors import DomainError
from rewards.lazycli import LazyGroup
from rewards.policy import ROLES

if TYPE_CHECKING:
    from rewards.signing.keystore import KeyStore

users_cli = AppGroup("users", help="Staff users and roles.")
keys_cli = AppGroup("keys", help="Signing keys and API clients.")
audit_cli = AppGroup("audit", help="The tamper-evident event log.")


def fail(message: str, code: int = 1) -> NoReturn:
    """Print an error and stop with a non-zero exit code (nothing is committed)."""
    db.session.rollback()
    click.secho(f"Error: {message}", fg="red", err=True)
    sys.exit(code)


def run_service(fn: Any, *args: Any, refusals: tuple[type[Exception], ...] = (), **kwargs: Any) -> Any:
    """Run a service with the session; commit on success, or print the refusal and exit 1 (nothing kept).

    ``refusals`` are further exception types whose message is a refusal to show (e.g. a missing key).
    """
    try:
        value = fn(db.session, *args, **kwargs)
    except DomainError as exc:
        details = exc.error_details()
        fail(exc.message + (f" {json.dumps(details, ensure_ascii=False)}" if details else ""))
    except refusals as exc:
        fail(str(exc))
    db.session.commit()
    return value


def _read_password(prompt: bool) -> str:
    if not sys.stdin.isatty() and not prompt:
        return sys.stdin.readline().rstrip("\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@users_cli.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
def create_user(name: str, role: str, password_stdin: bool) -> None:
    """Create a staff user; prompts for the password (or reads it from stdin)."""
    from rewards.auth import services as users

    password = sys.stdin.readline().rstrip("\n") if password_stdin else _read_password(prompt=False)
    method = current_app.config["PASSWORD_HASH_METHOD"]
    run_service(users.create_user, name, password, role, method=method, actor=current_actor())
    click.echo(f"created {role} {name}")


@users_cli.command("list")
def list_users() -> None:
    """List staff users."""
    from sqlalchemy import select

    from rewards.auth.models import User

    for user in db.session.scalars(select(User).order_by(User.username)):
        click.echo(f"{user.username}\t{user.role}\t{'active' if user.active else 'disabled'}")


@users_cli.command("disable")
@click.argument("name")
def disable_user(name: str) -> None:
    """Disable a user; every session of the user ends at once."""
    from rewards.auth import services as users

    run_service(users.set_active, name, False, actor=current_actor())
    click.echo(f"disabled {name}")


@users_cli.command("enable")
@click.argument("name")
def enable_user(name: str) -> None:
    """Enable a disabled user."""
    from rewards.auth import services as users

    run_service(users.set_active, name, True, actor=current_actor())
    click.echo(f"enabled {name}")


@users_cli.command("set-password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True)
def set_password(name: str, password_stdin: bool) -> None:
    """Set a user's password; their sessions end."""
    from rewards.auth import services as users

    password = sys.stdin.readline().rstrip("\n") if password_stdin else _read_password(prompt=False)
    method = current_app.config["PASSWORD_HASH_METHOD"]
    run_service(users.set_password, name, password, method=method, actor=current_actor())
    click.echo(f"password of {name} changed")


def _store() -> KeyStore:
    from rewards.signing.keystore import KeyStore

    return KeyStore(current_app.config["KEYS_DIR"])


@keys_cli.command("generate")
def generate_key() -> None:
    """Create a new Ed25519 signing key; the previous one is retired (it still verifies)."""
    from rewards.audit import services as audit

    info = _store().generate()
    details = {"public_key": info.public_key}
    audit.record_event(db.session, current_actor(), "signing_key.generated", "signing_key", info.kid, details)
    db.session.commit()
    click.echo(f"generated signing key {info.kid} in {current_app.config['KEYS_DIR']}")


@keys_cli.command("list")
def list_keys() -> None:
    """The signing key set."""
    click.echo(json.dumps(_store().keyset(), indent=2))


@keys_cli.command("compromised")
@click.argument("kid")
def compromised_key(kid: str) -> None:
    """Mark a leaked key: it signs nothing more; generate a new key next."""
    from rewards.audit import services as audit
    from rewards.signing.keystore import KeyStoreError

    try:
        _store().mark_compromised(kid)
    except KeyStoreError as exc:
        fail(str(exc))
    audit.record_event(db.session, current_actor(), "signing_key.compromised", "signing_key", kid, {})
    db.session.commit()
    click.echo(f"{kid} marked compromised; run 'flask keys generate' now")


class ListsScopes(click.Command):
    """A command whose ``--help`` ends with every declared API scope and what it allows."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The scopes of the features this app loaded (declared while the app was built)."""
        from flask_babel import force_locale

        from rewards import policy

        with force_locale("en"), formatter.section("Scopes"):  # English like the rest of the help
            formatter.write_dl([(scope, str(label)) for scope, label in sorted(policy.SCOPES.items())])
        super().format_epilog(ctx, formatter)


@keys_cli.command("create-client", cls=ListsScopes)
@click.argument("name")
@click.option("--scope", "scopes", multiple=True, required=True,
              help="A scope from the list below; repeat the option for several.")
@click.option("--expires-days", type=int, default=None, help="The key expires after this many days.")
def create_client(name: str, scopes: tuple[str, ...], expires_days: int | None) -> None:
    """Create an API client and print its key once."""
    from rewards.apikeys import services as apikeys

    expires = datetime.now(UTC) + timedelta(days=expires_days) if expires_days else None
    _client, token = run_service(
        apikeys.create_client, name, list(scopes), actor=current_actor(), expires_at=expires
    )
    click.echo(token)
    click.echo("(shown once: store it in the client's secret store now)", err=True)


@keys_cli.command("rotate-client")
@click.argument("name")
@click.option("--grace-days", type=int, default=7, show_default=True, help="How long the old key keeps working.")
def rotate_client(name: str, grace_days: int) -> None:
    """Issue a new key; the old one works until the grace period ends."""
    from rewards.apikeys import services as apikeys

    click.echo(run_service(apikeys.rotate_key, name, actor=current_actor(), grace=timedelta(days=grace_days)))


@keys_cli.command("revoke-client")
@click.argument("name")
def revoke_client(name: str) -> None:
    """Revoke every key of a client at once."""
    from rewards.apikeys import services as apikeys

    run_service(apikeys.revoke_client, name, actor=current_actor())
    click.echo(f"revoked {name}")


@keys_cli.command("list-clients")
def list_clients() -> None:
    """API clients with their scopes and key states."""
    from sqlalchemy import select

    from rewards.apikeys.models import ApiClient

    now = datetime.now(UTC)
    for client in db.session.scalars(select(ApiClient).order_by(ApiClient.name)):
        states = ",".join(f"{k.lookup}:{'ok' if k.usable_at(now) else 'off'}" for k in client.keys)
        click.echo(f"{client.name}\t{client.scopes}\t{states}")


@audit_cli.command("checkpoint")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the envelope here.")
def checkpoint(out: Path | None) -> None:
    """Sign the log's head (run on a schedule; give the file to the auditors)."""
    from rewards.audit import services as audit
    from rewards.signing.keystore import KeyStoreError

    envelope = run_service(audit.make_checkpoint, _store(), actor=current_actor(), refusals=(KeyStoreError,))
    text = json.dumps(envelope, ensure_ascii=False, indent=2)
    if out:
        out.write_text(text, encoding="utf-8")
    click.echo(text)


@audit_cli.command("export")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Default: standard output.")
@click.option("--background", is_flag=True, help="Queue it as a job; the file is downloaded from the job's page.")
def export(out: Path | None, background: bool) -> None:
    """The whole log as JSON lines ({"body", "hash"} per event, in sequence order)."""
    from rewards.audit import services as audit

    if background:
        from rewards.audit.jobs import EXPORT
        from rewards.jobs.start import start

        try:
            job = start(EXPORT, {}, title="audit log")
        except DomainError as exc:
            fail(exc.message)
        click.echo(f"queued job {job.id}: follow it with 'flask jobs show {job.id}' or on /jobs/{job.id}")
        return
    count = 0
    handle = out.open("w", encoding="utf-8", newline="") if out else None
    try:
        for line in audit.export_lines(db.session):
            count += 1
            if handle:
                handle.write(line)
            else:
                click.echo(line, nl=False)
    finally:
        if handle:
            handle.close()
    audit.record_event(db.session, current_actor(), "audit.exported", "audit_log", "-", {"events": count})
    db.session.commit()
    if out:
        click.echo(f"wrote {count} events to {out}", err=True)


@audit_cli.command("verify")
@click.option("--checkpoint", "checkpoint_file", type=click.File("r"), help="A checkpoint an auditor holds.")
def verify(checkpoint_file: object) -> None:
    """Walk every link of the log; report the first broken one."""
    from rewards.audit import services as audit

    checkpoint_payload = None
    if checkpoint_file is not None:
        from signedjson import SignatureError, verify_envelope

        try:
            checkpoint_payload = verify_envelope(json.load(checkpoint_file), _store().keyset())  # type: ignore[arg-type]
        except (ValueError, SignatureError) as exc:
            fail(f"checkpoint: {exc}", 2)
    report = audit.verify_log(db.session, checkpoint_payload)
    pending = f"; {report.pending} pending (committed, not chained yet)" if report.pending else ""
    if report.ok:
        click.echo(f"OK: {report.count} events, head {report.head_seq} {report.head_hash}{pending}")
    else:
        click.secho(f"BROKEN: {report.problem}{pending}", fg="red")
        sys.exit(1)


@audit_cli.command("chain")
def chain() -> None:
    """Chain the events committed but not chained yet (the consumer does it every minute)."""
    from rewards.audit import services as audit

    click.echo(f"{audit.chain_pending(db.engine)} event(s) chained")


def register(app: Flask) -> None:
    """Add the kernel's commands to ``flask``: users, keys, audit, demo, jobs, backup and a ``db`` group
    that initialises Flask-Migrate when it is used; each feature adds its own in its ``init_app``."""
    from rewards.ops.backup import backup_command

    for group in (users_cli, keys_cli, audit_cli):
        app.cli.add_command(group)
    app.cli.add_command(LazyGroup("demo", "rewards.demo:demo_cli", help="Demo data."))
    app.cli.add_command(LazyGroup("jobs", "rewards.jobs.cli:jobs_cli",
                                  help="Background jobs: the consumer that runs them, their list and state."))
    app.cli.add_command(backup_command)
    # one per app: its on_load initialises Flask-Migrate on this app (Alembic is imported by `flask db` alone)
    app.cli.add_command(LazyGroup("db", "flask_migrate.cli:db", help="Perform database migrations.",
                                  on_load=init_migrate))
    app.cli.add_command(LazyGroup("openapi", "flask_smorest.spec:openapi_cli", help="OpenAPI commands.",
                                  on_load=_init_web))


def init_migrate(app: Flask) -> None:
    """Flask-Migrate on ``app`` (its ``db`` commands, and what the migrations' env.py reads), with every
    table on the metadata."""
    from flask_migrate import Migrate

    from rewards import features

    features.import_models(app)
    directory = os.path.join(os.path.dirname(__file__), "migrations")
    Migrate().init_app(app, db, directory=directory, render_as_batch=True)


def _init_web(app: Flask) -> None:
    from rewards import websetup

    websetup.init_web(app)  # flask-smorest's openapi commands print the document of the full app
