"""Security headers on every response.

The pages carry no inline script or style (templates link ``static/style.css`` and ``static/*.js``),
so the Content-Security-Policy allows only this origin's files, and no one may frame a page
(clickjacking). The one exception is the third-party API reference page (``/api/v1/docs``, ReDoc from
its CDN, which injects its own styles): it gets the CDN and inline styles, and still no inline script.

``Cache-Control: no-store`` goes on every answer except static files (a response that sets its own
``Cache-Control`` keeps it): pages behind the login show secrets (a new API key, once) and personal
data, and the API answers are about customers; none of it may stay in a shared or browser cache.
HSTS is sent outside development (``ENV = "production"``, the default): a browser then never speaks
plain http to this host again for a year.
"""

from __future__ import annotations

from flask import Flask, request
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

# The ReDoc page (flask-smorest's template): its script from the CDN, styles it injects at run time,
# a web worker from a blob, and its logo/fonts. Nothing inline for scripts even there.
REDOC_CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src https://cdn.jsdelivr.net",
        "style-src 'self' 'unsafe-inline' https://fonts.googleapis.com",
        "img-src 'self' data: https://cdn.redoc.ly",
        "font-src 'self' https://fonts.gstatic.com",
        "worker-src blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
REDOC_ENDPOINT = "api-docs.openapi_redoc"

HSTS = "max-age=31536000; includeSubDomains"

STATIC_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # for browsers older than CSP frame-ancestors
    "Referrer-Policy": "same-origin",  # draw and key ids in our URLs never leave the site
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


def init_app(app: Flask) -> None:
    """Add the headers to every response of ``app``."""
    hsts = app.config["ENV"] != "development"
    fixed = list(STATIC_HEADERS.items()) + ([("Strict-Transport-Security", HSTS)] if hsts else [])
    pages = [*fixed, ("Content-Security-Policy", CSP)]
    redoc = [*fixed, ("Content-Security-Policy", REDOC_CSP)]

    @app.after_request
    def _security_headers(response: Response) -> Response:
        # One pass over the headers already set (a view's own value wins), then appends: a per-header
        # setdefault would scan the list once for each of them.
        headers = response.headers
        present = {name.lower() for name in headers.keys()}
        endpoint = request.endpoint
        for name, value in redoc if endpoint == REDOC_ENDPOINT else pages:
            if name.lower() not in present:
                headers.add(name, value)
        if endpoint != "static" and "cache-control" not in present:
            headers.add("Cache-Control", "no-store")
        return response
