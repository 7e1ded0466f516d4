"""Structured logs: one line per request, and every log record as one JSON object when ``LOG_FORMAT`` is json.

The request line (logger ``rewards.request``, level INFO) holds the request id (also sent back in
``X-Request-Id``), the method, the endpoint, the path without its query string (query strings can
carry tokens), the status, the duration in milliseconds, the client's address (the real client's
behind a trusted proxy) and who called: the staff user's id or the API key's id and client id.
Never a secret: no header, cookie, body or query value is logged.

With ``LOG_FORMAT = "json"`` (the default) the handlers ``logging.basicConfig`` installed write each
record as one JSON object: ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``, the
``request_id`` when the record was made inside a request, the request line's fields, and ``exc``
with the traceback when there is one.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Request, g, has_request_context
from werkzeug.wrappers import Response

log = logging.getLogger("rewards.request")


class JsonFormatter(logging.Formatter):
    """A log record as one line of JSON."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id is None and has_request_context():  # a record made inside a request, in its thread
            request_id = g.get("request_id")
        if request_id:
            out["request_id"] = request_id
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            out.update(fields)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def request_fields(req: Request, ctx: Any, response: Response) -> dict[str, Any]:
    """The fields of this request's log line (no secret, no query string)."""
    began = ctx.get("_ops_started")
    caller, user = getattr(ctx, "caller", None), getattr(ctx, "user", None)
    fields: dict[str, Any] = {
        "request_id": getattr(ctx, "request_id", None),
        "method": req.method,
        "endpoint": req.endpoint or "unmatched",
        "path": req.path,
        "status": response.status_code,
        "duration_ms": round((time.perf_counter() - began) * 1000, 3) if began is not None else None,
        "remote_addr": req.remote_addr,
    }
    if caller is not None:
        fields["key_id"] = caller.key_id
        fields["client_id"] = caller.client_id
    if user is not None:
        fields["user_id"] = user.id
    return fields


def log_request(req: Request, ctx: Any, response: Response) -> None:
    """Log this request's line (the kernel's after-request hook calls this with the request and its ``g``)."""
    if log.isEnabledFor(logging.INFO):
        fields = request_fields(req, ctx, response)
        log.info("%s %s %s %sms", fields["method"], fields["path"], fields["status"], fields["duration_ms"],
                 extra={"fields": fields, "request_id": fields["request_id"]})


def _use_json(root: logging.Logger) -> None:
    """Format the plain stream handlers (those ``basicConfig`` made) as JSON; other handlers keep theirs."""
    for handler in root.handlers:
        if type(handler) is logging.StreamHandler and not isinstance(handler.formatter, JsonFormatter):
            handler.setFormatter(JsonFormatter())


def init_app(app: Flask) -> None:
    """JSON records when ``LOG_FORMAT`` is json (the line of every request is written by
    :func:`log_request`, called by the kernel's after-request hook)."""
    if app.config["LOG_FORMAT"] == "json":
        _use_json(logging.getLogger())
