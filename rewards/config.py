"""Configuration: defaults in code, then ``instance/config.py``, then ``REWARDS_*`` variables, then a test config.

Every setting the service knows is declared in ``DEFAULTS``; an unknown key in any layer stops start-up
with a message naming it, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import json
import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

ENV_PREFIX = "REWARDS_"


class ConfigError(Exception):
    """A setting is unknown or has a value the service cannot use."""


DEFAULTS: dict[str, Any] = {
    # The features of the service: the dotted names of the modules holding their init_app(app)
    # (rewards.features). They load in this order, which is also the order of their navigation
    # entries, dashboard panels and demo data: tier snapshots, draws, partner offers, priority flags.
    "FEATURES": ["rewards.snapshots.feature", "draws.feature", "partners.feature", "rewards.flags.feature"],
    # Empty means "a SQLite file rewards.sqlite3 in the instance folder".
    "DATABASE_URL": "",
    "SECRET_KEY": "",
    "TIMEZONE": "Asia/Yekaterinburg",
    "ENV": "production",  # "development" relaxes only the Secure cookie flag
    "PASSWORD_HASH_METHOD": "scrypt:131072:8:1",  # OWASP floor: N=2^17, r=8, p=1
    "SQLITE_BUSY_TIMEOUT_MS": 15000,
    "KEYS_DIR": "",  # empty: instance/keys
    "LOG_LEVEL": "INFO",
    "DEFAULT_LOCALE": "ru",
    "RATELIMIT_STORAGE_URI": "memory://",  # set redis://127.0.0.1:6379/0 with more than one worker
    "RATELIMIT_ENABLED": True,
    "RATELIMIT_STORAGE_OPTIONS": {},  # e.g. {"key_prefix": "rewards-prod"} when environments share a Redis
    "MAX_CONTENT_LENGTH": 200 * 1024 * 1024,
    "API_MAX_JSON_BYTES": 64 * 1024,
    # Partner API rate limits per API key (limits' syntax, ';' between windows); see docs/api.md.
    "PARTNER_API_LIMIT": "100/second;3000/minute",
    "DRAW_LOOKUP_LIMIT": "10 per minute;60 per hour",  # the public "did I take part?" form, per address
    "PARTNER_FAILED_LIMIT": "30/minute;300/hour",  # 'not_found' answers: the guessing signal
    "API_KEY_CACHE_SECONDS": 2,  # a worker may use a key it authenticated this long ago (0: read every call)
    "PARTNER_LIMIT_LEASE": 16,  # most permits a worker takes from Redis at once (1: a round trip per call)
    # Partner webhooks (docs/api.md "Webhooks"; sent by the jobs consumer).
    "WEBHOOK_TIMEOUT_SECONDS": 10,  # one attempt waits this long for the receiver's answer
    "WEBHOOK_LEASE_SECONDS": 60,  # an attempt under way; a killed sender's message is sent again after it
    "WEBHOOK_SENDERS": 8,  # parallel posts per consumer
    "WEBHOOK_EXPIRING_DAYS": 7,  # code.expiring: this many days before the offer ends
    "WEBHOOK_EXPIRING_CRON": "17 * * * *",
    "WEBHOOK_ROTATION_OVERLAP_HOURS": 24,  # after a rotation both secrets sign for this long
    "PARTNER_ISSUE_BATCH": 50_000,  # codes per committed batch of a bulk issue run as a job
    "WEBHOOK_KEEP_DAYS": 30,  # the delivery log of older messages (none pending) is deleted nightly
    # True only on a laptop or in the tests: endpoint URLs may then be http and reach loopback and
    # private addresses (otherwise https only, and a host resolving to such an address is refused)
    "WEBHOOK_ALLOW_LOCAL": False,
    "SESSION_LIFETIME_HOURS": 12,
    # Loyalty programme settings shared by several features.
    "PRIORITY_TIERS": ["ideal"],
    "PRIORITY_GRACE_MONTHS": 1,
    # The register of needs: re-verification of needs that may change, the days a lapsed temporary need
    # is kept before the daily job ends it, how far ahead "due" looks, and when the job runs (cron, UTC).
    "PRIORITY_REVERIFY_YEARS": 2,
    "PRIORITY_NEEDS_GRACE_DAYS": 14,
    "PRIORITY_NEEDS_DUE_DAYS": 30,
    "PRIORITY_NEEDS_LAPSE_CRON": "41 1 * * *",
    "PRIORITY_PASSWORD_LIMIT": "5 per minute;20 per day",  # call-centre password checks, per account
    "DRAW_YEARLY_CAP_KOPECKS": 400_000,
    # drand networks a draw may announce: the full chain info the announcement pins (the verifier knows
    # these two) and the relays the service asks, in order, when DRAND_FETCH is on.
    "DRAND_CHAINS": {
        "quicknet": {
            "name": "quicknet",
            "chain_hash": "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971",
            "public_key": "83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c8c4b450b6a0a6c3ac6a5776a2d"
            "1064510d1fec758c921cc22b0e17e63aaf4bcb5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76eae8991ef5ece45a",
            "scheme": "bls-unchained-g1-rfc9380",
            "period": 3,
            "genesis_time": 1692803367,
            "relays": [
                "https://api.drand.sh",
                "https://api2.drand.sh",
                "https://api3.drand.sh",
                "https://drand.cloudflare.com",
            ],
        },
        "mainnet": {
            "name": "mainnet",
            "chain_hash": "8990e7a9aaed2ffed73dbd7092123d6f289930540d7651336225dc172e51b2ce",
            "public_key": "868f005eb8e6e4ca0a47c8a77ceaa5309a47978a7c71bc5cce96366b5d7a569937c529ee"
                          "da66c7293784a9402801af31",
            "scheme": "pedersen-bls-chained",
            "period": 30,
            "genesis_time": 1595431050,
            "relays": [
                "https://api.drand.sh",
                "https://api2.drand.sh",
                "https://api3.drand.sh",
                "https://drand.cloudflare.com",
            ],
        },
    },
    "DRAND_FETCH": False,  # the production network reaches no drand relay unless the operator says so
    # With DRAND_FETCH: when the jobs consumer fetches, verifies and stores the due drand round of each
    # frozen draw (a cron line, UTC); "" turns the periodic fetch off (the draw's "fetch" then asks at once).
    "DRAND_FETCH_CRON": "* * * * *",
    # Background jobs (rewards.jobs): the Huey queue's storage. Empty: a SQLite file instance/jobs.sqlite3
    # (no server needed); "redis://host:6379/1" in production; "sqlite:///path" for another file;
    # "memory://" runs each job at once inside the caller (tests).
    "JOBS_URL": "",
    "JOBS_QUEUE": "rewards",  # the queue's name: installations sharing one Redis database need different ones
    "JOBS_DIR": "",  # empty: instance/jobs (uploads waiting for their job, files jobs write for download)
    "JOBS_CHECKPOINT_CRON": "30 2 * * *",  # the signed audit checkpoint (minute hour day month weekday, UTC); "" off
    "JOBS_KEEP_FILES_DAYS": 7,
    # The consumer's OS priority (os.nice increment): long jobs yield the CPU to the web workers, so partner
    # requests do not queue behind an import on a machine that runs both. 0 keeps the priority unchanged.
    # 19 (with JOBS_DATABASE_NICE 19): a redeem's p99 under an import and a bulk issue was 27 and 31 ms
    # against 32 and 36 ms at 10, the jobs no slower (two pairs of runs, docs/benchmarks.md 2026-12-07 18:26).
    "JOBS_NICE": 19,
    # Long jobs yield to live traffic (rewards.pacing): while the partner API has served a request within
    # the last second or so, a job pauses between chunks for this many times the chunk's duration (2: it
    # works at most a third of the time while traffic lasts). 0: never pause. Without traffic there is no
    # pause. 2 rather than 1: the partner redeem's p99 under an import and a bulk issue was 24-25 ms against
    # 28-32 ms, for jobs 35-50% longer under traffic (docs/benchmarks.md, 2026-12-07 15:11-15:49).
    "JOBS_YIELD_RATIO": 2.0,
    # With PostgreSQL's `prioritize` extension installed in the database, the consumer's database sessions
    # lower their server process's OS priority by this much (the COPY and index work of an import then
    # yields the CPU to the web workers' sessions). 0, or no extension: unchanged. 19: see JOBS_NICE.
    "JOBS_DATABASE_NICE": 19,
    "JOBS_STALE_SECONDS": 30,  # a running job whose consumer is silent this long is marked failed (interrupted)
    # Production operations (rewards/ops/): proxies in front that set X-Forwarded-For/-Proto (0: none,
    # trust no such header); the bearer token Prometheus sends to /metrics (empty: no /metrics at all);
    # "json": one JSON line per request and per log record, "text": plain lines.
    "TRUSTED_PROXIES": 0,
    "METRICS_TOKEN": "",
    "LOG_FORMAT": "json",
    "TESTING": False,
    "DEBUG": False,
}

# Flask and extension settings a test config or instance config may also set.
PASSTHROUGH = {
    "TESTING",
    "DEBUG",
    "SERVER_NAME",
    "PREFERRED_URL_SCHEME",
    "WTF_CSRF_ENABLED",
    "WTF_CSRF_TIME_LIMIT",
    "SQLALCHEMY_ENGINE_OPTIONS",
    "SQLALCHEMY_ECHO",
    "BABEL_DEFAULT_LOCALE",
}


def _coerce(name: str, raw: str, default: Any) -> Any:
    """Turn an environment string into the type of the setting's default."""
    try:
        if isinstance(default, bool):
            low = raw.strip().lower()
            if low in {"1", "true", "yes", "on"}:
                return True
            if low in {"0", "false", "no", "off"}:
                return False
            raise ValueError("expected true or false")
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, (list, dict)):
            if isinstance(default, list) and not raw.strip().startswith("["):
                return [part.strip() for part in raw.split(",") if part.strip()]
            return json.loads(raw)
    except (ValueError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{ENV_PREFIX}{name}: cannot read {raw!r} ({exc})") from exc
    return raw


def load_file(path: Path) -> dict[str, Any]:
    """The upper-case names of a Python config file (empty when the file does not exist)."""
    if not path.exists():
        return {}
    namespace: dict[str, Any] = {"__file__": str(path)}
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), namespace)  # noqa: S102
    return {k: v for k, v in namespace.items() if k.isupper()}


