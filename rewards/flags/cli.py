"""``flask flags ...``: set, revoke, history, bulk import, export, and re-applying tiers.

``flask flags --help`` imports this module alone: each command imports the services and models it uses
when it runs (``rewards.lazycli``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from flask import current_app
from flask.cli import AppGroup

from rewards.actor import current_actor
from rewards.cli import fail
from rewards.db import db
from rewards.errors import DomainError
from rewards.flags import core
from rewards.flags import needs as needs_core

flags_cli = AppGroup("flags", help="Priority-service flags.")
T = TypeVar("T")


class _DateType(click.ParamType):
    name = "date"

    def convert(self, value: Any, param: Any, ctx: Any) -> date | None:
        from rewards.flags import core

        if isinstance(value, date) or value is None:
            return value
        try:
            return core.parse_date(value, param.name if param else "date")
        except core.FlagInputError as exc:
            self.fail(exc.message, param, ctx)


DATE = _DateType()


def _report_error(exc: DomainError) -> NoReturn:
    details = exc.error_details()
    if details:
        for key, messages in details.items():
            for message in messages if isinstance(messages, list) else [messages]:
                click.secho(f"  {key}: {message}", fg="red", err=True)
    fail(exc.message)


def _run(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a service with the session and commit; on a refusal, print it by field and exit 1 (nothing kept)."""
    try:
        value = fn(db.session, *args, **kwargs)
    except DomainError as exc:
        _report_error(exc)
    db.session.commit()
    return value


def _echo_applied(result: Any) -> None:
    """What a bulk file (of flags or of register entries) changed."""
    click.echo(f"applied {result.lines} line(s) ({result.encoding}): {result.created} created, "
               f"{result.replaced} replaced, {result.unchanged} unchanged, {result.revoked} revoked")


def _write(chunks: Iterable[str], out: Path | None) -> None:
    """An export's CSV to the file ``out`` (UTF-8), or to standard output."""
    if out is None:
        for chunk in chunks:
            sys.stdout.write(chunk)
        return
    with out.open("w", encoding="utf-8", newline="") as fh:
        for chunk in chunks:
            fh.write(chunk)
    click.echo(f"written {out}", err=True)


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
    from rewards.flags import services
    from rewards.flags.shell import local_today

    change = _run(services.set_flag, account, reason, valid_from=valid_from, valid_to=valid_to, note=note, actor=actor,
                  today=local_today())
    extra = f" (replaces flag {change.closed_id})" if change.closed_id else ""
    click.echo(f"{change.status}: flag {change.flag_id} {change.account} {change.reason}{extra}")


@flags_cli.command("revoke")
@click.argument("flag_id", type=int, required=False)
@click.option("--account", default=None, help="With --reason: the account's open staff flag of that reason.")
@click.option("--reason", "flag_reason", default=None,
              type=click.Choice((*core.STAFF_REASONS, needs_core.REGISTER_REASON)))
@click.option("--why", required=True, help="Why the flag is revoked (recorded).")
@click.option("--actor", default=current_actor, show_default="cli:<your login>")
def revoke_flag(flag_id: int | None, account: str | None, flag_reason: str | None, why: str, actor: str) -> None:
    """Revoke FLAG_ID (or --account A --reason R) now, with --why."""
    from rewards.flags import services
    from rewards.flags.shell import local_today

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
    from rewards.flags import core, services
    from rewards.flags.shell import local_today

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
    from rewards.flags import services
    from rewards.flags.shell import local_today

    _echo_applied(_run(services.apply_bulk, file.read_bytes(), actor=actor, today=local_today(),
                       source_name=file.name))


@flags_cli.command("export")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Default: stdout.")
def export(out: Path | None) -> None:
    """CSV of every account with priority today: account;reasons;valid_to."""
    from rewards.flags import services
    from rewards.flags.shell import local_today

    _write(services.export_csv(db.session, today=local_today()), out)


@flags_cli.command("apply-tiers")
@click.option("--actor", default=current_actor, show_default="cli:<your login>")
def apply_tiers(actor: str) -> None:
    """Apply the latest snapshot's tiers to the flags (PRIORITY_TIERS, PRIORITY_GRACE_MONTHS); safe to re-run."""
    from rewards.flags import services
    from rewards.flags.shell import tier_settings

    result = _run(services.apply_latest_snapshot, actor=actor, **tier_settings())
    click.echo(
        f"period {result.period}: {result.accounts_in_tiers} account(s) in the tiers, {result.added} flag(s) added, "
        f"{result.closed} closed; valid to {result.valid_to}"
    )


