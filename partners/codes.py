"""Partner discount codes: format, check symbol, parsing and bulk generation (standard library only).

A code reads ``PREFIX-XXXX-XXXX-XXXX-C``:

- ``PREFIX`` is the partner's prefix: 2 to 6 Crockford base32 symbols, the first one a letter
  (see :func:`validate_prefix`);
- ``XXXX-XXXX-XXXX`` is the *body*: 12 Crockford base32 symbols carrying 60 random bits from
  :mod:`secrets`, most significant symbol first;
- ``C`` is Crockford's mod-37 check symbol, computed over the prefix **and** the body.

The check value. Read the compact string ``PREFIX + BODY`` (no hyphens) as one base-32 numeral, each
symbol standing for its Crockford value (``0``..``9`` = 0..9, ``A`` = 10, ... ``Z`` = 31)::

    N = prefix_value * 32**12 + body_value
    check = N mod 37, written with the 37-symbol alphabet 0-9, A-Z without I L O U, then ``* ~ $ = U``

Because the first symbol of a prefix is a letter (never ``0``), and the body has a fixed length, the
pair (prefix, body) maps to ``N`` one-to-one: a code is bound to its partner's prefix. Because 37 is a
prime greater than 32, every position weight ``32**k mod 37`` is non-zero and adjacent weights differ
by the factor ``32 - 1 = 31``, coprime to 37; so any single-symbol substitution and any transposition
of two adjacent different symbols anywhere in the prefix, body or check symbol changes ``N mod 37``
relative to the written check, and is rejected here, before any database look-up. Documented with the
guessing arithmetic in ``docs/partner-codes.md``.

Input is normalised first: case-insensitive; hyphens (and Unicode dashes) and white space ignored;
``I`` and ``L`` read as ``1``, ``O`` as ``0``; Cyrillic letters that look like Latin ones (``А В Е К
М Н О Р С Т Х``, either case) read as those Latin letters, because customers of a Russian retailer
type codes from a bill with a Russian keyboard layout switched on.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
"""Crockford base32 symbols, value = index."""

CHECK_ALPHABET = ALPHABET + "*~$=U"
"""Crockford check symbols, value = index (0..36)."""

BODY_LENGTH = 12
"""Body symbols: 12 x 5 = 60 random bits."""

BODY_BITS = 5 * BODY_LENGTH
PREFIX_MIN = 2
PREFIX_MAX = 6
MAX_INPUT_LENGTH = 64
"""Longer input is refused before any other work (a code is at most 19 symbols + 4 hyphens)."""

_VALUE = {symbol: index for index, symbol in enumerate(ALPHABET)}
_CHECK_VALUE = {symbol: index for index, symbol in enumerate(CHECK_ALPHABET)}
_LETTERS = frozenset(ALPHABET[10:])
_BODY_MASK = (1 << BODY_BITS) - 1
_BODY_WEIGHT_MOD_37 = pow(32, BODY_LENGTH, 37)

# Reasons carried by MalformedCode.reason (stable, machine-readable).
EMPTY = "empty"
TOO_LONG = "too_long"
BAD_CHARACTER = "bad_character"
BAD_LENGTH = "bad_length"
BAD_PREFIX = "bad_prefix"
BAD_CHECK = "bad_check"
REASONS = (EMPTY, TOO_LONG, BAD_CHARACTER, BAD_LENGTH, BAD_PREFIX, BAD_CHECK)

_CYRILLIC_LOOKALIKES = "АВЕКМНОРСТХ"
_LATIN_FOR_CYRILLIC = "ABEKMH0PCTX"
_IGNORED = " \t\r\n\u00a0\u2007\u202f-\u2010\u2011\u2012\u2013\u2014\u2015\u2212"
_NORMALISE = str.maketrans(
    {
        **{c: None for c in _IGNORED},
        "I": "1",
        "L": "1",
        "O": "0",
        **dict(zip(_CYRILLIC_LOOKALIKES, _LATIN_FOR_CYRILLIC, strict=True)),
    }
)

# 10-bit chunk -> two symbols: a body is six table look-ups.
_PAIRS = tuple(ALPHABET[i >> 5] + ALPHABET[i & 31] for i in range(1024))


class MalformedCode(ValueError):
    """The text is not a well-formed code; ``reason`` is one of :data:`REASONS`."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def N_(text: str) -> str:
    """Mark a message template for the catalogues (babel's ``N_`` keyword); the shell translates it."""
    return text


