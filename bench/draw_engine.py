"""Benchmark of the pure draw core at production scale (default: 1.5 M entrants, 100 prizes, 20 reserves).

Run from the repository root::

    PYTHONPATH=. python bench/draw_engine.py            # full size (the machine is shared: not too often)
    PYTHONPATH=. python bench/draw_engine.py --n 100000 # quick

Times, for the pure core only (no database; the service's freeze adds its SQL query):
- canonical sort + entrant digest + weights digest,
- salted leaf hashes + Merkle root,
- selection (Fenwick build in O(n) + 120 weighted picks),
- building and signing the three records,
- verification of the full auditor bundle, in process and as ``python -m draws.verify FILE`` (a
  separate process, so its peak RSS is its own);
and, as the floor, the same selection by the plain-Python reference (an O(n) scan per pick,
``select_weighted_naive``) and by a "one cumulative array + bisect per pick" variant.
Peak memory is the maximum resident set size (``resource.getrusage``).
"""

from __future__ import annotations

import argparse
import bisect
import hashlib
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from itertools import accumulate
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from draws.bundle import auditor_bundle  # noqa: E402
from draws.drand import KNOWN_CHAINS  # noqa: E402
from draws.engine import (  # noqa: E402
    ALGORITHM_WEIGHTED,
    Entrant,
    build_announcement,
    build_freeze,
    build_head,
    build_result,
    commitment_of,
    drand_source,
    freeze_entrants,
    keyed_order,
    parse_timestamp,
    run_selection,
    salt_commitment_of,
    select_weighted_naive,
)
from draws.sample import (  # noqa: E402
    SAMPLE_ANNOUNCED_AT,
    SAMPLE_FREEZE_AT,
    cosign_freeze,
    keyset_for,
    quicknet_value,
    sample_signing_key,
    sample_witness_key,
    witness_entry,
)
from draws.stream import ByteStream  # noqa: E402
from draws.verify import verify_bundle  # noqa: E402
from signedjson import sign_payload  # noqa: E402


