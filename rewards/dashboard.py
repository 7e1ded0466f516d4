"""The staff dashboard: each feature contributes a panel."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, current_app, render_template

from rewards.policy import staff

bp = Blueprint("dashboard", __name__)

Panel = tuple[str, Callable[[], dict[str, Any]]]  # (template name, function returning its context)
_PANELS_KEY = "rewards.panels"


def add_panel(app: Flask, template: str, build: Callable[[], dict[str, Any]]) -> None:
    """Add a feature's panel to the dashboard of ``app`` (panels show in feature order)."""
    app.extensions.setdefault(_PANELS_KEY, []).append((template, build))


@bp.route("/")
@staff("dashboard.view")
def index() -> str:
    """Overview: one panel per feature."""
    panels = [(template, build()) for template, build in current_app.extensions.get(_PANELS_KEY, ())]
    return render_template("dashboard.html", panels=panels)
