"""Rating rules API: drafts, what-ifs over computed snapshots (as jobs), one account old vs new, versions."""

from __future__ import annotations

import json
from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from rewards.actor import current_actor
from rewards.db import db
from rewards.errors import N_, Conflict, NotFound
from rewards.jobs import services as jobs
from rewards.jobs.models import Job
from rewards.jobs.runner import output_dir
from rewards.jobs.start import answer, start
from rewards.policy import api
from rewards.snapshots import jobs as snapshot_jobs
from rewards.snapshots import schemas, whatif

rules_blp = Blueprint(
    "rules_api",
    __name__,
    url_prefix="/api/v1/rules",
    description="Rating rules: drafts, what-ifs over computed snapshots, versions published from a month",
)

SECURITY: list[dict[str, list[str]]] = [{"bearer": []}]


def _bytes(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, indent=2, ensure_ascii=False).encode("utf-8")


def _describe_version(v: Any) -> dict[str, Any]:
    return {"effective_from": v.effective_from, "version": v.version, "sha256": v.sha256,
            "published_by": v.published_by, "published_at": v.published_at}


@rules_blp.route("/drafts")
class Drafts(MethodView):
    @api("snapshots:read")
    @rules_blp.response(200, schemas.RulesDraftListSchema)
    @rules_blp.doc(security=SECURITY)
    def get(self) -> dict[str, Any]:
        """Drafts, most recently saved first."""
        return {"drafts": [whatif.describe_draft(d) for d in whatif.list_drafts(db.session)]}

    @api("rules:write")
    @rules_blp.arguments(schemas.RulesDraftInSchema)
    @rules_blp.response(201, schemas.RulesDraftSchema)
    @rules_blp.doc(security=SECURITY)
    def post(self, args: dict[str, Any]) -> dict[str, Any]:
        """Store a draft. Refused (422 `bad_rules`, `errors` keyed by the field, e.g.
        `rules.tiers.ideal.min_points`) for an unknown rule, a negative threshold, overlapping tiers or a
        tier nobody can reach."""
        draft = whatif.save_draft(db.session, _bytes(args["rules"]), name=args["name"], actor=current_actor())
        db.session.commit()
        return whatif.describe_draft(draft)


@rules_blp.route("/drafts/<int:draft_id>")
class DraftOne(MethodView):
    @api("snapshots:read")
    @rules_blp.response(200, schemas.RulesDraftSchema)
    @rules_blp.doc(security=SECURITY)
    def get(self, draft_id: int) -> dict[str, Any]:
        """One draft with its rules."""
        return whatif.describe_draft(whatif.get_draft(db.session, draft_id))

    @api("rules:write")
    @rules_blp.arguments(schemas.RulesDraftInSchema)
    @rules_blp.response(200, schemas.RulesDraftSchema)
    @rules_blp.doc(security=SECURITY)
    def put(self, args: dict[str, Any], draft_id: int) -> dict[str, Any]:
        """Replace a draft's name and rules (validated as for a new draft)."""
        draft = whatif.save_draft(db.session, _bytes(args["rules"]), name=args["name"], actor=current_actor(),
                                  draft_id=draft_id)
        db.session.commit()
        return whatif.describe_draft(draft)


def _finished(job_id: int) -> tuple[Job, dict[str, Any]]:
    job = db.session.get(Job, job_id) if 0 < job_id < 2**31 else None
    if job is None or job.kind != snapshot_jobs.WHAT_IF:
        raise NotFound(N_("no what-if #%(id)s"), code="no_what_if", id=job_id)
    if job.state != "done" or not job.result:
        refusal = jobs.refusal(job)
        if refusal is not None:
            raise refusal
        raise Conflict(N_("what-if #%(id)s has not finished; follow it at /api/v1/jobs/%(id)s"), code="not_finished",
                       id=job_id)
    return job, json.loads(job.result)


