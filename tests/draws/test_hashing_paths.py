"""The freeze's and the draw step's faster paths (batched hashes, float-keyed order, one-unpack chunk
decoding) give exactly what the plain rules give."""

from __future__ import annotations

import hashlib
from array import array

import pytest

from draws.encoding import lp, u64
from draws.frozen import keyed_permutation
from draws.merkle import decode_chunk, encode_chunk, leaf_hash, node_hash, node_hashes, salted_leaf_hashes


def test_batched_leaf_and_node_hashes_are_the_plain_ones() -> None:
    keys = [hashlib.sha256(b"%d" % i).digest() for i in range(5)]
    parts = [lp(b"%02d" % i) + u64(i + 1) for i in range(5)]
    assert salted_leaf_hashes(keys, parts) == [leaf_hash(lp(k[:16]) + p) for k, p in zip(keys, parts, strict=True)]
    pairs = [keys[i] + keys[i + 1] for i in range(4)]
    assert node_hashes(pairs) == [node_hash(p[:32], p[32:]) for p in pairs]


def test_keys_equal_in_their_first_53_bits_are_ordered_by_whole_key() -> None:
    # Prefixes that differ only below the 53 bits the sort compares first, in both directions.
    heads = ["00000000000007ff", "0000000000000001", "ff00000000000000", "0000000000000001"]
    whole = {i: bytes.fromhex(head) + bytes([i == 3]) * 24 for i, head in enumerate(heads)}
    prefixes = array("Q", [int.from_bytes(whole[i][:8], "big") for i in range(4)])
    assert list(keyed_permutation(prefixes, whole.__getitem__)) == sorted(range(4), key=whole.__getitem__)
    assert sorted(range(4), key=whole.__getitem__) == [1, 3, 0, 2]


@pytest.mark.parametrize("accounts", [
    ["0000000001", "0000000002", "9999999999"],  # one length: the single-unpack path
    ["0000000001", "12", "0000000003"],  # several lengths: entry by entry
    ["12345678", "абвг"],  # as many bytes (one unpack), not as many characters
    ["x" * 64],
])
def test_chunks_of_one_and_of_several_account_lengths_round_trip(accounts: list[str]) -> None:
    weights = [2**63 - 1 - i for i in range(len(accounts))]
    assert decode_chunk(encode_chunk(accounts, weights)) == (accounts, weights)
    assert decode_chunk(b"") == ([], [])
