"""The staff dashboard: each feature contributes a panel."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, render_template

from rewards.policy import staff

bp = Blueprint("dashboard", __name__)

# Features append (template name, function returning its context) at import of their views.
PANELS: list[tuple[str, Callable[[], dict[str, Any]]]] = []


@bp.route("/")
@staff("dashboard.view")
def index() -> str:
    """Overview: tiers, draws, offers."""
    panels = [(template, build()) for template, build in PANELS]
    return render_template("dashboard.html", panels=panels)
