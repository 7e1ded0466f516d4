"""Seed derivation: the exact byte layout and its unambiguity."""

from __future__ import annotations

import hashlib
import struct

import pytest

from draws.engine import ALGORITHM_WEIGHTED, DrawError, derive_seed


def lp(b: bytes) -> bytes:
    return struct.pack(">I", len(b)) + b


def test_layout() -> None:
    secret, entropy = bytes(range(32)), b"\xaa" * 32
    ed, ad = "11" * 32, "22" * 32
    expected = hashlib.sha256(
        lp(b"loyalty-draw/seed") + lp(ALGORITHM_WEIGHTED.encode()) + lp(secret) + lp(entropy)
        + lp(bytes.fromhex(ed)) + lp(bytes.fromhex(ad))
    ).digest()
    assert derive_seed(ALGORITHM_WEIGHTED, secret, entropy, ed, ad) == expected


def test_moving_bytes_between_fields_changes_the_seed() -> None:
    secret = bytes(32)
    a = derive_seed(ALGORITHM_WEIGHTED, secret, b"ab" + b"c", "11" * 32, "22" * 32)
    b = derive_seed(ALGORITHM_WEIGHTED, secret, b"ab", "11" * 32, "22" * 32)
    assert a != b


def test_refuses_unknown_algorithm_and_short_secret() -> None:
    with pytest.raises(DrawError):
        derive_seed("random.shuffle", bytes(32), b"", "11" * 32, "22" * 32)
    with pytest.raises(DrawError):
        derive_seed(ALGORITHM_WEIGHTED, bytes(16), b"", "11" * 32, "22" * 32)
