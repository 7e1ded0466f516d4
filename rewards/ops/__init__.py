"""Running the service in production: proxy headers, security headers, health, metrics, request logs, backups
(``flask backup`` is added with the kernel's commands, ``rewards.cli``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def init_app(app: Flask) -> None:
    """Install every production concern on ``app`` (the app factory calls this once); the security
    headers, request metrics and log lines are written by the kernel's after-request hook
    (``rewards.requesthooks``)."""
    from rewards.ops import health, metrics, proxy, requestlog

    proxy.init_app(app)
    metrics.init_app(app)
    health.init_app(app)
    requestlog.init_app(app)
