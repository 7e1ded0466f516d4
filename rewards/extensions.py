"""Flask extensions, created unbound and initialised in the app factory."""

from __future__ import annotations

from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()  # Flask-Migrate is set up by rewards.cli.init_migrate (it imports Alembic)
