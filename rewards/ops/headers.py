"""Security headers on every response.

The pages carry no inline script or style (templates link ``static/style.css`` and ``static/*.js``),
so the Content-Security-Policy allows only this origin's files, and no one may frame a page
(clickjacking). The one exception is the API reference page (``/api/v1/docs``, Swagger UI served from
the installed package, which sets inline styles and data: icons): it gets those, still no inline script
and nothing from another origin.

``Cache-Control: no-store`` goes on every answer except static files (a response that sets its own
``Cache-Control`` keeps it): pages behind the login show secrets (a new API key, once) and personal
data, and the API answers are about customers; none of it may stay in a shared or browser cache.
HSTS is sent outside development (``ENV = "production"``, the default): a browser then never speaks
plain http to this host again for a year.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, Request
from werkzeug.wrappers import Response

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

# The Swagger UI page (rewards/api/docs.py): its scripts are this origin's files; it injects styles at
# run time and draws icons from data: URIs. Nothing inline for scripts, nothing from another origin.
DOCS_CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
DOCS_ENDPOINT = "api-docs.openapi_swagger_ui"

HSTS = "max-age=31536000; includeSubDomains"

STATIC_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # for browsers older than CSP frame-ancestors
    "Referrer-Policy": "same-origin",  # draw and key ids in our URLs never leave the site
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


def for_app(app: Flask) -> Callable[[Request, Response], None]:
    """The function adding the headers to a response of ``app`` (called by the kernel's after-request
    hook, ``rewards.requesthooks``)."""
    hsts = app.config["ENV"] != "development"
    fixed = list(STATIC_HEADERS.items()) + ([("Strict-Transport-Security", HSTS)] if hsts else [])
    pages = [*fixed, ("Content-Security-Policy", CSP)]
    docs = [*fixed, ("Content-Security-Policy", DOCS_CSP)]

    def add(req: Request, response: Response) -> None:
        # One pass over the headers already set (a view's own value wins), then appends: a per-header
        # setdefault would scan the list once for each of them.
        headers = response.headers
        present = {name.lower() for name in headers.keys()}
        endpoint = req.endpoint
        for name, value in docs if endpoint == DOCS_ENDPOINT else pages:
            if name.lower() not in present:
                headers.add(name, value)
        if endpoint != "static" and "cache-control" not in present:
            headers.add("Cache-Control", "no-store")

    return add
