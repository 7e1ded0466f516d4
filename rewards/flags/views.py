"""Staff pages: find an account, see and change its flags with their full history; bulk upload; export."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import LazyString, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from werkzeug.wrappers import Response as WResponse

from rewards import policy
from rewards.access import current_user
from rewards.accounts import normalize_account
from rewards.actor import current_actor
from rewards.db import db, stream_reading
from rewards.errors import DomainError
from rewards.flags import core, services
from rewards.flags import needs as needs_core
from rewards.flags.forms import FlagForm, NeedsForm, RevokeForm
from rewards.flags.models import FlagClosure, PriorityFlag
from rewards.flags.shell import local_today, needs_settings
from rewards.forms import FileForm, refuse
from rewards.i18n import errors_by_line
from rewards.listing import Filter, listing
from rewards.policy import staff
from rewards.tiers import TIERS

bp = Blueprint("flags", __name__, url_prefix="/flags", template_folder="templates")

REASON_LABELS = {
    "pensioner": _l("pensioner"),
    "large_family": _l("large family"),
    "disability": _l("disability"),
    "hardship": _l("hardship"),
    "other": _l("other"),
    "needs": _l("register of needs"),
}
CHANNEL_LABELS = {"phone": _l("phone"), "office": _l("office"), "written": _l("in writing"), "online": _l("online")}
DUE_LABELS = {"ends": _l("ends"), "reverify": _l("to re-verify")}


def can(action: str) -> bool:
    """Whether the staff user of this request may do ``action`` (the nominee's data: ``flags.personal``)."""
    user = current_user()
    return user is not None and policy.allowed(user.role, action)


def _language() -> str:
    locale = get_locale()
    return locale.language if locale is not None else "ru"


@bp.app_template_global("need_label")
def need_label(code: str) -> str:
    """A need's label in the page's language (from the declared list)."""
    declared = needs_core.need_def(code)
    return declared.text("label", _language()) if declared else code


@bp.app_template_global("need_action")
def need_action(code: str) -> str:
    """What the call centre should do for a need, in the page's language."""
    declared = needs_core.need_def(code)
    return declared.text("action", _language()) if declared else ""
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


def _account_page(account: str | None, status: int = 200, form: FlagForm | None = None,
                  needs_form: NeedsForm | None = None) -> tuple[str, int]:
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
        "needs_form": needs_form or NeedsForm(formdata=None, account=account or ""),
        "register": None,
        "need_list": needs_core.current_list(),
        "channels": needs_core.CHANNELS,
        "channel_labels": CHANNEL_LABELS,
        "due_labels": DUE_LABELS,
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
        context["register"] = services.register_of(db.session, account, today=today, personal=can("flags.personal"),
                                                   due_days=needs_settings()["due_days"])
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


SOURCE_LABELS = {core.SOURCE_STAFF: _l("set by staff"), core.SOURCE_TIER: _l("from the tier")}


def _flag_state(query: Any, value: str) -> Any:
    today = local_today()
    closed = PriorityFlag.id.in_(select(FlagClosure.flag_id))
    if value == "closed":
        return query.where(closed)
    query = query.where(~closed)
    if value == "future":
        return query.where(PriorityFlag.valid_from > today)
    if value == "ended":
        return query.where(PriorityFlag.valid_to < today)
    return query.where(PriorityFlag.valid_from <= today,
                       or_(PriorityFlag.valid_to.is_(None), PriorityFlag.valid_to >= today))


def _list_filters() -> list[Filter]:
    reasons = [(r, REASON_LABELS[r]) for r in core.STAFF_REASONS]
    reasons += [(f"{core.TIER_PREFIX}{t}", LazyString(reason_label, f"{core.TIER_PREFIX}{t}")) for t in TIERS]
    return [
        Filter("account", _l("Account"), convert=lambda v: core.check_account(normalize_account(v)),
               apply=lambda q, v: q.where(PriorityFlag.account == v)),
        Filter("reason", _l("Reason"), "choice", choices=reasons, apply=lambda q, v: q.where(PriorityFlag.reason == v)),
        Filter("source", _l("Source"), "choice", choices=list(SOURCE_LABELS.items()),
               apply=lambda q, v: q.where(PriorityFlag.source == v)),
        Filter("state", _l("State"), "choice", choices=list(STATE_LABELS.items()), apply=_flag_state),
    ]


@bp.route("/list")
@staff("flags.view")
def flag_list() -> tuple[str, int]:
    """Every flag row, newest first: by account, reason, source and state, a page at a time."""
    query = (select(PriorityFlag, FlagClosure.kind).outerjoin(FlagClosure, FlagClosure.flag_id == PriorityFlag.id)
             .order_by(PriorityFlag.id.desc()))
    page = listing(db.session, query, _list_filters(), entities=False)
    today = local_today()
    return render_template("flags/list.html", rows=page.items, listing=page, today=today,
                           source_labels=SOURCE_LABELS, closed_labels=CLOSED_LABELS), page.status


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
    return _saved(change, {
        "created": _("Flag set."),
        "replaced": _("Flag changed: a new entry replaces the old one."),
        "unchanged": _("Nothing to change: the flag already has these values."),
    })


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


def _bulk_upload(template: str, context: dict[str, Any], apply: Callable[[bytes, str], Any]) -> tuple[str, int]:
    """Apply an uploaded file all or nothing with ``apply(data, filename)``: the page with the result, or
    with the report by line (nothing kept)."""
    context = {"errors": None, "result": None, **context}
    form = FileForm()
    if not form.validate():
        form.flash_errors()
        return render_template(template, **context), 422
    upload = form.file.data
    try:
        context["result"] = apply(upload.read(), upload.filename)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        context["errors"] = errors_by_line(exc.problems) if exc.problems else exc.error_details() or {}
        return render_template(template, **context), exc.status
    db.session.commit()
    return render_template(template, **context), 200


def _saved(change: Any, messages: dict[str, str]) -> WResponse:
    """Commit a form's save and say what it did (created, replaced or unchanged), back on the account."""
    db.session.commit()
    flash(messages[change.status], "info")
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
    return _bulk_upload("flags/bulk.html", {"reasons": core.STAFF_REASONS}, lambda data, name: services.apply_bulk(
        db.session, data, actor=current_actor(), today=local_today(), source_name=name))


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


@bp.route("/needs", methods=["POST"])
@staff("flags.manage")
def set_needs() -> WResponse | tuple[str, int]:
    """Record the account's register entry (needs after consent; nominee and password optional): every
    field checked, each refusal beside its field, the values kept (never the password)."""
    form = NeedsForm()
    account = form.account.data or None
    if not form.validate():
        return _account_page(account, 422, needs_form=form)
    try:
        requests = needs_core.requests_of(list(form.need.data or []), form.ends_on.data, form.verify_by.data)
        change = services.set_needs(
            db.session, form.account.data, requests, consent_on=form.consent_on.data,
            consent_channel=form.consent_channel.data or None, consent_by=form.consent_by.data or None,
            share=bool(form.share.data), nominee_name=form.nominee_name.data, nominee_phone=form.nominee_phone.data,
            password=form.password.data or None, note=form.note.data, actor=current_actor(), today=local_today(),
            reverify_years=needs_settings()["reverify_years"],
            password_method=current_app.config["PASSWORD_HASH_METHOD"],
        )
    except DomainError as exc:
        db.session.rollback()
        refuse(form, exc, aliases={"needs": "need"})
        return _account_page(account, exc.status, needs_form=form)
    return _saved(change, {
        "created": _("Register entry saved."),
        "replaced": _("Register entry changed: a new entry replaces the old one."),
        "unchanged": _("Nothing to change: the entry already has these values."),
    })


@bp.route("/due")
@staff("flags.view")
def due() -> str:
    """Needs that end or are to be re-verified within PRIORITY_NEEDS_DUE_DAYS (or already are)."""
    days = needs_settings()["due_days"]
    rows = services.due_needs(db.session, today=local_today(), within_days=days)
    return render_template("flags/due.html", rows=rows, days=days, due_labels=DUE_LABELS)


@bp.route("/needs/bulk")
@staff("flags.manage")
def needs_bulk_form() -> str:
    """The bulk upload form of register entries."""
    return render_template("flags/needs_bulk.html", errors=None, result=None, need_list=needs_core.current_list(),
                           channels=needs_core.CHANNELS)


@bp.route("/needs/bulk", methods=["POST"])
@staff("flags.manage")
def needs_bulk_upload() -> tuple[str, int]:
    """Apply an uploaded file of register entries all or nothing; on any problem, the report by line."""
    context = {"need_list": needs_core.current_list(), "channels": needs_core.CHANNELS}
    return _bulk_upload("flags/needs_bulk.html", context, lambda data, name: services.apply_needs_bulk(
        db.session, data, actor=current_actor(), today=local_today(),
        reverify_years=needs_settings()["reverify_years"], source_name=name,
    ))


@bp.route("/needs.csv")
@staff("flags.view")
def export_needs() -> Response:
    """The full current register for partner organisations; ``?consent=any`` adds the entries not to
    be shared; the nominee's columns only for roles with ``flags.personal``."""
    today = local_today()
    consent = request.args.get("consent", services.CONSENT_SHARED)
    if consent not in (services.CONSENT_SHARED, services.CONSENT_ANY):
        consent = services.CONSENT_SHARED
    chunks = services.export_needs_csv(db.session, today=today, consent=consent, personal=can("flags.personal"))
    return Response(
        stream_reading(chunks),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename=needs-{consent}-{today.isoformat()}.csv"},
    )
