"""Inclusion proofs come from what the freeze stored (one chunk and the upper levels), on both engines."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select, update

from draws import services
from draws.merkle import CHUNK_SIZE, MerkleTree, entrant_leaf_hashes
from draws.models import DrawEntrantChunk, DrawEntrantList
from rewards.db import db
from rewards.errors import NotFound
from tests.draws.conftest import DrawKit
from tests.support import make_snapshot

SIZE = 2 * CHUNK_SIZE + 37  # three chunks, the last one partial


@pytest.fixture
def big(kit: DrawKit) -> str:
    # leading zeros and a non-ASCII account: the chunk key compares UTF-8 bytes on both engines
    accounts = {f"{i * 7:08d}": "ideal" for i in range(SIZE - 2)} | {"9999999999": "ideal", "лс-0001": "ideal"}
    make_snapshot(db.session, "2026-04", accounts)
    db.session.commit()
    pid = kit.draft(snapshot_period="2026-04", tier_weights={"ideal": 1})
    kit.announce(pid)
    kit.freeze(pid)
    return pid


def test_proofs_read_one_chunk_and_match_the_tree(kit: DrawKit, big: str, monkeypatch: pytest.MonkeyPatch) -> None:
    draw = services.get_draw(db.session, big)
    accounts, _tiers, weights = services.frozen_columns(db.session, draw)
    assert len(accounts) == SIZE
    assert db.session.scalar(select(func.count()).select_from(DrawEntrantChunk)) == 3
    salt_key = kit.box.open(draw.salt_key_sealed or "", big + "/salt")
    tree = MerkleTree(entrant_leaf_hashes(salt_key, accounts, weights))
    root = json.loads(draw.freeze_record or "")["payload"]["merkle_root"]
    assert tree.root().hex() == root

    def whole_list(*args: object) -> None:
        raise AssertionError("a proof must not read the whole list")

    monkeypatch.setattr(services, "frozen_columns", whole_list)
    for index in (0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE, SIZE - 2, SIZE - 1):
        proof = services.inclusion_proof(db.session, draw, accounts[index], kit.box)
        assert proof["leaf_index"] == index and proof["tree_size"] == SIZE
        assert proof["path"] == [p.hex() for p in tree.proof(index)]
    for missing in ("", "0", "00000001", "99999999999", "zzz", accounts[0][:-1]):
        with pytest.raises(NotFound):
            services.inclusion_proof(db.session, draw, missing, kit.box)


def test_draws_frozen_before_the_chunks_still_get_proofs(kit: DrawKit, big: str) -> None:
    draw = services.get_draw(db.session, big)
    accounts = services.frozen_columns(db.session, draw)[0]
    db.session.execute(update(DrawEntrantList).values(merkle_upper=None))
    db.session.query(DrawEntrantChunk).delete()
    db.session.commit()
    proof = services.inclusion_proof(db.session, draw, accounts[CHUNK_SIZE + 3], kit.box)
    assert proof["leaf_index"] == CHUNK_SIZE + 3
