"""One JSON error shape for every API error, an HTML page for page errors, a request id for both."""

from __future__ import annotations

import logging
import re
import secrets
import sqlite3
from typing import Any

import marshmallow as ma
from flask import Flask, g, render_template, request
from flask_babel import lazy_gettext as _l
from flask_smorest import Api as SmorestApi
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError

from rewards.errors import DomainError

log = logging.getLogger("rewards.errors")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class ErrorSchema(ma.Schema):
    """The error body of every API error."""

    code = ma.fields.Integer(required=True, metadata={"description": "HTTP status code"})
    status = ma.fields.String(required=True, metadata={"description": "HTTP status name, or a refusal reason"})
    message = ma.fields.String(required=True, metadata={"description": "What went wrong, for a person"})
    errors = ma.fields.Dict(required=True, metadata={"description": "Details by field or line"})
    request_id = ma.fields.String(required=True, metadata={"description": "Quote it when reporting a problem"})


def assign_request_id(ctx: Any, environ: dict[str, Any]) -> str:
    """The request id kept in ``ctx`` (the request's ``g``), made first when it has none: a sane
    X-Request-Id header of the request, else a new random one."""
    rid: str | None = ctx.get("request_id")
    if rid is None:
        incoming = environ.get("HTTP_X_REQUEST_ID", "")
        rid = ctx.request_id = incoming if _REQUEST_ID.match(incoming) else secrets.token_hex(16)
    return rid


def request_id() -> str:
    """This request's id (taken from a sane X-Request-Id header, else new)."""
    rid: str | None = g.get("request_id")
    return rid if rid is not None else assign_request_id(g, request.environ)


def error_body(code: int, status: str, message: str, errors: Any = None) -> dict[str, Any]:
    """The JSON error body."""
    return {"code": code, "status": status, "message": message, "errors": errors or {}, "request_id": request_id()}


def _is_api() -> bool:
    return request.path.startswith("/api/")


# Page errors speak the page's language: a title per status, and a message where werkzeug has only its
# English default description (a message of our own, e.g. a DomainError's, is shown as it is).
_TITLES = {
    400: _l("Bad request"),
    401: _l("Login required"),
    403: _l("Access denied"),
    404: _l("Page not found"),
    405: _l("Method not allowed"),
    409: _l("Conflict"),
    413: _l("File too large"),
    422: _l("Cannot do that"),
    429: _l("Too many requests"),
    500: _l("Internal error"),
    503: _l("Service unavailable"),
}
_MESSAGES = {
    400: _l("The request could not be understood. Go back, reload the page and try again."),
    401: _l("Log in to open this page."),
    403: _l("Your role has no rights to this page or action."),
    404: _l("There is no such page. Check the address or go back to the dashboard."),
    405: _l("This page does not accept that kind of request."),
    413: _l("The file is larger than the service accepts."),
    429: _l("Too many requests in a short time. Wait a little and try again."),
    500: _l("Something went wrong on our side. Quote the request id when you report it."),
    503: _l("The service is busy or under maintenance. Try again in a few minutes."),
}
_BUSY_MESSAGE = _l("The database is busy with another change. Try again in a few seconds.")
BUSY_RETRY_AFTER = 5  # seconds: a few writes' worth of waiting, not minutes
_CSRF_MESSAGE = _l("The form has expired or did not come from this site. Reload the page and send it again.")


def _page(code: int, title: str, message: str) -> tuple[str, int]:
    title = str(_TITLES.get(code, title))
    return render_template("error.html", code=code, title=title, message=message, request_id=request_id()), code


def _page_message(error: HTTPException, message: str) -> str:
    """The message of an error page: ours when werkzeug only offers its default English description."""
    if isinstance(error, CSRFError):
        return str(_CSRF_MESSAGE)
    code = error.code or 500
    if code in _MESSAGES and (
        isinstance(error, InternalServerError) or code == 429 or message == type(error).description or not message
    ):
        return str(_MESSAGES[code])
    return message


