"""``flask draws ...``: every step of a draw from the command line, plus the statistics mode.

``flask draws --help`` imports this module alone: each command imports the services and models it uses
when it runs (``rewards.lazycli``).
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from flask.cli import AppGroup
from sqlalchemy import select

from rewards.actor import current_actor
from rewards.db import db
from rewards.cli import fail, run_service
from rewards.errors import DomainError

draws_cli = AppGroup("draws", help="Prize draws: create, announce, freeze, draw, publish, credits, records.")


def _run(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a draw service (commit, or print the refusal and exit 1); key store problems are refusals."""
    from draws.secretbox import SecretBoxError
    from draws.wiring import FetchRefused
    from rewards.signing.keystore import KeyStoreError

    return run_service(fn, *args, refusals=(KeyStoreError, SecretBoxError, FetchRefused), **kwargs)


def _write(data: Any, out: Path | None) -> None:
    text = json.dumps(data, ensure_ascii=False, indent=1)
    if out:
        out.write_text(text + "\n", encoding="utf-8")
        click.echo(f"wrote {out}")
    else:
        click.echo(text)


@draws_cli.command("create")
@click.argument("draft_file", type=click.File("r", encoding="utf-8"))
def create(draft_file: Any) -> None:
    """Create a draft from a JSON file (name, kind, tier_weights, prizes, reserves, freeze_at, entropy,
    snapshot_period, algorithm, exclusions)."""
    from draws import services, wiring

    try:
        data = json.load(draft_file)
        data["freeze_at"] = datetime.fromisoformat(data["freeze_at"])
        draft = services.DraftInput(**data)
    except (ValueError, KeyError, TypeError) as exc:
        fail(f"bad draft file: {exc}", 2)
    draw = _run(services.create_draft, draft, actor=current_actor(), chains=wiring.chains(), yearly_cap_kopecks=wiring.yearly_cap())
    click.echo(draw.public_id)


@draws_cli.command("exclusions")
@click.argument("draw_id")
@click.argument("accounts_file", type=click.File("r", encoding="utf-8"))
def exclusions(draw_id: str, accounts_file: Any) -> None:
    """Replace a draft's exclusion list (one account per line)."""
    from draws import services

    try:
        accounts = services.parse_exclusions(accounts_file.read())
    except DomainError as exc:
        fail(f"{exc.message} {json.dumps(exc.error_details(), ensure_ascii=False)}")
    count = _run(services.set_exclusions, draw_id, accounts, actor=current_actor())
    click.echo(f"{count} accounts excluded from {draw_id}")


@draws_cli.command("list")
def list_draws() -> None:
    """Draws, newest first."""
    from draws import services
    from signedjson import utc_timestamp

    for d in services.list_draws(db.session):
        click.echo(f"{d.public_id}\t{d.state}\t{d.kind}\t{utc_timestamp(d.freeze_at)}\t{d.name}")


@draws_cli.command("show")
@click.argument("draw_id")
def show(draw_id: str) -> None:
    """A draw's parameters and signed records."""
    from draws import services

    try:
        draw = services.get_draw(db.session, draw_id)
    except DomainError as exc:
        fail(exc.message)
    _write({"draw_id": draw.public_id, "state": draw.state, "records": services.envelopes(draw)}, None)


@draws_cli.command("announce")
@click.argument("draw_id")
def announce(draw_id: str) -> None:
    """Commit to a secret and publish the signed announcement."""
    from draws import services, wiring

    draw = _run(services.announce, draw_id, actor=current_actor(), signer=wiring.signer(), box=wiring.box(), chains=wiring.chains())
    click.echo(f"announced {draw.public_id}: commitment {draw.commitment}")
    click.echo(f"entropy source: {draw.entropy_source}")


def _background(kind: str, params: dict[str, Any], title: str) -> None:
    """Queue a job for a consumer and say where to follow it."""
    from rewards.jobs.cli import wait_and_report
    from rewards.jobs.start import start

    try:
        job = start(kind, params, title=title)
    except DomainError as exc:
        fail(exc.message)
    wait_and_report(job.id)


BACKGROUND = click.option("--background", is_flag=True, help="Queue it as a job for a consumer instead of running it here.")


