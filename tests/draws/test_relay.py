"""Fetching drand rounds from several relays: a forged or broken answer is skipped, the next relay asked.

The relays are a local ``http.server`` on 127.0.0.1 with one path prefix per relay.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from py_ecc.bls.g2_primitives import G1_to_pubkey
from py_ecc.optimized_bls12_381 import G1, multiply

from draws.drand import KNOWN_CHAINS, SCHEME_CHAINED, DrandChain
from draws.relay import MAX_RESPONSE_BYTES, RelayError, fetch_round
from tests.draws.beacon import TestBeacon
from tests.draws.drand_vectors import mainnet_value, quicknet_value, relay_text

QUICKNET = KNOWN_CHAINS["quicknet"]
MAINNET = KNOWN_CHAINS["mainnet"]
NOW = datetime(2026, 6, 20, 9, 0, tzinfo=UTC)


def forged_text(round_number: int) -> str:
    """A made-up quicknet round as a relay would serve it: a real G1 point nobody signed."""
    signature = bytes(G1_to_pubkey(multiply(G1, 7_654_321)))
    return json.dumps({"round": round_number, "randomness": hashlib.sha256(signature).hexdigest(),
                       "signature": signature.hex()})


@dataclass
class Relays:
    """A local HTTP server; ``routes`` maps a path to (status, body, delay in seconds)."""

    base: str
    routes: dict[str, tuple[int, bytes, float]] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    def url(self, name: str) -> str:
        return f"{self.base}/{name}"

    def serve(self, name: str, chain: DrandChain, round_number: int, body: str | bytes, status: int = 200,
              delay: float = 0.0) -> None:
        raw = body.encode() if isinstance(body, str) else body
        self.routes[f"/{name}/{chain.chain_hash}/public/{round_number}"] = (status, raw, delay)


@pytest.fixture
def relays() -> Iterator[Relays]:
    state = Relays(base="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            state.asked.append(self.path)
            status, body, delay = state.routes.get(self.path, (404, b"not found", 0.0))
            time.sleep(delay)
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:  # the client gave up (timeout test)
                pass

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - keep test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def closed_port_url() -> str:
    """A 127.0.0.1 URL nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_a_forged_round_on_the_first_relay_falls_back_to_the_real_one(relays: Relays) -> None:
    relays.serve("forger", QUICKNET, 3, forged_text(3))
    real = relay_text(quicknet_value(3))
    relays.serve("honest", QUICKNET, 3, real)
    urls = [relays.url("forger"), relays.url("honest") + "/"]  # a trailing slash is harmless
    value, record = fetch_round(QUICKNET, 3, urls, now=lambda: NOW)
    assert value == quicknet_value(3)
    assert record == {
        "url": f"{relays.url('honest')}/{QUICKNET.chain_hash}/public/3",
        "fetched_at": "2026-06-20T09:00:00Z",
        "response": real,
    }
    assert len(relays.asked) == 2


def test_the_first_valid_relay_wins_and_later_ones_are_not_asked(relays: Relays) -> None:
    relays.serve("a", MAINNET, 4, relay_text(mainnet_value(4)))
    value, record = fetch_round(MAINNET, 4, [relays.url("a"), relays.url("b")])
    assert value == mainnet_value(4)  # chained: previous_signature kept
    assert record["url"].startswith(relays.url("a"))
    assert relays.asked == [f"/a/{MAINNET.chain_hash}/public/4"]


def test_all_relays_forged_or_broken_raises_naming_each(relays: Relays) -> None:
    relays.serve("forger", QUICKNET, 3, forged_text(3))
    relays.serve("missing", QUICKNET, 3, "no such round", status=404)
    relays.serve("garbage", QUICKNET, 3, "<html>maintenance</html>")
    relays.serve("wrong-round", QUICKNET, 3, relay_text(quicknet_value(2)))
    relays.serve("huge", QUICKNET, 3, b" " * (MAX_RESPONSE_BYTES + 1))
    relays.serve("not-utf8", QUICKNET, 3, b"\xff\xfe{}")
    relays.serve("shape", QUICKNET, 3, json.dumps({"round": 3, "randomness": "00", "signature": "00"}))
    names = ["forger", "missing", "garbage", "wrong-round", "huge", "not-utf8", "shape"]
    dead = closed_port_url()
    with pytest.raises(RelayError) as caught:
        fetch_round(QUICKNET, 3, [relays.url(n) for n in names] + [dead], now=lambda: NOW)
    reasons = dict(caught.value.failures)
    prefix = f"/{QUICKNET.chain_hash}/public/3"
    assert list(reasons) == [relays.url(n) + prefix for n in names] + [dead + prefix]
    assert "pairing check failed" in reasons[relays.url("forger") + prefix]
    assert reasons[relays.url("missing") + prefix] == "HTTP 404"
    assert "not JSON" in reasons[relays.url("garbage") + prefix]
    assert reasons[relays.url("wrong-round") + prefix] == "the answer is for round 2, not 3"
    assert "larger than 64 KiB" in reasons[relays.url("huge") + prefix]
    assert "not UTF-8" in reasons[relays.url("not-utf8") + prefix]
    assert "randomness must be 32 bytes" in reasons[relays.url("shape") + prefix]
    assert "unreachable" in reasons[dead + prefix]
    message = str(caught.value)
    for url in reasons:
        assert url in message


def test_a_slow_relay_times_out_and_the_next_is_asked(relays: Relays) -> None:
    relays.serve("slow", QUICKNET, 2, relay_text(quicknet_value(2)), delay=1.0)
    relays.serve("fast", QUICKNET, 2, relay_text(quicknet_value(2)))
    value, record = fetch_round(QUICKNET, 2, [relays.url("slow"), relays.url("fast")], timeout=0.3)
    assert value == quicknet_value(2)
    assert record["url"].startswith(relays.url("fast"))


def test_a_round_not_due_yet_is_refused_before_asking(relays: Relays) -> None:
    beacon = TestBeacon(SCHEME_CHAINED, seed="relay", genesis_time=int(NOW.timestamp()))
    relays.serve("a", beacon.chain, 3, json.dumps(beacon.relay_json(3)))
    due = datetime.fromtimestamp(beacon.chain.round_time(3), UTC)  # NOW + 60 s
    with pytest.raises(RelayError, match="3 of test-chained-relay is due at 2026-06-20T09:01:00Z, not yet"):
        fetch_round(beacon.chain, 3, [relays.url("a")], now=lambda: due - timedelta(seconds=1))
    assert relays.asked == []
    value, record = fetch_round(beacon.chain, 3, [relays.url("a")], now=lambda: due)
    assert value == beacon.value(3)
    assert record["fetched_at"] == "2026-06-20T09:01:00Z"


def test_no_relay_and_non_http_relays_are_refused() -> None:
    with pytest.raises(RelayError, match="no drand relay is configured"):
        fetch_round(QUICKNET, 3, [])
    with pytest.raises(RelayError, match="must be http:// or https://"):
        fetch_round(QUICKNET, 3, ["file:///etc"])
    with pytest.raises(ValueError, match="timezone-aware"):
        fetch_round(QUICKNET, 3, ["http://127.0.0.1:1"], now=lambda: datetime(2026, 1, 1))