# REWARDS_* variables read by the tools around the app, not settings: the instance folder (app factory),
# gunicorn.conf.py's bind address and worker count, tasks.py's venv, and the test suite's REWARDS_TEST_*.
NOT_SETTINGS = frozenset({"INSTANCE_PATH", "BIND", "WORKERS", "VENV"})
NOT_SETTINGS_PREFIX = "TEST_"


def load_env(environ: dict[str, str] | os._Environ[str]) -> dict[str, Any]:
    """Settings from ``REWARDS_*`` environment variables."""
    result: dict[str, Any] = {}
    for key, raw in environ.items():
        if not key.startswith(ENV_PREFIX):
            continue
        if key[len(ENV_PREFIX) :] in NOT_SETTINGS or key[len(ENV_PREFIX) :].startswith(NOT_SETTINGS_PREFIX):
            continue
        name = key[len(ENV_PREFIX) :]
        if name not in DEFAULTS:
            raise ConfigError(f"unknown setting {key} in the environment")
        result[name] = _coerce(name, raw, DEFAULTS[name])
    return result


def check_layer(layer: dict[str, Any], source: str) -> None:
    """Refuse a key that no layer knows."""
    for key in layer:
        if key not in DEFAULTS and key not in PASSTHROUGH:
            raise ConfigError(f"unknown setting {key} in {source}")


