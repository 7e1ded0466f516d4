"""Personal check codes: what lets a customer, and only them, look up their own entry in a draw.

An anonymous visitor who types an account number must learn nothing about that account (whether it
took part reveals its tier, an exclusion or an earlier win). So the public check asks for the account
**and** its check code for that draw, which the personal cabinet (API scope ``cabinet:read``) and the
bill export give to the account's owner; with a wrong code the answer is exactly the one a
non-entrant gets.

``code = crockford32(HMAC-SHA256(salt_key, lp("loyalty-draw/check-code/v2") || lp(draw_id) || lp(account)))``,
the first 50 bits as 10 characters of Crockford's base 32, written ``XXXXX-XXXXX``. It exists for every
account, entrant or not, from the announcement on (the salt key is drawn then), so handing codes out
reveals nothing either. 50 bits against a rate-limited form cannot be guessed. Keyed by the draw's secret
salt key, which only the service and the draw's auditors hold.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Iterator

from draws.encoding import lp

CHECK_CODE_TAG = b"loyalty-draw/check-code/v2"
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
CODE_CHARS = 10
_READ_AS = {"O": "0", "I": "1", "L": "1"}  # what people type for the digits Crockford leaves out


def check_code(salt_key: bytes, draw_id: str, account: str) -> str:
    """The check code of ``account`` for the draw ``draw_id`` (``XXXXX-XXXXX``)."""
    return next(check_codes(salt_key, draw_id, [account]))


def check_codes(salt_key: bytes, draw_id: str, accounts: Iterable[str]) -> Iterator[str]:
    """The check codes of many accounts (the bill export), one HMAC each."""
    prefix = lp(CHECK_CODE_TAG) + lp(draw_id.encode("utf-8"))
    base = hmac.new(salt_key, prefix, hashlib.sha256)
    for account in accounts:
        mac = base.copy()
        mac.update(lp(account.encode("utf-8")))
        value = int.from_bytes(mac.digest()[:8], "big") >> (64 - 5 * CODE_CHARS)
        chars = "".join(ALPHABET[(value >> (5 * (CODE_CHARS - 1 - i))) & 31] for i in range(CODE_CHARS))
        yield f"{chars[:5]}-{chars[5:]}"


def normalize(text: str) -> str:
    """A typed code as ``XXXXX-XXXXX`` (case, spaces and dashes ignored; O read as 0, I and L as 1),
    or "" when it cannot be a code."""
    chars = "".join(_READ_AS.get(c, c) for c in text.upper() if c not in " -")
    if len(chars) != CODE_CHARS or any(c not in ALPHABET for c in chars):
        return ""
    return f"{chars[:5]}-{chars[5:]}"


def code_matches(salt_key: bytes, draw_id: str, account: str, typed: str) -> bool:
    """True if ``typed`` is the check code of ``account`` (compared in constant time)."""
    given = normalize(typed)
    return bool(given) and hmac.compare_digest(given, check_code(salt_key, draw_id, account))
