"""The canonical snapshot digest is a documented byte format anyone can recompute."""

from __future__ import annotations

import hashlib

import pytest

from rewards.snapshots.digest import SnapshotDigest, snapshot_digest


def test_digest_is_sha256_of_the_documented_lines():
    rows = [("7", "ideal", None), ("007", "beginner", 3), ("07", "promising", 12)]
    expected = hashlib.sha256(b"007\tbeginner\t3\n07\tpromising\t12\n7\tideal\t\n").hexdigest()
    assert snapshot_digest(rows) == expected


def test_streaming_digest_equals_in_memory_and_flushes():
    rows = [(f"{i:08d}", "ideal" if i % 2 else "beginner", i) for i in range(20_000)]
    digest = SnapshotDigest().update(rows)
    assert digest.count == 20_000
    assert digest.hexdigest() == snapshot_digest(reversed(rows))


def test_empty_snapshot_digest():
    assert snapshot_digest([]) == hashlib.sha256(b"").hexdigest()


@pytest.mark.parametrize(
    "rows",
    [
        [("2", "ideal", None), ("1", "ideal", None)],
        [("1", "ideal", None), ("1", "beginner", None)],
        [("1", "gold", None)],
    ],
)
def test_streaming_digest_refuses_bad_input(rows):
    with pytest.raises(ValueError):
        SnapshotDigest().update(rows)


def test_lines_formatted_by_a_query_give_the_same_digest():
    rows = [(f"{i:08d}", "ideal" if i % 2 else "beginner", i if i % 3 else None) for i in range(20_000)]
    lines = [f"{a}\t{t}\t{'' if p is None else p}\n" for a, t, p in rows]
    digest = SnapshotDigest().update_lines(lines[:7_000]).update_lines([]).update_lines(lines[7_000:])
    assert digest.count == 20_000
    assert digest.hexdigest() == snapshot_digest(rows)


@pytest.mark.parametrize("batches", [[["2\tideal\t\n", "1\tideal\t\n"]], [["1\tideal\t\n"], ["1\tbeginner\t\n"]],
                                     [["2\tideal\t\n"], ["10\tideal\t\n"]]])
def test_lines_out_of_order_are_refused(batches):
    digest = SnapshotDigest()
    with pytest.raises(ValueError):
        for lines in batches:
            digest.update_lines(lines)