_DOTTED = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
_SQLITE_OR_PG = re.compile(r"^(sqlite|postgresql)(\+\w+)?$")


def database_uri(url: str, instance_path: str) -> str:
    """The SQLAlchemy URL, with a clear error for anything the service cannot use."""
    if not url:
        return "sqlite:///" + os.path.join(instance_path, "rewards.sqlite3")
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"DATABASE_URL is not a database URL: {exc}") from exc
    if not _SQLITE_OR_PG.match(parsed.drivername):
        raise ConfigError(
            f"DATABASE_URL: unsupported database {parsed.drivername!r} (use sqlite:/// or postgresql+psycopg://)"
        )
    if parsed.drivername == "postgresql" or parsed.drivername == "postgresql+psycopg2":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername.startswith("postgresql") and not parsed.database:
        raise ConfigError("DATABASE_URL: a PostgreSQL URL must name the database")
    return parsed.render_as_string(hide_password=False)


def _whole_number(cfg: dict[str, Any], name: str, low: int, high: int | None = None) -> None:
    value = cfg[name]
    if not isinstance(value, int) or isinstance(value, bool) or value < low or (high is not None and value > high):
        limits = f"from {low} to {high}" if high is not None else f"at least {low}"
        raise ConfigError(f"{name}: must be a whole number {limits}")


