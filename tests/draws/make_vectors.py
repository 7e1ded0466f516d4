"""Generate the draw test vectors under ``tests/draws/vectors/``.

Run: ``PYTHONPATH=. python tests/draws/make_vectors.py``. The files are committed; the tests check that
both the engine and the verifier reproduce them, so a change of output is a change of algorithm and
must come with a new algorithm version.

The RFC 3797 section 6 vector is not generated from our code: its expected values are copied from the
RFC's worked example (key string, MD5 values and selections) and the script refuses to write the file
if the engine disagrees.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from signedjson import canonical_json
from draws.engine import (
    ALGORITHM_RFC3797,
    ALGORITHM_WEIGHTED,
    Entrant,
    derive_seed,
    entropy_bytes,
    first_blocks,
    payload_digest,
    rfc3797_source,
    rfc3797_steps,
)
from draws.merkle import MerkleTree, leaf_hash
from draws.sample import make_sample_draw

OUT = Path(__file__).with_name("vectors")

# RFC 3797 section 6: the pool of 25 in original order, the three sources, and the published table.
RFC3797_NAMES = [
    "John", "Mary", "Bashful", "Dopey", "Sleepy", "Grouchy", "Doc", "Sneazy", "Handsome", "Cassandra",
    "Pollyanna", "Pendragon", "Pandora", "Faith", "Hope", "Charity", "Lee", "Longsuffering", "Chastity",
    "Smith", "Pride", "Sloth", "Envy", "Anger", "Kasczynski",
]
RFC3797_SOURCES = [["9319"], ["2", "5", "12", "8", "10"], ["9", "18", "26", "34", "41", "45"]]
RFC3797_KEY = "9319./2.5.8.10.12./9.18.26.34.41.45./"
RFC3797_TABLE = [  # (index, MD5 of BE16(i)||key||BE16(i), divisor, selected) as printed in the RFC
    (1, "990DD0A5692A029A98B5E01AA28F3459", 25, 17),
    (2, "3691E55CB63FCC37914430B2F70B5EC6", 24, 7),
    (3, "FE814EDF564C190AC1D25753979990FA", 23, 2),
    (4, "1863CCACEB568C31D7DDBDF1D4E91387", 22, 16),
    (5, "F4AB33DF4889F0AF29C513905BE1D758", 21, 25),
    (6, "13EAEB529F61ACFB9A29D0BA3A60DE4A", 20, 23),
    (7, "992DB77C382CA2BDB9727001F3CDCCD9", 19, 8),
    (8, "63AB4258ECA922976811C7F55C383CE7", 18, 24),
    (9, "DFBC5AC97CED01B3A6E348E3CC63F40D", 17, 19),
    (10, "31CB111C4A4EBE9287CEAE16FE51B909", 16, 13),
    (11, "07FA46C122F164C215BBC72793B189A3", 15, 22),
    (12, "AC52F8D75CCBE2E61AFEB3387637D501", 14, 5),
    (13, "53306F73E14FC0B2FBF434218D25948E", 13, 18),
    (14, "B5D1403501A81F9A47318BE7893B347C", 12, 9),
    (15, "85B10B356AA06663EF1B1B407765100A", 11, 1),
    (16, "3269E6CE559ABD57E2BA6AAB495EB9BD", 10, 4),
]


def rfc3797_vector() -> dict[str, Any]:
    steps = rfc3797_steps(RFC3797_KEY, len(RFC3797_NAMES), len(RFC3797_TABLE))
    got = [(s.index, s.md5_hex, s.divisor, s.selected) for s in steps]
    if got != RFC3797_TABLE:
        sys.exit("engine does not reproduce RFC 3797 section 6; refusing to write vectors")
    return {
        "format": "loyalty-draw-vector/1",
        "name": "rfc3797-section6",
        "description": "RFC 3797 section 6 worked example: pool of 25, three sources, 16 selections.",
        "inputs": {"pool": RFC3797_NAMES, "sources": RFC3797_SOURCES, "count": len(RFC3797_TABLE)},
        "expected": {
            "key": RFC3797_KEY,
            "steps": [{"index": i, "md5": h, "divisor": d, "selected": s} for i, h, d, s in RFC3797_TABLE],
            "selected_names": [RFC3797_NAMES[s - 1] for *_, s in RFC3797_TABLE],
        },
    }


def draw_vector(name: str, description: str, draw: Any, blocks: int = 4) -> dict[str, Any]:
    ann = draw.announcement["payload"]
    frz = draw.freeze["payload"]
    res = draw.result["payload"]
    entropy = entropy_bytes(ann["entropy_source"], res["entropy"])
    seed = derive_seed(ann["algorithm"], draw.secret, entropy, frz["entrant_digest"], payload_digest(ann))
    assert seed.hex() == res["seed"]
    entrants = draw.frozen.entrants
    return {
        "format": "loyalty-draw-vector/1",
        "name": name,
        "description": description,
        "inputs": {
            "algorithm": ann["algorithm"],
            "announcement": ann,
            "secret": draw.secret.hex(),
            "entropy": res["entropy"],
            "salt_key": draw.salt_key.hex(),
            "entrants": [[e.account, e.tier, e.weight] for e in entrants],
        },
        "expected": {
            "announcement_digest": payload_digest(ann),
            "entrant_digest": frz["entrant_digest"],
            "weights_digest": frz["weights_digest"],
            "merkle_root": frz["merkle_root"],
            "entropy_bytes": entropy.hex(),
            "seed": seed.hex(),
            "stream_blocks": first_blocks(seed, blocks),
            "rejections": draw.outcome.rejections,
            "bytes_consumed": draw.outcome.bytes_consumed,
            "rfc3797_key": draw.outcome.rfc3797_key,
            "winners": [[w["prize_index"], w["amount_kopecks"], w["entrant_index"], entrants[w["entrant_index"]].account] for w in res["winners"]],
            "reserves": [[r["reserve_index"], r["entrant_index"], entrants[r["entrant_index"]].account] for r in res["reserves"]],
        },
        "bundle": draw.auditor_bundle(),
    }


def huge_weights_draw() -> Any:
    """The first sample with at least two rejections over weights near 2**63."""
    people = [Entrant("1000000001", "ideal", 0), Entrant("1000000002", "responsible", 0), Entrant("1000000003", "promising", 0)]
    weights = {"beginner": 0, "promising": 2**62 + 1, "responsible": 2**63 - 1, "ideal": 2**62 + 5}
    for attempt in range(1000):
        draw = make_sample_draw(
            f"vector-huge-{attempt}", entrants=people, tier_weights=weights,
            prizes=[{"amount_kopecks": 1, "count": 2}], reserves=1,
        )
        if draw.outcome.rejections >= 2:
            return draw
    raise SystemExit("no qualifying label found")


def merkle_vector() -> dict[str, Any]:
    leaves = [f"leaf-{i}".encode() for i in range(7)]
    hashes = [leaf_hash(b) for b in leaves]
    tree = MerkleTree(hashes)
    return {
        "format": "loyalty-draw-vector/1",
        "name": "merkle-7",
        "description": "RFC 6962 tree over 7 raw leaves (leaf i is the ASCII text 'leaf-i'); proofs of every leaf.",
        "inputs": {"leaves": [b.decode() for b in leaves]},
        "expected": {
            "leaf_hashes": [h.hex() for h in hashes],
            "root": tree.root().hex(),
            "proofs": [[p.hex() for p in tree.proof(i)] for i in range(len(leaves))],
        },
    }


def main() -> None:
    OUT.mkdir(exist_ok=True)
    small = [
        Entrant("7400012345", "ideal", 0), Entrant("0740012345", "responsible", 0),
        Entrant("740012345", "responsible", 0), Entrant("0000000001", "ideal", 0),
        Entrant("7400099999", "promising", 0), Entrant("1234567890", "ideal", 0),
        Entrant("5555555555", "responsible", 0), Entrant("0999999999", "beginner", 0),
        Entrant("3141592653", "ideal", 0), Entrant("2718281828", "responsible", 0),
        Entrant("1618033988", "responsible", 0), Entrant("6022140760", "ideal", 0),
    ]
    vectors = [
        rfc3797_vector(),
        draw_vector(
            "weighted-small",
            "12 accounts (leading zeros matter), weights responsible=1 ideal=3, others 0; drand quicknet.",
            make_sample_draw("vector-small", entrants=small, prizes=[{"amount_kopecks": 400_000, "count": 1}, {"amount_kopecks": 150_000, "count": 2}], reserves=3),
        ),
        draw_vector(
            "weighted-huge-weights",
            "Weights near 2**63: the first total exceeds 2**64 (two 64-bit words per attempt) and "
            "later totals sit just above 2**63, where rejection sampling rejects about half the words; "
            "the label was chosen (first that qualifies) so that rejections actually happen.",
            huge_weights_draw(),
        ),
        draw_vector(
            "weighted-60",
            "60 sample accounts, default weights, 5 prizes and 3 reserves.",
            make_sample_draw("vector-60", count=60),
        ),
        draw_vector(
            "rfc3797-mode",
            "RFC 3797 mode: unweighted, public numbers as entropy; key = public numbers key + seed as a last source.",
            make_sample_draw(
                "vector-rfc3797", count=30, tier_weights={"beginner": 0, "promising": 1, "responsible": 1, "ideal": 1},
                algorithm=ALGORITHM_RFC3797,
                entropy_source=rfc3797_source(["Russian state lottery 'Gosloto 5 iz 36', draw of 2026-07-01", "Moscow Exchange IMOEX close of 2026-07-01, in index points"], "2026-07-01T20:00:00Z"),
                entropy_value={"type": "rfc3797", "sources": [["5", "17", "3", "29", "11"], ["2871.45"]]},
                reserves=2,
            ),
        ),
        merkle_vector(),
    ]
    for vector in vectors:
        assert vector["inputs"].get("algorithm", ALGORITHM_WEIGHTED) in (ALGORITHM_WEIGHTED, ALGORITHM_RFC3797)
        path = OUT / f"{vector['name']}.json"
        path.write_text(json.dumps(json.loads(canonical_json(vector)), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
