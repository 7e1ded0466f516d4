"""The API reference page at ``/api/v1/docs``: Swagger UI served from the installed package, no CDN.

The assets come from the ``flask-swagger-ui`` distribution (its ``dist/`` folder holds Swagger UI's
files), so the page works on a network that reaches nothing outside. flask-smorest renders the page
with ``swagger_ui.html``; the app's own template of that name (``rewards/templates``) replaces the
library's, whose inline script the Content-Security-Policy would refuse.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from flask import Blueprint, Flask, send_from_directory
from werkzeug.wrappers import Response

from rewards.policy import public

ASSETS_URL = "/api/v1/docs/assets/"
bp = Blueprint("api_docs_assets", __name__)


def assets_dir() -> Path:
    """The folder of Swagger UI's files inside the installed ``flask_swagger_ui`` package."""
    return Path(str(resources.files("flask_swagger_ui") / "dist"))


@bp.get(ASSETS_URL + "<path:filename>")
@public
def asset(filename: str) -> Response:
    """One of Swagger UI's files (a day in caches: they change only with the package)."""
    return send_from_directory(assets_dir(), filename, max_age=86400)


def settings() -> dict[str, str]:
    """flask-smorest's settings for the page: Swagger UI at ``/api/v1/docs`` with the local assets."""
    return {"OPENAPI_SWAGGER_UI_PATH": "docs", "OPENAPI_SWAGGER_UI_URL": ASSETS_URL}


def init_app(app: Flask) -> None:
    """Serve the assets."""
    app.register_blueprint(bp)