@draws_cli.command("freeze")
@click.argument("draw_id")
@BACKGROUND
def freeze(draw_id: str, background: bool) -> None:
    """Compute and fix the entrant list (after the freeze time, before the entropy exists)."""
    from draws import jobs as draw_jobs
    from draws import services, wiring

    if background:
        _background(draw_jobs.FREEZE, draw_jobs.draw_params(draw_id), f"{draw_id} (freeze)")
        return
    draw = _run(services.freeze, draw_id, actor=current_actor(), signer=wiring.signer(), box=wiring.box(), timezone=wiring.timezone())
    click.echo(f"frozen {draw.public_id}: {draw.entrant_count} entrants")


@draws_cli.command("freeze-package")
@click.argument("draw_id")
@click.option("--out", type=click.Path(path_type=Path), help="Write to this file instead of standard output.")
def freeze_package(draw_id: str, out: Path | None) -> None:
    """What the witnesses cosign (give it to each: python -m draws.witness cosign FILE --key KEY)."""
    from draws import services, wiring

    try:
        package = services.freeze_package_of(services.get_draw(db.session, draw_id), wiring.signer().keyset())
    except DomainError as exc:
        fail(exc.message)
    _write(package, out)


@draws_cli.command("cosign")
@click.argument("draw_id")
@click.argument("cosignature_file", type=click.File("r", encoding="utf-8-sig"))
def cosign(draw_id: str, cosignature_file: Any) -> None:
    """Add a witness's cosignature of the freeze (the file python -m draws.witness cosign wrote)."""
    from draws import services

    try:
        envelope = json.load(cosignature_file)
    except ValueError as exc:
        fail(f"the cosignature file is not JSON: {exc}", 2)
    row = _run(services.add_cosignature, draw_id, envelope, actor=current_actor())
    quorum = services.quorum_status(db.session, services.get_draw(db.session, draw_id))
    click.echo(f"cosigned by {row.witness_name} at {row.cosigned_at:%Y-%m-%dT%H:%M:%SZ}: {len(quorum.counted)} of {quorum.quorum}")


@draws_cli.command("check-codes")
@click.argument("draw_id")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="The CSV file to write (account;check_code).")
def check_codes(draw_id: str, out: Path) -> None:
    """Every account's check code for a draw, for the bills (entrants and non-entrants alike)."""
    from draws import services, wiring

    try:
        draw = services.get_draw(db.session, draw_id)
        with out.open("w", encoding="utf-8", newline="") as handle:
            handle.writelines(services.check_code_lines(db.session, draw, wiring.box()))
    except DomainError as exc:
        fail(exc.message)
    click.echo(f"wrote {out}")


@draws_cli.command("draw")
@click.argument("draw_id")
@click.option("--entropy", "entropy_file", type=click.File("r"), help="JSON entropy value (drand round object).")
@click.option("--numbers", "numbers_file", type=click.File("r"), help="RFC 3797 public numbers, one source per line.")
@click.option("--fetch", is_flag=True, help="Fetch the announced drand round (needs DRAND_FETCH).")
@BACKGROUND
def draw_cmd(draw_id: str, entropy_file: Any, numbers_file: Any, fetch: bool, background: bool) -> None:
    """Enter (or fetch) the entropy, reveal the secret and select the winners. Runs once."""
    from draws import jobs as draw_jobs
    from draws import services, wiring
    from draws.rfc3797 import parse_public_numbers

    relay: dict[str, Any] | None = None
    if background:
        _draw_in_background(draw_id, entropy_file, numbers_file, fetch)
        return
    try:
        if numbers_file is not None:
            value: dict[str, Any] = {"type": "rfc3797", "sources": parse_public_numbers(numbers_file.read())}
        elif entropy_file is not None:
            value = json.load(entropy_file)
        elif fetch:
            source = json.loads(services.get_draw(db.session, draw_id).entropy_source)
            if source.get("type") != "drand":
                fail("--fetch works for drand sources only")
            value, relay = draw_jobs.fetched_round(db.session, draw_id)  # the stored round, else fetched
        else:
            fail("give --entropy FILE, --numbers FILE or --fetch", 2)
    except (ValueError, DomainError, wiring.FetchRefused) as exc:
        fail(str(getattr(exc, "message", exc)))
    draw = _run(services.run_draw, draw_id, value, actor=current_actor(), signer=wiring.signer(), box=wiring.box(), relay=relay)
    if draw.state == "cancelled":
        fail(f"not drawn: {draw.cancel_reason}; the draw was cancelled publicly")
    result = json.loads(draw.result_record)["payload"]
    for w in result["winners"]:
        click.echo(f"prize {w['prize_index']}\t{w['amount_kopecks']}\t{w['account_masked']}")
    for r in result["reserves"]:
        click.echo(f"reserve {r['reserve_index']}\t\t{r['account_masked']}")


