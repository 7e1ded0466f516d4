"""Staff lists: the query string's search, filters and page number turned into one filtered, ordered,
paginated ``select()`` (issue 14, "lists you can work with").

A list page declares its filters (:class:`Filter`) and calls :func:`listing` with its base query;
the template shows the filter form and the page links with the macros of ``_listing.html``, which keep
the current filters in every link. A value that does not fit its filter is not applied and comes back
as a message naming the filter (the page answers 400 with the rest of the list), never a 500.

Not Flask-SQLAlchemy's ``db.paginate``: its pages hold only the first column of each row
(``.scalars()``), while some lists (the event log) select columns, not entities, to survive rows that
do not load as objects. The count and the page are the same two statements it runs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, request, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, Select, String, func, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from rewards.errors import N_, DomainError

PER_PAGE = 50
MAX_PAGE = 1_000_000


class BadFilter(DomainError):
    """A query-string value that does not fit its filter."""

    status = 400
    code = "bad_filter"


Apply = Callable[[Select[Any], Any], Select[Any]]


@dataclass(frozen=True)
class Filter:
    """One filter of a list: the query-string ``name``, its label, its kind and how it narrows the query.

    kinds: ``search`` (text, matched case-insensitively anywhere in ``columns``), ``choice`` (one of
    ``choices``), ``text`` (any text, applied as given), ``int`` (a whole number), ``date_from`` /
    ``date_to`` (a local day ``YYYY-MM-DD``, inclusive, turned into the UTC instant its day starts or
    the next one starts, in the retailer's time zone).
    """

    name: str
    label: Any
    kind: str = "text"
    apply: Apply | None = None
    columns: Sequence[Any] = ()
    choices: Sequence[tuple[str, Any]] = ()
    convert: Callable[[str], Any] | None = None  # for ``text``: the value from the raw text, ValueError if none

    def parse(self, raw: str) -> Any:
        """The value of ``raw`` for this filter, or :class:`BadFilter` naming it."""
        if self.kind == "choice":
            if raw not in {value for value, _label in self.choices}:
                raise BadFilter(N_("%(filter)s: %(value)s is not one of the choices"), field=self.name,
                                filter=self.label, value=repr(raw[:40]))
            return raw
        if self.kind == "int":
            if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
                raise BadFilter(N_("%(filter)s: %(value)s is not a whole number"), field=self.name,
                                filter=self.label, value=repr(raw[:40]))
            return int(raw)
        if self.kind in ("date_from", "date_to"):
            try:
                day = date.fromisoformat(raw)
                if self.kind == "date_to":
                    day += timedelta(days=1)
                return datetime.combine(day, time(), ZoneInfo(current_app.config["TIMEZONE"])).astimezone(UTC)
            except (ValueError, OverflowError):  # no date, or one at the calendar's ends
                raise BadFilter(N_("%(filter)s: %(value)s is not a date YYYY-MM-DD"), field=self.name,
                                filter=self.label, value=repr(raw[:40])) from None
        if len(raw) > 200:
            raise BadFilter(N_("%(filter)s: at most 200 characters"), field=self.name, filter=self.label)
        if self.convert is not None:
            try:
                return self.convert(raw)
            except ValueError:
                raise BadFilter(N_("%(filter)s: %(value)s does not fit"), field=self.name, filter=self.label,
                                value=repr(raw[:40])) from None
        return raw

    def narrow(self, query: Select[Any], value: Any) -> Select[Any]:
        if self.apply is not None:
            return self.apply(query, value)
        if self.kind == "search":
            return query.where(or_(*(_contains(column, value) for column in self.columns)))
        raise TypeError(f"filter {self.name} has no apply")  # pragma: no cover - a programming error


class unicode_lower(FunctionElement[str]):  # noqa: N801 - named as the SQL function
    """``lower()`` that folds every alphabet: PostgreSQL's own; on SQLite (whose lower() folds ASCII
    only) the Python function ``rewards.db`` registers on each connection."""

    type = String()
    inherit_cache = True


@compiles(unicode_lower)
def _lower_default(element: unicode_lower, compiler: Any, **kw: Any) -> str:
    return f"lower({compiler.process(element.clauses, **kw)})"


@compiles(unicode_lower, "sqlite")
def _lower_sqlite(element: unicode_lower, compiler: Any, **kw: Any) -> str:
    return f"unicode_lower({compiler.process(element.clauses, **kw)})"


def _contains(column: Any, text: str) -> ColumnElement[bool]:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return unicode_lower(column).like(f"%{escaped.lower()}%", escape="\\")


def search(*columns: Any, label: Any = None) -> Filter:
    """The list's search box ``q``: the text anywhere in any of ``columns``, case-insensitive."""
    return Filter("q", label or _l("Search"), "search", columns=columns)


