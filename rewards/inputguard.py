"""Hostile input refused before any view runs, for every route alike.

Checked once per request by the kernel's before-request hook (``rewards.requesthooks``), last of its
steps (so a feature's lower body limit applies to the body read here) and before the view parses
anything:

- a NUL character in the path, the query string, a form field, an upload's file name, or any
  string (key or value) of a JSON body: 422. PostgreSQL text cannot hold NUL, so without this the
  request would reach the database and fail there (a 500), while SQLite would store it;
- a JSON body that cannot be parsed safely: nested deeper than ``MAX_JSON_DEPTH``, a number longer
  than ``MAX_NUMBER_CHARS`` characters (Python refuses to read integers beyond 4,300 digits, and a
  long one costs quadratic time), ``NaN``/``Infinity`` or a float that overflows, or no JSON at all:
  400. A 30,000-deep array would otherwise exhaust the parser's recursion.

First of that hook's steps, ``check_size`` bounds the request line and the headers (414, 431), below the
limits of gunicorn (``gunicorn.conf.py``), so a client gets this service's error shape rather than
gunicorn's own HTML page (docs/operations.md).

The answers are the one error shape (JSON under ``/api/``, an error page elsewhere).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from flask import Request
from flask_babel import gettext as _
from flask_smorest import abort
from werkzeug.exceptions import RequestHeaderFieldsTooLarge, RequestURITooLarge

MAX_JSON_DEPTH = 32  # the deepest body the API documents nests 4 levels
MAX_NUMBER_CHARS = 40  # a signed 64-bit integer has at most 20 characters; floats are rarely longer
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")
_NUL_ESCAPE = re.compile(rb"\\u0000", re.IGNORECASE)
_FORMS = ("multipart/form-data", "application/x-www-form-urlencoded")
# Request size limits answered by the app; gunicorn.conf.py sets its own limits above these.
MAX_URI_BYTES = 4096  # the request target (path and query string); gunicorn's line limit is 8190
MAX_HEADER_BYTES = 8190  # one header line, name and value (gunicorn's default; ours there is 16384)
MAX_HEADERS_BYTES = 32768  # all header lines together
MAX_HEADER_COUNT = 100  # header fields (gunicorn's default; ours there is 200)


class JsonRefused(ValueError):
    """The body is not JSON the service will read (``status`` 400), or holds a NUL character (422)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _depth(data: bytes) -> int:
    """The deepest nesting of arrays and objects (brackets inside strings do not count)."""
    deepest = depth = 0
    for match in _BRACKET.finditer(_STRING.sub(b"", data)):
        if match.group() in (b"[", b"{"):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_JSON_DEPTH:
                    break
        else:
            depth -= 1
    return deepest


def _integer(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise JsonRefused(f"a number in the body is longer than {MAX_NUMBER_CHARS} characters")
    return int(text)


def _float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise JsonRefused(f"a number in the body is longer than {MAX_NUMBER_CHARS} characters")
    value = float(text)
    if not math.isfinite(value):
        raise JsonRefused("a number in the body is too large")
    return value


def _constant(text: str) -> Any:
    raise JsonRefused(f"{text} is not JSON")


def _has_nul(value: Any) -> bool:
    """Whether any string in the parsed document (keys too) holds NUL; iterative, no recursion."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def check_json(data: bytes) -> Any:
    """Refuse a JSON body the service will not read (see the module's docstring); pure. Returns the
    parsed document."""
    could_nest = data.count(b"[") + data.count(b"{") > MAX_JSON_DEPTH  # most bodies: too few to count
    if could_nest and _depth(data) > MAX_JSON_DEPTH:
        raise JsonRefused(f"the body is nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        parsed = json.loads(data, parse_int=_integer, parse_float=_float, parse_constant=_constant)
    except JsonRefused:
        raise
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, bad UTF-8 are ValueErrors
        raise JsonRefused("the body is not valid JSON") from exc
    if _NUL_ESCAPE.search(data) and _has_nul(parsed):
        raise JsonRefused("a text in the body contains a NUL character", status=422)
    return parsed


def _refuse_nul(where: str) -> None:
    abort(422, message=_("The request contains a NUL character (in %(where)s).", where=where),
          errors={where: [_("NUL characters are not accepted.")]})


def check_request(request: Request) -> Any:
    """Refuse the current request if it carries hostile input; reads a JSON or form body once.
    Returns the parsed JSON body (None when there is none), so a view need not parse it again."""
    if "\x00" in request.path:
        _refuse_nul("path")
    query = request.query_string
    if b"%00" in query or b"\x00" in query:
        _refuse_nul("query")
    if request.is_json:  # application/json or application/*+json, as webargs reads it
        data = request.get_data(cache=True)  # webargs reads the same cached bytes
        if not data:
            return None
        try:
            return check_json(data)
        except JsonRefused as exc:
            if exc.status == 422:
                _refuse_nul("json")
            abort(400, message=_("The body is not JSON the service accepts: %(why)s.", why=str(exc)),
                  errors={"json": [str(exc)]})
    elif request.mimetype in _FORMS:
        # a multipart part may come without a name (werkzeug then keys it None)
        if any(_has_nul([key or "", value or ""]) for key, value in request.form.items(multi=True)):
            _refuse_nul("form")
        if any(_has_nul([key or "", upload.filename or ""]) for key, upload in request.files.items(multi=True)):
            _refuse_nul("files")
    return None


def check_size(request: Request) -> None:
    """Refuse a request whose target (414) or headers (431) are larger than this service accepts."""
    environ = request.environ
    target = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    size = len(target) if target is not None else len(request.path.encode("utf-8")) + 1 + len(request.query_string)
    if size > MAX_URI_BYTES:
        raise RequestURITooLarge(_("The address is longer than %(limit)s bytes.", limit=MAX_URI_BYTES))
    count = total = 0
    for key, value in environ.items():
        if key.startswith("HTTP_") or key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            line = len(key) + len(value) + 2
            if line > MAX_HEADER_BYTES:
                raise RequestHeaderFieldsTooLarge(_("A header is longer than %(limit)s bytes.", limit=MAX_HEADER_BYTES))
            count += 1
            total += line
    if count > MAX_HEADER_COUNT or total > MAX_HEADERS_BYTES:
        raise RequestHeaderFieldsTooLarge(
            _("The request has more than %(count)s headers or %(limit)s bytes of them.", count=MAX_HEADER_COUNT,
              limit=MAX_HEADERS_BYTES)
        )
