"""The shell's collaborators for the draw services, built from the app configuration."""

from __future__ import annotations

import json
import os
import urllib.request
from datetime import UTC, datetime
from typing import Any

from flask import current_app

from draws.secretbox import SecretBox
from rewards.signing.keystore import KeyStore
from signedjson import utc_timestamp


def signer() -> KeyStore:
    """The signing key store (``KEYS_DIR``)."""
    return KeyStore(current_app.config["KEYS_DIR"])


def box() -> SecretBox:
    """The draw secret box: its key file lives next to the signing keys, outside the database."""
    return SecretBox(os.path.join(current_app.config["KEYS_DIR"], "draw-secrets.key"))


def chains() -> dict[str, Any]:
    """The configured drand chains."""
    return dict(current_app.config["DRAND_CHAINS"])


def timezone() -> str:
    """The retailer's time zone."""
    return str(current_app.config["TIMEZONE"])


def yearly_cap() -> int:
    """The tax-free prize total per account per calendar year, in kopecks."""
    return int(current_app.config["DRAW_YEARLY_CAP_KOPECKS"])


class FetchRefused(Exception):
    """Fetching drand is disabled or failed."""


def fetch_drand(chain: str, round_number: int, timeout: float = 10.0) -> tuple[dict[str, Any], dict[str, Any]]:
    """Fetch a drand round from the configured relay (only when ``DRAND_FETCH`` is true).

    Returns the entropy value and the relay record to keep with the draw: the URL, when it was
    fetched and the relay's response text exactly as received.
    """
    if not current_app.config.get("DRAND_FETCH"):
        raise FetchRefused("fetching drand is disabled (DRAND_FETCH); enter the round's values by hand")
    conf = chains()[chain]
    url = f"{conf['url'].rstrip('/')}/{conf['chain_hash']}/public/{int(round_number)}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - configured https relay
            raw = response.read(65536).decode("utf-8")
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("the relay's answer is not a JSON object")
    except (OSError, ValueError) as exc:
        raise FetchRefused(f"could not fetch drand round {round_number}: {exc}") from exc
    value = {"type": "drand", "round": data.get("round"), "randomness": data.get("randomness"), "signature": data.get("signature")}
    relay = {"url": url, "fetched_at": utc_timestamp(datetime.now(UTC)), "response": raw}
    return value, relay