class Api(SmorestApi):
    """flask-smorest's Api with our error shape (documented in the OpenAPI output too)."""

    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: HTTPException) -> Any:
        """Turn any HTTPException into the error shape (JSON for the API, a page otherwise)."""
        code = error.code or 500
        if code >= 500 and isinstance(error, InternalServerError):
            original = getattr(error, "original_exception", None)
            if original is not None:
                log.error("unhandled error request_id=%s", request_id(), exc_info=original)
            message = "Internal error. Quote the request id when you report it."
        else:
            message = error.description or error.name
        data = getattr(error, "data", None) or {}
        errors = data.get("errors") or data.get("messages") or {}
        if "message" in data:
            message = data["message"]
        headers = dict(data.get("headers") or {})
        if error.response is not None and "Retry-After" in error.response.headers:
            headers["Retry-After"] = error.response.headers["Retry-After"]
        valid_methods = getattr(error, "valid_methods", None)  # a 405 names the methods the URL takes
        if valid_methods:
            headers["Allow"] = ", ".join(valid_methods)
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        if _is_api():
            # webargs nests body errors under the location ("json"); keep that so a client sees where.
            return error_body(code, error.name, message, errors), code, headers
        body, status = _page(code, error.name, _page_message(error, message))
        return body, status, headers


def _domain_error(error: DomainError) -> Any:
    if _is_api():
        return error_body(error.status, error.code, error.message, error.error_details()), error.status
    return _page(error.status, error.code, error.message)


def _pure_refusal(error: Exception) -> Any:
    """A refusal raised by a pure core (e.g. the draw engine): its message names the rule broken."""
    return _domain_error(DomainError.of(error))


def _unexpected(error: Exception) -> Any:
    if isinstance(error, HTTPException):
        raise error  # pragma: no cover - Flask routes these to the HTTPException handler
    log.error("unhandled error request_id=%s", request_id(), exc_info=error)
    if _is_api():
        return error_body(500, "Internal Server Error", "Internal error. Quote the request id when you report it."), 500
    return _page(500, "Internal Server Error", str(_MESSAGES[500]))


def _is_sqlite_busy(error: OperationalError) -> bool:
    """SQLite's writer lock stayed taken past the busy timeout (or a reader's snapshot could not upgrade)."""
    code = getattr(error.orig, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def _database_error(error: OperationalError) -> Any:
    """SQLite busy: 503 "busy, try again" in the page's language, with Retry-After; anything else is a 500."""
    if not _is_sqlite_busy(error):
        return _unexpected(error)
    from rewards.db import db

    db.session.rollback()
    log.warning("database busy request_id=%s: %s", request_id(), error.orig)
    headers = {"Retry-After": str(BUSY_RETRY_AFTER)}
    if _is_api():
        return error_body(503, "busy", str(_BUSY_MESSAGE)), 503, headers
    body, status = _page(503, "busy", str(_BUSY_MESSAGE))
    return body, status, headers


def init_app(app: Flask, api: Api) -> None:
    """Register the handlers on the app (blueprint handlers never see routing 404/405); the request id
    is assigned and sent back by the kernel's request hooks (``rewards.requesthooks``)."""
    app.register_error_handler(HTTPException, api.handle_http_exception)
    app.register_error_handler(DomainError, _domain_error)
    app.register_error_handler(OperationalError, _database_error)
    app.register_error_handler(Exception, _unexpected)


def register_refusal(app: Flask, *error_types: type[Exception]) -> None:
    """Answer a feature's own refusals (e.g. a pure core's errors, which cannot subclass
    ``DomainError``) as a ``DomainError`` with their message: 422 ``invalid``, JSON or a page.

    Flask picks a handler by the exception's class hierarchy, so these win over the catch-all.
    """
    for error_type in error_types:
        app.register_error_handler(error_type, _pure_refusal)
