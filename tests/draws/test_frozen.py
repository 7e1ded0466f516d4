"""The freeze's compact layout (draws.frozen) gives exactly the bytes of the plain rules."""

from __future__ import annotations

import hashlib
import zlib
from array import array

import pytest

from draws.encoding import lp, u64
from draws.entrants import ENTRANT_TAGS, encode_weights
from draws.errors import BadAccount, EmptyEntrantList
from draws.frozen import freeze_batches, keyed_permutation, merkle_root_compact, upper_tree
from draws.merkle import (
    CHUNK_SIZE,
    MerkleTree,
    encode_chunk,
    entrant_leaf_hashes,
    merkle_root,
    order_keys,
    upper_levels_blob,
)

SALT_KEY = bytes(range(32))


def _columns(n: int) -> tuple[list[str], list[str], list[int]]:
    accounts = [f"{i * 7919:010d}" for i in range(n)]
    tiers = ["ideal" if i % 3 else "responsible" for i in range(n)]
    return accounts, tiers, [3 if t == "ideal" else 1 for t in tiers]


@pytest.mark.parametrize("n", [1, 2, 3, 5, 31, 32, 33, 1000, 1023, 1024, 1025, 2048, 2049, 5000])
def test_compact_root_is_the_plain_root(n: int) -> None:
    leaves = [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(n)]
    assert merkle_root_compact(b"".join(leaves)) == merkle_root(leaves)


def test_compact_root_of_nothing() -> None:
    assert merkle_root_compact(b"") == merkle_root([])


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("n", [1, 7, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE + 100, 3 * (1 << 16) + 5])
def test_every_output_matches_the_plain_rules(version: int, n: int) -> None:
    accounts, tiers, weights = _columns(n)
    frozen = freeze_batches([(accounts[:n // 3], tiers[:n // 3], weights[:n // 3]),
                             (accounts[n // 3:], tiers[n // 3:], weights[n // 3:])], SALT_KEY, version)
    keys = order_keys(SALT_KEY, accounts)
    order = sorted(range(n), key=keys.__getitem__) if version == 2 else list(range(n))
    acc, tie, wei = ([col[i] for i in order] for col in (accounts, tiers, weights))
    encoding = lp(ENTRANT_TAGS[version]) + u64(n) + b"".join(
        lp(a.encode()) + lp(t.encode()) + u64(w) for a, t, w in zip(acc, tie, wei, strict=True))
    assert zlib.decompress(frozen.encoding_z) == encoding
    assert frozen.digest == hashlib.sha256(encoding).hexdigest()
    assert zlib.decompress(frozen.weights_z) == encode_weights(wei)
    assert frozen.weights_digest == hashlib.sha256(encode_weights(wei)).hexdigest()
    tree = MerkleTree(entrant_leaf_hashes(SALT_KEY, acc, wei))
    assert frozen.root == tree.root()
    assert frozen.upper == upper_levels_blob(tree)
    starts = range(0, n, CHUNK_SIZE)
    assert [zlib.decompress(data) for _first, data in frozen.chunks] == [
        encode_chunk(acc[s:s + CHUNK_SIZE], wei[s:s + CHUNK_SIZE]) for s in starts]
    assert [first for first, _data in frozen.chunks] == [order_keys(SALT_KEY, [acc[s]])[0] for s in starts]
    assert (frozen.accounts, frozen.tiers, frozen.weights) == (acc, tie, wei)
    assert frozen.total_weight == sum(weights) and frozen.count == n


def test_batches_out_of_order_take_the_plain_rules() -> None:
    accounts, tiers, weights = _columns(50)
    whole = freeze_batches([(accounts, tiers, weights)], SALT_KEY, 2)
    swapped = freeze_batches([(accounts[25:], tiers[25:], weights[25:]), (accounts[:25], tiers[:25], weights[:25])],
                             SALT_KEY, 2)
    assert (swapped.digest, swapped.root, swapped.chunks) == (whole.digest, whole.root, whole.chunks)
    with pytest.raises(BadAccount, match="appears twice"):
        freeze_batches([(accounts, tiers, weights), (accounts[-1:], tiers[-1:], weights[-1:])], SALT_KEY, 2)
    with pytest.raises(EmptyEntrantList):
        freeze_batches([([], [], []), (["1"], ["a"], [0])], SALT_KEY, 2)


def test_equal_key_prefixes_are_ordered_by_whole_key_then_position() -> None:
    whole = {0: b"\x05" * 32, 1: b"\x03" * 32, 2: b"\x04" * 32, 3: b"\x01" * 32, 4: b"\x04" * 32}
    prefixes = array("Q", [7, 7, 7, 2, 7])
    assert list(keyed_permutation(prefixes, whole.__getitem__)) == [3, 1, 2, 4, 0]
    assert list(keyed_permutation(array("Q", [9, 1, 5]), whole.__getitem__)) == [1, 2, 0]


def test_one_chunk_has_no_upper_levels() -> None:
    root = hashlib.sha256(b"x").digest()
    assert upper_tree(root) == (root, b"")
