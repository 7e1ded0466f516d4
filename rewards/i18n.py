"""Translations: Russian by default, English selectable; one catalogue folder per package."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask, Request, has_request_context, request, session
from flask_babel import Babel, gettext

LOCALES = ("ru", "en")


def catalogue_folders(package_folders: list[str]) -> list[str]:
    """Every ``translations`` folder inside the given package folders (each feature keeps its own)."""
    found = set()
    for folder in package_folders:
        for dirpath, dirnames, _files in os.walk(folder):
            dirnames[:] = [d for d in dirnames if d not in {"__pycache__", "templates", "static"}]
            if os.path.basename(dirpath) == "translations":
                found.add(dirpath)
                dirnames[:] = []
    return sorted(found)


def label_of(labels: Mapping[str, Any]) -> Callable[[str], str]:
    """A code's label for templates (lazy texts, said in the page's language); an undeclared code as it is."""

    def label(code: str) -> str:
        return str(labels.get(code, code))

    return label


def _select_locale() -> str:
    if not has_request_context() or request.path.startswith("/api/"):  # CLI and jobs write English
        return "en"
    chosen = request.args.get("lang") or session.get("lang")
    if chosen in LOCALES:
        return chosen
    from flask import current_app

    return current_app.config["DEFAULT_LOCALE"]


def init_app(app: Flask, feature_folders: list[str]) -> None:
    """Point Babel at the kernel's ``translations`` folder and those inside each feature's package
    folder; messages from all are merged.

    Each app gets its own ``Babel``: Flask-Babel caches the merged catalogue in the extension
    object, and two apps with different features (tests build many) must not share one.
    """
    kernel = os.path.join(os.path.dirname(os.path.abspath(__file__)), "translations")
    folders = sorted({kernel, *catalogue_folders(feature_folders)})
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(folders)
    Babel(app, locale_selector=_select_locale)


def init_web(app: Flask) -> None:
    """What pages need besides the catalogues: ``row_message`` in templates (``?lang=`` is remembered by
    the kernel's request hook, :func:`remember_lang`)."""
    app.add_template_global(row_message)


def remember_lang(req: Request) -> None:
    """Keep a page's ``?lang=`` in the session (pages only: the API has no use for parsing its query)."""
    lang = req.args.get("lang")
    if lang in LOCALES:
        session["lang"] = lang


def render(template: str, params: dict[str, Any]) -> str:
    """A message template in the page's language (in a request; English otherwise), filled in.

    Outside a request (CLI, job worker) there is no page language: the English template is used.
    A translation that does not fit its parameters falls back to the English template.
    """
    text = gettext(template) if has_request_context() else template
    if not params:
        return text
    try:
        return text % params
    except (KeyError, TypeError, ValueError):
        return template % params


def row_message(error: Any) -> str:
    """A file problem (``RowError.as_dict()`` or the error itself) in the page's language."""
    get = error.get if isinstance(error, dict) else lambda name: getattr(error, name, None)
    params, template = get("params"), get("template")
    if params and template:
        return render(str(template), params)
    return render(str(get("message") or ""), {})


def page_details(error: Any, details: Any) -> str:
    """A refusal's details for a flash message: its file problems in the page's language when it has
    them, else ``details`` (a mapping of field or line to messages)."""
    problems = getattr(error, "problems", None)
    if problems:
        details = errors_by_line(problems)
    if not isinstance(details, dict):
        return ""
    return "; ".join(f"{k}: {' '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in details.items())


class JoinedProblems:
    """File problems joined with "; ", worded when the message is (a parameter of a refusal)."""

    def __init__(self, problems: Any) -> None:
        self.problems = list(problems)

    def __str__(self) -> str:
        return "; ".join(row_message(e) for e in self.problems)


def errors_by_line(details: Any) -> dict[str, list[str]]:
    """An ``ErrorLog``'s kept problems by line, keys and messages in the page's language."""
    out: dict[str, list[str]] = {}
    for error in sorted(details, key=lambda e: e.line):
        key = gettext("line %(number)s", number=error.line) if error.line else gettext("file")
        out.setdefault(key, []).append(row_message(error))
    return out
