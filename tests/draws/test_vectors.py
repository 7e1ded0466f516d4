"""The shipped test vectors: the engine reproduces every value, the verifier passes every bundle."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from draws.engine import (
    Entrant,
    derive_seed,
    entropy_bytes,
    expand_prizes,
    first_blocks,
    freeze_entrants,
    payload_digest,
    rfc3797_steps,
    run_selection,
)
from draws.merkle import MerkleTree, leaf_hash
from draws.rfc3797 import canonical_key
from draws.verify import FAIL, verify_bundle

VECTORS = sorted(Path(__file__).with_name("vectors").glob("*.json"))


def load(name: str) -> dict[str, Any]:
    return json.loads(Path(__file__).with_name("vectors").joinpath(f"{name}.json").read_text(encoding="utf-8"))


def test_vectors_are_present() -> None:
    names = {p.stem for p in VECTORS}
    assert {"rfc3797-section6", "weighted-small", "weighted-huge-weights", "rfc3797-mode", "merkle-7"} <= names


def test_rfc3797_section6() -> None:
    v = load("rfc3797-section6")
    assert canonical_key(v["inputs"]["sources"]) == v["expected"]["key"]
    steps = rfc3797_steps(v["expected"]["key"], len(v["inputs"]["pool"]), v["inputs"]["count"])
    assert [{"index": s.index, "md5": s.md5_hex, "divisor": s.divisor, "selected": s.selected} for s in steps] == v["expected"]["steps"]
    names = [v["inputs"]["pool"][s.selected - 1] for s in steps]
    assert names[:10] == ["Lee", "Doc", "Mary", "Charity", "Kasczynski", "Envy", "Sneazy", "Anger", "Chastity", "Pandora"]
    assert names == v["expected"]["selected_names"]


DRAW_VECTORS = [p.stem for p in VECTORS if "bundle" in json.loads(p.read_text(encoding="utf-8"))]


@pytest.mark.parametrize("name", DRAW_VECTORS)
def test_engine_reproduces_draw_vector(name: str) -> None:
    v = load(name)
    inputs, expected = v["inputs"], v["expected"]
    ann = inputs["announcement"]
    assert payload_digest(ann) == expected["announcement_digest"]
    frozen = freeze_entrants([Entrant(*row) for row in inputs["entrants"]], bytes.fromhex(inputs["salt_key"]))
    assert frozen.digest == expected["entrant_digest"]
    assert frozen.weights_digest == expected["weights_digest"]
    assert frozen.merkle.root().hex() == expected["merkle_root"]
    entropy = entropy_bytes(ann["entropy_source"], inputs["entropy"])
    assert entropy.hex() == expected["entropy_bytes"]
    seed = derive_seed(inputs["algorithm"], bytes.fromhex(inputs["secret"]), entropy, frozen.digest, expected["announcement_digest"])
    assert seed.hex() == expected["seed"]
    assert first_blocks(seed, len(expected["stream_blocks"])) == expected["stream_blocks"]
    amounts = expand_prizes(ann["prizes"])
    outcome = run_selection(inputs["algorithm"], seed, frozen.weights, len(amounts), ann["reserves"],
                            entropy_source=ann["entropy_source"], entropy=entropy)
    assert outcome.rfc3797_key == expected["rfc3797_key"]
    assert outcome.rejections == expected["rejections"]
    assert outcome.bytes_consumed == expected["bytes_consumed"]
    assert [[i, amounts[i], idx, frozen.entrants[idx].account] for i, idx in enumerate(outcome.winners)] == expected["winners"]
    assert [[i, idx, frozen.entrants[idx].account] for i, idx in enumerate(outcome.reserves)] == expected["reserves"]


@pytest.mark.parametrize("name", DRAW_VECTORS)
def test_verifier_passes_draw_vector(name: str) -> None:
    v = load(name)
    checks = verify_bundle(v["bundle"])
    assert not [c.line() for c in checks if c.status == FAIL]
    res = v["bundle"]["result"]["payload"]
    assert [[w["prize_index"], w["amount_kopecks"], w["entrant_index"]] for w in res["winners"]] == [row[:3] for row in v["expected"]["winners"]]


def test_huge_weights_vector_shows_rejections_and_two_words() -> None:
    v = load("weighted-huge-weights")
    assert v["expected"]["rejections"] >= 1
    weights = [row[2] for row in v["inputs"]["entrants"]]
    assert sum(weights) > 2**64


def test_merkle_vector() -> None:
    v = load("merkle-7")
    hashes = [leaf_hash(text.encode()) for text in v["inputs"]["leaves"]]
    assert [h.hex() for h in hashes] == v["expected"]["leaf_hashes"]
    tree = MerkleTree(hashes)
    assert tree.root().hex() == v["expected"]["root"]
    assert [[p.hex() for p in tree.proof(i)] for i in range(len(hashes))] == v["expected"]["proofs"]
