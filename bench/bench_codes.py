"""Time partners.codes: generate 1 M codes and parse 200,000 (pure Python, one core).

    PYTHONPATH=. python bench/bench_codes.py [N]
"""

from __future__ import annotations

import sys
import time

from partners import codes


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    start = time.perf_counter()
    batch = codes.generate("GSRV", n)
    generated = time.perf_counter() - start
    sample = batch[:200_000]
    start = time.perf_counter()
    for text in sample:
        codes.parse(text)
    parsed = time.perf_counter() - start
    print(f"generate {n:,} codes: {generated:.2f} s ({n / generated:,.0f}/s)")
    print(f"parse {len(sample):,} codes: {parsed:.2f} s ({len(sample) / parsed:,.0f}/s)")


if __name__ == "__main__":
    main()
