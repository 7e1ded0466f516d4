"""Canonical JSON: the one byte encoding that every signature, digest and hash chain uses.

Rules (documented in docs/draw-algorithm.md, re-implementable in any language):
- objects with keys sorted by their Unicode code points, no insignificant white space
  (separators ``,`` and ``:``);
- strings as UTF-8, not ``\\u``-escaped except where JSON requires it;
- integers only: floats are refused, because their text form differs between platforms;
- ``true``, ``false``, ``null`` as usual.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def _check(value: Any, path: str = "$") -> None:
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return
    if isinstance(value, float):
        raise ValueError(f"canonical JSON refuses floats (at {path})")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"canonical JSON keys must be strings (at {path})")
            _check(item, f"{path}.{key}")
        return
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check(item, f"{path}[{index}]")
        return
    raise ValueError(f"canonical JSON cannot encode {type(value).__name__} (at {path})")


def canonical_json(value: Any) -> bytes:
    """Encode ``value`` as canonical JSON bytes (sorted keys, compact, UTF-8, no floats)."""
    _check(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    """Lower-case hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()
