"""Chunked proofs (what the service stores at freeze) equal the proofs of the whole tree."""

from __future__ import annotations

import hashlib

import pytest

from draws.merkle import (
    MerkleTree,
    chunked_proof,
    decode_chunk,
    encode_chunk,
    upper_level_sizes,
    upper_levels_blob,
    verify_inclusion,
)


@pytest.mark.parametrize("height", [1, 2, 3])
@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100])
def test_chunked_proof_equals_full_proof(size: int, height: int) -> None:
    leaves = [hashlib.sha256(b"%d" % i).digest() for i in range(size)]
    tree = MerkleTree(leaves)
    upper = upper_levels_blob(tree, height)
    chunk = 1 << height
    for index in range(size):
        c = index // chunk
        path = chunked_proof(leaves[c * chunk:(c + 1) * chunk], index - c * chunk, c, size, upper, height)
        assert path == tree.proof(index), (size, height, index)
        assert verify_inclusion(leaves[index], index, size, path, tree.root())


def test_upper_levels_are_small() -> None:
    assert upper_level_sizes(1024) == [] and upper_level_sizes(1025) == [2, 1]
    assert sum(upper_level_sizes(1_500_000)) < 3000  # about 94 KB for 1.5 million entrants


def test_chunk_encoding_round_trip() -> None:
    accounts, weights = ["0012", "12", "лицевой"], [1, 3, 2**63 - 1]
    assert decode_chunk(encode_chunk(accounts, weights)) == (accounts, weights)
