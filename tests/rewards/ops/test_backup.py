"""The backup and restore drill: ``flask backup`` while the service runs, restore into a fresh instance
as docs/operations.md says, and ``flask audit verify --checkpoint`` passes there."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import create_engine, make_url, text

from rewards import create_app
from rewards.db import db
from tests.conftest import KEYS_CREATED, PG_URL
from tests.support import FAST_HASH, PASSWORD


def _app(url: str, keys: Path) -> Flask:
    return create_app({"TESTING": True, "SECRET_KEY": "test-secret", "DATABASE_URL": url, "KEYS_DIR": str(keys),
                       "PASSWORD_HASH_METHOD": FAST_HASH})


def _dispose(app: Flask) -> None:
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


class Databases:
    """Source and restore-target databases of one engine: files, or two new PostgreSQL databases."""

    def __init__(self, backend: str, tmp_path: Path) -> None:
        self.backend, self.tmp = backend, tmp_path
        self.made: list[str] = []

    def url(self, name: str) -> str:
        if self.backend == "sqlite":
            (self.tmp / name).mkdir(exist_ok=True)
            return f"sqlite:///{self.tmp / name / 'rewards.sqlite3'}"
        db_name = f"rw_backup_{name}_{os.getpid()}"
        self._admin(f'DROP DATABASE IF EXISTS "{db_name}"', f'CREATE DATABASE "{db_name}"')
        self.made.append(db_name)
        return make_url(PG_URL).set(database=db_name).render_as_string(hide_password=False)

    def restore(self, backup: Path, url: str) -> None:
        """The documented restore: copy the SQLite file in place, or pg_restore into the new database."""
        if self.backend == "sqlite":
            shutil.copy2(backup / "rewards.sqlite3", make_url(url).database)  # type: ignore[arg-type]
        else:
            libpq = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
            subprocess.run(["pg_restore", "--no-owner", "--exit-on-error", "--dbname", libpq,
                            str(backup / "rewards.dump")], check=True, capture_output=True)

    def _admin(self, *statements: str) -> None:
        engine = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            for statement in statements:
                conn.execute(text(statement))
        engine.dispose()

    def drop(self) -> None:
        for name in self.made:
            self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def dbs(backend: str, tmp_path: Path) -> Iterator[Databases]:
    if backend == "postgresql" and shutil.which("pg_restore") is None:
        pytest.skip("pg_dump/pg_restore not installed (postgresql-client)")
    made = Databases(backend, tmp_path)
    yield made
    made.drop()


def _users(app: Flask, *names: str) -> None:
    from rewards.auth.services import create_user

    with app.app_context():
        for name in names:
            create_user(db.session, name, PASSWORD, "auditor", method=FAST_HASH, actor="test")
        db.session.commit()


def _source(dbs: Databases, keys: Path) -> Flask:
    """The instance to back up: its database migrated, its signing key made."""
    from rewards.signing.keystore import KeyStore

    source = _app(dbs.url("source"), keys)
    with source.app_context():
        upgrade()
    KeyStore(keys).generate(created_at=KEYS_CREATED)
    return source


def _cli(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=list(args))


def test_backup_restores_into_a_fresh_instance_and_the_log_verifies(dbs: Databases, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    source = _source(dbs, keys)
    _users(source, "anna", "boris")
    made = _cli(source, "audit", "checkpoint", "--out", str(tmp_path / "cp.json"))
    assert made.exit_code == 0, made.output
    _users(source, "vera")  # after the checkpoint: the backup holds more than the auditors saw

    result = _cli(source, "backup", str(tmp_path / "backup"), "--with-keys")
    assert result.exit_code == 0, result.output
    _dispose(source)
    backup = tmp_path / "backup"
    manifest = json.loads((backup / "backup.json").read_text())
    assert manifest["alembic_revision"] and manifest["engine"] == dbs.backend
    for name in manifest["files"]:
        assert stat.S_IMODE((backup / name).stat().st_mode) == 0o600, name
    assert stat.S_IMODE(backup.stat().st_mode) == 0o700

    # a fresh instance: new database, keys from the backup, 'flask db upgrade', then the auditors' check
    fresh_keys = tmp_path / "fresh-keys"
    shutil.copytree(backup / "keys", fresh_keys)
    os.chmod(fresh_keys, 0o700)
    target_url = dbs.url("restored")
    dbs.restore(backup, target_url)
    restored = _app(target_url, fresh_keys)
    with restored.app_context():
        upgrade()
    verified = _cli(restored, "audit", "verify", "--checkpoint", str(tmp_path / "cp.json"))
    assert verified.exit_code == 0, verified.output
    assert verified.output.startswith("OK: ")
    with restored.app_context():
        from rewards.auth.models import User

        assert sorted(u.username for u in db.session.query(User)) == ["anna", "boris", "vera"]
    _dispose(restored)


def test_a_backup_older_than_the_checkpoint_is_reported(dbs: Databases, tmp_path: Path) -> None:
    """A restore from before a checkpoint verifies as a cut tail: the drill can fail."""
    keys = tmp_path / "keys"
    source = _source(dbs, keys)
    _users(source, "anna")
    assert _cli(source, "backup", str(tmp_path / "old")).exit_code == 0
    _users(source, "boris")
    assert _cli(source, "audit", "checkpoint", "--out", str(tmp_path / "cp.json")).exit_code == 0
    _dispose(source)
    target_url = dbs.url("restored")
    dbs.restore(tmp_path / "old", target_url)
    restored = _app(target_url, keys)
    verified = _cli(restored, "audit", "verify", "--checkpoint", str(tmp_path / "cp.json"))
    assert verified.exit_code == 1 and "BROKEN" in verified.output
    _dispose(restored)


def test_backup_refuses_an_existing_folder(app: Flask, tmp_path: Path) -> None:
    (tmp_path / "there").mkdir()
    result = app.test_cli_runner().invoke(args=["backup", str(tmp_path / "there")])
    assert result.exit_code != 0 and "exists" in result.output
