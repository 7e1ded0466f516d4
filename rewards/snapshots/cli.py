"""``flask snapshots ...``: import, compute, list, show, compare, explain, export.

``flask snapshots --help`` imports this module alone: each command imports the services and models it uses
when it runs (``rewards.lazycli``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from flask.cli import AppGroup

from rewards.actor import current_actor
from rewards.db import db
from rewards.errors import DomainError

snapshots_cli = AppGroup("snapshots", help="Monthly tier snapshots: import, compute, compare, export.")
T = TypeVar("T")


def _fail(exc: DomainError) -> NoReturn:
    db.session.rollback()
    click.secho(f"Error: {exc.message}", fg="red", err=True)
    details = exc.errors
    if isinstance(details, dict) and "shown" in details:
        for error in details["shown"]:
            where = f"{error.get('source') or ''}:{error['line']}".lstrip(":")
            click.echo(f"  line {where}: {error['kind']}: {error['message']}", err=True)
        hidden = details["total"] - len(details["shown"])
        if hidden > 0:
            click.echo(f"  ... and {hidden} more ({details['by_kind']})", err=True)
    elif details:
        click.echo(f"  {details}", err=True)
    sys.exit(1)


def _call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a service with the session; on a refusal, print it (errors by line) and exit 1, nothing committed."""
    try:
        return fn(db.session, *args, **kwargs)
    except DomainError as exc:
        _fail(exc)


def _summary(snapshot: Any) -> str:
    from rewards.snapshots import services

    counts = services.tier_counts(snapshot)
    tiers = ", ".join(f"{t} {n}" for t, n in counts.items())
    return (
        f"#{snapshot.id} {snapshot.period}: {snapshot.row_count} accounts ({tiers}); digest {snapshot.digest}"
    )


@snapshots_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--period", required=True, help="The month, YYYY-MM.")
@click.option(
    "--replace", is_flag=True, help="Replace the period's snapshot (the old one is kept, superseded)."
)
@click.option("--future", is_flag=True,
              help="Allow a period after the current local month (it is not the latest until its month comes).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "jsonl"]),
    default=None,
    help="Default: from the file name (.jsonl/.ndjson: jsonl), else csv.",
)
@click.option("--background", is_flag=True, help="Queue the import as a job for a consumer instead of running it here.")
def import_command(file: Path, period: str, replace: bool, future: bool, fmt: str | None, background: bool) -> None:
    """Load a snapshot file; a file with any problem loads nothing and lists the problems by line."""
    from rewards.snapshots import services

    fmt = fmt or ("jsonl" if file.suffix.lower() in (".jsonl", ".ndjson") else "csv")
    if background:
        from rewards.jobs.start import save_upload, start

        try:
            services.check_not_future(period, future)
        except DomainError as exc:
            _fail(exc)
        from rewards.snapshots import jobs

        with file.open("rb") as stream:
            stored = save_upload(stream, file.name)
        params = {"file": stored, "name": file.name, "period": period, "format": fmt, "replace": replace,
                  "future": future}
        job = start(jobs.IMPORT, params, title=f"{period} ({file.name})")
        click.echo(f"job {job.id} {job.state}: follow it with 'flask jobs show {job.id}' or on /jobs/{job.id}")
        return
    with file.open("rb") as stream:
        try:
            outcome = services.import_snapshot(
                db.session,
                stream,
                period=period,
                source_name=file.name,
                actor=current_actor(),
                fmt=fmt,
                replace=replace,
                future=future,
                announce=True,
            )
        except DomainError as exc:
            _fail(exc)
    db.session.commit()
    if outcome.replaced is not None:
        click.echo(f"replaced #{outcome.replaced.id} (kept, superseded)")
    click.echo(f"imported {_summary(outcome.snapshot)}")


@snapshots_cli.command("compute")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--period", required=True, help="The month P; behaviour rows of P-5..P.")
@click.option(
    "--rules",
    "rules_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A rules file (default: the shipped default-v1).",
)
@click.option(
    "--replace", is_flag=True, help="Replace the period's snapshot (the old one is kept, superseded)."
)
@click.option("--future", is_flag=True,
              help="Allow a period after the current local month (it is not the latest until its month comes).")
