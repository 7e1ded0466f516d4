"""Flask extensions, created unbound and initialised in the app factory."""

from __future__ import annotations

from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect

migrate = Migrate()
csrf = CSRFProtect()
