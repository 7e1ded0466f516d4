"""One card per customer: ``/accounts/<account>`` shows what every feature knows of one account.

The kernel knows no feature: each feature registers its *sections* (``Feature(card_sections=...)``,
or :func:`add_section`), in the order of the ``FEATURES`` setting. A section is ``(template, build)``:
``build(session, account)`` reads the feature's own services and returns the template's context
(the template reads ``section`` and ``account``), or None when the feature has nothing on the account.
An account no section knows is a 404 page.

The search box (in the header of every staff page) takes the number as people type it, with spaces
or dashes; :func:`account_link` links every account number on a staff page to its card.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup, escape
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from rewards.accounts import ACCOUNT_REGEX, normalize_account
from rewards.csvread import ACCOUNT_MAX_DIGITS
from rewards.policy import staff

ACTION = "accounts.view"
Section = tuple[str, Callable[[Session, str], "dict[str, Any] | None"]]  # (template, build(session, account))
_SECTIONS_KEY = "rewards.card_sections"
_ACCOUNT = re.compile(f"^{ACCOUNT_REGEX}$")

bp = Blueprint("accounts", __name__, url_prefix="/accounts")


def add_section(app: Flask, template: str, build: Callable[[Session, str], dict[str, Any] | None]) -> None:
    """Add a feature's section to the account card of ``app`` (sections show in feature order)."""
    app.extensions.setdefault(_SECTIONS_KEY, []).append((template, build))


def sections(app: Flask) -> list[Section]:
    """The card's sections registered on ``app``, in order."""
    return list(app.extensions.get(_SECTIONS_KEY, ()))


def typed_account(text: str) -> str | None:
    """An account number as typed (``74 0000 0000-07``) in its stored form, or None when it is not one."""
    compact = normalize_account(text)
    return compact if _ACCOUNT.match(compact) else None


def build_card(session: Session, app: Flask, account: str) -> tuple[list[tuple[str, dict[str, Any] | None]], bool]:
    """Every section's context for ``account``, and whether any feature knows the account."""
    built = [(template, build(session, account)) for template, build in sections(app)]
    return built, any(ctx is not None for _t, ctx in built)


@bp.route("/")
@staff(ACTION)
def search() -> Response | tuple[str, int]:
    """The search box's target: the card of the number typed (spaces and dashes allowed)."""
    typed = request.args.get("q", "")
    if not typed.strip():
        return render_template("accounts/search.html", q="", error=None), 200
    account = typed_account(typed)
    if account is None:
        error = _("An account number is 1 to %(n)s digits (spaces and dashes are ignored).", n=ACCOUNT_MAX_DIGITS)
        return render_template("accounts/search.html", q=typed, error=error), 400
    return redirect(url_for("accounts.card", account=account))


@bp.route("/<account:account>")
@staff(ACTION)
def card(account: str) -> tuple[str, int]:
    """The customer card: each feature's section in order; 404 when no feature knows the account."""
    from rewards.db import db

    built, known = build_card(db.session, current_app, account)
    return render_template("accounts/card.html", account=account, sections=built, known=known), (
        200 if known else 404
    )


def account_link(account: object) -> Markup:
    """An account number on a staff page: a link to its card for users who may see cards."""
    from rewards.access import current_user
    from rewards.policy import allowed

    text = str(account or "")
    user = current_user()
    if _ACCOUNT.match(text) and user is not None and allowed(user.role, ACTION):
        href = url_for("accounts.card", account=text)
        return Markup('<a class="account" href="{}"><code>{}</code></a>').format(href, text)
    return Markup("<code>{}</code>").format(escape(text))


def init_app(app: Flask) -> None:
    """Register the card's blueprint and the ``account_link`` filter."""
    app.register_blueprint(bp)
    app.add_template_filter(account_link, "account_link")
