"""Snapshots API: billing loads and computes snapshots; the cabinet reads an account's tier and why."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint

from rewards.actor import current_actor
from rewards.db import db, stream_reading, writing
from rewards.jobs.models import Job
from rewards.jobs.start import answer, save_upload, start
from rewards.policy import api
from rewards.snapshots import jobs as snapshot_jobs
from rewards.snapshots import schemas, services

blp = Blueprint(
    "snapshots_api",
    __name__,
    url_prefix="/api/v1/snapshots",
    description="Monthly tier snapshots: load, compute, compare, export",
)
accounts_blp = Blueprint(
    "accounts_api",
    __name__,
    url_prefix="/api/v1/accounts",
    description="An account's tier and its explanation (personal cabinet)",
)

SECURITY: list[dict[str, list[str]]] = [{"bearer": []}]
CSV_BODY = {
    "required": True,
    "description": "The snapshot file, streamed: CSV (UTF-8 or Windows-1251; `account;tier;points`, or "
    "`Лицевой счет;Рейтинг;Баллы`) or JSON lines (`format=jsonl`). See docs/snapshots.md.",
    "content": {
        "text/csv": {"schema": {"type": "string", "format": "binary"}},
        "application/x-ndjson": {"schema": {"type": "string", "format": "binary"}},
    },
}
BEHAVIOUR_BODY = {
    "required": True,
    "description": "One or more behaviour CSV files (each sorted by account), and optionally a rules file.",
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {
                    "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
                    "rules": {"type": "string", "format": "binary"},
                },
                "required": ["files"],
            }
        }
    },
}
TEXT_CSV = {"text/csv": {"schema": {"type": "string"}}}


@blp.route("")
class Snapshots(MethodView):
    @api("snapshots:read")
    @blp.response(200, schemas.SnapshotListSchema)
    @blp.doc(security=SECURITY)
    def get(self) -> dict[str, Any]:
        """Every snapshot, newest period first (superseded ones included)."""
        return {"snapshots": [services.describe(s) for s in services.list_snapshots(db.session)]}

    @api("snapshots:write")
    @blp.arguments(schemas.ImportArgsSchema, location="query")
    @blp.response(201, schemas.ImportResultSchema)
    @blp.alt_response(202, description="Stored and queued: `{job, url}`; follow the job at `GET /api/v1/jobs/<id>` "
                      "(scope `jobs:read`) until `finished`")
    @blp.doc(security=SECURITY, requestBody=CSV_BODY)
    def post(self, args: dict[str, Any]) -> dict[str, Any]:
        """Load a snapshot file for a period: all or nothing, as a background job.

        The body is the file itself, stored as it streams in; the answer is 202 with the job (the
        outcome below is then the job's `error`), or the outcome at once if the job already finished. A file
        with any problem loads nothing: 422 with
        `errors` = `{total, by_kind, shown: [{line, kind, message}]}` (the first 100). A period that
        already has a snapshot: 409 `period_taken` unless `replace=true` (the old one is kept, superseded).
        A period after the current local month: 422 `future_period` unless `future=true`.
        """
        services.check_not_future(args["period"], args["future"])
        stored = save_upload(request.stream, args["filename"])
        params = {"file": stored, "name": args["filename"], "period": args["period"], "format": args["format"],
                  "replace": args["replace"], "future": args["future"]}
        return answer(start(snapshot_jobs.IMPORT, params, title=f"{args['period']} ({args['filename']})"), _imported)


def _imported(job: Job) -> dict[str, Any]:
    """A finished import or compute job's snapshot (and the one it replaced)."""
    result = json.loads(job.result or "{}")
    snapshot = services.get_snapshot(db.session, result["snapshot_id"])
    return {"snapshot": services.describe(snapshot), "replaced": result.get("replaced")}


@blp.route("/compute")
class Compute(MethodView):
    @api("snapshots:write")
    @blp.arguments(schemas.ComputeArgsSchema, location="query")
    @blp.response(201, schemas.ImportResultSchema)
    @blp.alt_response(202, description="Stored and queued: `{job, url}`; follow the job at `GET /api/v1/jobs/<id>`")
    @blp.doc(security=SECURITY, requestBody=BEHAVIOUR_BODY)
    def post(self, args: dict[str, Any]) -> dict[str, Any]:
        """Compute a period's snapshot from behaviour files (multipart `files`, optional `rules`)."""
        services.check_not_future(args["period"], args["future"])
        files = [f for f in request.files.getlist("files") if f]
        rules = request.files.get("rules")
        params = {
            "files": [[save_upload(f.stream, f.filename or f"file{i + 1}.csv"), f.filename or f"file{i + 1}.csv"]
                      for i, f in enumerate(files)],
            "rules": save_upload(rules.stream, rules.filename or "rules.json") if rules else None,
            "period": args["period"],
            "replace": args["replace"],
            "future": args["future"],
        }
        return answer(start(snapshot_jobs.COMPUTE, params, title=f"{args['period']} (compute)"), _imported)


@blp.route("/compare")
class Compare(MethodView):
    @api("snapshots:read")
    @blp.arguments(schemas.CompareArgsSchema, location="query")
    @blp.response(200, schemas.CompareSchema)
    @blp.doc(security=SECURITY)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Tier transition matrix and per-tier counts between two periods' active snapshots."""
        return services.compare(db.session, args["from_period"], args["to_period"])


@blp.route("/<int:snapshot_id>")
class SnapshotOne(MethodView):
    @api("snapshots:read")
    @blp.response(200, schemas.SnapshotSchema)
    @blp.doc(security=SECURITY)
    def get(self, snapshot_id: int) -> dict[str, Any]:
        """A snapshot's provenance."""
        return services.describe(services.get_snapshot(db.session, snapshot_id))


@blp.route("/<int:snapshot_id>/export")
class Export(MethodView):
    @api("snapshots:read")
    @blp.arguments(schemas.ExportArgsSchema, location="query")
    @blp.response(
        200,
        content_type="text/csv",
        description="The export, in account order",
        example="account;tier;points\n0012345;ideal;41\n",
    )
    @blp.doc(security=SECURITY, responses={"200": {"content": TEXT_CSV}})
    def get(self, args: dict[str, Any], snapshot_id: int) -> Response:
        """`kind=full`: `account;tier;points` (the digest is recomputable from it); `kind=bills`:
        `account;Russian tier label` for printing on bills. Streamed."""
        with writing():  # the export's event in a short writing transaction; the rows stream in a reading one
            snapshot = services.get_snapshot(db.session, snapshot_id)
            services.record_export(db.session, snapshot, args["kind"], current_actor())
            db.session.commit()
        encoding = args["encoding"]
        lines = services.export_lines(db.session, snapshot, args["kind"])
        name = f"snapshot-{snapshot.period}-{args['kind']}.csv"
        return Response(
            stream_reading(line.encode(encoding) for line in lines),
            mimetype="text/csv",
            headers={
                "Content-Disposition": f"attachment; filename={name}",
                "Content-Type": f"text/csv; charset={encoding}",
            },
        )


@accounts_blp.route("/<account:account>/tier")
class AccountTier(MethodView):
    @api("cabinet:read")
    @accounts_blp.arguments(schemas.TierArgsSchema, location="query")
    @accounts_blp.response(200, schemas.AccountTierSchema)
    @accounts_blp.doc(security=SECURITY)
    def get(self, args: dict[str, Any], account: str) -> dict[str, Any]:
        """The account's tier in the period (default: the newest), the rules version, every criterion
        month by month (met or not, and why), what would reach the next tier, and its tier history."""
        doc = services.account_tier(db.session, account, args.get("period"), args["lang"])
        doc["history"] = services.account_history(db.session, account.strip())
        return doc
