"""Behind a reverse proxy: the client's address and scheme from the ``X-Forwarded-*`` headers of trusted hops.

``TRUSTED_PROXIES`` is the number of proxies in front of the app that append to ``X-Forwarded-For``
and set ``X-Forwarded-Proto`` (nginx in front of gunicorn: 1). werkzeug's ``ProxyFix`` then takes
the address that many hops from the right, so ``request.remote_addr`` is the real client's and the
per-address limits (login, the public draw check) count clients, not the proxy. With 0 (the
default) the headers are ignored: a client could otherwise forge them to dodge a limit.
``X-Forwarded-Host`` and ``-Prefix`` are never trusted; the proxy passes the Host header on.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix


def init_app(app: Flask) -> None:
    """Wrap the WSGI app in ``ProxyFix`` when ``TRUSTED_PROXIES`` is above 0."""
    hops = int(app.config["TRUSTED_PROXIES"])
    if hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0, x_port=0, x_prefix=0)  # type: ignore[method-assign]
