"""The flags API: the call-centre look-up (``priority:read``) and staff changes (``flags:write``)."""

from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from rewards.actor import current_actor
from rewards.db import db
from rewards.errors import DomainError
from rewards.flags import core, services
from rewards.flags.schemas import (
    BulkResultSchema,
    ChangeSchema,
    FlagHistorySchema,
    PrioritySchema,
    RevokeSchema,
    SetFlagSchema,
)
from rewards.flags.shell import local_today
from rewards.policy import api

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


@blp.route("/accounts/<account:account>/priority")
class Priority(MethodView):
    @api("priority:read")
    @blp.response(200, PrioritySchema)
    @blp.doc(security=_SECURITY)
    def get(self, account: str) -> dict[str, Any]:
        """Whether the account has priority now, every active reason with its validity, and its tier.

        An account without flags answers ``priority: false`` (not 404): the call centre needs an
        answer for every caller.
        """
        return services.priority_now(db.engine, _account(account), today=local_today())


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
        return change.__dict__, 201 if change.status != "unchanged" else 200


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


@blp.route("/flags/bulk")
class BulkFlags(MethodView):
    @api("flags:write")
    @blp.response(200, BulkResultSchema)
    @blp.doc(
        security=_SECURITY,
        requestBody={"content": {"text/csv": {"schema": {"type": "string"}}}, "required": True},
    )
    def post(self) -> Any:
        """Apply a CSV file of flags (``account;reason;valid_from;valid_to;note;action``), all or nothing.

        Any bad line (format, reason, dates, an account not in the latest snapshot, a revocation of a
        flag that is not open) refuses the whole file: 422 with ``errors`` by line.
        """
        result = _commit_or_rollback(
            services.apply_bulk, request.get_data(cache=False), actor=current_actor(), today=local_today(),
            source_name="api"
        )
        return result.__dict__