def compute_command(files: tuple[Path, ...], period: str, rules_file: Path | None, replace: bool,
                    future: bool) -> None:
    """Compute the period's snapshot from behaviour files (each sorted by account)."""
    from rewards.snapshots import services

    streams = [path.open("rb") for path in files]
    try:
        outcome = services.compute_snapshot(
            db.session,
            [(s, p.name) for s, p in zip(streams, files, strict=True)],
            period=period,
            actor=current_actor(),
            rules_bytes=rules_file.read_bytes() if rules_file else None,
            replace=replace,
            future=future,
            announce=True,
        )
    except DomainError as exc:
        _fail(exc)
    finally:
        for s in streams:
            s.close()
    db.session.commit()
    snap = outcome.snapshot
    click.echo(f"computed {_summary(snap)}; rules {snap.rules_version} {snap.rules_hash}")


@snapshots_cli.command("list")
def list_command() -> None:
    """Every snapshot, newest period first."""
    from rewards.snapshots.queries import list_snapshots  # not services: a listing needs no engine or parser

    for snap in list_snapshots(db.session):
        click.echo(
            f"{snap.id}\t{snap.period}\t{snap.status}\t{snap.source}\t{snap.row_count}\t"
            f"{snap.loaded_at:%Y-%m-%d %H:%M}\t{snap.loaded_by}\t{snap.source_name}"
        )


@snapshots_cli.command("show")
@click.argument("period")
def show_command(period: str) -> None:
    """The provenance of the period's active snapshot (JSON)."""
    from rewards.snapshots import services

    snap = _call(services.active_for, period)
    click.echo(json.dumps(services.describe(snap), default=str, indent=2, ensure_ascii=False))


@snapshots_cli.command("verify")
@click.argument("period")
def verify_command(period: str) -> None:
    """Recompute the period's digest from the stored rows."""
    from rewards.snapshots import services

    snap = _call(services.active_for, period)
    if services.verify_digest(db.session, snap):
        click.echo(f"OK {snap.digest}")
    else:
        click.secho("MISMATCH: the stored rows do not give the stored digest", fg="red")
        sys.exit(1)


@snapshots_cli.command("compare")
@click.argument("from_period")
@click.argument("to_period")
def compare_command(from_period: str, to_period: str) -> None:
    """The tier transition matrix between two periods."""
    from rewards.snapshots import services

    result = _call(services.compare, from_period, to_period)
    tiers = result["tiers"]
    click.echo("from \\ to".ljust(14) + "".join(t.rjust(13) for t in tiers) + "gone".rjust(10))
    for a in tiers:
        click.echo(
            a.ljust(14)
            + "".join(str(result["matrix"][a][b]).rjust(13) for b in tiers)
            + str(result["left"][a]).rjust(10)
        )
    click.echo("new".ljust(14) + "".join(str(result["joined"][b]).rjust(13) for b in tiers))
    click.echo(f"up {result['moved_up']}, down {result['moved_down']}, unchanged {result['unchanged']}")


@snapshots_cli.command("explain")
@click.argument("account")
@click.option("--period", default=None, help="Default: the newest period.")
def explain_command(account: str, period: str | None) -> None:
    """One account's tier and why (JSON), with its history."""
    from rewards.snapshots import services

    doc = _call(services.account_tier, account, period)
    doc["history"] = services.account_history(db.session, account)
    click.echo(json.dumps(doc, default=str, indent=2, ensure_ascii=False))


