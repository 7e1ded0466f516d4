"""API clients and their keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rewards.db import UTCDateTime, db, intpk, timestamp


class ApiClient(db.Model):
    """A machine that calls the API: a partner site, the personal cabinet, the call centre."""

    __tablename__ = "api_clients"

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(Text)  # space-separated, sorted
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    created_at: Mapped[timestamp]
    keys: Mapped[list[ApiKey]] = relationship(back_populates="client", order_by="ApiKey.id")

    @property
    def scope_set(self) -> frozenset[str]:
        """The client's scopes."""
        return frozenset(self.scopes.split())


class ApiKey(db.Model):
    """One key of a client; several may be valid at once during a rotation."""

    __tablename__ = "api_keys"

    id: Mapped[intpk]
    client_id: Mapped[int] = mapped_column(ForeignKey("api_clients.id"), index=True)
    lookup: Mapped[str] = mapped_column(String(16), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[timestamp]
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    client: Mapped[ApiClient] = relationship(back_populates="keys")

    def usable_at(self, now: datetime) -> bool:
        """Not revoked and not expired at ``now``."""
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)
