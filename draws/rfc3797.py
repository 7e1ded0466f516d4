"""RFC 3797 ("Publicly Verifiable NomCom Random Selection") selection and key canonicalisation.

Key string (RFC 3797 section 4)
    The public random numbers come from one or more *sources* announced in advance, in an announced
    order (for example a state lottery's draw). Each value is written in ASCII decimal without
    leading zeros (a lone ``0`` for zero) and terminated by a period; a value with a fractional part
    is written ``whole.fraction`` with trailing zeros of the fraction removed (and no extra
    terminating period, as in the RFC's reference code; a fraction that becomes empty leaves
    ``whole.``, the integer form). The values of one source are sorted ascending (numerically, exact
    rational comparison), concatenated and followed by ``/``. The sources are concatenated in the
    announced order. Example (RFC 3797 section 6): sources ``9319``, ``2 5 12 8 10``,
    ``9 18 26 34 41 45`` give ``9319./2.5.8.10.12./9.18.26.34.41.45./``.

Selection (RFC 3797 sections 4 and 7)
    The pool members are numbered 1..P in their original order (here: the canonical entrant order),
    P <= 65,535. For selection ``i = 0, 1, 2, ...``: ``h = MD5(BE16(i) || key || BE16(i))`` read as an
    unsigned 128-bit big-endian integer; ``r = h mod (P - i)``; the selected member is the
    ``(r+1)``-th member, counting in original order, among those not yet selected.

RFC 3797 has a (tiny) modulo bias and relies on MD5; this module reproduces it exactly for
interoperability and for its section 6 worked example, and the service's default algorithm is the
weighted HMAC-SHA256 one (see ``draws.engine``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from draws.errors import MalformedEntropy, PoolTooLarge, TooManyPrizes

MAX_POOL = 65_535
MAX_SOURCES = 64
MAX_VALUES_PER_SOURCE = 64
_VALUE = re.compile(r"(0|[0-9]+)(?:\.([0-9]+))?\Z")
# The white space removed around a public number: ASCII only (space, TAB, LF, VT, FF, CR), so that a
# re-implementation need not know any Unicode property; a no-break space around a number is refused.
ASCII_SPACE = " \t\n\v\f\r"
_SEPARATORS = re.compile(r"[\s,;]+")


def canonical_value(text: object) -> tuple[Fraction, str]:
    """``(exact value, canonical text)`` of one non-negative decimal number, or MalformedEntropy."""
    if not isinstance(text, str):
        if isinstance(text, int) and not isinstance(text, bool) and text >= 0:
            return Fraction(text), f"{text}."
        raise MalformedEntropy(f"public number {text!r} must be a non-negative decimal number")
    match = _VALUE.match(text.strip(ASCII_SPACE))
    if not match:
        raise MalformedEntropy(
            f"public number {text!r} is not a non-negative decimal number (digits, optionally '.digits')"
        )
    whole = int(match.group(1))
    fraction = (match.group(2) or "").rstrip("0")
    if fraction:
        return Fraction(f"{whole}.{fraction}"), f"{whole}.{fraction}"
    return Fraction(whole), f"{whole}."


def canonical_key(sources: Sequence[Sequence[str | int]]) -> str:
    """The RFC 3797 key string of ``sources`` (list of sources, each a list of values)."""
    if not sources:
        raise MalformedEntropy("at least one source of public numbers is needed")
    if len(sources) > MAX_SOURCES:
        raise MalformedEntropy(f"at most {MAX_SOURCES} sources of public numbers are accepted")
    parts: list[str] = []
    for number, source in enumerate(sources, start=1):
        if isinstance(source, (str, bytes)) or not isinstance(source, Sequence):
            raise MalformedEntropy(f"source {number} must be a list of numbers")
        if not source:
            raise MalformedEntropy(f"source {number} has no numbers")
        if len(source) > MAX_VALUES_PER_SOURCE:
            raise MalformedEntropy(f"source {number} has more than {MAX_VALUES_PER_SOURCE} numbers")
        values = sorted((canonical_value(v) for v in source), key=lambda pair: pair[0])
        parts.append("".join(text for _, text in values) + "/")
    return "".join(parts)


def parse_public_numbers(text: str) -> list[list[str]]:
    """Parse staff input: one source per line, numbers separated by spaces, commas or semicolons.

    Blank lines and lines starting with ``#`` are ignored. Every number is checked (non-negative
    decimal); anything else is refused with a message naming the line.
    """
    sources: list[list[str]] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if re.search(r"\d,\d", line):  # "2871,45": a Russian decimal comma, or two numbers? Never guess.
            raise MalformedEntropy(
                f"line {lineno}: a comma between two digits is ambiguous; write a decimal point (2871.45) "
                "or put a space after the comma between numbers"
            )
        values = [v for v in _SEPARATORS.split(line) if v]
        for v in values:
            if not _VALUE.match(v):
                raise MalformedEntropy(f"line {lineno}: {v!r} is not a non-negative decimal number")
        sources.append(values)
    if not sources:
        raise MalformedEntropy("no public numbers given")
    canonical_key(sources)  # validates counts
    return sources


@dataclass(frozen=True, slots=True)
class Rfc3797Step:
    """One selection: ``index`` (1-based), MD5 hex (upper case as in the RFC), divisor, selected member."""

    index: int
    md5_hex: str
    divisor: int
    selected: int


def rfc3797_steps(key: bytes | str, pool_size: int, count: int) -> list[Rfc3797Step]:
    """Run RFC 3797 selection: ``count`` members of a pool numbered 1..``pool_size``."""
    if isinstance(key, str):
        key = key.encode("ascii")
    if pool_size > MAX_POOL:
        raise PoolTooLarge(f"RFC 3797 mode supports at most {MAX_POOL} entrants, got {pool_size}")
    if count > pool_size:
        raise TooManyPrizes(f"cannot select {count} members from a pool of {pool_size}")
    remaining = list(range(1, pool_size + 1))
    steps: list[Rfc3797Step] = []
    for i in range(count):
        bracket = i.to_bytes(2, "big")
        digest = hashlib.md5(bracket + key + bracket, usedforsecurity=False).digest()
        divisor = pool_size - i
        r = int.from_bytes(digest, "big") % divisor
        steps.append(Rfc3797Step(i + 1, digest.hex().upper(), divisor, remaining.pop(r)))
    return steps


def rfc3797_select(key: bytes | str, pool_size: int, count: int) -> list[int]:
    """The 1-based pool positions selected by RFC 3797, in selection order."""
    return [step.selected for step in rfc3797_steps(key, pool_size, count)]
