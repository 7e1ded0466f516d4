"""Translations: Russian by default, English selectable; one catalogue folder per package."""

from __future__ import annotations

import os

from flask import Flask, request, session
from flask_babel import Babel

LOCALES = ("ru", "en")
_PACKAGES = ("rewards", "draws", "partners")


def catalogue_folders(root: str) -> list[str]:
    """Every ``translations`` folder inside the packages (each feature keeps its own catalogue)."""
    found = []
    for pkg in _PACKAGES:
        for dirpath, dirnames, _files in os.walk(os.path.join(root, pkg)):
            dirnames[:] = [d for d in dirnames if d not in {"__pycache__", "templates", "static"}]
            if os.path.basename(dirpath) == "translations":
                found.append(dirpath)
                dirnames[:] = []
    return sorted(found)


def _select_locale() -> str:
    if request.path.startswith("/api/"):
        return "en"
    chosen = request.args.get("lang") or session.get("lang")
    if chosen in LOCALES:
        return chosen
    from flask import current_app

    return current_app.config["DEFAULT_LOCALE"]


def init_app(app: Flask, babel: Babel) -> None:
    """Point Babel at every package's ``translations`` folder; messages from all are merged."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(catalogue_folders(root))
    babel.init_app(app, locale_selector=_select_locale)

    @app.before_request
    def _remember_lang() -> None:
        if request.path.startswith("/api/"):  # before request.args: the API has no use for parsing them
            return
        lang = request.args.get("lang")
        if lang in LOCALES:
            session["lang"] = lang
