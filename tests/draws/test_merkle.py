"""RFC 6962 Merkle tree: roots against the recursive definition, proofs for n = 1..40."""

from __future__ import annotations

import hashlib

import pytest

from draws.engine import Entrant, freeze_entrants
from draws.errors import ProofError
from draws.merkle import (
    InclusionProof,
    MerkleTree,
    entrant_leaf_hashes,
    entrant_salt,
    leaf_bytes,
    leaf_hash,
    node_hash,
    verify_inclusion,
)


def mth(hashes: list[bytes]) -> bytes:
    """RFC 6962 MTH by its recursive definition (split at the largest power of two < n)."""
    n = len(hashes)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashes[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(mth(hashes[:k]), mth(hashes[k:]))


def path(m: int, hashes: list[bytes]) -> list[bytes]:
    """RFC 6962 PATH(m, D[n]) by its recursive definition."""
    n = len(hashes)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return path(m, hashes[:k]) + [mth(hashes[k:])]
    return path(m - k, hashes[k:]) + [mth(hashes[:k])]


@pytest.mark.parametrize("n", range(1, 41))
def test_root_and_every_proof(n: int) -> None:
    hashes = [leaf_hash(f"leaf {i}".encode()) for i in range(n)]
    tree = MerkleTree(hashes)
    root = tree.root()
    assert root == mth(hashes)
    for m in range(n):
        proof = tree.proof(m)
        assert proof == path(m, hashes)
        assert verify_inclusion(hashes[m], m, n, proof, root)
        assert not verify_inclusion(hashes[(m + 1) % n], m, n, proof, root) or n == 1
        if proof:
            bad = list(proof)
            bad[0] = bytes(32)
            assert not verify_inclusion(hashes[m], m, n, bad, root)
            assert not verify_inclusion(hashes[m], m, n, proof[:-1], root)


def test_empty_tree_root() -> None:
    assert MerkleTree([]).root() == hashlib.sha256(b"").digest()


def test_salted_leaves_and_fast_path_agree() -> None:
    key = b"k" * 32
    accounts, weights = ["0012", "12", "Я"], [1, 3, 1]
    fast = entrant_leaf_hashes(key, accounts, weights)
    slow = [leaf_hash(leaf_bytes(entrant_salt(key, a), a, w)) for a, w in zip(accounts, weights, strict=True)]
    assert fast == slow
    assert entrant_salt(key, "12") != entrant_salt(b"j" * 32, "12")
    assert len(entrant_salt(key, "12")) == 16


def test_customer_proof_round_trip() -> None:
    key = b"s" * 32
    frozen = freeze_entrants([Entrant(f"{i:05d}", "ideal", 3) for i in range(37)], key)
    proof = frozen.proof_for("d1", "00017", key)
    again = InclusionProof.from_json(proof.as_json())
    assert again.verify(frozen.merkle.root())
    position = frozen.accounts.index("00017")  # keyed order: not the account's rank
    assert again.leaf_index == position and again.leaf_hash() == frozen.leaf_hashes[position]
    with pytest.raises(ProofError):
        frozen.proof_for("d1", "99999", key)
    with pytest.raises(ProofError):
        InclusionProof.from_json({**proof.as_json(), "salt": "00"})


@pytest.mark.parametrize("key", [b"", b"k" * 32, b"x" * 64, b"y" * 100])
def test_precomputed_hmac_equals_stdlib_hmac(key: bytes) -> None:
    fast = entrant_leaf_hashes(key, ["0001", "Ё12"], [1, 2])
    slow = [leaf_hash(leaf_bytes(entrant_salt(key, a), a, w)) for a, w in (("0001", 1), ("Ё12", 2))]
    assert fast == slow
