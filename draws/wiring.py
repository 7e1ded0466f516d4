"""The shell's collaborators for the draw services, built from the app configuration."""

from __future__ import annotations

import os
from typing import Any

from flask import current_app

from draws.relay import RelayError, fetch_round
from draws.secretbox import SecretBox
from rewards.signing.keystore import KeyStore


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
    """Fetch a drand round from the chain's configured relays, in order (only when ``DRAND_FETCH``).

    Each relay's answer must verify against the chain's public key (BLS) before it is used; a relay
    that fails or answers a forged round is skipped for the next. Returns the entropy value and the
    relay record to keep with the draw: the URL, when it was fetched and the answer as received.
    """
    if not current_app.config.get("DRAND_FETCH"):
        raise FetchRefused("fetching drand is disabled (DRAND_FETCH); enter the round's values by hand")
    from draws.services import chain_of

    conf = chains()[chain]
    try:
        return fetch_round(chain_of(chains(), chain), int(round_number), list(conf.get("relays", [])), timeout=timeout)
    except RelayError as exc:
        raise FetchRefused(str(exc)) from exc
