"""Streamed CSV downloads for people who open them in Excel (the compare matrix, the filtered event log).

UTF-8 with a byte-order mark, so that Excel takes the file for UTF-8 (without it, it reads Windows-1251
and the Cyrillic turns into mojibake), and ``;`` between fields: Excel with Russian regional settings
uses the list separator of the system, which is ``;`` there (the decimal separator is the comma), so a
``,``-separated file opens as one column. docs/operations.md says the same for operators.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from flask import Response, stream_with_context

from rewards.db import stream_reading

BOM = "\ufeff"
DELIMITER = ";"


def _cell(value: Any) -> str:
    """A field's text; text that Excel would run as a formula (``=``, ``+``, ``-``, ``@`` first) gets a
    leading apostrophe (OWASP, "CSV injection"), numbers stay numbers."""
    if value is None:
        return ""
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_lines(header: Sequence[Any], rows: Iterable[Sequence[Any]]) -> Iterable[str]:
    """The header then each row as one CSV line (``;``, quoted where needed, CRLF as Excel writes)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=DELIMITER, lineterminator="\r\n")
    writer.writerow([_cell(v) for v in header])
    yield BOM + buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([_cell(v) for v in row])
        yield buffer.getvalue()


def csv_download(name: str, header: Sequence[Any], rows: Iterable[Sequence[Any]]) -> Response:
    """A streamed ``text/csv`` attachment named ``name``: the rows are read in a reading transaction
    (``stream_reading``) with the request still there, so that words come in the page's language."""
    return Response(
        stream_with_context(stream_reading(line.encode("utf-8") for line in csv_lines(header, rows))),
        headers={
            "Content-Disposition": f"attachment; filename={name}",
            "Content-Type": "text/csv; charset=utf-8",
        },
    )
