"""Staff pages: find an account, see and change its flags with their full history; bulk upload; export."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response as WResponse

from rewards.accounts import normalize_account
from rewards.actor import current_actor
from rewards.db import db, stream_reading
from rewards.errors import DomainError
from rewards.flags import core, services
from rewards.flags.forms import FlagForm, RevokeForm
from rewards.flags.shell import local_today
from rewards.forms import FileForm, refuse
from rewards.i18n import errors_by_line
from rewards.policy import staff

bp = Blueprint("flags", __name__, url_prefix="/flags", template_folder="templates")

REASON_LABELS = {
    "pensioner": _l("pensioner"),
    "large_family": _l("large family"),
    "disability": _l("disability"),
    "hardship": _l("hardship"),
    "other": _l("other"),
}
CLOSED_LABELS = {"revoked": _l("revoked"), "replaced": _l("replaced"), "recomputed": _l("recomputed")}
STATE_LABELS = {"active": _l("active"), "future": _l("not yet valid"), "ended": _l("ended"), "closed": _l("closed")}


def reason_label(reason: str) -> str:
    """A reason for people: staff reasons translated, ``tier:ideal`` as the tier's name."""
    if reason.startswith(core.TIER_PREFIX):
        from flask import current_app

        tier = reason[len(core.TIER_PREFIX) :]
        label = cast("Callable[[str], str]", current_app.jinja_env.globals["tier_label"])
        return _("tier: %(tier)s", tier=label(tier))
    return str(REASON_LABELS.get(reason, reason))


@bp.app_template_global("flag_reason_label")
def _flag_reason_label(reason: str) -> str:
    return reason_label(reason)


def _account_page(account: str | None, status: int = 200, form: FlagForm | None = None) -> tuple[str, int]:
    today = local_today()
    context: dict[str, Any] = {
        "account": account or "",
        "answer": None,
        "rows": [],
        "today": today,
        "reasons": core.STAFF_REASONS,
        "reason_labels": REASON_LABELS,
        "closed_labels": CLOSED_LABELS,
        "state_labels": STATE_LABELS,
        "form": form or FlagForm(formdata=None, account=account or ""),
    }
    if account:
        try:
            account = core.check_account(account)
        except core.FlagInputError as exc:
            flash(exc.message, "error")
            return render_template("flags/index.html", **context), 422 if status == 200 else status
        context["account"] = account
        if form is None:
            context["form"] = FlagForm(formdata=None, account=account)
        context["answer"] = services.priority_of(db.session, account, today=today)
        rows = services.history(db.session, account)
        for row in rows:
            row["state"] = services.state_of(row, today)
        context["rows"] = rows
    return render_template("flags/index.html", **context), status


@bp.route("/")
@staff("flags.view")
def index() -> tuple[str, int]:
    """Search an account; its priority now, its flags and their full history."""
    return _account_page(normalize_account(request.args.get("account")) or None)


@bp.route("/set", methods=["POST"])
@staff("flags.manage")
def set_flag() -> WResponse | tuple[str, int]:
    """Set (or change) a staff flag: every field checked at once, the values kept on a refusal."""
    form = FlagForm()
    account = form.account.data or None
    if not form.validate():
        return _account_page(account, 422, form=form)
    try:
        change = services.set_flag(
            db.session, form.account.data, form.reason.data, valid_from=form.valid_from.data,
            valid_to=form.valid_to.data, note=form.note.data or None, actor=current_actor(), today=local_today(),
        )
    except DomainError as exc:
        db.session.rollback()
        refuse(form, exc)
        return _account_page(account, exc.status, form=form)
    db.session.commit()
    messages = {
        "created": _("Flag set."),
        "replaced": _("Flag changed: a new entry replaces the old one."),
        "unchanged": _("Nothing to change: the flag already has these values."),
    }
    flash(messages[change.status], "info")
    return redirect(url_for("flags.index", account=change.account))


@bp.route("/revoke/<int:flag_id>", methods=["POST"])
@staff("flags.manage")
def revoke(flag_id: int) -> WResponse | tuple[str, int]:
    """Revoke a flag now, with a reason."""
    revoke_form = RevokeForm()
    account = revoke_form.account.data or ""
    if not revoke_form.validate():
        for _name, message in revoke_form.all_errors:
            flash(message, "error")
        return _account_page(account or None, 422)
    try:
        change = services.revoke_flag(db.session, flag_id, revoke_form.why.data, actor=current_actor(),
                                      today=local_today())
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return _account_page(account or None, exc.status)
    db.session.commit()
    flash(_("Flag revoked."), "info")
    return redirect(url_for("flags.index", account=change.account))


@bp.route("/bulk")
@staff("flags.manage")
def bulk_form() -> str:
    """The bulk upload form."""
    return render_template("flags/bulk.html", errors=None, result=None, reasons=core.STAFF_REASONS)


@bp.route("/bulk", methods=["POST"])
@staff("flags.manage")
def bulk_upload() -> tuple[str, int]:
    """Apply an uploaded CSV file all or nothing; on any problem, the report by line."""
    form = FileForm()
    if not form.validate():
        form.flash_errors()
        return render_template("flags/bulk.html", errors=None, result=None, reasons=core.STAFF_REASONS), 422
    upload = form.file.data
    try:
        result = services.apply_bulk(
            db.session, upload.read(), actor=current_actor(), today=local_today(), source_name=upload.filename
        )
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        errors = errors_by_line(exc.problems) if exc.problems else exc.error_details() or {}
        return render_template("flags/bulk.html", errors=errors, result=None, reasons=core.STAFF_REASONS), exc.status
    db.session.commit()
    return render_template("flags/bulk.html", errors=None, result=result, reasons=core.STAFF_REASONS), 200


@bp.route("/export.csv")
@staff("flags.view")
def export() -> Response:
    """Download every account with priority today: account;reasons;valid_to."""
    today = local_today()
    chunks = services.export_csv(db.session, today=today)
    return Response(
        stream_reading(chunks),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename=priority-{today.isoformat()}.csv"},
    )
