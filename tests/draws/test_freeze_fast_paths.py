"""The freeze's fast paths (C-level passes over 1.5 M entrants) give exactly what the plain rules give."""

from __future__ import annotations

import hashlib

import pytest

from draws.encoding import lp, lp_utf8_each, u64
from draws.engine import freeze_columns, freeze_entrants
from draws.entrants import ENTRANT_TAGS, canonical_entrants, encode_entrant_columns
from draws.errors import BadAccount, BadWeight, DrawError
from draws.merkle import encode_chunk, entrant_leaf_hashes, entrant_salt, entry_parts, leaf_bytes, leaf_hash

SALT_KEY = bytes(range(32))


def _reference_encoding(accounts: list[str], tiers: list[str], weights: list[int], version: int) -> bytes:
    body = b"".join(
        lp(a.encode()) + lp(t.encode("ascii")) + u64(w) for a, t, w in zip(accounts, tiers, weights, strict=True)
    )
    return lp(ENTRANT_TAGS[version]) + u64(len(accounts)) + body


@pytest.mark.parametrize("texts", [["0001", "Ё12", "x" * 64], ["я" * 200], [], ["a" * 300, "b"]])
def test_length_prefixes_match_lp_of_utf8(texts: list[str]) -> None:
    assert lp_utf8_each(texts) == [lp(t.encode("utf-8")) for t in texts]


@pytest.mark.parametrize("weights_of", [{"a": 1, "b": 3}, None])
def test_encoding_and_parts_match_the_plain_rules(weights_of: dict[str, int] | None) -> None:
    accounts = ["0001", "0002", "Ё12", "9" * 64]
    tiers = ["a", "b", "a", "b"]
    # One weight per tier (the service's case) and two weights in one tier (the engine's general case).
    weights = [weights_of[t] for t in tiers] if weights_of else [1, 3, 2, 3]
    for version in (1, 2):
        assert encode_entrant_columns(accounts, tiers, weights, version) == _reference_encoding(
            accounts, tiers, weights, version
        )
    assert entry_parts(accounts, weights) == [lp(a.encode()) + u64(w) for a, w in zip(accounts, weights, strict=True)]
    assert encode_chunk(accounts, weights) == b"".join(
        lp(a.encode()) + u64(w) for a, w in zip(accounts, weights, strict=True)
    )
    expected = [leaf_hash(leaf_bytes(entrant_salt(SALT_KEY, a), a, w)) for a, w in zip(accounts, weights, strict=True)]
    assert entrant_leaf_hashes(SALT_KEY, accounts, weights) == expected


def test_mismatched_columns_are_refused() -> None:
    with pytest.raises(ValueError):
        encode_entrant_columns(["1", "2"], ["a"], [1, 1])
    with pytest.raises(ValueError):
        entry_parts(["1", "2"], [1])
    with pytest.raises(ValueError):
        entrant_leaf_hashes(SALT_KEY, ["1", "2"], [1, 1], keys=[b"k" * 32])


@pytest.mark.parametrize("version", [1, 2])
def test_totals_and_digest_with_two_weights_in_one_tier(version: int) -> None:
    frozen = freeze_columns(["1", "2", "3"], ["a", "a", "b"], [1, 2, 5], SALT_KEY, version)
    assert frozen.totals == {"a": {"count": 2, "weight": 3}, "b": {"count": 1, "weight": 5}}
    assert (
        frozen.digest
        == hashlib.sha256(_reference_encoding(frozen.accounts, frozen.tiers, frozen.weights, version)).hexdigest()
    )
    assert frozen.parts == entry_parts(frozen.accounts, frozen.weights)


BAD_COLUMNS = {
    "empty account": (["1", ""], ["a", "a"], [1, 1]),
    "empty first account": (["", "1"], ["a", "a"], [1, 1]),
    "newline inside an account": (["1", "1\n2"], ["a", "a"], [1, 1]),
    "trailing newline": (["1", "2\n"], ["a", "a"], [1, 1]),
    "leading newline": (["\n1", "2"], ["a", "a"], [1, 1]),
    "control character": (["1", "2\x01"], ["a", "a"], [1, 1]),
    "DEL": (["1", "2\x7f"], ["a", "a"], [1, 1]),
    "65 bytes": (["1", "2" * 65], ["a", "a"], [1, 1]),
    "not a string": (["1", 2], ["a", "a"], [1, 1]),
    "duplicate": (["1", "1"], ["a", "a"], [1, 1]),
    "boolean weight": (["1", "2"], ["a", "a"], [1, True]),
    "negative weight": (["1", "2"], ["a", "a"], [1, -1]),
    "float weight": (["1", "2"], ["a", "a"], [1, 1.0]),
    "empty tier": (["1", "2"], ["a", ""], [1, 1]),
}


@pytest.mark.parametrize("name", sorted(BAD_COLUMNS))
def test_bad_columns_get_the_plain_rules_refusal(name: str) -> None:
    accounts, tiers, weights = BAD_COLUMNS[name]
    with pytest.raises((BadAccount, BadWeight)) as plain:
        canonical_entrants(zip(accounts, tiers, weights, strict=True))
    for version in (1, 2):
        with pytest.raises(DrawError) as fast:
            freeze_columns(list(accounts), list(tiers), list(weights), SALT_KEY, version)
        assert type(fast.value) is type(plain.value) and str(fast.value) == str(plain.value)


def test_unsorted_and_non_ascii_columns_freeze_like_entrants() -> None:
    rows = [("Ё12", "a", 1), ("0002", "b", 3), ("0001", "a", 0), ("0010", "a", 1)]
    columns = [list(c) for c in zip(*rows, strict=True)]
    for version in (1, 2):
        by_columns = freeze_columns(*columns, SALT_KEY, version)
        by_rows = freeze_entrants(rows, SALT_KEY, version)
        assert (by_columns.accounts, by_columns.digest, by_columns.merkle.root()) == (
            by_rows.accounts,
            by_rows.digest,
            by_rows.merkle.root(),
        )
        assert "0001" not in by_columns.accounts  # weight 0 is not an entrant
