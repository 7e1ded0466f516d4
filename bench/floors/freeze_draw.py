"""Floor of freeze + draw: read the entrants, fix and digest the list, seed, pick 100 + 20 by weight.

    python bench/floors/freeze_draw.py --sqlite DB_FILE --snapshot ID [--weights responsible=1,ideal=3]
    python bench/floors/freeze_draw.py --pg URL --schema NAME --snapshot ID [...]

The issue's floor ("raw driver read + plain-Python canonical order, digest, seed, Fenwick selection"),
written as the best plain code, in one process:

1. the snapshot's rows of the weighted tiers in account order, 50,000 at a time (the database's index
   order, checked strictly increasing in one pass, as the service checks it);
2. the list's bytes (``lp(utf8(account)) || lp(tier) || u64(weight)`` each, as protocol 1 encodes it)
   fed to SHA-256 and to zlib as they are made, and the compressed list stored in one row
   (``floor_frozen``), committed: the freeze;
3. the seed: SHA-256 of the digest and the entropy's text;
4. a Fenwick tree of the weights built in O(n), then ``--picks`` winners without replacement, each an
   integer in ``[0, total)`` drawn by rejection from a SHA-256 counter stream, found by the tree's
   descent and its weight removed.

Not done (the service's extra work): the keyed order and salted Merkle tree of protocol 2, signatures,
exclusions and the yearly cap, events, proof chunks, Flask's start-up (paid once here, twice by the two
commands).
"""

from __future__ import annotations

import argparse
import hashlib
import sqlite3
import struct
import zlib
from collections.abc import Iterator
from typing import Any

BATCH = 50_000
_U64 = struct.Struct(">Q")
_LEN = struct.Struct(">I")
TABLE = "CREATE TABLE floor_frozen (id INTEGER PRIMARY KEY, count INTEGER, digest TEXT, data {blob})"


def _rows(cursor: Any) -> Iterator[list[tuple[str, str]]]:
    while True:
        batch = cursor.fetchmany(BATCH)
        if not batch:
            return
        yield batch


def freeze(batches: Iterator[list[tuple[str, str]]], weights: dict[str, int]) -> tuple[list[int], bytes, bytes]:
    """The weights in list order, the list's SHA-256 and its compressed bytes."""
    digest, packer = hashlib.sha256(), zlib.compressobj(1)
    tail = {tier: _LEN.pack(len(tier)) + tier.encode() + _U64.pack(w) for tier, w in weights.items()}
    out: list[int] = []
    data: list[bytes] = []
    last = ""
    for batch in batches:
        accounts = [a for a, _t in batch]
        if accounts[0] <= last or any(b <= a for a, b in zip(accounts, accounts[1:], strict=False)):
            raise SystemExit("the rows are not in strictly increasing account order")
        last = accounts[-1]
        chunk = b"".join(_LEN.pack(len(raw)) + raw + tail[t]
                         for raw, t in zip(map(str.encode, accounts), (t for _a, t in batch), strict=True))
        digest.update(chunk)
        data.append(packer.compress(chunk))
        out.extend(weights[t] for _a, t in batch)
    data.append(packer.flush())
    return out, digest.digest(), b"".join(data)


def fenwick(weights: list[int]) -> list[int]:
    """A 1-based Fenwick tree of ``weights``, built in O(n)."""
    tree = [0, *weights]
    n = len(weights)
    for i in range(1, n + 1):
        parent = i + (i & -i)
        if parent <= n:
            tree[parent] += tree[i]
    return tree


def pick(tree: list[int], weights: list[int], seed: bytes, picks: int) -> list[int]:
    """``picks`` positions without replacement, each with probability proportional to its weight."""
    n, total = len(weights), sum(weights)
    top = 1 << (n.bit_length() - 1)
    counter, chosen = 0, []
    for _ in range(picks):
        if not total:
            break
        bound = (1 << 64) - (1 << 64) % total  # rejection keeps every value in [0, total) equally likely
        while True:
            value = _U64.unpack(hashlib.sha256(seed + _U64.pack(counter)).digest()[:8])[0]
            counter += 1
            if value < bound:
                break
        target, pos, step = value % total, 0, top
        while step:
            nxt = pos + step
            if nxt <= n and tree[nxt] <= target:
                pos, target = nxt, target - tree[nxt]
            step >>= 1
        chosen.append(pos)
        weight, i = weights[pos], pos + 1
        weights[pos] = 0
        while i <= n:
            tree[i] -= weight
            i += i & -i
        total -= weight
    return chosen


def run(conn: Any, param: str, blob: str, snapshot: int, weights: dict[str, int], entropy: str,
        picks: int) -> str:
    tiers = sorted(t for t, w in weights.items() if w > 0)
    cursor = conn.cursor()
    marks = ", ".join([param] * len(tiers))
    cursor.execute(f"SELECT account, tier FROM snapshot_rows WHERE snapshot_id = {param} AND tier IN ({marks}) "
                   "ORDER BY account", (snapshot, *tiers))
    listed, digest, data = freeze(_rows(cursor), weights)
    cursor.execute("DROP TABLE IF EXISTS floor_frozen")  # the bench runs the floor three times
    cursor.execute(TABLE.format(blob=blob))
    cursor.execute(f"INSERT INTO floor_frozen (id, count, digest, data) VALUES (1, {param}, {param}, {param})",
                   (len(listed), digest.hex(), data))
    conn.commit()
    seed = hashlib.sha256(digest + entropy.encode()).digest()
    winners = pick(fenwick(listed), listed, seed, picks)
    return f"{len(winners)} winners of {len(listed)} entrants; list {digest.hex()[:16]}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sqlite")
    parser.add_argument("--pg")
    parser.add_argument("--schema", default="public")
    parser.add_argument("--snapshot", type=int, required=True)
    parser.add_argument("--weights", default="responsible=1,ideal=3")
    parser.add_argument("--entropy", default="17 5 2871.45")
    parser.add_argument("--picks", type=int, default=120)
    args = parser.parse_args()
    weights = {k: int(v) for k, v in (item.split("=") for item in args.weights.split(","))}
    if args.sqlite:
        conn: Any = sqlite3.connect(args.sqlite)
        print(run(conn, "?", "BLOB", args.snapshot, weights, args.entropy, args.picks))
        return
    import psycopg

    with psycopg.connect(args.pg.replace("+psycopg", ""), options=f"-csearch_path={args.schema}") as conn:
        print(run(conn, "%s", "BYTEA", args.snapshot, weights, args.entropy, args.picks))


if __name__ == "__main__":
    main()
