"""Domain errors raised by services, and their HTTP status when a shell turns them into a response.

A refusal is a stable ``code`` plus a message template (an English msgid with ``%(name)s``
placeholders, looked up in the catalogues) and its parameters: the API answers with the English
text, pages with the text in the page's language (``rewards.i18n.render``).
"""

from __future__ import annotations

from typing import Any, Self


def N_(text: str) -> str:
    """Mark a message template for extraction without translating it here (babel's ``N_`` keyword)."""
    return text


def render_message(template: str, params: dict[str, Any]) -> str:
    """The template in the current page language (English outside a page request), filled in."""
    from rewards.i18n import render  # the i18n layer needs Flask: imported when a text is wanted

    return render(template, params)


class DomainError(Exception):
    """A use case refused its input; the message is safe to show to the user."""

    status = 422
    code = "invalid"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        errors: Any = None,
        code: str | None = None,
        problems: Any = None,
        **params: Any,
    ):
        super().__init__(message)
        self.template = message
        self.params = params
        self.field = field
        self.errors = errors
        self.problems = problems  # a file's RowErrors, when ``errors`` lists them: pages word them again
        if code is not None:
            self.code = code

    @classmethod
    def of(cls, error: BaseException, **kwargs: Any) -> Self:
        """This refusal carrying another error's template and parameters (a pure core's refusal)."""
        params = dict(getattr(error, "params", None) or {})
        code = kwargs.pop("code", None) or getattr(error, "code", None)
        template = getattr(error, "template", None) or str(error)
        return cls(template, code=code, **kwargs, **params)

    @property
    def message(self) -> str:
        """The text for the person in front: the page's language on pages, English elsewhere."""
        return render_message(self.template, self.params)

    def __str__(self) -> str:
        return self.message

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
