"""Inclusion proofs come from what the freeze stored (one chunk and the upper levels), on both engines."""

from __future__ import annotations

import json
import zlib

import pytest
from sqlalchemy import func, select, update

from draws import services
from draws.entrants import encode_weights
from draws.merkle import CHUNK_SIZE, MerkleTree, decode_chunk, encode_chunk, entrant_leaf_hashes
from draws.models import DrawEntrantChunk, DrawEntrantList, DrawWinner
from rewards.db import db
from rewards.errors import Conflict, NotFound
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


def _winners(pid: str) -> list[tuple[int, str]]:
    draw = services.get_draw(db.session, pid)
    winners = json.loads(draw.result_record or "")["payload"]["winners"]
    return [(w["entrant_index"], w["account_masked"]) for w in winners]


def test_the_draw_step_reads_the_stored_weights_and_proves_each_winner_by_its_chunk(
    kit: DrawKit, big: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    draw = services.get_draw(db.session, big)
    accounts = services.frozen_columns(db.session, draw)[0]

    def whole_list(*args: object) -> None:
        raise AssertionError("the draw step must not decode the whole list")

    monkeypatch.setattr(services, "frozen_columns", whole_list)
    kit.draw(big)
    rows = db.session.execute(select(DrawWinner.entrant_index, DrawWinner.account)).all()
    assert rows and all(accounts[index] == account for index, account in rows)
    assert {i for i, _m in _winners(big)} <= {index for index, _a in rows}


def test_a_draw_of_a_list_frozen_before_the_weights_were_stored_decodes_it_whole(kit: DrawKit, big: str) -> None:
    db.session.execute(update(DrawEntrantList).values(weights=None))
    db.session.commit()
    kit.draw(big)
    accounts = services.frozen_columns(db.session, services.get_draw(db.session, big))[0]
    rows = db.session.execute(select(DrawWinner.entrant_index, DrawWinner.account)).all()
    assert rows and all(accounts[index] == account for index, account in rows)


@pytest.mark.parametrize("damage", ["weights", "chunk"])
def test_a_draw_refuses_stored_weights_or_chunks_that_do_not_match_the_signed_freeze(
    kit: DrawKit, big: str, damage: str
) -> None:
    if damage == "weights":
        encoded = encode_weights([2] * SIZE)  # a plausible vector, not the signed one
        db.session.execute(update(DrawEntrantList).values(weights=zlib.compress(encoded)))
    else:  # every chunk now names other accounts with the same weights: no winner can be proven
        for chunk, data in db.session.execute(select(DrawEntrantChunk.chunk, DrawEntrantChunk.data)).all():
            accounts, weights = decode_chunk(zlib.decompress(data))
            forged = encode_chunk([f"X{a}" for a in accounts], weights)
            db.session.execute(
                update(DrawEntrantChunk).where(DrawEntrantChunk.chunk == chunk).values(data=zlib.compress(forged))
            )
    db.session.commit()
    with pytest.raises(Conflict):
        kit.draw(big)
    db.session.rollback()
    assert services.get_draw(db.session, big).state == "frozen"
    assert db.session.scalar(select(func.count()).select_from(DrawWinner)) == 0


def test_a_draw_of_a_single_entrant_proves_it_by_its_one_leaf_chunk(kit: DrawKit) -> None:
    make_snapshot(db.session, "2026-04", {"0000000001": "ideal"})
    db.session.commit()
    pid = kit.draft(snapshot_period="2026-04", tier_weights={"ideal": 1},
                    prizes=[{"amount_kopecks": 100_000, "count": 1}], reserves=0)
    kit.announce(pid)
    kit.freeze(pid)
    kit.draw(pid)
    assert db.session.execute(select(DrawWinner.entrant_index, DrawWinner.account)).all() == [(0, "0000000001")]


def test_a_truncated_chunk_is_a_conflict_not_a_crash(kit: DrawKit, big: str) -> None:
    for chunk, data in db.session.execute(select(DrawEntrantChunk.chunk, DrawEntrantChunk.data)).all():
        accounts, weights = decode_chunk(zlib.decompress(data))  # every chunk cut to its first entrant
        db.session.execute(update(DrawEntrantChunk).where(DrawEntrantChunk.chunk == chunk)
                           .values(data=zlib.compress(encode_chunk(accounts[:1], weights[:1]))))
    db.session.commit()
    with pytest.raises(Conflict):
        kit.draw(big)
