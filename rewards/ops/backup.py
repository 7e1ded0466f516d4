"""``flask backup``: a consistent copy of the database taken while the service runs.

SQLite: the online backup API (``sqlite3.Connection.backup``) copies the database page by page under a
read transaction, WAL included, into a new file created 0600: never copy the file itself while the
service runs. PostgreSQL: ``pg_dump --format=custom`` (restore with ``pg_restore``); the password goes
to ``pg_dump`` through ``PGPASSWORD``, never on its command line. ``--with-keys`` adds a copy of the
signing keys folder (0700/0600) to the backup folder; keep that copy encrypted and apart from the
database copies. Restoring is described in docs/operations.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.engine import make_url

from rewards.db import db

MANIFEST = "backup.json"


class BackupError(Exception):
    """The backup could not be made (the message says why)."""


def _private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 (it will hold personal data); refuse to overwrite."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)


def backup_sqlite(database: str, dest: Path) -> None:
    """Copy the SQLite database file ``database`` into ``dest`` with the online backup API."""
    _private_file(dest)
    source = sqlite3.connect(database)
    try:
        target = sqlite3.connect(dest)
        try:
            source.backup(target)
            if target.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise BackupError(f"the copy {dest} fails its integrity check")
        finally:
            target.close()
    finally:
        source.close()


def backup_postgresql(url: str, dest: Path) -> None:
    """Dump the PostgreSQL database of ``url`` into ``dest`` with ``pg_dump --format=custom``."""
    parsed = make_url(url)
    if shutil.which("pg_dump") is None:
        raise BackupError("pg_dump is not installed (Debian: apt-get install postgresql-client)")
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    libpq = parsed.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    _private_file(dest)
    done = subprocess.run(
        ["pg_dump", "--format=custom", "--no-owner", "--file", str(dest), "--dbname", libpq],
        env=env, capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        dest.unlink(missing_ok=True)
        raise BackupError(f"pg_dump failed: {done.stderr.strip()[:500]}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _revision() -> str | None:
    """The Alembic revision of the database (None when it was built without migrations)."""
    from sqlalchemy import inspect, text

    with db.engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def make_backup(folder: Path, *, with_keys: bool) -> dict[str, object]:
    """Write a backup of this app's database (and keys) into the new folder ``folder``; return its manifest."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=False)
    url = make_url(current_app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            raise BackupError("an in-memory SQLite database has nothing to back up")
        name = "rewards.sqlite3"
        backup_sqlite(url.database, folder / name)
    else:
        name = "rewards.dump"
        backup_postgresql(current_app.config["SQLALCHEMY_DATABASE_URI"], folder / name)
    files = {name: _sha256(folder / name)}
    if with_keys:
        keys = Path(current_app.config["KEYS_DIR"])
        target = folder / "keys"
        shutil.copytree(keys, target, copy_function=shutil.copy2)
        os.chmod(target, 0o700)
        for path in sorted(target.iterdir()):
            os.chmod(path, 0o600)
            files[f"keys/{path.name}"] = _sha256(path)
    manifest: dict[str, object] = {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "engine": url.get_backend_name(),
        "alembic_revision": _revision(),
        "files": files,
    }
    _private_file(folder / MANIFEST)
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


@click.command("backup")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--with-keys", is_flag=True, help="Also copy the signing keys folder (keep that copy encrypted).")
@with_appcontext
def backup_command(folder: Path, with_keys: bool) -> None:
    """Back up the database (online: the service may run) into the new folder FOLDER."""
    try:
        manifest = make_backup(folder, with_keys=with_keys)
    except (BackupError, FileExistsError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    for name, digest in manifest["files"].items():  # type: ignore[attr-defined]
        click.echo(f"{digest}  {folder / name}")
    click.echo(f"backup of revision {manifest['alembic_revision']} written to {folder}")
