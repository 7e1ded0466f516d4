"""The app factory and configuration layering."""

from __future__ import annotations

from pathlib import Path

import pytest

from rewards import create_app
from rewards.config import ConfigError


def test_layers_apply_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "config.py").write_text('SECRET_KEY = "from-file"\nTIMEZONE = "Europe/Moscow"\nLOG_LEVEL = "DEBUG"\n')
    monkeypatch.setenv("REWARDS_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("REWARDS_TIMEZONE", "Asia/Omsk")
    monkeypatch.setenv("REWARDS_PRIORITY_TIERS", "ideal,responsible")
    app = create_app({"TESTING": True, "LOG_LEVEL": "WARNING"})
    assert app.config["SECRET_KEY"] == "from-file"
    assert app.config["TIMEZONE"] == "Asia/Omsk"  # environment beats the file
    assert app.config["LOG_LEVEL"] == "WARNING"  # test config beats the environment
    assert app.config["PRIORITY_TIERS"] == ["ideal", "responsible"]
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'rewards.sqlite3'}"
    assert app.config["KEYS_DIR"] == str(tmp_path / "keys")


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REWARDS_INSTANCE_PATH", str(tmp_path))
    app = create_app({"SECRET_KEY": "s"})
    assert app.config["TIMEZONE"] == "Asia/Yekaterinburg"
    assert app.config["PASSWORD_HASH_METHOD"] == "scrypt:131072:8:1"
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert not (tmp_path / "config.py").exists()  # nothing written at start-up


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"REWARDS_DATABSE_URL": "sqlite://"}, "unknown setting REWARDS_DATABSE_URL"),
        ({"REWARDS_DATABASE_URL": "mysql://x/y"}, "DATABASE_URL: unsupported database"),
        ({"REWARDS_DATABASE_URL": "not a url"}, "DATABASE_URL"),
        ({"REWARDS_DATABASE_URL": "postgresql+psycopg://host"}, "must name the database"),
        ({"REWARDS_TIMEZONE": "Mars/Olympus"}, "TIMEZONE: unknown time zone"),
        ({"REWARDS_SQLITE_BUSY_TIMEOUT_MS": "soon"}, "REWARDS_SQLITE_BUSY_TIMEOUT_MS"),
        ({"REWARDS_PRIORITY_TIERS": "platinum"}, "PRIORITY_TIERS: unknown tier"),
    ],
)
def test_bad_settings_stop_startup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    monkeypatch.setenv("REWARDS_INSTANCE_PATH", str(tmp_path))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError, match=message):
        create_app({"SECRET_KEY": "s"})


def test_unknown_key_in_instance_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "config.py").write_text('SECRET_KEY = "x"\nTIMEZONE_NAME = "UTC"\n')
    monkeypatch.setenv("REWARDS_INSTANCE_PATH", str(tmp_path))
    with pytest.raises(ConfigError, match="unknown setting TIMEZONE_NAME in instance/config.py"):
        create_app()


def test_missing_secret_key_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REWARDS_INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("REWARDS_SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY is not set"):
        create_app()


def test_instance_init_writes_a_private_config(tmp_path: Path) -> None:
    from rewards.instance import init

    assert init(tmp_path / "inst") is True
    config = tmp_path / "inst" / "config.py"
    assert oct(config.stat().st_mode & 0o777) == "0o600"
    assert "SECRET_KEY" in config.read_text()
    assert init(tmp_path / "inst") is False  # never overwrites


def test_tool_variables_are_not_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """gunicorn.conf.py, tasks.py and the CI script set these; the app must start with them set."""
    monkeypatch.setenv("REWARDS_INSTANCE_PATH", str(tmp_path))
    for name, value in {
        "REWARDS_BIND": "127.0.0.1:8000",
        "REWARDS_WORKERS": "2",
        "REWARDS_VENV": "/tmp/venv",
        "REWARDS_TEST_REQUIRE_PG": "1",
        "REWARDS_TEST_PG_URL": "postgresql+psycopg://x@127.0.0.1/test",
    }.items():
        monkeypatch.setenv(name, value)
    app = create_app({"SECRET_KEY": "s"})
    assert "BIND" not in app.config and "TEST_REQUIRE_PG" not in app.config