def peak_mb() -> float:
    """Peak RSS of this process in MiB: ``VmHWM`` (per address space, so a child started with
    fork + exec reports its own peak, unlike ``ru_maxrss`` which keeps the parent's pre-exec size)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


CHILD = (
    "import sys\n"
    "from draws.verify import main\n"
    "from bench.draw_engine import peak_mb\n"
    "code = main(sys.argv[1:])\n"
    "print(f'PEAK_MB {peak_mb():.0f}', file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def make_entrants(n: int) -> list[Entrant]:
    """``n`` distinct random 10-digit accounts, tiers responsible (weight 1) or ideal (weight 3)."""
    rng = random.Random(20260701)  # benchmark data only; draws never use `random`
    numbers = rng.sample(range(10**10), n)
    tiers = rng.choices(("responsible", "ideal"), weights=(3, 1), k=n)
    return [Entrant(f"{x:010d}", t, 3 if t == "ideal" else 1) for x, t in zip(numbers, tiers, strict=True)]


def naive_bisect(weights: list[int], count: int, stream: ByteStream) -> list[int]:
    """Rebuild the cumulative array after each pick and bisect (O(n) per pick, in C)."""
    current = list(weights)
    chosen = []
    for _ in range(count):
        cumulative = list(accumulate(current))
        r = stream.uniform_below(cumulative[-1])
        index = bisect.bisect_right(cumulative, r)
        chosen.append(index)
        current[index] = 0
    return chosen


def timed(label: str, rows: list[tuple[str, float]], fn, *args):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    value = fn(*args)
    rows.append((label, time.perf_counter() - start))
    return value


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_500_000)
    parser.add_argument("--prizes", type=int, default=100)
    parser.add_argument("--reserves", type=int, default=20)
    parser.add_argument("--skip-naive", action="store_true", help="skip the O(n)-per-pick reference")
    args = parser.parse_args()

    rows: list[tuple[str, float]] = []
    people = timed("generate entrants (not part of the draw)", rows, make_entrants, args.n)
    random.Random(1).shuffle(people)  # arrive unsorted, as from a database without ORDER BY
    key = sample_signing_key("bench")
    secret = hashlib.sha256(b"bench secret").digest()
    salt_key = hashlib.sha256(b"bench salt").digest()
    freeze_at = SAMPLE_FREEZE_AT  # the real quicknet round 3 is the entropy
    source = drand_source(KNOWN_CHAINS["quicknet"], parse_timestamp(freeze_at), 0)
    witness_keys = [(f"Witness {n + 1}", sample_witness_key("bench", n)) for n in range(2)]
    witnesses = [witness_entry(name, k) for name, k in witness_keys]
    ann = build_announcement(
        draw_id="bench", name="Bench", kind="quarterly", snapshot={"period": "2026-06", "digest": "0" * 64},
        announced_at=SAMPLE_ANNOUNCED_AT, freeze_at=freeze_at, algorithm=ALGORITHM_WEIGHTED,
        tier_weights={"responsible": 1, "ideal": 3}, exclusions=[],
        prizes=[{"amount_kopecks": 400_000, "count": args.prizes}], reserves=args.reserves,
        commitment=commitment_of(secret), salt_commitment=salt_commitment_of(salt_key), entropy_source=source,
        witnesses={"quorum": 2, "keys": witnesses, "unwitnessed": False},
    )

    from draws.entrants import canonical_entrants, entrant_digest, weights_digest
    from draws.merkle import MerkleTree, entrant_leaf_hashes

    t0 = time.perf_counter()
    canon = timed("validation (+ account sort, as the database gives it)", rows, canonical_entrants, people)
    accounts, _tiers, weights, keys = timed("keyed order: HMAC-SHA256 per account + sort by it", rows, keyed_order,
                                            salt_key,
                                            [e.account for e in canon], [e.tier for e in canon],
                                            [e.weight for e in canon])
    canon = [Entrant(a, t, w) for a, t, w in zip(accounts, _tiers, weights, strict=True)]
    timed("entrant digest (SHA-256 of canonical list)", rows, entrant_digest, canon)
    timed("weights digest", rows, weights_digest, weights)
    leaves = timed("salted leaf hashes (salts from the order keys)", rows, entrant_leaf_hashes, salt_key, accounts,
                   weights, keys)
    timed("Merkle root (RFC 6962)", rows, lambda leaves=leaves: MerkleTree(leaves).root())
    seed = hashlib.sha256(b"bench seed").digest()
    outcome = timed(
        f"selection: Fenwick build + {args.prizes + args.reserves} picks", rows,
        run_selection, ALGORITHM_WEIGHTED, seed, weights, args.prizes, args.reserves,
    )
    core_total = time.perf_counter() - t0
    del leaves

    t1 = time.perf_counter()
    frozen = timed("freeze_entrants (all of the above, one call)", rows, freeze_entrants, people, salt_key)
    freeze = build_freeze(ann, frozen, freeze_at)
    cosignatures = [cosign_freeze(k, name, ann, freeze, "2023-08-23T15:09:31Z") for name, k in witness_keys]
    entropy = quicknet_value(source["round"])
    result, _ = timed("build_result (quorum, BLS check of the round, seed, selection, record)", rows, build_result, ann,
                      freeze, frozen.accounts, frozen.weights, salt_key, secret, entropy, "2023-08-23T15:10:00Z",
                      cosignatures)
    envelopes = [sign_payload(key, p) for p in (ann, freeze, result)]
    freeze_draw_total = time.perf_counter() - t1
    freeze_draw_peak = peak_mb()
    bundle = auditor_bundle(keyset_for(key), *envelopes, frozen, salt_key,
                            head=sign_payload(key, build_head(result, [], result["drawn_at"])))
    checks = timed("verify_bundle (in process, full auditor bundle)", rows,
                   lambda b: verify_bundle(b, keyset_for(key), witnesses=witnesses), bundle)
    assert all(c.status == "PASS" for c in checks), [c.line() for c in checks if c.status != "PASS"]
    in_process_peak = peak_mb()

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bundle.json")
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(bundle, handle)
        trust = [os.path.join(tmp, "keyset.json"), os.path.join(tmp, "witnesses.json")]
        Path(trust[0]).write_text(json.dumps(keyset_for(key)))
        Path(trust[1]).write_text(json.dumps({"witnesses": witnesses}))
        size_mb = os.path.getsize(path) / 2**20
        del bundle, frozen
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, path, "--keyset", trust[0], "--witnesses", trust[1]], capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT,
        )
        cli_time = time.perf_counter() - start
        assert proc.returncode == 0, proc.stdout + proc.stderr
    rows.append((f"python -m draws.verify FILE ({size_mb:.0f} MB JSON, separate process)", cli_time))
    cli_peak = float(proc.stderr.split("PEAK_MB")[-1].split()[0])

    if not args.skip_naive:
        picks = args.prizes + args.reserves
        naive = timed(f"floor: plain-Python O(n) scan per pick ({picks} picks)", rows, select_weighted_naive, weights,
                      picks, ByteStream(seed))
        assert naive == outcome.winners + outcome.reserves
        bis = timed(f"floor: accumulate + bisect per pick ({picks} picks)", rows, naive_bisect, weights, picks,
                    ByteStream(seed))
        assert bis == naive

    print(f"\nDraw engine benchmark: {args.n:,} entrants, {args.prizes} prizes, {args.reserves} reserves, "
          f"Python {sys.version.split()[0]}, {os.cpu_count()} CPU(s)\n")
    print(f"| {'step':<72} | {'seconds':>8} |")
    print(f"|{'-' * 74}|{'-' * 10}|")
    for label, seconds in rows:
        print(f"| {label:<72} | {seconds:>8.2f} |")
    print(f"| {'pure core: sort + digests + leaves + root + selection':<72} | {core_total:>8.2f} |")
    print(f"| {'freeze + draw (freeze_entrants + build_result + signing)':<72} | {freeze_draw_total:>8.2f} |")
    print(f"\npeak RSS after freeze + draw (incl. the generated 'database rows'): {freeze_draw_peak:,.0f} MiB")
    print(f"peak RSS, benchmark process at the end (entrants held twice + bundle): {in_process_peak:,.0f} MiB")
    print(f"peak RSS, python -m draws.verify on the auditor bundle file: {cli_peak:,.0f} MiB")


if __name__ == "__main__":
    main()
