"""``GET /api/v1/jobs/<id>``: a job a client started (an upload it made), with its progress and outcome."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint, abort

from rewards.actor import current_actor
from rewards.db import db
from rewards.errors import NotFound
from rewards.jobs import services, store
from rewards.policy import api

blp = Blueprint("jobs_api", __name__, url_prefix="/api/v1/jobs", description="Background jobs: progress and outcome")
SECURITY: list[dict[str, list[str]]] = [{"bearer": []}]


class ProgressSchema(ma.Schema):
    done = ma.fields.Integer(required=True)
    total = ma.fields.Integer(allow_none=True, required=True)
    percent = ma.fields.Integer(allow_none=True, required=True)


class JobErrorSchema(ma.Schema):
    code = ma.fields.String(required=True, metadata={"description": "e.g. invalid_file, period_taken, interrupted"})
    status = ma.fields.Integer(allow_none=True, required=True, metadata={"description": "the HTTP status it means"})
    message = ma.fields.String(allow_none=True, required=True)
    details = ma.fields.Raw(allow_none=True, required=True, metadata={"description": "e.g. per-line errors"})


class JobSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    kind = ma.fields.String(required=True)
    title = ma.fields.String(required=True)
    state = ma.fields.String(
        required=True, metadata={"enum": ["queued", "running", "done", "failed", "cancelled"]}
    )
    finished = ma.fields.Boolean(required=True)
    started_by = ma.fields.String(required=True)
    created_at = ma.fields.DateTime(required=True)
    started_at = ma.fields.DateTime(allow_none=True, required=True)
    finished_at = ma.fields.DateTime(allow_none=True, required=True)
    progress = ma.fields.Nested(ProgressSchema, required=True)
    result = ma.fields.Dict(allow_none=True, required=True, metadata={"description": "the job's answer when done"})
    error = ma.fields.Nested(JobErrorSchema, allow_none=True, required=True)


@blp.route("/<int:job_id>")
class JobView(MethodView):
    @api("jobs:read")
    @blp.response(200, JobSchema)
    @blp.doc(security=SECURITY)
    def get(self, job_id: int) -> dict[str, Any]:
        """A job this client started: its state, progress, and result or error (poll until `finished`)."""
        try:
            job = services.get_job(db.session, job_id)
        except NotFound:
            abort(404, message="no such job")
        if job.started_by != current_actor():  # a client sees its own jobs only
            abort(404, message="no such job")
        live = store.progress(current_app, job.id) if job.state == "running" else None
        return services.describe(job, live)