def _check_numbers(cfg: dict[str, Any]) -> None:
    if cfg["DRAW_YEARLY_CAP_KOPECKS"] < 0:
        raise ConfigError("DRAW_YEARLY_CAP_KOPECKS: must not be negative")
    cache = cfg["API_KEY_CACHE_SECONDS"]
    if not isinstance(cache, int | float) or isinstance(cache, bool) or cache < 0:
        raise ConfigError("API_KEY_CACHE_SECONDS: must be a number of seconds, at least 0")
    ratio = cfg["JOBS_YIELD_RATIO"]
    if not isinstance(ratio, int | float) or isinstance(ratio, bool) or not 0 <= ratio <= 100:
        raise ConfigError("JOBS_YIELD_RATIO: must be a number from 0 (never pause) to 100")
    _whole_number(cfg, "JOBS_DATABASE_NICE", 0, 19)
    _whole_number(cfg, "PARTNER_LIMIT_LEASE", 1)
    _whole_number(cfg, "PARTNER_ISSUE_BATCH", 1, 1_000_000)
    _whole_number(cfg, "TRUSTED_PROXIES", 0, 10)
    _whole_number(cfg, "PRIORITY_REVERIFY_YEARS", 1, 10)
    _whole_number(cfg, "PRIORITY_NEEDS_GRACE_DAYS", 0, 366)
    _whole_number(cfg, "PRIORITY_NEEDS_DUE_DAYS", 0, 366)


def _check_features(cfg: dict[str, Any]) -> None:
    features = cfg["FEATURES"]
    if not isinstance(features, list) or not all(isinstance(f, str) and _DOTTED.match(f) for f in features):
        raise ConfigError("FEATURES: must be a list of dotted module names")
    if len(set(features)) != len(features):
        raise ConfigError("FEATURES: a feature is listed twice")


def check_values(cfg: dict[str, Any]) -> None:
    """Validate the values that would otherwise fail much later."""
    try:
        ZoneInfo(cfg["TIMEZONE"])
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"TIMEZONE: unknown time zone {cfg['TIMEZONE']!r}") from exc
    if cfg["ENV"] not in {"production", "development"}:
        raise ConfigError("ENV: must be production or development")
    _check_features(cfg)
    _check_numbers(cfg)
    if cfg["LOG_FORMAT"] not in {"json", "text"}:
        raise ConfigError("LOG_FORMAT: must be json or text")
    token = cfg["METRICS_TOKEN"]
    if not isinstance(token, str) or (token and len(token) < 16):
        raise ConfigError("METRICS_TOKEN: must be empty (no /metrics) or at least 16 characters")
    from rewards.tiers import TIERS

    for tier in cfg["PRIORITY_TIERS"]:
        if tier not in TIERS:
            raise ConfigError(f"PRIORITY_TIERS: unknown tier {tier!r}")


def session_lifetime(cfg: dict[str, Any]) -> timedelta:
    """How long a staff login lasts."""
    return timedelta(hours=int(cfg["SESSION_LIFETIME_HOURS"]))
