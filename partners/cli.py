"""``flask partners ...``: partners, their keys, offers, bulk issue with progress, export, reports.

``flask partners --help`` imports this module alone: each command imports the services and models it
uses when it runs (``rewards.lazycli``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from rewards.actor import current_actor
from rewards.cli import fail, run_service
from rewards.db import db, utcnow
from rewards.errors import DomainError

if TYPE_CHECKING:
    from partners.models import Offer, Partner

partners_cli = AppGroup("partners", help="Partners, offers and discount codes.")
T = TypeVar("T")


def _found(get: Callable[..., T], ref: Any) -> T:
    """What ``get(session, ref)`` finds, or its refusal printed and exit 1."""
    try:
        return get(db.session, ref)
    except DomainError as exc:
        fail(exc.message)


def _partner(ref: str) -> Partner:
    from partners.services import catalog

    return _found(catalog.get_partner, ref)


def _offer(offer_id: int) -> Offer:
    from partners.services import catalog

    return _found(catalog.get_offer, offer_id)


@partners_cli.command("create")
@click.argument("name")
@click.option("--prefix", required=True, help="2-6 symbols of 0-9 A-Z without I L O U, first a letter.")
def create(name: str, prefix: str) -> None:
    """Create a partner."""
    from partners.services import catalog

    partner = run_service(catalog.create_partner, name, prefix, actor=current_actor())
    click.echo(f"partner {partner.id} {partner.name} prefix {partner.prefix}")


@partners_cli.command("list")
def list_partners() -> None:
    """Partners with their prefixes, state and linked API clients."""
    from partners.models import Partner
    from rewards.apikeys.models import ApiClient

    for p in db.session.scalars(select(Partner).order_by(Partner.id)):
        names = [db.session.get(ApiClient, c.api_client_id).name for c in p.clients]  # type: ignore[union-attr]
        click.echo(f"{p.id}\t{p.prefix}\t{p.name}\t{'active' if p.active else 'suspended'}\t{','.join(names)}")


@partners_cli.command("link-client")
@click.argument("partner")
@click.argument("client")
@click.option("--sandbox", is_flag=True, help="a sandbox key: the partner's test codes only (TEST-...)")
def link_client(partner: str, client: str, sandbox: bool) -> None:
    """Let an API client (see 'flask keys create-client') act for PARTNER (id, prefix or name)."""
    from partners.services import catalog

    run_service(catalog.link_client, _partner(partner), client, actor=current_actor(), sandbox=sandbox)
    click.echo(f"{client} now acts for {partner}" + (" (sandbox: test codes only)" if sandbox else ""))


@partners_cli.command("test-codes")
@click.argument("offer_id", type=int)
@click.option("--count", type=int, default=10, show_default=True)
def test_codes(offer_id: int, count: int) -> None:
    """Issue test codes of an offer for the partner's sandbox key (printed TEST-...), one per line."""
    from partners.services import catalog
    from partners.services import issue as issue_svc

    offer = run_service(catalog.get_offer, offer_id)
    for code in run_service(issue_svc.issue_test_codes, offer, count, actor=current_actor()):
        click.echo(code)


@partners_cli.command("suspend")
@click.argument("partner")
def suspend(partner: str) -> None:
    """Suspend a partner: its keys get 403 on the partner API."""
    from partners.services import catalog

    run_service(catalog.set_partner_active, _partner(partner), False, actor=current_actor())
    click.echo(f"suspended {partner}")


@partners_cli.command("resume")
@click.argument("partner")
def resume(partner: str) -> None:
    """Resume a suspended partner."""
    from partners.services import catalog

    run_service(catalog.set_partner_active, _partner(partner), True, actor=current_actor())
    click.echo(f"resumed {partner}")


@partners_cli.command("offer-create")
@click.argument("partner")
@click.option("--title", required=True)
@click.option("--percent", type=int, help="Discount in percent (1-100).")
@click.option("--fixed-kopecks", type=int, help="Fixed discount in kopecks.")
@click.option("--tiers", required=True, help="Qualifying tiers, comma-separated (e.g. responsible,ideal).")
@click.option("--from", "first", required=True, help="First valid local date, YYYY-MM-DD.")
@click.option("--to", "last", required=True, help="Last valid local date, YYYY-MM-DD (inclusive).")
@click.option("--budget", type=int, default=None, help="Maximum number of codes.")
def offer_create(
    partner: str, title: str, percent: int | None, fixed_kopecks: int | None, tiers: str, first: str, last: str,
    budget: int | None,
) -> None:
    """Create an offer of PARTNER."""
    from partners import dates
    from partners.models import FIXED, PERCENT
    from partners.services import catalog

    if (percent is None) == (fixed_kopecks is None):
        fail("give exactly one of --percent and --fixed-kopecks")
    try:
        start, end = dates.validity(dates.parse_day(first), dates.parse_day(last), current_app.config["TIMEZONE"])
    except ValueError as exc:
        fail(f"dates: {exc}")
    try:
        offer = catalog.create_offer(
            db.session,
            _partner(partner),
            title=title,
            discount_kind=PERCENT if percent is not None else FIXED,
            discount_value=percent if percent is not None else fixed_kopecks,  # type: ignore[arg-type]
            tiers=tiers,
            valid_from=start,
            valid_to=end,
            budget=budget,
            actor=current_actor(),
        )
    except DomainError as exc:
        fail(exc.message)
    db.session.commit()
    click.echo(f"offer {offer.id}")