class InvalidPrefix(ValueError):
    """A partner prefix breaks the prefix rules (see :func:`validate_prefix`); ``template`` and
    ``params`` let a page say it in its own language, ``str()`` is the English text."""

    def __init__(self, template: str, **params: object) -> None:
        self.template = template
        self.params = params
        super().__init__(template % params if params else template)


@dataclass(frozen=True, slots=True)
class ParsedCode:
    """A well-formed code: its partner prefix, 60-bit body value and check symbol."""

    prefix: str
    value: int
    check: str

    @property
    def body(self) -> str:
        """The 12 body symbols, without hyphens."""
        return _encode_body(self.value)

    @property
    def compact(self) -> str:
        """Prefix, body and check symbol without hyphens (the normalised form)."""
        return f"{self.prefix}{self.body}{self.check}"

    def __str__(self) -> str:
        return format_code(self.prefix, self.value)


def validate_prefix(text: str) -> str:
    """The upper-case prefix for ``text``, or raise :class:`InvalidPrefix`.

    Rules: 2 to 6 symbols of the Crockford alphabet (digits and letters without I, L, O, U), the first
    a letter. Unlike code input, a prefix being *defined* is not normalised: ``O`` or ``I`` there is
    refused rather than silently read as ``0`` or ``1``, so that staff see what customers will see.
    The first symbol is a letter so that no prefix starts with ``0`` (which would make ``A`` and ``0A``
    the same number in the check value) and so that a code never starts like a plain number.
    """
    if not isinstance(text, str):
        raise InvalidPrefix(N_("a prefix must be text"))
    prefix = text.strip().upper()
    if not PREFIX_MIN <= len(prefix) <= PREFIX_MAX:
        raise InvalidPrefix(N_("a prefix has %(low)s to %(high)s symbols, not %(length)s"),
                            low=PREFIX_MIN, high=PREFIX_MAX,
                            length=len(prefix))
    bad = sorted({c for c in prefix if c not in _VALUE})
    if bad:
        if set(bad) & set("ILOU"):
            raise InvalidPrefix(N_("a prefix uses only 0-9 and A-Z without I, L, O, U; got %(symbols)s (I, L, O and U "
                                   "are not used: they read as 1, 1, 0 or look like V)"), symbols=repr("".join(bad)))
        raise InvalidPrefix(N_("a prefix uses only 0-9 and A-Z without I, L, O, U; got %(symbols)s"),
                            symbols=repr("".join(bad)))
    if prefix[0] not in _LETTERS:
        raise InvalidPrefix(N_("a prefix starts with a letter"))
    return prefix


def _prefix_value(prefix: str) -> int:
    value = 0
    for symbol in prefix:
        value = value * 32 + _VALUE[symbol]
    return value


def _prefix_term(prefix: str) -> int:
    """``prefix_value * 32**12 mod 37``: the prefix's share of the check value."""
    return _prefix_value(prefix) % 37 * _BODY_WEIGHT_MOD_37 % 37


def check_symbol(prefix: str, value: int) -> str:
    """The check symbol of body ``value`` (0 <= value < 2**60) under ``prefix``."""
    return CHECK_ALPHABET[(_prefix_term(prefix) + value) % 37]


def _encode_body(value: int) -> str:
    p = _PAIRS
    return (
        p[value >> 50]
        + p[(value >> 40) & 1023]
        + p[(value >> 30) & 1023]
        + p[(value >> 20) & 1023]
        + p[(value >> 10) & 1023]
        + p[value & 1023]
    )


def format_code(prefix: str, value: int) -> str:
    """The display form ``PREFIX-XXXX-XXXX-XXXX-C`` of body ``value`` under a valid ``prefix``."""
    if not 0 <= value <= _BODY_MASK:
        raise ValueError("a code body is a 60-bit value")
    body = _encode_body(value)
    return f"{prefix}-{body[:4]}-{body[4:8]}-{body[8:]}-{check_symbol(prefix, value)}"