def _draw_in_background(draw_id: str, entropy_file: Any, numbers_file: Any, fetch: bool) -> None:
    """``draws draw --background``: the entropy read here, the draw run (and the round fetched) by a consumer."""
    from draws import jobs as draw_jobs
    from draws.rfc3797 import parse_public_numbers

    try:
        if numbers_file is not None:
            more: dict[str, Any] = {"entropy": {"type": "rfc3797", "sources": parse_public_numbers(numbers_file.read())}}
        elif entropy_file is not None:
            more = {"entropy": json.load(entropy_file)}
            draw_jobs.check_value(more["entropy"])
        elif fetch:
            more = {"fetch": True}
        else:
            fail("give --entropy FILE, --numbers FILE or --fetch", 2)
    except (ValueError, DomainError) as exc:
        fail(str(getattr(exc, "message", exc)))
    _background(draw_jobs.RUN, draw_jobs.draw_params(draw_id, **more), f"{draw_id} (draw)")


@draws_cli.command("publish")
@click.argument("draw_id")
def publish(draw_id: str) -> None:
    """Publish the result; each prize becomes a pending credit order."""
    from draws import services, wiring

    draw = _run(services.publish, draw_id, actor=current_actor(), timezone=wiring.timezone())
    click.echo(f"published {draw.public_id}")


@draws_cli.command("cancel")
@click.argument("draw_id")
@click.option("--reason", required=True, help="Public reason.")
def cancel(draw_id: str, reason: str) -> None:
    """Cancel a draw that has not been drawn (publicly, once announced)."""
    from draws import services, wiring

    _run(services.cancel, draw_id, reason, actor=current_actor(), signer=wiring.signer())
    click.echo(f"cancelled {draw_id}")


@draws_cli.command("disqualify")
@click.argument("draw_id")
@click.argument("prize_index", type=int)
@click.option("--reason", required=True, help="Public reason.")
def disqualify(draw_id: str, prize_index: int, reason: str) -> None:
    """Disqualify the holder of a prize; it passes to the next reserve."""
    from draws import services, wiring

    record = _run(services.disqualify, draw_id, prize_index, reason, actor=current_actor(), signer=wiring.signer())
    click.echo(f"prize {prize_index} passed to {'a reserve' if record.replacement_account else 'nobody (no reserve left)'}")


def _partial(out: Path) -> Path:
    """Where a batch file waits, beside its target, until its batch is committed."""
    return out.with_name(out.name + ".partial")


def _write_durably(path: Path, content: str) -> None:
    """Write ``content`` to ``path`` and flush it to the disk (a kill or a power cut keeps it)."""
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(content)
        fh.flush()
        os.fsync(fh.fileno())