@snapshots_cli.command("export")
@click.option("--period", required=True)
@click.option(
    "--kind",
    type=click.Choice(["bills", "full"]),
    default="full",
    show_default=True,
    help="bills: account;Russian tier label; full: account;tier;points.",
)
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Default: standard output."
)
@click.option("--encoding", type=click.Choice(["utf-8", "cp1251"]), default="utf-8", show_default=True)
@click.option("--background", is_flag=True, help="Queue it as a job; the file is downloaded from the job's page.")
def export_command(period: str, kind: str, output: Path | None, encoding: str, background: bool) -> None:
    """Export the period's snapshot, in account order."""
    from rewards.snapshots import services

    if background:
        from rewards.jobs.start import start
        from rewards.snapshots import jobs

        try:
            snap = services.active_for(db.session, period)
            job = start(jobs.EXPORT, {"snapshot_id": snap.id, "kind": kind, "encoding": encoding},
                        title=f"{period} {kind} ({encoding})")
        except DomainError as exc:
            _fail(exc)
        click.echo(f"job {job.id} {job.state}: follow it with 'flask jobs show {job.id}' or on /jobs/{job.id}")
        return
    try:
        snap = services.active_for(db.session, period)
        services.record_export(db.session, snap, kind, current_actor())
        lines = services.export_lines(db.session, snap, kind)
        handle = output.open("w", encoding=encoding, newline="") if output else None
        out: Any = getattr(sys.stdout, "buffer", sys.stdout)
        try:
            if handle:  # to a file: a progress bar on stderr
                with click.progressbar(length=snap.row_count + 1, label="exporting", file=sys.stderr) as bar:
                    for line in lines:
                        handle.write(line)
                        bar.update(1)
            else:
                for line in lines:
                    out.write(line.encode(encoding))
        finally:
            if handle:
                handle.close()
    except DomainError as exc:
        _fail(exc)
    db.session.commit()
    if output:
        click.echo(f"wrote {snap.row_count} accounts to {output}", err=True)


def _snapshot_id(ref: str) -> int:
    """A snapshot named by its id (``12``) or its period (``2026-10``: the active one)."""
    from rewards.snapshots import services

    ref = ref.strip()
    if ref.isdigit():
        return services.get_snapshot(db.session, int(ref)).id
    return services.active_for(db.session, ref).id


def _what_if_rules(rules_file: Path | None, draft_id: int | None) -> tuple[bytes, str]:
    from rewards.snapshots import whatif

    if (rules_file is None) == (draft_id is None):
        raise click.UsageError("give either --rules FILE or --draft ID")
    if rules_file is not None:
        return rules_file.read_bytes(), rules_file.name
    draft = whatif.get_draft(db.session, int(draft_id or 0))
    return draft.content.encode("utf-8"), f"draft #{draft.id} {draft.name}"


@snapshots_cli.command("what-if")
@click.argument("snapshot")
@click.option("--rules", "rules_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The draft rules file (JSON).")
@click.option("--draft", "draft_id", type=int, default=None, help="A stored draft's id instead of --rules.")
@click.option("--changed", "changed_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the accounts whose tier changes to this CSV file.")
@click.option("--account", default=None, help="Explain one account under the old and the new rules instead.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole result as JSON.")
@click.option("--background", is_flag=True, help="Queue it as a job; the result is on the job's page.")
def what_if_command(snapshot: str, rules_file: Path | None, draft_id: int | None, changed_file: Path | None,
                    account: str | None, as_json: bool, background: bool) -> None:
    """What a draft's rules would do to a computed snapshot (SNAPSHOT: an id or a period); writes nothing."""
    from rewards.db import reset_read_only, set_read_only
    from rewards.snapshots import jobs, whatif

    try:
        snapshot_id = _snapshot_id(snapshot)
        data, label = _what_if_rules(rules_file, draft_id)
        if background:
            from rewards.jobs.start import start

            whatif.computed_snapshot(db.session, snapshot_id)
            whatif.validate_rules(data)
            job = start(jobs.WHAT_IF, {"snapshot_id": snapshot_id, "rules": data.decode("utf-8"), "label": label,
                                       "draft_id": draft_id}, title=f"#{snapshot_id}: {label}"[:200])
            click.echo(f"job {job.id} {job.state}: follow it with 'flask jobs show {job.id}' or on /jobs/{job.id}")
            return
        if account is not None:
            doc = whatif.explain_difference(db.session, snapshot_id, data, account)
            click.echo(json.dumps(doc, default=str, indent=2, ensure_ascii=False))
            return
        db.session.rollback()
        token = set_read_only(True)  # reads only: on SQLite no write lock for the whole pass
        handle = changed_file.open("w", encoding="utf-8", newline="") if changed_file else None
        try:
            if handle:
                handle.write(whatif.CHANGED_HEADER + "\n")

            def changed(acc: str, old: str, new: str, old_points: int | None, new_points: int) -> None:
                if handle:
                    handle.write(f"{acc};{old};{new};{'' if old_points is None else old_points};{new_points}\n")

            result = whatif.what_if(db.session, snapshot_id, data, changed=changed)
            db.session.rollback()
        finally:
            reset_read_only(token)
            if handle:
                handle.close()
    except DomainError as exc:
        _fail(exc)
    if as_json:
        click.echo(json.dumps(result, default=str, indent=2, ensure_ascii=False))
        return
    _print_what_if(result, label)


