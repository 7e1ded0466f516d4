"""Users and roles; API clients and their keys (created, shown once, revoked, rotated)."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import literal, select
from werkzeug.wrappers import Response

from rewards.actor import current_actor
from rewards.admin.forms import ClientForm, ClientRowForm, RevokeKeyForm, RoleForm, RotateForm, UserForm, UserRowForm
from rewards.apikeys import services as apikeys
from rewards.apikeys.models import ApiClient
from rewards.auth import services as users
from rewards.auth.models import ROLES, User
from rewards.db import db
from rewards.errors import DomainError
from rewards.forms import posted_action, refuse
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

def _create_user(form: UserForm) -> Response | tuple[str, int]:
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
    action = posted_action({"create": UserForm, "role": RoleForm, "disable": UserRowForm, "enable": UserRowForm})
    if action is None:
        return _users_page(status=422)
    form = action.form
    if isinstance(form, UserForm):
        return _create_user(form) if action.valid else _users_page(form, 422)
    try:
        if isinstance(form, RoleForm):
            users.set_role(db.session, form.username.data, form.role.data, actor=current_actor())
        else:
            users.set_active(db.session, form.username.data, action.op == "enable", actor=current_actor())
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

def _create_client(form: ClientForm) -> tuple[str, int]:
    try:
        _client, token = apikeys.create_client(db.session, form.name.data, list(form.scopes.data),
                                               actor=current_actor())
    except DomainError as exc:
        db.session.rollback()
        refuse(form, exc)
        return _clients_page(form, status=exc.status)
    db.session.commit()
    return _clients_page(token=token)


@bp.route("/clients", methods=["POST"])
@staff("admin.clients")
def client_change() -> tuple[str, int]:
    """Create a client, rotate its key, revoke it; a new token is shown once on the answer page."""
    action = posted_action({"create": ClientForm, "rotate": RotateForm, "revoke": ClientRowForm,
                            "revoke-key": RevokeKeyForm})
    if action is None:
        return _clients_page(status=422)
    form, token = action.form, None
    if isinstance(form, ClientForm):
        return _create_client(form) if action.valid else _clients_page(form, status=422)
    try:
        if isinstance(form, RotateForm):
            days = 7 if form.grace_days.data is None else form.grace_days.data
            token = apikeys.rotate_key(db.session, form.name.data, actor=current_actor(), grace=timedelta(days=days))
        elif isinstance(form, RevokeKeyForm):
            apikeys.revoke_key(db.session, form.key_id.number, actor=current_actor())
        else:
            apikeys.revoke_client(db.session, form.name.data, actor=current_actor())
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
