"""The flags API: the call-centre look-up (``priority:read``) and staff changes (``flags:write``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response, current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint

from rewards import jsonanswer, livetraffic
from rewards.actor import current_actor
from rewards.db import db
from rewards.errors import DomainError
from rewards.flags import core, services
from rewards.flags import needs as needs_core
from rewards.flags.schemas import (
    BulkResultSchema,
    ChangeSchema,
    FlagHistorySchema,
    NeedListSchema,
    PasswordAnswerSchema,
    PasswordCheckSchema,
    PrioritySchema,
    RevokeSchema,
    SetFlagSchema,
    SetNeedsSchema,
)
from rewards.flags.shell import local_today, needs_settings
from rewards.policy import api
from rewards.throttle import limit

blp = Blueprint("flags_api", __name__, url_prefix="/api/v1", description="Priority-service flags")

_SECURITY: list[dict[str, list[str]]] = [{"bearer": []}]


def _account(account: str) -> str:
    try:
        return core.check_account(account)
    except core.FlagInputError as exc:
        raise services.FlagError.of(exc, field="account") from exc


def _commit_or_rollback(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        result = fn(db.session, *args, **kwargs)
    except DomainError:
        db.session.rollback()
        raise
    db.session.commit()
    return result


def _created_or_unchanged(change: Any) -> tuple[dict[str, Any], int]:
    """A set-or-replace answer: 201 when the service created or replaced a row, 200 when it changed nothing."""
    return change.__dict__, 201 if change.status != "unchanged" else 200


# The call centre's look-up answers its service's dict as JSON (rewards.jsonanswer) instead of through
# flask-smorest's response wrapper (the schema's dump cost more than the read); blp.doc documents
# PrioritySchema as that wrapper did (the OpenAPI document is unchanged; a test compares the answer
# with the schema's dump).
@blp.route("/accounts/<account:account>/priority")
class Priority(MethodView):
    @api("priority:read")
    @blp.doc(
        security=_SECURITY,
        responses={"200": {"description": "OK", "content": {"application/json": {"schema": PrioritySchema}}}},
    )
    def get(self, account: str) -> Response:
        """Whether the account has priority now, every active reason with its validity, and its tier.

        An account without flags answers ``priority: false`` (not 404): the call centre needs an
        answer for every caller.
        """
        livetraffic.note(current_app)  # a caller waits on the line: long jobs pause meanwhile (rewards.pacing)
        return jsonanswer.answer(services.priority_now(db.engine, _account(account), today=local_today()))


@blp.route("/accounts/<account:account>/flags")
class AccountFlags(MethodView):
    @api("priority:read")
    @blp.response(200, FlagHistorySchema)
    @blp.doc(security=_SECURITY)
    def get(self, account: str) -> dict[str, Any]:
        """Every flag the account ever had, newest first, with how each one ended."""
        acct = _account(account)
        today = local_today()
        rows = services.history(db.session, acct)
        for row in rows:
            row["state"] = services.state_of(row, today)
        return {"account": acct, "flags": rows}

    @api("flags:write")
    @blp.arguments(SetFlagSchema)
    @blp.response(200, ChangeSchema, description="unchanged: the same flag is already open")
    @blp.alt_response(201, schema=ChangeSchema, description="created or replaced", success=True)
    @blp.doc(security=_SECURITY)
    def post(self, data: dict[str, Any], account: str) -> Any:
        """Set a staff flag (pensioner, large_family, disability, hardship, other with a note).

        An open flag with the same reason and other dates or note is replaced by a new row (the
        answer says ``replaced``); the same values again change nothing (``unchanged``).
        """
        change = _commit_or_rollback(
            services.set_flag,
            _account(account),
            data["reason"],
            valid_from=data["valid_from"],
            valid_to=data["valid_to"],
            note=data["note"],
            actor=current_actor(),
            today=local_today(),
        )
        return _created_or_unchanged(change)


@blp.route("/flags/<int:flag_id>/revoke")
class RevokeFlag(MethodView):
    @api("flags:write")
    @blp.arguments(RevokeSchema)
    @blp.response(200, ChangeSchema)
    @blp.doc(security=_SECURITY)
    def post(self, data: dict[str, Any], flag_id: int) -> Any:
        """Close an open flag now, with a reason; ``409 already_closed`` when it is closed or has ended."""
        change = _commit_or_rollback(services.revoke_flag, flag_id, data["reason"], actor=current_actor(),
                                     today=local_today())
        return change.__dict__


_CSV_BODY = {"content": {"text/csv": {"schema": {"type": "string"}}}, "required": True}


def _apply_csv(apply: Callable[..., Any], **settings: Any) -> Any:
    """The request's CSV body applied by the bulk service ``apply``, all or nothing; its result as JSON."""
    result = _commit_or_rollback(apply, request.get_data(cache=False), actor=current_actor(), today=local_today(),
                                 source_name="api", **settings)
    return result.__dict__


