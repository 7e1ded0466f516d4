"""Fetching a drand round from several relays, in order, keeping the first answer that verifies.

A relay is only a courier: what it returns is accepted only if it is the asked round and its BLS
signature verifies under the chain's public key (:func:`draws.drand.check_value`). A relay that is
down, slow, answers garbage or a forged round is skipped and the next one is asked. Stdlib only.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from draws.drand import BeaconInvalid, DrandChain, check_value

MAX_RESPONSE_BYTES = 64 * 1024


class RelayError(Exception):
    """No relay gave a valid round (or the round is not due yet); the message lists each relay and why."""

    def __init__(self, message: str, failures: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.failures = list(failures)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("now() must return a timezone-aware datetime")
    return moment


def round_url(relay: str, chain: DrandChain, round_number: int) -> str:
    """The relay URL of a round: ``<relay>/<chain_hash>/public/<round>``."""
    return f"{relay.rstrip('/')}/{chain.chain_hash}/public/{round_number}"


def _fetch_text(url: str, timeout: float) -> str:
    """The body of a GET on ``url`` (HTTP 200 only, at most :data:`MAX_RESPONSE_BYTES`), decoded as UTF-8."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise ValueError("the relay URL must be http:// or https://")
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - scheme checked above
        if response.status != 200:
            raise ValueError(f"HTTP {response.status}")
        body = response.read(MAX_RESPONSE_BYTES + 1)
    if len(body) > MAX_RESPONSE_BYTES:
        raise ValueError(f"the response is larger than {MAX_RESPONSE_BYTES // 1024} KiB")
    return body.decode("utf-8")


def _value_from(chain: DrandChain, round_number: int, raw: str) -> dict[str, Any]:
    """The entropy value in a relay's answer ``raw``, checked (round, shapes, BLS); else ValueError."""
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("the answer is not a JSON object")
    got = data.get("round")
    if isinstance(got, bool) or not isinstance(got, int) or got != round_number:
        raise ValueError(f"the answer is for round {got!r}, not {round_number}")
    value: dict[str, Any] = {
        "type": "drand",
        "round": round_number,
        "randomness": data.get("randomness"),
        "signature": data.get("signature"),
    }
    if chain.chained:
        value["previous_signature"] = data.get("previous_signature")
    check_value(chain, value)
    return value


def value_from(chain: DrandChain, round_number: int, raw: str) -> dict[str, Any]:
    """The entropy value in a relay's answer ``raw`` kept earlier, checked again (round, shapes, BLS)."""
    return _value_from(chain, round_number, raw)


def fetch_round(
    chain: DrandChain,
    round_number: int,
    relays: Sequence[str],
    *,
    timeout: float = 10.0,
    now: Callable[[], datetime] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Fetch ``round_number`` of ``chain`` from the first of ``relays`` that gives a round that verifies.

    Asks ``<relay>/<chain_hash>/public/<round>`` for each relay in order. An answer counts only if it
    is JSON for that round and :func:`draws.drand.check_value` accepts it (BLS signature included).
    Returns ``(value, record)``: the entropy value ``{"type": "drand", "round", "randomness",
    "signature"[, "previous_signature"]}`` and ``{"url", "fetched_at" (UTC, whole seconds), "response"
    (the relay's text as received)}``. Raises :class:`RelayError` before asking anyone when the round is
    not due yet at ``now()``, and after asking everyone when no relay gave a valid round.
    """
    clock = now or _utc_now
    due = chain.round_time(round_number)
    current = _aware(clock())
    if due > current.timestamp():
        due_text = datetime.fromtimestamp(due, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        raise RelayError(
            f"drand round {round_number} of {chain.name} is due at {due_text}, not yet (no relay asked)"
        )
    if not relays:
        raise RelayError("no drand relay is configured")
    failures: list[tuple[str, str]] = []
    for relay in relays:
        url = round_url(relay, chain, round_number)
        try:
            raw = _fetch_text(url, timeout)
            value = _value_from(chain, round_number, raw)
        except urllib.error.HTTPError as exc:
            failures.append((url, f"HTTP {exc.code}"))
        except urllib.error.URLError as exc:
            failures.append((url, f"unreachable: {exc.reason}"))
        except UnicodeDecodeError:
            failures.append((url, "the answer is not UTF-8 text"))
        except json.JSONDecodeError as exc:
            failures.append((url, f"the answer is not JSON: {exc.msg}"))
        except BeaconInvalid as exc:
            failures.append((url, f"refused: {exc}"))
        except (OSError, ValueError) as exc:  # timeouts, resets, bad status, oversize, wrong round
            failures.append((url, str(exc) or type(exc).__name__))
        else:
            fetched_at = _aware(clock()).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            return value, {"url": url, "fetched_at": fetched_at, "response": raw}
    listing = "; ".join(f"{url}: {why}" for url, why in failures)
    raise RelayError(f"no relay gave a valid drand round {round_number} of {chain.name}: {listing}", failures)
