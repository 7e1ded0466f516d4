"""API key format (pure): ``rwk_`` + 32 base62 characters (190 random bits) + 6 base62 CRC32 checksum.

The checksum lets the server (and secret scanners) refuse a mistyped or made-up token without a
database look-up. Only SHA-256 of the whole token is stored, beside a short look-up prefix.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import zlib

PREFIX = "rwk_"
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
RANDOM_LEN = 32
CHECK_LEN = 6
LOOKUP_LEN = 12  # prefix + 8 random characters: enough to find the row, far too few to guess the rest
TOKEN_LEN = len(PREFIX) + RANDOM_LEN + CHECK_LEN
_SHAPE = re.compile(re.escape(PREFIX) + f"[0-9A-Za-z]{{{RANDOM_LEN + CHECK_LEN}}}")


def _base62(value: int, width: int) -> str:
    chars = []
    for _ in range(width):
        value, rem = divmod(value, 62)
        chars.append(ALPHABET[rem])
    return "".join(reversed(chars))


def checksum(random_part: str) -> str:
    """Six base62 characters of CRC32 over the prefix and the random part."""
    return _base62(zlib.crc32((PREFIX + random_part).encode("ascii")), CHECK_LEN)


def new_token() -> str:
    """A fresh token."""
    random_part = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LEN))
    return PREFIX + random_part + checksum(random_part)


def well_formed(token: str) -> bool:
    """True when the token has the right shape and checksum (no database needed)."""
    if _SHAPE.fullmatch(token) is None:
        return False
    body = token[len(PREFIX) :]
    return secrets.compare_digest(checksum(body[:RANDOM_LEN]), body[RANDOM_LEN:])


def lookup_of(token: str) -> str:
    """The indexed look-up prefix of a token."""
    return token[:LOOKUP_LEN]


def hash_of(token: str) -> str:
    """SHA-256 hex of the token: what is stored (the token has 190 bits, so no slow hash is needed)."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def hash_of_any(text: str) -> str:
    """SHA-256 hex of any presented text (for logging refusals without logging the secret)."""
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()
