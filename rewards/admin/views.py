"""Users and roles; API clients and their keys (created, shown once, revoked, rotated)."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import literal, select
from werkzeug.wrappers import Response

from rewards.actor import current_actor
from rewards.admin.forms import ClientForm, UserForm
from rewards.apikeys import services as apikeys
from rewards.apikeys.models import ApiClient
from rewards.auth import services as users
from rewards.auth.models import ROLES, User
from rewards.db import db
from rewards.errors import N_, DomainError
from rewards.forms import refuse
from rewards.listing import Filter, listing, search
from rewards.policy import staff
from rewards.signing.keystore import KeyStore
from rewards.web import ROLE_LABELS

bp = Blueprint("admin", __name__, url_prefix="/admin")


ACTIVE_CHOICES = [("active", _l("active")), ("disabled", _l("disabled"))]


def _users_page(form: UserForm | None = None, status: int = 200) -> tuple[str, int]:
    filters = [
        search(User.username, label=_l("user name")),
        Filter("role", _l("Role"), "choice", choices=[(r, ROLE_LABELS.get(r, r)) for r in ROLES],
               apply=lambda q, v: q.where(User.role == v)),
        Filter("state", _l("State"), "choice", choices=ACTIVE_CHOICES,
               apply=lambda q, v: q.where(User.active.is_(v == "active"))),
    ]
    page = listing(db.session, select(User).order_by(User.username), filters)
    return (render_template("admin/users.html", users=page.items, roles=ROLES, listing=page,
                            form=form or UserForm(formdata=None)), max(status, page.status))


@bp.route("/users")
@staff("admin.users")
def user_list() -> tuple[str, int]:
    """Staff users: search, filters, pages."""
    return _users_page()

def _create_user() -> Response | tuple[str, int]:
    form = UserForm()
    if not form.validate():
        return _users_page(form, 422)
    try:
        users.create_user(db.session, form.username.data, form.password.data, form.role.data,
                          method=current_app.config["PASSWORD_HASH_METHOD"], actor=current_actor())
    except DomainError as exc:
        db.session.rollback()
        refuse(form, exc)
        return _users_page(form, exc.status)
    db.session.commit()
    flash(_("Saved."), "info")
    return redirect(url_for("admin.user_list"))


@bp.route("/users", methods=["POST"])
@staff("admin.users")
def user_change() -> Response | tuple[str, int]:
    """Create a user, change a role, disable or enable."""
    form = request.form
    op = form.get("op")
    if op == "create":
        return _create_user()
    try:
        if op == "role":
            users.set_role(db.session, form.get("username", ""), form.get("role", ""), actor=current_actor())
        elif op in {"disable", "enable"}:
            users.set_active(db.session, form.get("username", ""), op == "enable", actor=current_actor())
        else:
            raise DomainError(N_("unknown operation %(op)s"), code="unknown_operation", op=repr(op))
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return _users_page(status=exc.status)
    db.session.commit()
    flash(_("Saved."), "info")
    return redirect(url_for("admin.user_list"))


def _clients_page(form: ClientForm | None = None, token: str | None = None, status: int = 200) -> tuple[str, int]:
    filters = [
        search(ApiClient.name, label=_l("client name")),
        Filter("scope", _l("Scope"), "choice", choices=[(s, s) for s in sorted(apikeys.SCOPES)],
               apply=lambda q, v: q.where((literal(" ") + ApiClient.scopes + literal(" ")).contains(f" {v} "))),
        Filter("state", _l("State"), "choice", choices=ACTIVE_CHOICES,
               apply=lambda q, v: q.where(ApiClient.active.is_(v == "active"))),
    ]
    page = listing(db.session, select(ApiClient).order_by(ApiClient.name), filters)
    return render_template("admin/clients.html", clients=page.items, scopes=apikeys.SCOPES, token=token,
                           listing=page, form=form or ClientForm(formdata=None)), max(status, page.status)


@bp.route("/clients")
@staff("admin.clients")
def client_list() -> tuple[str, int]:
    """API clients, their keys and scopes: search, filters, pages."""
    return _clients_page()

def _create_client() -> tuple[str, int]:
    form = ClientForm()
    if not form.validate():
        return _clients_page(form, status=422)
    try:
        _client, token = apikeys.create_client(db.session, form.name.data, list(form.scopes.data),
                                               actor=current_actor())
    except DomainError as exc:
        db.session.rollback()
        refuse(form, exc)
        return _clients_page(form, status=exc.status)
    db.session.commit()
    return _clients_page(token=token)


def _whole_number(text: str, field: str, *, default: int | None, maximum: int) -> int:
    """A form field as a whole number 0..maximum (``default`` when empty), else a refusal naming it."""
    text = text.strip()
    if not text and default is not None:
        return default
    if not text.isascii() or not text.isdigit() or len(text) > 10 or int(text) > maximum:
        raise DomainError(N_("%(name)s must be a whole number from 0 to %(maximum)s."), field=field, code="bad_number",
                          maximum=maximum, name=field)
    return int(text)


@bp.route("/clients", methods=["POST"])
@staff("admin.clients")
def client_change() -> tuple[str, int]:
    """Create a client, rotate its key, revoke it; a new token is shown once on the answer page."""
    form = request.form
    op = form.get("op")
    token = None
    if op == "create":
        return _create_client()
    try:
        if op == "rotate":
            days = _whole_number(form.get("grace_days", ""), "grace_days", default=7, maximum=apikeys.MAX_GRACE_DAYS)
            token = apikeys.rotate_key(db.session, form.get("name", ""), actor=current_actor(),
                                       grace=timedelta(days=days))
        elif op == "revoke":
            apikeys.revoke_client(db.session, form.get("name", ""), actor=current_actor())
        elif op == "revoke-key":
            key_id = _whole_number(form.get("key_id", ""), "key_id", default=None, maximum=2**31 - 1)
            apikeys.revoke_key(db.session, key_id, actor=current_actor())
        else:
            raise DomainError(N_("unknown operation %(op)s"), code="unknown_operation", op=repr(op))
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return _clients_page(status=exc.status)
    db.session.commit()
    if token is None:
        flash(_("Saved."), "info")
    return _clients_page(token=token)


@bp.route("/keys")
@staff("audit.view")
def signing_keys() -> str:
    """The signing key set."""
    return render_template("admin/keys.html", keyset=KeyStore(current_app.config["KEYS_DIR"]).keyset())
