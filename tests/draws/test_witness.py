"""Witness cosignatures of a draw's freeze: the command line, the pure checks and the HTTP server."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from draws.encoding import format_timestamp, parse_timestamp
from draws.witness import (
    MAX_BODY_BYTES,
    WitnessRefused,
    WitnessServer,
    cosign,
    cosignature_problem,
    load_key_file,
    parse_witness_list,
    payload_digest,
    public_entry,
    witness_quorum,
    witness_set_problem,
)
from signedjson import b64u_encode, kid_for, sign_payload

REPO = Path(__file__).resolve().parents[2]
T0 = parse_timestamp("2026-06-30T12:00:00Z")


# ------------------------------------------------------------------------------------------- builders
def keyset_of(*keys: Ed25519PrivateKey) -> dict[str, Any]:
    entries = []
    for key in keys:
        raw = key.public_key().public_bytes_raw()
        entries.append({"kid": kid_for(raw), "alg": "Ed25519", "public_key": b64u_encode(raw),
                        "created": "2026-01-01T00:00:00Z", "retired": None})
    return {"keys": entries}


@dataclass
class Draw:
    """One announced and frozen draw: the signed records, as the service would hand them out."""

    service: Ed25519PrivateKey
    announcement: dict[str, Any]
    freeze: dict[str, Any]

    @property
    def freeze_at(self) -> int:
        return parse_timestamp(self.announcement["freeze_at"])

    @property
    def entropy_at(self) -> int:
        return parse_timestamp(self.announcement["entropy_source"]["available_after"])

    def package(self) -> dict[str, Any]:
        return {"format": "loyalty-draw-freeze/2", "keyset": keyset_of(self.service),
                "announcement": sign_payload(self.service, self.announcement),
                "freeze": sign_payload(self.service, self.freeze)}

    def refrozen(self, entrant_digest: str = "bb" * 32) -> Draw:
        """The same draw frozen again with another list (what an equivocating operator would do)."""
        return Draw(self.service, self.announcement, {**self.freeze, "entrant_digest": entrant_digest})


def make_draw(witnesses: list[dict[str, Any]], *, quorum: int = 1, freeze_at: int = T0,
              entropy_at: int | None = None, frozen_at: int | None = None, draw_id: str = "draw-1",
              service: Ed25519PrivateKey | None = None) -> Draw:
    service = service or Ed25519PrivateKey.generate()
    entropy_at = freeze_at + 3600 if entropy_at is None else entropy_at
    frozen_at = freeze_at + 5 if frozen_at is None else frozen_at
    announcement = {
        "type": "draw.announcement", "version": 2, "draw_id": draw_id, "name": "Summer draw",
        "announced_at": format_timestamp(freeze_at - 86400), "freeze_at": format_timestamp(freeze_at),
        "commitment": "00" * 32,
        "entropy_source": {"type": "rfc3797", "sources": ["x"], "available_after": format_timestamp(entropy_at)},
        "witnesses": {"quorum": quorum, "keys": witnesses},
    }
    freeze = {
        "type": "draw.freeze", "version": 2, "draw_id": draw_id, "announcement_digest": payload_digest(announcement),
        "frozen_at": format_timestamp(frozen_at), "count": 3, "entrant_digest": "aa" * 32, "merkle_root": "cc" * 32,
    }
    return Draw(service, announcement, freeze)


def cosignature(draw: Draw, key: Ed25519PrivateKey, name: str, at: int, **overrides: Any) -> dict[str, Any]:
    """A cosignature made by hand (so that late, early and malformed ones can be built too)."""
    payload = {
        "type": "draw.cosignature", "version": 2, "draw_id": draw.announcement["draw_id"],
        "announcement_digest": payload_digest(draw.announcement), "freeze_digest": payload_digest(draw.freeze),
        "witness": {"name": name, "kid": public_entry(key, name)["kid"]}, "cosigned_at": format_timestamp(at),
    }
    payload.update(overrides)
    return sign_payload(key, payload)


@pytest.fixture()
def trio() -> tuple[list[Ed25519PrivateKey], list[dict[str, Any]]]:
    keys = [Ed25519PrivateKey.generate() for _ in range(3)]
    return keys, [public_entry(k, n) for k, n in zip(keys, ("auditor", "regulator", "notary"), strict=True)]


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "draws.witness", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60)


def write_json(path: Path, data: Any) -> str:
    path.write_text(json.dumps(data))
    return str(path)


# ------------------------------------------------------------------------------------------ command line
def test_keygen_cosign_round_trip_on_the_command_line(tmp_path: Path) -> None:
    made = run_cli("keygen", "--out", "w.pem", "--name", "Regional auditor", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    entry = json.loads(made.stdout)
    key_file = tmp_path / "w.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert entry == public_entry(load_key_file(str(key_file)), "Regional auditor")
    pem = key_file.read_bytes()
    again = run_cli("keygen", "--out", "w.pem", "--name", "x", cwd=tmp_path)
    assert again.returncode == 1 and "exists" in again.stderr and key_file.read_bytes() == pem
    assert json.loads(run_cli("public", "--key", "w.pem", "--name", "Regional auditor", cwd=tmp_path).stdout) == entry

    now = int(time.time())
    draw = make_draw([entry], freeze_at=now - 60, frozen_at=now - 30, entropy_at=now + 3600)
    package = draw.package()
    write_json(tmp_path / "frozen.json", package)
    write_json(tmp_path / "keys.json", keyset_of(draw.service))
    done = run_cli("cosign", "frozen.json", "--key", "w.pem", "--keyset", "keys.json", "--log", "log.jsonl",
                   "--out", "cosig.json", cwd=tmp_path)
    after = int(time.time())
    assert done.returncode == 0, done.stderr
    assert "--keyset" not in done.stderr
    cosig = json.loads((tmp_path / "cosig.json").read_text())
    result = witness_quorum([cosig], draw.announcement, draw.freeze, [entry])
    assert result.met and result.counted == [cosig] and result.problems == []
    assert now <= parse_timestamp(cosig["payload"]["cosigned_at"]) <= after
    assert len((tmp_path / "log.jsonl").read_text().splitlines()) == 1

    # The same package again (here without --keyset: warned) gives back the logged cosignature unchanged.
    repeat = run_cli("cosign", "frozen.json", "--key", "w.pem", "--log", "log.jsonl", cwd=tmp_path)
    assert repeat.returncode == 0 and "--keyset" in repeat.stderr
    assert json.loads(repeat.stdout) == cosig

    # A second, different freeze of the same draw is refused and the earlier digest is named.
    write_json(tmp_path / "refrozen.json", draw.refrozen().package())
    other = run_cli("cosign", "refrozen.json", "--key", "w.pem", "--keyset", "keys.json", "--log", "log.jsonl",
                    cwd=tmp_path)
    assert other.returncode == 1 and other.stdout == ""
    assert other.stderr.strip().startswith("refused: equivocation:")
    assert cosig["payload"]["freeze_digest"] in other.stderr
    assert len((tmp_path / "log.jsonl").read_text().splitlines()) == 1


def test_command_line_refuses_after_the_entropy_exists(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    (tmp_path / "w.pem").write_bytes(_pem(key))
    now = int(time.time())
    draw = make_draw([public_entry(key, "auditor")], freeze_at=now - 600, frozen_at=now - 500, entropy_at=now - 10)
    write_json(tmp_path / "frozen.json", draw.package())
    done = run_cli("cosign", "frozen.json", "--key", "w.pem", "--log", "log.jsonl", cwd=tmp_path)
    assert done.returncode == 1 and done.stdout == ""
    refusal = [line for line in done.stderr.splitlines() if line.startswith("refused")]
    assert len(refusal) == 1 and refusal[0].startswith("refused: entropy-time:")
    assert (tmp_path / "log.jsonl").read_text() == ""


def test_command_line_refuses_a_witness_not_in_the_set(tmp_path: Path) -> None:
    key, stranger = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    (tmp_path / "w.pem").write_bytes(_pem(stranger))
    now = int(time.time())
    draw = make_draw([public_entry(key, "auditor")], freeze_at=now - 60, entropy_at=now + 3600)
    write_json(tmp_path / "frozen.json", draw.package())
    done = run_cli("cosign", "frozen.json", "--key", "w.pem", cwd=tmp_path)
    assert done.returncode == 1 and "refused: not-a-witness:" in done.stderr


def test_command_line_unreadable_inputs_exit_2(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    (tmp_path / "w.pem").write_bytes(_pem(key))
    (tmp_path / "bad.json").write_text("{not json")
    assert run_cli("cosign", "bad.json", "--key", "w.pem", cwd=tmp_path).returncode == 2
    (tmp_path / "garbage.pem").write_text("not a key")
    draw = make_draw([public_entry(key, "auditor")])
    write_json(tmp_path / "frozen.json", draw.package())
    assert run_cli("cosign", "frozen.json", "--key", "garbage.pem", cwd=tmp_path).returncode == 2
    (tmp_path / "log.jsonl").write_text('{"payload": {"draw_id": "draw-1"}}\n')
    damaged = run_cli("cosign", "frozen.json", "--key", "w.pem", "--log", "log.jsonl", cwd=tmp_path)
    assert damaged.returncode == 2 and "line 1" in damaged.stderr


def _pem(key: Ed25519PrivateKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


# --------------------------------------------------------------------------------------------- cosign
def test_cosign_timing_rules(trio: tuple[list[Ed25519PrivateKey], list[dict[str, Any]]]) -> None:
    keys, entries = trio
    draw = make_draw(entries, freeze_at=T0, frozen_at=T0 + 10, entropy_at=T0 + 3600)
    package = draw.package()
    envelope = cosign(package, keys[0], now=draw.entropy_at - 1)
    assert cosignature_problem(envelope, entries[0], draw.announcement, draw.freeze) == (draw.entropy_at - 1, None)
    assert envelope["payload"]["witness"] == {"name": "auditor", "kid": entries[0]["kid"]}
    with pytest.raises(WitnessRefused) as refused:
        cosign(package, keys[0], now=draw.entropy_at)
    assert refused.value.rule == "entropy-time"
    with pytest.raises(WitnessRefused, match="before the announced freeze time"):
        cosign(package, keys[0], now=T0 - 1)
    # frozen_at may run at most 300 s ahead of the witness's clock
    ahead = make_draw(entries, freeze_at=T0, frozen_at=T0 + 1000).package()
    assert cosign(ahead, keys[0], now=T0 + 700)["payload"]["cosigned_at"] == format_timestamp(T0 + 700)
    with pytest.raises(WitnessRefused, match="more than 300 s ahead") as refused:
        cosign(ahead, keys[0], now=T0 + 699)
    assert refused.value.rule == "frozen-at"
    early = make_draw(entries, freeze_at=T0, frozen_at=T0 - 1).package()
    with pytest.raises(WitnessRefused, match="before the announced freeze time"):
        cosign(early, keys[0], now=T0 + 10)


def test_cosign_accepts_only_records_that_verify(trio: tuple[list[Ed25519PrivateKey], list[dict[str, Any]]]) -> None:
    keys, entries = trio
    draw = make_draw(entries)
    now = T0 + 60
    tampered = draw.package()
    tampered["freeze"]["payload"]["count"] = 4
    with pytest.raises(WitnessRefused) as refused:
        cosign(tampered, keys[0], now=now)
    assert refused.value.rule == "signature" and "freeze" in refused.value.reason

    # Self-consistent but signed by another key than the service's, which the witness got independently.
    forged = make_draw(entries).package()
    assert cosign(forged, keys[0], now=now)
    with pytest.raises(WitnessRefused, match="signature: the announcement record does not verify"):
        cosign(forged, keys[0], now=now, keyset=keyset_of(draw.service))

    other_announcement = Draw(draw.service, draw.announcement, {**draw.freeze, "announcement_digest": "00" * 32})
    with pytest.raises(WitnessRefused) as refused:
        cosign(other_announcement.package(), keys[0], now=now)
    assert refused.value.rule == "announcement-digest"
    other_draw = Draw(draw.service, draw.announcement, {**draw.freeze, "draw_id": "draw-2"})
    with pytest.raises(WitnessRefused, match="draw-id"):
        cosign(other_draw.package(), keys[0], now=now)
    with pytest.raises(WitnessRefused, match="format"):
        cosign({**draw.package(), "format": "loyalty-draw-freeze/1"}, keys[0], now=now)
    with pytest.raises(WitnessRefused, match="not-a-witness"):
        cosign(draw.package(), Ed25519PrivateKey.generate(), now=now)
    # The kid alone is not enough: the announcement must carry this witness's public key.
    impostor = [{**entries[0], "public_key": entries[1]["public_key"]}]
    assert witness_set_problem({"quorum": 1, "keys": impostor}) is not None
    with pytest.raises(WitnessRefused, match="witness-set"):
        cosign(make_draw(impostor).package(), keys[0], now=now)


def test_log_refuses_equivocation_and_replays_the_same_digest(
    tmp_path: Path, trio: tuple[list[Ed25519PrivateKey], list[dict[str, Any]]]
) -> None:
    keys, entries = trio
    log = tmp_path / "log.jsonl"
    draw = make_draw(entries)
    first = cosign(draw.package(), keys[0], now=T0 + 60, log_path=log)
    # Later, even after the entropy exists, the same freeze gets the earlier cosignature, unchanged.
    assert cosign(draw.package(), keys[0], now=T0 + 120, log_path=log) == first
    assert cosign(draw.package(), keys[0], now=draw.entropy_at + 5, log_path=log) == first
    with pytest.raises(WitnessRefused) as refused:
        cosign(draw.refrozen().package(), keys[0], now=T0 + 90, log_path=log)
    assert refused.value.rule == "equivocation"
    assert first["payload"]["freeze_digest"] in refused.value.reason
    # Another witness sharing the log, and another draw, are not affected.
    assert cosign(draw.refrozen().package(), keys[1], now=T0 + 90, log_path=log)
    assert cosign(make_draw(entries, draw_id="draw-2").package(), keys[0], now=T0 + 90, log_path=log)
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert lines[0] == first and len(lines) == 3


# ---------------------------------------------------------------------------------------------- quorum
def test_quorum_counts_only_valid_timely_distinct_cosignatures(
    trio: tuple[list[Ed25519PrivateKey], list[dict[str, Any]]]
) -> None:
    (auditor, regulator, notary), entries = trio
    draw = make_draw(entries, quorum=2)
    other = draw.refrozen()
    stranger = Ed25519PrivateKey.generate()
    valid = cosignature(draw, auditor, "auditor", draw.freeze_at + 10)
    cosigs = [
        valid,
        cosignature(draw, regulator, "regulator", draw.entropy_at),  # late: the entropy already existed
        cosignature(draw, notary, "notary", draw.freeze_at - 1),  # early: before the announced freeze time
        cosignature(draw, stranger, "auditor", draw.freeze_at + 10),  # a key outside the witness set
        {**cosignature(draw, stranger, "regulator", draw.freeze_at + 10),  # claims the regulator's kid
         "signature": {**valid["signature"], "kid": entries[1]["kid"]}},
        cosignature(draw, auditor, "auditor", draw.freeze_at + 20),  # the auditor again
        cosignature(other, regulator, "regulator", draw.freeze_at + 10),  # another freeze of this draw
    ]
    result = witness_quorum(cosigs, draw.announcement, draw.freeze)
    assert result.counted == [valid] and result.quorum == 2 and not result.met
    assert len(result.problems) == 6
    expected = ["not before the entropy existed", "before the announced freeze time", "not a witness of this draw",
                "bad signature", "already counted", "another freeze record"]
    for line, text in zip(result.problems, expected, strict=True):
        assert text in line, line
    on_time = cosignature(draw, notary, "notary", draw.entropy_at - 1)
    result = witness_quorum([*cosigs, on_time], draw.announcement, draw.freeze)
    assert result.counted == [valid, on_time] and result.met


def test_cosignature_problem_reasons(trio: tuple[list[Ed25519PrivateKey], list[dict[str, Any]]]) -> None:
    (auditor, _, _), entries = trio
    draw = make_draw(entries)
    at = draw.freeze_at + 10

    def reason(envelope: Any) -> str | None:
        return cosignature_problem(envelope, entries[0], draw.announcement, draw.freeze)[1]

    assert reason(cosignature(draw, auditor, "auditor", at)) is None
    tampered = cosignature(draw, auditor, "auditor", at)
    tampered["payload"]["cosigned_at"] = format_timestamp(at - 3600)
    assert "bad signature" in reason(tampered)
    assert "type" in reason(cosignature(draw, auditor, "auditor", at, type="draw.freeze"))
    assert "version" in reason(cosignature(draw, auditor, "auditor", at, version=1))
    assert "cosigns draw 'draw-9'" in reason(cosignature(draw, auditor, "auditor", at, draw_id="draw-9"))
    assert "another announcement" in reason(cosignature(draw, auditor, "auditor", at, announcement_digest="0" * 64))
    assert "names witness" in reason(cosignature(draw, auditor, "auditor", at,
                                                 witness={"name": "notary", "kid": entries[0]["kid"]}))
    assert "malformed cosigned_at" in reason(cosignature(draw, auditor, "auditor", at,
                                                         cosigned_at="2026-06-30 12:00:10"))
    assert "fields" in reason(cosignature(draw, auditor, "auditor", at, note="x"))
    assert "not a signed envelope" in reason(["x"])


def test_trusted_witness_list_catches_a_substituted_key(
    trio: tuple[list[Ed25519PrivateKey], list[dict[str, Any]]]
) -> None:
    keys, entries = trio
    genuine = make_draw(entries, quorum=1)
    # The operator re-signs the announcement naming its own key as "auditor" and cosigns with it.
    operator = Ed25519PrivateKey.generate()
    swapped = [public_entry(operator, "auditor"), *entries[1:]]
    forged = make_draw(swapped, quorum=1, service=genuine.service)
    cosig = cosignature(forged, operator, "auditor", forged.freeze_at + 10)
    assert witness_quorum([cosig], forged.announcement, forged.freeze).met
    trusted = parse_witness_list({"witnesses": entries})
    result = witness_quorum([cosig], forged.announcement, forged.freeze, trusted)
    assert not result.met and result.counted == []
    assert "not in your witness list" in result.problems[0]
    real = cosignature(genuine, keys[0], "auditor", genuine.freeze_at + 10)
    assert witness_quorum([real], genuine.announcement, genuine.freeze, trusted).met


def test_witness_set_rules(trio: tuple[list[Ed25519PrivateKey], list[dict[str, Any]]]) -> None:
    _, entries = trio
    assert witness_set_problem({"quorum": 0, "keys": []}) is None
    assert witness_set_problem({"quorum": 3, "keys": entries}) is None
    assert "exceeds" in witness_set_problem({"quorum": 4, "keys": entries})
    assert "non-negative" in witness_set_problem({"quorum": True, "keys": entries})
    assert "same name" in witness_set_problem({"quorum": 1, "keys": [entries[0], {**entries[1], "name": "auditor"}]})
    assert "same key" in witness_set_problem({"quorum": 1, "keys": [entries[0], {**entries[0], "name": "other"}]})
    assert "kid" in witness_set_problem({"quorum": 1, "keys": [{**entries[0], "kid": "0" * 16}]})
    with pytest.raises(ValueError, match="witness list"):
        parse_witness_list({"witnesses": [{"name": "x"}]})
    unwitnessed = make_draw([], quorum=0)
    assert witness_quorum([], unwitnessed.announcement, unwitnessed.freeze).met
    broken = make_draw(entries, quorum=1)
    broken.announcement["witnesses"]["quorum"] = 5
    result = witness_quorum([], broken.announcement, broken.freeze)
    assert not result.met and "unusable" in result.problems[0]


# ----------------------------------------------------------------------------------------------- serve
@pytest.fixture()
def served(tmp_path: Path, trio: tuple[list[Ed25519PrivateKey], list[dict[str, Any]]]) -> Iterator[tuple[str, Draw]]:
    keys, entries = trio
    draw = make_draw(entries)
    server = WitnessServer(("127.0.0.1", 0), keys[0], keyset=keyset_of(draw.service),
                           log_path=str(tmp_path / "log.jsonl"), clock=lambda: draw.freeze_at + 60)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", draw
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _post(url: str, body: bytes) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_serve_cosigns_and_refuses_over_http(served: tuple[str, Draw]) -> None:
    base, draw = served
    status, envelope = _post(f"{base}/cosign", json.dumps(draw.package()).encode())
    assert status == 200
    entry = draw.announcement["witnesses"]["keys"][0]
    assert cosignature_problem(envelope, entry, draw.announcement, draw.freeze) == (draw.freeze_at + 60, None)
    status, body = _post(f"{base}/cosign", json.dumps(draw.refrozen().package()).encode())
    assert status == 422 and body["error"].startswith("equivocation:")
    assert _post(f"{base}/cosign", b"{oops") == (400, {"error": "the body is not a JSON freeze package"})
    with urllib.request.urlopen(f"{base}/witness", timeout=10) as response:
        assert json.loads(response.read())["kid"] == entry["kid"]
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(f"POST /cosign HTTP/1.0\r\nContent-Length: {MAX_BODY_BYTES + 1}\r\n\r\n".encode())
        assert conn.makefile("rb").readline().split()[1] == b"413"


def test_serve_command_answers_on_localhost(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    (tmp_path / "w.pem").write_bytes(_pem(key))
    now = int(time.time())
    draw = make_draw([public_entry(key, "auditor")], freeze_at=now - 60, entropy_at=now + 3600)
    write_json(tmp_path / "keys.json", keyset_of(draw.service))
    process = subprocess.Popen(
        [sys.executable, "-m", "draws.witness", "serve", "--key", "w.pem", "--port", "0", "--keyset", "keys.json"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert "listening on http://127.0.0.1:" in banner, banner
        url = banner.split()[-1]
        status, envelope = _post(url, json.dumps(draw.package()).encode())
        assert status == 200
        assert witness_quorum([envelope], draw.announcement, draw.freeze).met
        stranger = make_draw([public_entry(Ed25519PrivateKey.generate(), "x")], freeze_at=now - 60,
                             service=draw.service)
        status, body = _post(url, json.dumps(stranger.package()).encode())
        assert status == 422 and body["error"].startswith("not-a-witness:")
    finally:
        process.terminate()
        process.wait(timeout=10)
