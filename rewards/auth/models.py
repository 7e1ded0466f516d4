"""Staff user accounts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from rewards.db import UTCDateTime, db, intpk, timestamp, utcnow
from rewards.policy import ROLES  # noqa: F401  (defined in policy, which the command line reads cheaply)


class User(db.Model):
    """A member of staff who logs in to the pages."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('admin', 'marketing', 'auditor')", name="role"),)

    id: Mapped[intpk]
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    # Bumped on logout, password change and disabling: every cookie carrying an older value is void.
    session_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[timestamp]
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    def touch_login(self) -> None:
        """Record a successful login."""
        self.last_login_at = utcnow()
