"""``flask flags ...``: set, revoke, history, bulk import, export, and re-applying tiers."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Any

import click
from flask.cli import AppGroup

from rewards.actor import current_actor
from rewards.cli import fail
from rewards.db import db
from rewards.errors import DomainError
from rewards.flags import core, services
from rewards.flags.shell import local_today, tier_settings

flags_cli = AppGroup("flags", help="Priority-service flags.")


class _DateType(click.ParamType):
    name = "date"

    def convert(self, value: Any, param: Any, ctx: Any) -> date | None:
        if isinstance(value, date) or value is None:
            return value
        try:
            return core.parse_date(value, param.name if param else "date")
        except core.FlagInputError as exc:
            self.fail(exc.message, param, ctx)


DATE = _DateType()


def _report_error(exc: DomainError) -> None:
    details = exc.error_details()
    if details:
        for key, messages in details.items():
            for message in messages if isinstance(messages, list) else [messages]:
                click.secho(f"  {key}: {message}", fg="red", err=True)
    fail(exc.message)


@flags_cli.command("set")
@click.argument("account")
@click.option("--reason", required=True, type=click.Choice(core.STAFF_REASONS))
@click.option("--from", "valid_from", type=DATE, default=None, help="First valid day (default: today).")
@click.option("--to", "valid_to", type=DATE, default=None, help="Last valid day (default: open-ended).")
@click.option("--note", default=None, help="Required for reason 'other'.")
@click.option("--actor", default=current_actor, show_default="cli:<your login>", help="Who asked for it (recorded).")
def set_flag(account: str, reason: str, valid_from: date | None, valid_to: date | None, note: str | None,
             actor: str) -> None:
    """Set a staff flag on ACCOUNT (a new row replaces an open flag with the same reason)."""
    try:
        change = services.set_flag(
            db.session, account, reason, valid_from=valid_from, valid_to=valid_to, note=note, actor=actor,
            today=local_today()
        )
    except DomainError as exc:
        _report_error(exc)
    db.session.commit()
    extra = f" (replaces flag {change.closed_id})" if change.closed_id else ""
    click.echo(f"{change.status}: flag {change.flag_id} {change.account} {change.reason}{extra}")


@flags_cli.command("revoke")
@click.argument("flag_id", type=int, required=False)
@click.option("--account", default=None, help="With --reason: the account's open staff flag of that reason.")
@click.option("--reason", "flag_reason", default=None, type=click.Choice(core.STAFF_REASONS))
@click.option("--why", required=True, help="Why the flag is revoked (recorded).")
@click.option("--actor", default=current_actor, show_default="cli:<your login>")
def revoke_flag(flag_id: int | None, account: str | None, flag_reason: str | None, why: str, actor: str) -> None:
    """Revoke FLAG_ID (or --account A --reason R) now, with --why."""
    try:
        if flag_id is not None:
            change = services.revoke_flag(db.session, flag_id, why, actor=actor, today=local_today())
        elif account and flag_reason:
            change = services.revoke_reason(db.session, account, flag_reason, why, actor=actor, today=local_today())
        else:
            raise services.FlagError("give a FLAG_ID, or --account and --reason")
    except DomainError as exc:
        _report_error(exc)
    db.session.commit()
    click.echo(f"revoked: flag {change.closed_id} {change.account} {change.reason}")


@flags_cli.command("history")
@click.argument("account")
def history(account: str) -> None:
    """Every flag ACCOUNT ever had, newest first, and the priority answer of today."""
    today = local_today()
    try:
        account = core.check_account(account)
    except core.FlagInputError as exc:
        fail(exc.message)
    answer = services.priority_of(db.session, account, today=today)
    tier = f"{answer['tier'] or '-'} ({answer['tier_period']})" if answer["tier_period"] else "no snapshot"
    click.echo(f"account {account}: priority {'YES' if answer['priority'] else 'no'} on {today}; tier {tier}")
    click.echo("id\tstate\treason\tvalid_from\tvalid_to\tcreated\tby\tclosed\tnote")
    for row in services.history(db.session, account):
        closed = (
            f"{row['closed_kind']} {row['closed_at']:%Y-%m-%d} by {row['closed_by']}"
            + (f": {row['closed_reason']}" if row["closed_reason"] else "")
            if row["closed_kind"]
            else ""
        )
        click.echo(
            "\t".join(
                [
                    str(row["id"]),
                    services.state_of(row, today),
                    row["reason"],
                    row["valid_from"].isoformat(),
                    row["valid_to"].isoformat() if row["valid_to"] else "open",
                    f"{row['created_at']:%Y-%m-%d %H:%M}",
                    row["created_by"],
                    closed,
                    row["note"] or "",
                ]
            )
        )


@flags_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--actor", default=current_actor, show_default="cli:<your login>")
def import_file(file: Path, actor: str) -> None:
    """Apply a CSV FILE of flags all or nothing (account;reason;valid_from;valid_to;note;action)."""
    try:
        result = services.apply_bulk(db.session, file.read_bytes(), actor=actor, today=local_today(),
                                     source_name=file.name)
    except DomainError as exc:
        _report_error(exc)
    db.session.commit()
    click.echo(
        f"applied {result.lines} line(s) ({result.encoding}): {result.created} created, {result.replaced} replaced, "
        f"{result.unchanged} unchanged, {result.revoked} revoked"
    )


@flags_cli.command("export")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Default: stdout.")
def export(out: Path | None) -> None:
    """CSV of every account with priority today: account;reasons;valid_to."""
    chunks = services.export_csv(db.session, today=local_today())
    if out is None:
        for chunk in chunks:
            sys.stdout.write(chunk)
        return
    with out.open("w", encoding="utf-8", newline="") as fh:
        for chunk in chunks:
            fh.write(chunk)
    click.echo(f"written {out}", err=True)


@flags_cli.command("apply-tiers")
@click.option("--actor", default=current_actor, show_default="cli:<your login>")
def apply_tiers(actor: str) -> None:
    """Apply the latest snapshot's tiers to the flags (PRIORITY_TIERS, PRIORITY_GRACE_MONTHS); safe to re-run."""
    try:
        result = services.apply_latest_snapshot(db.session, actor=actor, **tier_settings())  # type: ignore[arg-type]
    except DomainError as exc:
        _report_error(exc)
    db.session.commit()
    click.echo(
        f"period {result.period}: {result.accounts_in_tiers} account(s) in the tiers, {result.added} flag(s) added, "
        f"{result.closed} closed; valid to {result.valid_to}"
    )