def _print_what_if(result: dict[str, Any], label: str) -> None:
    tiers = result["tiers"]
    click.echo(f"what-if {label} over snapshot #{result['snapshot']['id']} {result['period']} "
               f"(rated with {result['old_rules']['version']}): {result['accounts']} accounts")
    for change in result["changes"]:
        click.echo(f"  {change['field']}: {change['old']} -> {change['new']}")
    if result["missing_months"]:
        click.echo(f"  no facts for {', '.join(result['missing_months'])}: counted as months without data")
    click.echo("tier".ljust(14) + "before".rjust(10) + "after".rjust(10) + "change".rjust(10))
    for t in tiers:
        b, a = result["before"][t], result["after"][t]
        click.echo(t.ljust(14) + str(b).rjust(10) + str(a).rjust(10) + f"{a - b:+d}".rjust(10))
    click.echo("old \\ new".ljust(14) + "".join(t.rjust(13) for t in tiers))
    for a in tiers:
        click.echo(a.ljust(14) + "".join(str(result["matrix"][a][b]).rjust(13) for b in tiers))
    click.echo(f"up {result['moved_up']}, down {result['moved_down']}, unchanged {result['unchanged']}")
    for cost in result["costs"]:
        click.echo(f"{cost['source']}: {cost['item']}: {cost['measure']} {cost['before']} -> {cost['after']} "
                   f"({cost['after'] - cost['before']:+d})")


rules_cli = AppGroup("rules", help="Rating rules: drafts, published versions.")
snapshots_cli.add_command(rules_cli)


@rules_cli.command("publish")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--from", "effective_from", required=True, help="The first month (YYYY-MM) it rates.")
def publish_command(file: Path, effective_from: str) -> None:
    """Publish a rules file for computed snapshots of a month and the later ones."""
    from rewards.snapshots import whatif

    version = _call(whatif.publish_version, file.read_bytes(), effective_from=effective_from, actor=current_actor())
    db.session.commit()
    click.echo(f"published {version.version} ({version.sha256}) from {version.effective_from}")


@rules_cli.command("versions")
def versions_command() -> None:
    """The published rules versions, latest month first."""
    from rewards.snapshots import whatif

    for v in whatif.list_versions(db.session):
        click.echo(f"{v.effective_from}\t{v.version}\t{v.sha256}\t{v.published_by}\t{v.published_at:%Y-%m-%d %H:%M}")


@rules_cli.command("save-draft")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", required=True)
@click.option("--draft", "draft_id", type=int, default=None, help="Replace this draft's text.")
def save_draft_command(file: Path, name: str, draft_id: int | None) -> None:
    """Store a draft rules file (validated by field)."""
    from rewards.snapshots import whatif

    draft = _call(whatif.save_draft, file.read_bytes(), name=name, actor=current_actor(), draft_id=draft_id)
    db.session.commit()
    click.echo(f"draft #{draft.id} {draft.name}: {draft.version} {draft.sha256}")
