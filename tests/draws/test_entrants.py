"""Canonical entrant order, encodings, digests and masking."""

from __future__ import annotations

import hashlib
import struct

import pytest

from draws.engine import BadAccount, Entrant, canonical_entrants, entrant_digest, mask_account, weights_digest
from draws.entrants import encode_entrants, encode_weights, tier_totals


def test_order_is_utf8_bytes_and_leading_zeros_matter() -> None:
    people = [Entrant(a, "ideal", 1) for a in ["12", "012", "0012", "2", "Я1", "z", "É"]]
    ordered = [e.account for e in canonical_entrants(people)]
    assert ordered == sorted(ordered, key=lambda a: a.encode("utf-8"))
    assert ordered[:4] == ["0012", "012", "12", "2"]


def test_duplicates_and_bad_accounts_refused() -> None:
    with pytest.raises(BadAccount, match="twice"):
        canonical_entrants([Entrant("1", "ideal", 1), Entrant("1", "ideal", 1)])
    for bad in ["", "12\n3", "x" * 65, "\ud800"]:
        with pytest.raises(BadAccount):
            canonical_entrants([Entrant(bad, "ideal", 1)])


@pytest.mark.parametrize("version", [1, 2])
def test_entrant_encoding_layout(version: int) -> None:
    people = [Entrant("0012", "ideal", 3)]
    expected = (
        struct.pack(">I", 24) + f"loyalty-draw/entrants/v{version}".encode() + struct.pack(">Q", 1)
        + struct.pack(">I", 4) + b"0012" + struct.pack(">I", 5) + b"ideal" + struct.pack(">Q", 3)
    )
    assert encode_entrants(people, version) == expected
    assert entrant_digest(people, version) == hashlib.sha256(expected).hexdigest()


def test_weights_encoding_layout() -> None:
    expected = struct.pack(">I", 23) + b"loyalty-draw/weights/v1" + struct.pack(">QQQ", 2, 1, 3)
    assert encode_weights([1, 3]) == expected
    assert weights_digest([1, 3]) == hashlib.sha256(expected).hexdigest()


def test_mask_shows_at_most_half_and_four() -> None:
    assert mask_account("7400012345") == "******2345"
    assert mask_account("74000123") == "******0123"
    assert mask_account("1234567") == "******567"  # 7 characters: 3 shown
    assert mask_account("123") == "******3"  # a short account never appears (nearly) whole
    assert mask_account("1") == "******"
    assert mask_account("Лицевой-12") == "******й-12"  # code points, not bytes
    assert mask_account("123", version=1) == "******123"  # what version 1 records published


def test_tier_totals() -> None:
    people = [Entrant("1", "ideal", 3), Entrant("2", "ideal", 3), Entrant("3", "responsible", 1)]
    assert tier_totals(people) == {"ideal": {"count": 2, "weight": 6}, "responsible": {"count": 1, "weight": 1}}
