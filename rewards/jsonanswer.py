"""JSON answers of the hottest API calls, written without flask-smorest's response wrapper.

``blp.response(200, Schema)`` dumps a view's result through the schema and answers it with
``jsonify``: on the call centre's priority look-up the schema's dump alone costs 25–55 µs a call (more
than the look-up's database read on SQLite). A hot view instead returns :func:`answer` of the dict
its service built, already in the documented shape; it documents that shape with
``blp.doc(responses={"200": ...schema...})``, so the OpenAPI document is the one the wrapper gave, and
a test compares the answer with the schema's dump.

The bytes are those ``jsonify`` writes (compact, keys sorted, non-ASCII escaped); dates (``date``,
not ``datetime``) as ISO 8601 ``YYYY-MM-DD``, as marshmallow's ``Date`` field dumps them. Anything else
that JSON cannot hold is a ``TypeError``: a service that starts returning one needs a schema dump again.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from flask import Response


def _date(value: Any) -> str:
    if type(value) is date:  # a datetime is a date too: it has no single ISO form here, so it is refused
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


# One encoder for every answer: json.dumps with any option builds a new encoder on each call.
_ENCODER = json.JSONEncoder(separators=(",", ":"), sort_keys=True, default=_date)


def dumps(payload: Any) -> bytes:
    """``payload`` as the answer's bytes."""
    return _ENCODER.encode(payload).encode("ascii")


def answer(payload: Any, status: int = 200) -> Response:
    """A JSON answer of ``payload``."""
    return Response(dumps(payload), status=status, mimetype="application/json")
