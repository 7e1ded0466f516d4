"""Floor of a snapshot compute: the behaviour files parsed by the csv module, and nothing else.

    python bench/floors/csv_parse.py FILE [FILE ...]

Opens, decodes and splits every row (what any reader of these files must do at the least); no
checks, no rating, no database. Issue 15's target: ``flask snapshots compute`` within 3x its CPU.
"""

from __future__ import annotations

import csv
import sys


def main(paths: list[str]) -> None:
    rows = 0
    for path in paths:
        with open(path, newline="", encoding="utf-8") as f:
            for _row in csv.reader(f, delimiter=";"):
                rows += 1
    print(rows)


if __name__ == "__main__":
    main(sys.argv[1:])
