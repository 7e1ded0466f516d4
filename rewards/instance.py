"""``python -m rewards.instance init``: create the instance folder with a secret key (run once, at set-up)."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path


def init(folder: Path) -> bool:
    """Write ``config.py`` with a fresh SECRET_KEY unless one exists; returns True when written.

    The folder (database, keys, secrets) is the owner's only (0700). The config sets no ``ENV``:
    production is the default (Secure cookies); ``tasks.py run`` asks for development itself.
    """
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    config = folder / "config.py"
    if config.exists():
        return False
    fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(
            "# Written by 'python -m rewards.instance init'. See config.example.py for every setting.\n"
            f"SECRET_KEY = {secrets.token_hex(32)!r}\n"
        )
    return True


def main(argv: list[str]) -> int:
    """Command-line entry point."""
    if len(argv) < 1 or argv[0] != "init":
        print("usage: python -m rewards.instance init [FOLDER]", file=sys.stderr)
        return 2
    folder = Path(argv[1]) if len(argv) > 1 else Path(os.environ.get("REWARDS_INSTANCE_PATH", "instance"))
    written = init(folder.resolve())
    print(f"{'created' if written else 'kept existing'} {folder.resolve() / 'config.py'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