def _publish_file(partial: Path, out: Path) -> None:
    """Rename the finished file to its target in one step (readers see the whole file or none)."""
    os.replace(partial, out)
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable (POSIX)
        folder = os.open(out.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def _finish_interrupted(out: Path) -> bool:
    """Finish an export killed between its commit and the rename of its file; True if there was one.

    ``OUT.partial`` holding a committed batch (same digest and bytes) becomes ``OUT``; one whose batch
    was never committed is removed, and its credits are still pending.
    """
    from draws.models import CreditBatch

    partial = _partial(out)
    if not partial.exists():
        return False
    content = partial.read_text(encoding="utf-8")
    digest = hashlib.sha256(content.encode("utf-8")).hexdigest()
    batch = db.session.scalar(select(CreditBatch).where(CreditBatch.digest == digest))
    if batch is None or batch.content != content:
        partial.unlink()
        return False
    _publish_file(partial, out)
    click.echo(f"batch {batch.id}: finished its interrupted export, wrote {out}")
    return True


@draws_cli.command("export-credits")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the batch file here.")
@BACKGROUND
def export_credits(out: Path | None, background: bool) -> None:
    """Put every pending credit into a new batch for billing (exactly once); print the batch id.

    With --out the file is written (to OUT.partial, flushed to disk) before the batch is committed
    and renamed to OUT after: a committed batch always has its file. A run killed after the commit
    is finished by the next run; any batch can be written again with 'flask draws batch ID --out'.
    With --background a consumer exports, and the file is downloaded from the job's page.
    """
    from draws import jobs as draw_jobs
    from draws import services

    if background:
        if out:
            fail("--out and --background: the job writes the file on its page; use 'flask draws batch ID --out'", 2)
        _background(draw_jobs.CREDITS, {}, "credits")
        return
    if out and _finish_interrupted(out):
        return
    try:
        batch = services.export_credits(db.session, actor=current_actor())
    except DomainError as exc:
        fail(exc.message)
    if out:
        _write_durably(_partial(out), batch.content)
    db.session.commit()
    if out:
        _publish_file(_partial(out), out)
    click.echo(f"batch {batch.id}: {batch.count} credits, {batch.total_kopecks} kopecks, sha256 {batch.digest}")
    if not out:
        click.echo(f"write its file with: flask draws batch {batch.id} --out FILE")


@draws_cli.command("batch")
@click.argument("batch_id", type=int)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the batch file here.")
def batch(batch_id: int, out: Path | None) -> None:
    """Print (or write) a batch file again, byte-identical to the first download."""
    from draws import services

    try:
        content = services.get_batch(db.session, batch_id).content
    except DomainError as exc:
        fail(exc.message)
    if out:
        _write_durably(_partial(out), content)
        _publish_file(_partial(out), out)
        click.echo(f"wrote {out}")
    else:
        click.echo(content, nl=False)


@draws_cli.command("confirm")
@click.argument("confirmation_file", type=click.File("r", encoding="utf-8"))
def confirm(confirmation_file: Any) -> None:
    """Import billing's confirmation file: the credits are marked posted."""
    from draws import services

    summary = _run(services.import_confirmation, confirmation_file.read(), actor=current_actor())
    click.echo(f"posted {summary['posted']}, already posted {summary['already_posted']}")


@draws_cli.command("record")
@click.argument("draw_id")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path))
def record(draw_id: str, out: Path | None) -> None:
    """The public record (masked accounts, weights vector)."""
    from draws import services, wiring

    try:
        data = services.public_record_of(db.session, services.get_draw(db.session, draw_id), wiring.signer().keyset())
    except DomainError as exc:
        fail(exc.message)
    _write(data, out)


@draws_cli.command("bundle")
@click.argument("draw_id")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path))
def bundle(draw_id: str, out: Path | None) -> None:
    """The auditor bundle (full entrant list, salt key): personal data, handle accordingly."""
    from draws import services, wiring

    try:
        data = services.auditor_bundle_of(db.session, services.get_draw(db.session, draw_id), wiring.signer().keyset(), wiring.box())
    except DomainError as exc:
        fail(exc.message)
    _write(data, out)


@draws_cli.command("proof")
@click.argument("draw_id")
@click.argument("account")
def proof(draw_id: str, account: str) -> None:
    """One customer's inclusion proof."""
    from draws import services, wiring

    try:
        data = services.inclusion_proof(db.session, services.get_draw(db.session, draw_id), account, wiring.box())
    except DomainError as exc:
        fail(exc.message)
    _write(data, None)


@draws_cli.command("simulate")
@click.option("--weights", default="1,1,1,1,1,1,1,1,1,1", show_default=True, help="Comma-separated integer weights.")
@click.option("--picks", default=1, show_default=True, help="Selections per draw.")
@click.option("--runs", default=10_000, show_default=True, help="Number of seeded draws.")
@click.option("--seed", default="simulate", show_default=True, help="Base seed text.")
@click.option("--dump-stream", type=int, default=0, help="Also print this many raw stream blocks of run 0.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def simulate_cmd(weights: str, picks: int, runs: int, seed: str, dump_stream: int, as_json: bool) -> None:
    """Statistics mode: many seeded draws on a small pool, win counts and a chi-square test."""
    from draws.stats import simulate
    from draws.stream import first_blocks
    from signedjson import canonical_json

    try:
        values = [int(w) for w in weights.split(",") if w.strip()]
        report = simulate(values, picks, runs, seed.encode("utf-8"))
    except ValueError as exc:
        fail(str(exc), 2)
    if as_json:
        click.echo(canonical_json({
            "runs": report.runs, "picks": report.picks, "weights": list(report.weights), "wins": list(report.wins),
            "first_pick": list(report.first_pick), "chi2_milli": round(report.chi2 * 1000), "df": report.df,
            "p_value_ppm": round(report.p_value * 1_000_000), "rejections": report.rejections,
        }).decode())
    else:
        click.echo(report.as_table())
    if dump_stream:
        from draws.stats import run_seed

        for block in first_blocks(run_seed(seed.encode("utf-8"), 0), dump_stream):
            click.echo(block)
