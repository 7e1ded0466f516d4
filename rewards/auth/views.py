"""Login, logout and one's own password."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from rewards.access import current_user
from rewards.auth import services
from rewards.auth.forms import LoginForm, PasswordForm
from rewards.db import db
from rewards.errors import DomainError
from rewards.forms import refuse
from rewards.policy import public, staff
from rewards.throttle import limit

bp = Blueprint("auth", __name__)

# Guessing passwords: a few tries a minute per address, and per user name from anywhere.
LOGIN_LIMIT_PER_ADDRESS = "20 per minute"
LOGIN_LIMIT_PER_USER = "10 per minute;50 per hour"


def _safe_next(target: str | None) -> str:
    # Only local paths: an attacker's absolute URL in ?next= must not turn login into a redirector.
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("dashboard.index")


def name_tag(name: str) -> str:
    """A keyed hash prefix of a typed user name, for the log and the rate limiter's key.

    Attempts on one name stay recognisable, but the name itself (perhaps a password typed into the
    wrong box) is never written; keyed with SECRET_KEY, so the log alone allows no dictionary guess.
    """
    key = current_app.config["SECRET_KEY"].encode("utf-8")
    return hmac.new(key, b"login-name:" + name.strip().lower()[:64].encode("utf-8"), hashlib.sha256).hexdigest()[:12]


def _login_name() -> str:
    return name_tag(request.form.get("username", ""))


@bp.route("/login", methods=["GET", "POST"])
@public
@limit(LOGIN_LIMIT_PER_ADDRESS, lambda: request.remote_addr or "unknown", scope="login-ip")
@limit(LOGIN_LIMIT_PER_USER, _login_name, scope="login-user")
def login() -> str | Response:
    """The login form."""
    form = LoginForm()
    if request.method == "POST":
        if not form.validate():
            return render_template("login.html", form=form), 422  # type: ignore[return-value]
        user = services.authenticate(
            db.session, form.username.data, form.password.data, method=current_app.config["PASSWORD_HASH_METHOD"],
        )
        if user is None:
            current_app.logger.warning("login refused for user name #%s", name_tag(form.username.data))
            db.session.rollback()
            flash(_("Wrong user name or password."), "error")  # about neither field: it must not say which
            return render_template("login.html", form=form), 401  # type: ignore[return-value]
        db.session.commit()
        lang = session.get("lang")
        session.clear()
        session.permanent = True
        session["uid"] = user.id
        session["sv"] = user.session_version
        if lang:
            session["lang"] = lang
        return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", form=form)


@bp.route("/logout", methods=["POST"])
@staff("account.self")
def logout() -> Response:
    """End every session of this user, on every device."""
    user = current_user()
    assert user is not None
    services.end_sessions(db.session, user, actor=user.username, reason="logout")
    db.session.commit()
    session.clear()
    flash(_("You have logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@staff("account.self")
def password() -> str | Response:
    """Change one's own password (every other session ends)."""
    user = current_user()
    assert user is not None
    form = PasswordForm()
    if request.method == "POST":
        if not form.validate():
            return render_template("password.html", form=form), 422  # type: ignore[return-value]
        method = current_app.config["PASSWORD_HASH_METHOD"]
        if services.authenticate(db.session, user.username, form.current.data, method=method) is None:
            form.current.errors.append(_("The current password is wrong."))
            return render_template("password.html", form=form), 400  # type: ignore[return-value]
        try:
            services.set_password(db.session, user.username, form.new.data, method=method, actor=user.username)
        except DomainError as exc:
            db.session.rollback()
            refuse(form, exc, {"password": "new"})
            return render_template("password.html", form=form), 422  # type: ignore[return-value]
        db.session.commit()
        session["sv"] = user.session_version
        flash(_("Password changed; your other sessions have ended."), "info")
        return redirect(url_for("dashboard.index"))
    return render_template("password.html", form=form)
