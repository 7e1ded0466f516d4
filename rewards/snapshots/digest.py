"""The canonical content digest of a tier snapshot (format ``snapshot-digest-v1``).

The digest is SHA-256 (lower-case hex) over the snapshot's rows in canonical form:

- one line per account, sorted by the account's bytes ascending (accounts are ASCII digits, so
  this is also plain string order: ``"007" < "07" < "7"``; leading zeros are part of the account);
- each line is ``account TAB tier_code TAB points LF`` in UTF-8, where ``tier_code`` is one of
  ``beginner``, ``promising``, ``responsible``, ``ideal`` and ``points`` is the decimal integer
  without sign or leading zeros, or empty when the snapshot has no points for the account;
- nothing else: no header, no period, no trailing data.

Recompute it from a canonical export (``account;tier;points`` rows) with, for example::

    tail -n +2 export.csv | tr ';' '\\t' | LC_ALL=C sort -t "$(printf '\\t')" -k1,1 | sha256sum

The service feeds rows already sorted (by the database, ``ORDER BY account`` in byte order), so the
digest is computed streaming; :class:`SnapshotDigest` refuses rows out of order. Reading back a stored
snapshot, the database formats the canonical lines itself (:meth:`SnapshotDigest.update_lines`), so
no row becomes a Python tuple.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from rewards.tiers import TIERS

FORMAT = "snapshot-digest-v1"
_TIERS = frozenset(TIERS)


class SnapshotDigest:
    """Streaming SHA-256 over canonical snapshot lines; rows must come in ascending account order."""

    _FLUSH = 8192

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self._buffer: list[str] = []
        self._last: str | None = None
        self.count = 0

    def add(self, account: str, tier: str, points: int | None = None) -> None:
        """Add one row; raises ValueError when out of order, duplicated or malformed."""
        if self._last is not None and account <= self._last:
            raise ValueError(f"rows out of order: {account!r} after {self._last!r}")
        if tier not in _TIERS:
            raise ValueError(f"unknown tier code {tier!r}")
        self._last = account
        self._buffer.append(f"{account}\t{tier}\t{'' if points is None else points}\n")
        self.count += 1
        if len(self._buffer) >= self._FLUSH:
            self._flush()

    def update(self, rows: Iterable[tuple[str, str, int | None]]) -> SnapshotDigest:
        """Add many ``(account, tier, points)`` rows (the same checks as :meth:`add`); returns self."""
        buffer = self._buffer
        append = buffer.append
        tiers = _TIERS
        last = self._last
        count = 0
        for account, tier, points in rows:
            if (last is not None and account <= last) or tier not in tiers:
                self._last = last
                self.count += count
                self.add(account, tier, points)  # raises with the reason
            last = account
            append(f"{account}\t{tier}\t{'' if points is None else points}\n")
            count += 1
            if count & 0x1FFF == 0:
                self._flush()
        self._last = last
        self.count += count
        return self

    def update_lines(self, lines: list[str]) -> SnapshotDigest:
        """Add canonical lines (``account TAB tier TAB points LF``, as a query formats them); returns self.

        Only their order is checked (a sorted list compares each neighbour once, in C): the tier codes
        and the points format are the stored table's (its CHECK and integer column), and a repeated
        account its primary key's. Line order is account order, because TAB sorts before every digit.
        """
        if not lines:
            return self
        first = lines[0].split("\t", 1)[0]
        if (self._last is not None and first <= self._last) or lines != sorted(lines):
            raise ValueError(f"rows out of order after {self._last!r}")
        self._flush()
        self._hash.update("".join(lines).encode("utf-8"))
        self._last = lines[-1].split("\t", 1)[0]
        self.count += len(lines)
        return self

    def _flush(self) -> None:
        if self._buffer:
            self._hash.update("".join(self._buffer).encode("utf-8"))
            self._buffer.clear()

    def hexdigest(self) -> str:
        """The digest of the rows added so far."""
        self._flush()
        return self._hash.hexdigest()


def snapshot_digest(rows: Iterable[tuple[str, str, int | None]], *, presorted: bool = False) -> str:
    """The canonical digest of ``rows``; sorts them in memory unless ``presorted``."""
    if not presorted:
        rows = sorted(rows, key=lambda r: r[0].encode("utf-8"))
    return SnapshotDigest().update(rows).hexdigest()