@partners_cli.command("offers")
@click.argument("partner", required=False)
def offers(partner: str | None) -> None:
    """Offers (of one partner, or all) with their issued counts."""
    from partners.models import Offer
    from partners.services import issue

    stmt = select(Offer).order_by(Offer.id)
    if partner:
        stmt = stmt.where(Offer.partner_id == _partner(partner).id)
    for o in db.session.scalars(stmt):
        state = "withdrawn" if o.withdrawn_at else ("ended" if o.valid_to <= utcnow() else "open")
        click.echo(
            f"{o.id}\t{o.partner.prefix}\t{o.title}\t{o.discount_kind}:{o.discount_value}\t{o.tiers}\t{state}\t"
            f"issued={issue.issued_count(db.session, o.id)}"
        )


@partners_cli.command("withdraw")
@click.argument("offer_id", type=int)
def withdraw(offer_id: int) -> None:
    """Withdraw an offer: its codes answer 'revoked'."""
    from partners.services import catalog

    run_service(catalog.withdraw_offer, _offer(offer_id), actor=current_actor())
    click.echo(f"withdrew offer {offer_id}")


@partners_cli.command("issue")
@click.argument("offer_id", type=int)
@click.option("--period", default=None, help="Snapshot period YYYY-MM (default: the latest snapshot).")
@click.option("--batch", type=int, default=None, help="Accounts per transaction (default: 50,000, the service's).")
def issue_cmd(offer_id: int, period: str | None, batch: int | None) -> None:
    """Issue a code to every qualifying account of a snapshot that has none (safe to re-run)."""
    from partners import snapshots
    from partners.models import IssueRun
    from partners.services import issue

    offer = _offer(offer_id)
    snap = snapshots.by_period(db.session, period) if period else snapshots.latest(db.session)
    if snap is None:
        fail(f"no snapshot {period or '(none loaded)'}")
    assert snap is not None
    try:
        run = issue.start_run(db.session, offer, snap, actor=current_actor())
    except DomainError as exc:
        fail(exc.message)
    db.session.commit()
    click.echo(f"run {run.id}: {run.planned} codes to issue from snapshot {snap.period}"
               + (f" ({run.skipped_budget} over the budget)" if run.skipped_budget else ""))
    run_id = run.id
    with click.progressbar(length=max(run.planned, 1), label="issuing", file=sys.stderr) as bar:
        done = 0

        def progress(r: IssueRun) -> None:
            nonlocal done
            bar.update(r.issued - done)
            done = r.issued

        try:
            run = issue.drive(db.session, run_id, commit=db.session.commit, progress=progress,
                              batch_size=issue.BATCH if batch is None else batch)
        except DomainError as exc:  # e.g. the offer was withdrawn meanwhile; the run is marked failed
            fail(f"run {run_id} stopped: {exc.message}")
    click.echo(f"run {run.id}: issued {run.issued}")


@partners_cli.command("export")
@click.argument("offer_id", type=int)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--background", is_flag=True, help="Queue it as a job; the file is downloaded from the job's page.")
def export(offer_id: int, out: Path | None, background: bool) -> None:
    """Write the offer's codes as CSV (account;tier;code;issued_at;state) for the mailing system."""
    from partners.services import issue

    offer = _offer(offer_id)
    if background:
        from partners import jobs as partner_jobs
        from rewards.jobs.start import start

        try:
            job = start(partner_jobs.EXPORT, {"offer_id": offer.id}, title=f"offer {offer.id} (codes)")
        except DomainError as exc:
            fail(exc.message)
        click.echo(f"job {job.id} {job.state}: follow it with 'flask jobs show {job.id}' or on /jobs/{job.id}")
        return
    if out is None:
        fail("give --out FILE (or --background)", 2)
    n = -1
    with out.open("w", encoding="utf-8", newline="") as fh, click.progressbar(
        length=max(issue.issued_count(db.session, offer.id), 1), label="exporting", file=sys.stderr
    ) as bar:
        for chunk in issue.export_lines(db.session, offer):
            fh.write(chunk)
            lines = chunk.count("\n")
            n += lines
            bar.update(lines)
    click.echo(f"wrote {n} codes to {out}")


@partners_cli.command("report")
@click.argument("offer_id", type=int)
def report(offer_id: int) -> None:
    """Issued, redeemed, rolled back: totals, by day and by tier (JSON)."""
    from partners.services import reports

    click.echo(
        json.dumps(reports.offer_report(db.session, _offer(offer_id), current_app.config["TIMEZONE"]), indent=2)
    )


@partners_cli.command("revoke-code")
@click.argument("code")
def revoke_code(code: str) -> None:
    """Revoke an issued, unredeemed code."""
    from partners.services import catalog

    try:
        catalog.revoke_code(db.session, code, actor=current_actor())
    except DomainError as exc:
        fail(exc.message)
    db.session.commit()
    click.echo("revoked")


@partners_cli.command("purge-idempotency")
def purge_idempotency() -> None:
    """Delete idempotency records older than their 24-hour retention (run daily)."""
    from partners.services import idempotency

    n = idempotency.purge(db.session, utcnow())
    db.session.commit()
    click.echo(f"deleted {n} idempotency records")