@rules_blp.route("/what-if")
class WhatIfs(MethodView):
    @api("rules:write")
    @rules_blp.arguments(schemas.RulesWhatIfInSchema)
    @rules_blp.response(200, schemas.RulesWhatIfSchema)
    @rules_blp.alt_response(202, description="Queued: `{job, url}`; follow the job at `GET /api/v1/jobs/<id>` "
                            "(scope `jobs:read`), then read the result at `GET /api/v1/rules/what-if/<id>`")
    @rules_blp.doc(security=SECURITY)
    def post(self, args: dict[str, Any]) -> Any:
        """Rate a computed snapshot's stored month facts with a draft (`draft_id`) or with `rules`, as a job that
        writes nothing but its result. An imported snapshot: 422 `needs_facts`."""
        snapshot = whatif.computed_snapshot(db.session, args["snapshot_id"])
        if "draft_id" in args:
            draft = whatif.get_draft(db.session, args["draft_id"])
            data, label, draft_id = draft.content.encode("utf-8"), draft.name, draft.id
        else:
            data, label, draft_id = _bytes(args["rules"]), "API", None
        rules = whatif.validate_rules(data)
        job = start(snapshot_jobs.WHAT_IF, {"snapshot_id": snapshot.id, "rules": data.decode("utf-8"),
                                            "label": label if draft_id else rules.version, "draft_id": draft_id},
                    title=f"{snapshot.period}: {label if draft_id else rules.version}"[:200])
        return answer(job, lambda done: _finished(done.id)[1])


@rules_blp.route("/what-if/<int:job_id>")
class WhatIfOne(MethodView):
    @api("snapshots:read")
    @rules_blp.response(200, schemas.RulesWhatIfSchema)
    @rules_blp.doc(security=SECURITY)
    def get(self, job_id: int) -> dict[str, Any]:
        """A finished what-if: counts before and after, the movement matrix, what it costs."""
        return _finished(job_id)[1]


@rules_blp.route("/what-if/<int:job_id>/changed")
class WhatIfChanged(MethodView):
    @api("snapshots:read")
    @rules_blp.arguments(schemas.RulesChangedArgsSchema, location="query")
    @rules_blp.response(200, schemas.RulesChangedListSchema)
    @rules_blp.doc(security=SECURITY)
    def get(self, args: dict[str, Any], job_id: int) -> dict[str, Any]:
        """The accounts whose tier changes, in account order (the first `limit` matching `q`); the whole list
        as CSV is the job's file (`GET /jobs/<id>/download`)."""
        job, _result = _finished(job_id)
        rows: list[dict[str, Any]] = []
        matched = 0
        for row in snapshot_jobs.changed_rows(output_dir(current_app, job.id), args["q"]):
            matched += 1
            if len(rows) < args["limit"]:
                rows.append(row)
        return {"matched": matched, "accounts": rows}


@rules_blp.route("/what-if/<int:job_id>/accounts/<account:account>")
class WhatIfAccount(MethodView):
    @api("snapshots:read")
    @rules_blp.arguments(schemas.RulesDifferenceArgsSchema, location="query")
    @rules_blp.response(200, schemas.RulesDifferenceSchema)
    @rules_blp.doc(security=SECURITY)
    def get(self, args: dict[str, Any], job_id: int, account: str) -> dict[str, Any]:
        """One account under the snapshot's rules and under the what-if's rules, each explained in words."""
        job, result = _finished(job_id)
        rules = json.loads(job.params)["rules"].encode("utf-8")
        return whatif.explain_difference(db.session, int(result["snapshot_id"]), rules, account, args["lang"])


@rules_blp.route("/versions")
class Versions(MethodView):
    @api("snapshots:read")
    @rules_blp.response(200, schemas.RulesVersionListSchema)
    @rules_blp.doc(security=SECURITY)
    def get(self) -> dict[str, Any]:
        """Published rules versions, latest month first."""
        return {"versions": [_describe_version(v) for v in whatif.list_versions(db.session)]}

    @api("rules:write")
    @rules_blp.arguments(schemas.RulesVersionInSchema)
    @rules_blp.response(201, schemas.RulesVersionSchema)
    @rules_blp.doc(security=SECURITY)
    def post(self, args: dict[str, Any]) -> dict[str, Any]:
        """Publish a draft (or `rules`) for computed snapshots of `effective_from` and later months. A month that
        already has a version: 409 `version_taken`. The event log records who, what and the file's hash."""
        if "draft_id" in args:
            data = whatif.get_draft(db.session, args["draft_id"]).content.encode("utf-8")
        else:
            data = _bytes(args["rules"])
        version = whatif.publish_version(db.session, data, effective_from=args["effective_from"],
                                         actor=current_actor())
        db.session.commit()
        return _describe_version(version)
