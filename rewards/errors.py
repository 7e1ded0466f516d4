"""Domain errors raised by services, and their HTTP status when a shell turns them into a response."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A use case refused its input; the message is safe to show to the user."""

    status = 422
    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None, errors: Any = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.errors = errors
        if code is not None:
            self.code = code

    def error_details(self) -> Any:
        """The ``errors`` member of the JSON error body."""
        if self.errors is not None:
            return self.errors
        if self.field:
            return {self.field: [self.message]}
        return {}


class NotFound(DomainError):
    """The named object does not exist (or is not visible to the caller)."""

    status = 404
    code = "not_found"


class Conflict(DomainError):
    """The object is not in a state that allows this step."""

    status = 409
    code = "conflict"