@blp.route("/flags/bulk")
class BulkFlags(MethodView):
    @api("flags:write")
    @blp.response(200, BulkResultSchema)
    @blp.doc(security=_SECURITY, requestBody=_CSV_BODY)
    def post(self) -> Any:
        """Apply a CSV file of flags (``account;reason;valid_from;valid_to;note;action``), all or nothing.

        Any bad line (format, reason, dates, an account not in the latest snapshot, a revocation of a
        flag that is not open) refuses the whole file: 422 with ``errors`` by line.
        """
        return _apply_csv(services.apply_bulk)


@blp.route("/accounts/<account:account>/needs")
class AccountNeeds(MethodView):
    @api("flags:write")
    @blp.arguments(SetNeedsSchema)
    @blp.response(200, ChangeSchema, description="unchanged: the entry already has these values")
    @blp.alt_response(201, schema=ChangeSchema, description="created or replaced", success=True)
    @blp.doc(security=_SECURITY)
    def post(self, data: dict[str, Any], account: str) -> Any:
        """Record the account's register entry: needs (codes of ``GET /flags/needs``), consent, nominee,
        call-centre password (stored hashed, never returned).

        The consent (``consent_on``, ``consent_channel``) comes first; a temporary need needs its
        ``ends_on``. An open entry is replaced by a new one (kept in the history); without a new
        ``password`` the entry keeps its password.
        """
        requests = [needs_core.NeedRequest(n["code"], n["ends_on"], n["verify_by"]) for n in data["needs"]]
        change = _commit_or_rollback(
            services.set_needs, _account(account), requests, consent_on=data["consent_on"],
            consent_channel=data["consent_channel"], consent_by=data["consent_by"], share=data["share"],
            nominee_name=data["nominee_name"], nominee_phone=data["nominee_phone"], password=data["password"],
            note=data["note"], actor=current_actor(), today=local_today(),
            reverify_years=needs_settings()["reverify_years"],
            password_method=current_app.config["PASSWORD_HASH_METHOD"],
        )
        return _created_or_unchanged(change)


def _password_limit() -> str:
    return str(current_app.config["PRIORITY_PASSWORD_LIMIT"])


@blp.route("/accounts/<account:account>/priority/password")
class PasswordCheck(MethodView):
    @api("priority:read")
    @limit(_password_limit, lambda: str((request.view_args or {}).get("account", "")), scope="needs-password")
    @blp.arguments(PasswordCheckSchema)
    @blp.alt_response(429, description="Too many requests (see Retry-After)")
    @blp.response(200, PasswordAnswerSchema)
    @blp.doc(security=_SECURITY)
    def post(self, data: dict[str, Any], account: str) -> dict[str, bool]:
        """Whether the caller gave the account's call-centre password (``false`` when none is set)."""
        return {"match": services.check_password(db.session, _account(account), data["password"])}


@blp.route("/flags/needs")
class NeedList(MethodView):
    @api("priority:read")
    @blp.response(200, NeedListSchema)
    @blp.doc(security=_SECURITY)
    def get(self) -> dict[str, Any]:
        """The declared list of need codes in use (its version, and each need's texts in en and ru)."""
        current = needs_core.current_list()
        return {"version": current.version, "needs": [
            {"code": n.code, "temporary": n.temporary, "reverify": n.reverify, "label": n.label, "action": n.action}
            for n in current.needs.values()]}


@blp.route("/flags/needs/bulk")
class BulkNeeds(MethodView):
    @api("flags:write")
    @blp.response(200, BulkResultSchema)
    @blp.doc(security=_SECURITY, requestBody=_CSV_BODY)
    def post(self) -> Any:
        """Apply a CSV file of register entries (``account;needs;ends_on;verify_by;consent_on;consent_channel;
        consent_by;share;nominee_name;nominee_phone;note;action``), all or nothing: 422 with ``errors`` by line."""
        return _apply_csv(services.apply_needs_bulk, reverify_years=needs_settings()["reverify_years"])