@dataclass
class Listing:
    """One page of a filtered list, and what the page needs to show its filters and links."""

    items: list[Any]
    total: int
    page: int
    per_page: int
    filters: Sequence[Filter]
    args: dict[str, str] = field(default_factory=dict)  # the filters applied, as given
    errors: list[DomainError] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def first(self) -> int:
        """The position of the page's first row (1-based; 0 when the page is empty)."""
        return (self.page - 1) * self.per_page + 1 if self.items else 0

    @property
    def last(self) -> int:
        return (self.page - 1) * self.per_page + len(self.items)

    def page_numbers(self) -> list[int | None]:
        """The page numbers to link: the first two, the last two, two around the current; None for a gap."""
        shown: list[int | None] = []
        for n in range(1, self.pages + 1):
            if n <= 2 or n > self.pages - 2 or abs(n - self.page) <= 2:
                shown.append(n)
            elif shown[-1] is not None:
                shown.append(None)
        return shown

    def link_args(self, **more: Any) -> dict[str, Any]:
        """The current filters plus ``more`` (``page=...``), for ``url_for``."""
        return {**self.args, **more}

    def url(self, **more: Any) -> str:
        """This page's address with the current filters and ``more`` (``page=2``)."""
        return url_for(request.endpoint or "", **(request.view_args or {}), **self.link_args(**more))

    @property
    def status(self) -> int:
        """The page's HTTP status: 400 when a filter value was refused."""
        return 400 if self.errors else 200


def parse_filters(
    filters: Sequence[Filter], args: Mapping[str, str] | None = None
) -> tuple[list[tuple[Filter, Any]], dict[str, str], list[DomainError]]:
    """The filters given in ``args`` (default: the request's query string) with their values; the raw
    values applied; the refusals of those that do not fit."""
    args = request.args if args is None else args
    chosen: list[tuple[Filter, Any]] = []
    given: dict[str, str] = {}
    errors: list[DomainError] = []
    for f in filters:
        raw = (args.get(f.name) or "").strip()
        if not raw:
            continue
        try:
            chosen.append((f, f.parse(raw)))
            given[f.name] = raw
        except BadFilter as exc:
            errors.append(exc)
    return chosen, given, errors


def filtered(query: Select[Any], chosen: Sequence[tuple[Filter, Any]]) -> Select[Any]:
    """``query`` narrowed by each chosen filter."""
    for f, value in chosen:
        query = f.narrow(query, value)
    return query


def page_number(args: Mapping[str, str] | None = None) -> tuple[int, DomainError | None]:
    """The ``page`` asked for (1 when absent), or 1 and a refusal when it is no page number."""
    raw = ((request.args if args is None else args).get("page") or "").strip()
    if not raw:
        return 1, None
    if not raw.isdigit() or not 0 < int(raw) <= MAX_PAGE:
        return 1, BadFilter(N_("page %(value)s is not a page number"), field="page", value=repr(raw[:20]))
    return int(raw), None


def listing(
    session: Session,
    query: Select[Any],
    filters: Sequence[Filter],
    *,
    per_page: int = PER_PAGE,
    args: Mapping[str, str] | None = None,
    entities: bool = True,
) -> Listing:
    """One page of ``query`` (already ordered) narrowed by the ``filters`` given in the query string.

    ``entities``: the rows are one ORM entity each (``scalars``); else the rows as selected.
    """
    chosen, given, errors = parse_filters(filters, args)
    page, page_error = page_number(args)
    if page_error is not None:
        errors.append(page_error)
    query = filtered(query, chosen)
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    page = min(page, max(1, math.ceil(total / per_page)))
    result = session.execute(query.limit(per_page).offset((page - 1) * per_page))
    items = list(result.scalars() if entities else result)
    return Listing(items, total, page, per_page, filters, given, errors)