def normalise(text: str) -> str:
    """Upper-case ``text`` with hyphens and spaces removed and look-alikes mapped (no validation)."""
    return text.upper().translate(_NORMALISE)


def parse(text: str) -> ParsedCode:
    """Parse a code as typed by a person, or raise :class:`MalformedCode` with a reason.

    No database is needed: a code that passes is well formed and its check symbol matches its
    prefix and body. Whether it exists, and for which partner, is the caller's question.
    """
    if not isinstance(text, str):
        raise MalformedCode(BAD_CHARACTER, "a code is text")
    if len(text) > MAX_INPUT_LENGTH:
        raise MalformedCode(TOO_LONG, f"at most {MAX_INPUT_LENGTH} characters")
    compact = normalise(text)
    if not compact:
        raise MalformedCode(EMPTY, "no code given")
    minimum, maximum = PREFIX_MIN + BODY_LENGTH + 1, PREFIX_MAX + BODY_LENGTH + 1
    if not minimum <= len(compact) <= maximum:
        raise MalformedCode(BAD_LENGTH, f"a code has {minimum} to {maximum} symbols, not {len(compact)}")
    check = compact[-1]
    if check not in _CHECK_VALUE:
        raise MalformedCode(BAD_CHARACTER, f"{check!r} cannot be a check symbol")
    head = compact[:-1]
    for position, symbol in enumerate(head):
        if symbol not in _VALUE:
            raise MalformedCode(BAD_CHARACTER, f"{symbol!r} at position {position + 1}")
    prefix, body = head[:-BODY_LENGTH], head[-BODY_LENGTH:]
    if prefix[0] not in _LETTERS:
        raise MalformedCode(BAD_PREFIX, "a code starts with a letter")
    value = 0
    for symbol in body:
        value = value * 32 + _VALUE[symbol]
    if (_prefix_term(prefix) + value) % 37 != _CHECK_VALUE[check]:
        raise MalformedCode(BAD_CHECK, "the check symbol does not match: a typing mistake?")
    return ParsedCode(prefix, value, check)


def random_values(n: int) -> list[int]:
    """``n`` distinct random 60-bit values from :func:`secrets.token_bytes`, drawn in bulk."""
    if n < 0:
        raise ValueError("n must not be negative")
    values: list[int] = []
    seen: set[int] = set()
    while len(values) < n:
        need = n - len(values)
        raw = memoryview(secrets.token_bytes(8 * need)).cast("Q")
        for word in raw:
            v = word & _BODY_MASK
            if v not in seen:  # a repeat within one batch: p ~ n**2 / 2**61, drawn again
                seen.add(v)
                values.append(v)
    return values


def generate_values(prefix: str, n: int) -> Iterator[tuple[int, str]]:
    """``n`` distinct (value, display code) pairs under ``prefix`` (validated first)."""
    prefix = validate_prefix(prefix)
    term = _prefix_term(prefix)
    p = _PAIRS
    c = CHECK_ALPHABET
    for v in random_values(n):
        yield v, (
            f"{prefix}-{p[v >> 50]}{p[(v >> 40) & 1023]}-{p[(v >> 30) & 1023]}{p[(v >> 20) & 1023]}"
            f"-{p[(v >> 10) & 1023]}{p[v & 1023]}-{c[(term + v) % 37]}"
        )


def generate(prefix: str, n: int) -> list[str]:
    """``n`` distinct new codes for ``prefix`` in display form.

    Unique within the call by construction; across calls 60 random bits make a repeat unlikely
    (about n * live / 2**60) and the database's unique constraint catches the rest.
    """
    return [code for _, code in generate_values(prefix, n)]


TEST_MARK = "TEST-"
"""Printed before a test code (sandbox keys only): ``TEST-GSRV-7K2M-Q9XA-4HNT-$``."""


def split_test(text: str) -> tuple[bool, str]:
    """Whether ``text`` is marked as a test code (``TEST-`` in front, any case, spaces around), and the
    code without the mark."""
    stripped = text.strip()
    if stripped[: len(TEST_MARK)].upper() == TEST_MARK:
        return True, stripped[len(TEST_MARK):]
    return False, text


def printed(prefix: str, value: int, test: bool) -> str:
    """The printed form of a live or test code."""
    return (TEST_MARK if test else "") + format_code(prefix, value)