@flags_cli.command("set-needs")
@click.argument("account")
@click.option("--need", "codes", multiple=True, required=True, help="A need code (repeat for several); see `needs`.")
@click.option("--ends-on", type=DATE, default=None, help="Last day of the temporary needs.")
@click.option("--verify-by", type=DATE, default=None, help="Re-verification date (default: today + the setting).")
@click.option("--consent-on", type=DATE, default=None, help="The day the customer consented (required).")
@click.option("--consent-channel", type=click.Choice(needs_core.CHANNELS), default=None, help="Required.")
@click.option("--consent-by", default=None, help="Staff member who took the consent (default: --actor).")
@click.option("--share/--no-share", default=False, help="The customer agreed to share the entry with partners.")
@click.option("--nominee-name", default=None)
@click.option("--nominee-phone", default=None)
@click.option("--password", is_flag=True, help="Ask for a call-centre password (stored hashed).")
@click.option("--note", default=None)
@click.option("--actor", default=current_actor, show_default="cli:<your login>")
def set_needs(account: str, codes: tuple[str, ...], ends_on: date | None, verify_by: date | None,
              consent_on: date | None, consent_channel: str | None, consent_by: str | None, share: bool,
              nominee_name: str | None, nominee_phone: str | None, password: bool, note: str | None,
              actor: str) -> None:
    """Record ACCOUNT's register entry: needs, after the customer's consent."""
    from rewards.flags import needs as needs_core
    from rewards.flags import services
    from rewards.flags.shell import local_today, needs_settings

    secret = click.prompt("call-centre password", hide_input=True, confirmation_prompt=True) if password else None
    change = _run(
        services.set_needs, account, needs_core.requests_of(list(codes), ends_on, verify_by), consent_on=consent_on,
        consent_channel=consent_channel, consent_by=consent_by, share=share, nominee_name=nominee_name,
        nominee_phone=nominee_phone, password=secret, note=note, actor=actor, today=local_today(),
        reverify_years=needs_settings()["reverify_years"],
        password_method=current_app.config["PASSWORD_HASH_METHOD"],
    )
    extra = f" (replaces flag {change.closed_id})" if change.closed_id else ""
    click.echo(f"{change.status}: register entry {change.flag_id} {change.account}{extra}")


@flags_cli.command("needs")
def list_needs() -> None:
    """The declared need codes in use: code, temporary, re-verified, label, what the call centre does."""
    from rewards.flags import needs as needs_core

    current = needs_core.current_list()
    click.echo(f"need list version {current.version}")
    for n in current.needs.values():
        click.echo("\t".join([n.code, "temporary" if n.temporary else "-", "reverify" if n.reverify else "-",
                              n.label["en"], n.action["en"]]))


@flags_cli.command("due")
@click.option("--days", type=int, default=None, help="Look this many days ahead (default: PRIORITY_NEEDS_DUE_DAYS).")
def due(days: int | None) -> None:
    """Needs that end or are to be re-verified soon (or already are): account, need, date, what."""
    from rewards.flags import services
    from rewards.flags.shell import local_today, needs_settings

    within = needs_settings()["due_days"] if days is None else days
    rows = services.due_needs(db.session, today=local_today(), within_days=within)
    click.echo("account\tneed\tends_on\tverify_by\tdue")
    for r in rows:
        click.echo("\t".join([r["account"], r["need"], r["ends_on"].isoformat() if r["ends_on"] else "",
                              r["verify_by"].isoformat() if r["verify_by"] else "", r["due"] or ""]))


@flags_cli.command("end-lapsed")
def end_lapsed() -> None:
    """End the temporary needs past their end date and the grace days (the daily job does it too)."""
    from rewards.flags import services
    from rewards.flags.shell import local_today, needs_settings

    settings = needs_settings()
    result = services.end_lapsed_needs(db.session, today=local_today(), grace_days=settings["grace_days"])
    db.session.commit()
    click.echo(f"{result.needs_ended} need(s) ended; {result.entries_replaced} entr(ies) kept other needs, "
               f"{result.entries_closed} closed")


@flags_cli.command("import-needs")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--actor", default=current_actor, show_default="cli:<your login>")
def import_needs(file: Path, actor: str) -> None:
    """Apply a CSV FILE of register entries all or nothing (see docs/flags.md for the columns)."""
    from rewards.flags import services
    from rewards.flags.shell import local_today, needs_settings

    _echo_applied(_run(services.apply_needs_bulk, file.read_bytes(), actor=actor, today=local_today(),
                       reverify_years=needs_settings()["reverify_years"], source_name=file.name))


@flags_cli.command("export-needs")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Default: stdout.")
@click.option("--consent", type=click.Choice((needs_core.CONSENT_SHARED, needs_core.CONSENT_ANY)),
              default=needs_core.CONSENT_SHARED, show_default=True,
              help="shared: only entries the customer agreed to share with partner organisations.")
@click.option("--with-contacts", is_flag=True, help="Add the nominee's name and phone (personal data).")
def export_needs(out: Path | None, consent: str, with_contacts: bool) -> None:
    """The full current register for partner organisations (CSV, one line per account)."""
    from rewards.flags import services
    from rewards.flags.shell import local_today

    _write(services.export_needs_csv(db.session, today=local_today(), consent=consent, personal=with_contacts), out)
