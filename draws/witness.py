"""Witnesses of a draw's freeze: independent cosigners who fix *when* the entrant list was frozen.

Why: the draw's seed depends on external entropy (a drand round, public lottery numbers) that comes to
exist at a time fixed in the announcement. The service's own ``frozen_at`` is just its word: an operator
who holds the signing key could re-freeze a different list after seeing the entropy and sign it with an
old time. A witness (an auditor, a regulator's observer, a notary) holds its own Ed25519 key and cosigns
the freeze record's digest with the time of **its own clock**; the draw needs ``quorum`` such
cosignatures made before the entropy existed. A re-freeze after the entropy would need ``quorum``
witnesses to lie about their clocks (or to cosign after the entropy time, which no verifier counts).

Usage (needs only the standard library, ``cryptography`` and this project's pure modules)::

    python -m draws.witness keygen --out witness.pem --name "Regional auditor"
    python -m draws.witness public --key witness.pem --name "Regional auditor"
    python -m draws.witness cosign frozen.json --key witness.pem [--keyset keys.json]
                                   [--log witness-log.jsonl] [--out cosig.json]
    python -m draws.witness serve --key witness.pem [--host 127.0.0.1] [--port 8765]
                                  [--keyset keys.json] [--log witness-log.jsonl]

Exit status: 0 done; 1 refused (one line on standard error names the rule); 2 an input could not be read.

Formats
-------
Witness set in the announcement (``witnesses``): ``{"quorum": k, "keys": [{"name", "kid", "public_key"}]}``
with ``0 <= k <= len(keys)`` (``k = 0``: an unwitnessed draw), names and kids distinct, ``public_key`` the
unpadded base64url raw 32-byte Ed25519 key and ``kid = signedjson.kid_for(raw key)``.

Freeze package (what the service hands to a witness)::

    {"format": "loyalty-draw-freeze/2", "keyset": {"keys": [...]},
     "announcement": ENVELOPE, "freeze": ENVELOPE}

Cosignature: an envelope signed by the witness key over::

    {"type": "draw.cosignature", "version": 2, "draw_id", "announcement_digest", "freeze_digest",
     "witness": {"name", "kid"}, "cosigned_at": "YYYY-MM-DDTHH:MM:SSZ"}

where both digests are ``hex(SHA-256(canonical_json(payload)))`` of the announcement and freeze payloads.

The witness log (``--log``) holds one cosignature envelope per line, every cosignature the witness made.
It is the witness's promise not to equivocate: it never cosigns two different freeze records of one draw.
"""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import IO, Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from draws.encoding import format_timestamp, parse_timestamp
from draws.entropy import entropy_available_at
from draws.errors import DrawError
from signedjson import (
    SignatureError,
    b64u_decode,
    b64u_encode,
    canonical_json,
    kid_for,
    sha256_hex,
    sign_payload,
    verify_envelope,
)

try:  # advisory lock on the log, so two cosign processes cannot both pass the equivocation check
    import fcntl
except ImportError:  # pragma: no cover - Windows: the log is still checked, only not locked
    fcntl = None  # type: ignore[assignment]

PACKAGE_FORMAT = "loyalty-draw-freeze/2"
COSIGNATURE_TYPE = "draw.cosignature"
COSIGNATURE_VERSION = 2
COSIGNATURE_FIELDS = frozenset(
    {"type", "version", "draw_id", "announcement_digest", "freeze_digest", "witness", "cosigned_at"}
)
# How far the service's frozen_at may run ahead of the witness's clock (clock skew, queueing).
MAX_FROZEN_AT_AHEAD = 300
MAX_NAME_LENGTH = 200
MAX_BODY_BYTES = 256 * 1024

EXIT_OK, EXIT_REFUSED, EXIT_UNREADABLE = 0, 1, 2


class WitnessRefused(Exception):
    """The witness will not cosign; ``rule`` is the short name of the rule, ``reason`` the whole line."""

    def __init__(self, rule: str, detail: str) -> None:
        self.rule = rule
        self.reason = f"{rule}: {detail}"
        super().__init__(self.reason)


class UnreadableInput(Exception):
    """An input (package, key, key set, log) that cannot be read at all."""


def payload_digest(payload: Any) -> str:
    """``hex(SHA-256(canonical_json(payload)))``: the digest by which records name each other."""
    return sha256_hex(canonical_json(payload))


# ------------------------------------------------------------------------------------- witness entries
def public_entry(private_key: Ed25519PrivateKey, name: str) -> dict[str, str]:
    """The witness's public entry ``{"name", "kid", "public_key"}`` for announcements and witness lists."""
    raw = private_key.public_key().public_bytes_raw()
    return {"name": name, "kid": kid_for(raw), "public_key": b64u_encode(raw)}


def name_problem(name: Any) -> str | None:
    """None if ``name`` is a usable witness name (non-empty, at most 200 characters, printable)."""
    if not isinstance(name, str) or not name.strip():
        return "the witness name must be a non-empty string"
    if len(name) > MAX_NAME_LENGTH:
        return f"the witness name is longer than {MAX_NAME_LENGTH} characters"
    if any(not ch.isprintable() for ch in name):
        return "the witness name contains control characters"
    return None


def entry_problem(entry: Any) -> str | None:
    """None if ``entry`` is a well-formed witness entry whose kid matches its public key, else why not."""
    if not isinstance(entry, dict):
        return "a witness entry must be an object"
    problem = name_problem(entry.get("name"))
    if problem:
        return problem
    kid, public_key = entry.get("kid"), entry.get("public_key")
    if not isinstance(public_key, str):
        return f"witness {entry['name']!r}: public_key must be a base64url string"
    try:
        raw = b64u_decode(public_key)
    except ValueError:
        return f"witness {entry['name']!r}: public_key is not base64url"
    if len(raw) != 32:
        return f"witness {entry['name']!r}: public_key must be 32 bytes, got {len(raw)}"
    if kid != kid_for(raw):
        return f"witness {entry['name']!r}: kid {str(kid)[:40]!r} is not the kid of its public key ({kid_for(raw)})"
    return None


def _entries_problem(entries: Any) -> str | None:
    if not isinstance(entries, list):
        return "the witness keys must be a list"
    for entry in entries:
        problem = entry_problem(entry)
        if problem:
            return problem
    names = [e["name"] for e in entries]
    if len(set(names)) != len(names):
        return "two witnesses have the same name"
    kids = [e["kid"] for e in entries]
    if len(set(kids)) != len(kids):
        return "two witnesses have the same key"
    return None


def witness_set_problem(witnesses: Any) -> str | None:
    """None if ``witnesses`` (the announcement's witness set) is well formed, else why not."""
    if not isinstance(witnesses, dict):
        return "the witness set must be an object {quorum, keys}"
    quorum: Any = witnesses.get("quorum")
    keys: Any = witnesses.get("keys")
    problem = _entries_problem(keys)
    if problem:
        return problem
    if isinstance(quorum, bool) or not isinstance(quorum, int) or quorum < 0:
        return f"the quorum must be a non-negative integer, got {str(quorum)[:40]!r}"
    if quorum > len(keys):
        return f"the quorum {quorum} exceeds the number of witnesses ({len(keys)}): it could never be met"
    return None


def parse_witness_list(data: Any) -> list[dict[str, Any]]:
    """The entries of an auditor's witness list ``{"witnesses": [entry, ...]}``; ValueError if malformed."""
    entries: Any = data.get("witnesses") if isinstance(data, dict) else None
    problem = _entries_problem(entries)
    if problem:
        raise ValueError(f"witness list: {problem}")
    return list(entries)


# --------------------------------------------------------------------------------- cosignature checks
def cosignature_problem(
    envelope: Any, witness_entry: dict[str, Any], announcement: dict[str, Any], freeze: dict[str, Any]
) -> tuple[int | None, str | None]:
    """Check one cosignature against one witness entry and the announcement and freeze *payloads*.

    Returns ``(cosigned_at as Unix seconds, None)`` for a cosignature that ``witness_entry``'s key made
    over exactly this draw's announcement and freeze, else ``(None, reason)``. Timing against the
    announcement (``freeze_at``, entropy time) is the quorum's business, not this function's.
    """
    if not (isinstance(envelope, dict) and isinstance(envelope.get("payload"), dict)
            and isinstance(envelope.get("signature"), dict)):
        return None, "not a signed envelope {payload, signature}"
    problem = entry_problem(witness_entry)
    if problem:
        return None, f"unusable witness entry: {problem}"
    name, kid = witness_entry["name"], witness_entry["kid"]
    signed_by = envelope["signature"].get("kid")
    if signed_by != kid:
        return None, f"signed by key {str(signed_by)[:40]!r}, not by witness {name!r} ({kid})"
    try:
        payload = verify_envelope(envelope, {"keys": [witness_entry]})
    except SignatureError as exc:
        return None, f"bad signature: {exc}"
    if payload.get("type") != COSIGNATURE_TYPE:
        return None, f"type is {str(payload.get('type'))[:40]!r}, not {COSIGNATURE_TYPE!r}"
    version = payload.get("version")
    if isinstance(version, bool) or version != COSIGNATURE_VERSION:
        return None, f"version is {str(version)[:20]!r}, not {COSIGNATURE_VERSION}"
    if set(payload) != COSIGNATURE_FIELDS:
        missing, extra = sorted(COSIGNATURE_FIELDS - set(payload)), sorted(set(payload) - COSIGNATURE_FIELDS)
        return None, f"the payload's fields are wrong (missing {missing}, unexpected {extra})"
    if payload["draw_id"] != announcement.get("draw_id"):
        return None, f"cosigns draw {str(payload['draw_id'])[:80]!r}, not {str(announcement.get('draw_id'))[:80]!r}"
    try:
        announcement_digest, freeze_digest = payload_digest(announcement), payload_digest(freeze)
    except ValueError as exc:
        return None, f"the announcement or freeze payload cannot be digested: {exc}"
    if payload["announcement_digest"] != announcement_digest:
        return None, "cosigns another announcement of this draw (announcement digest differs)"
    if payload["freeze_digest"] != freeze_digest:
        return None, (f"cosigns another freeze record of this draw (freeze digest "
                      f"{str(payload['freeze_digest'])[:64]}, this one is {freeze_digest})")
    if payload["witness"] != {"name": name, "kid": kid}:
        return None, f"names witness {str(payload['witness'])[:120]}, not {{'name': {name!r}, 'kid': {kid!r}}}"
    try:
        return parse_timestamp(payload["cosigned_at"]), None
    except DrawError as exc:
        return None, f"malformed cosigned_at: {exc}"


@dataclass(frozen=True, slots=True)
class QuorumResult:
    """Outcome of :func:`witness_quorum`.

    ``counted``: the cosignature envelopes that count, at most one per witness, in input order;
    ``problems``: one human-readable line per cosignature that does not count (and one if the
    announcement's witness set itself is unusable); ``quorum``: the announced k (0 if unreadable);
    ``met``: the witness set is usable and ``len(counted) >= quorum``.
    """

    counted: list[dict[str, Any]]
    problems: list[str]
    quorum: int
    met: bool


def _same_key(trusted_entry: Any, entry: dict[str, Any]) -> bool:
    """Whether an entry of the auditor's witness list has the kid and public key bytes of ``entry``."""
    if not isinstance(trusted_entry, dict) or trusted_entry.get("kid") != entry["kid"]:
        return False
    try:
        return b64u_decode(str(trusted_entry.get("public_key"))) == b64u_decode(entry["public_key"])
    except ValueError:
        return False


def witness_quorum(
    cosignatures: list[Any],
    announcement: dict[str, Any],
    freeze: dict[str, Any],
    trusted: Sequence[Mapping[str, Any]] | None = None,
) -> QuorumResult:
    """Count the cosignatures of the freeze record that satisfy every rule (announcement and freeze are payloads).

    A cosignature counts when: it is signed by a key of the announcement's witness set; when
    ``trusted`` (the auditor's own witness list) is given, that key is also in it with the same kid and
    public key; it cosigns this draw id, this announcement digest and this freeze digest and names that
    witness; ``freeze_at <= cosigned_at < entropy time``; and no earlier cosignature of the same witness
    was counted.
    """
    witnesses: Any = announcement.get("witnesses") if isinstance(announcement, dict) else None
    problem = witness_set_problem(witnesses)
    if problem:
        return QuorumResult([], [f"the announcement's witness set is unusable: {problem}"], 0, False)
    quorum = witnesses["quorum"]
    try:
        freeze_at = parse_timestamp(announcement.get("freeze_at"))
        entropy_at = entropy_available_at(announcement.get("entropy_source"))
    except (DrawError, KeyError, TypeError) as exc:
        return QuorumResult([], [f"the announcement's timing is unreadable: {exc}"], quorum, False)
    if not isinstance(cosignatures, list):
        return QuorumResult([], ["the cosignatures must be a list"], quorum, False)
    by_kid = {entry["kid"]: entry for entry in witnesses["keys"]}
    counted: list[dict[str, Any]] = []
    counted_kids: set[str] = set()
    problems: list[str] = []
    for number, envelope in enumerate(cosignatures, start=1):
        signature = envelope.get("signature") if isinstance(envelope, dict) else None
        kid: Any = signature.get("kid") if isinstance(signature, dict) else None
        entry = by_kid.get(kid) if isinstance(kid, str) else None
        if entry is None:
            problems.append(f"cosignature {number}: signed by key {str(kid)[:40]!r}, not a witness of this draw")
            continue
        label = f"cosignature {number} ({entry['name']}, {kid})"
        if trusted is not None and not any(_same_key(t, entry) for t in trusted):
            problems.append(f"{label}: this key is not in your witness list (the announcement names a key "
                            "you did not obtain from the witness)")
            continue
        cosigned_at, reason = cosignature_problem(envelope, entry, announcement, freeze)
        if reason is not None or cosigned_at is None:
            problems.append(f"{label}: {reason}")
            continue
        if cosigned_at < freeze_at:
            problems.append(f"{label}: cosigned at {format_timestamp(cosigned_at)}, before the announced "
                            f"freeze time {format_timestamp(freeze_at)}")
            continue
        if cosigned_at >= entropy_at:
            problems.append(f"{label}: cosigned at {format_timestamp(cosigned_at)}, not before the entropy "
                            f"existed ({format_timestamp(entropy_at)}), so it proves nothing")
            continue
        if kid in counted_kids:
            problems.append(f"{label}: another cosignature of this witness is already counted")
            continue
        counted_kids.add(kid)
        counted.append(envelope)
    return QuorumResult(counted, problems, quorum, len(counted) >= quorum)


# ------------------------------------------------------------------------------------------- cosigning
def _checked_records(package: Any, keyset: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The announcement and freeze payloads of ``package`` once their signatures and links check out."""
    if not isinstance(package, dict) or package.get("format") != PACKAGE_FORMAT:
        got = package.get("format") if isinstance(package, dict) else type(package).__name__
        raise WitnessRefused("format", f"not a {PACKAGE_FORMAT} package (format {str(got)[:60]!r})")
    keys = keyset if keyset is not None else package.get("keyset")
    if not isinstance(keys, dict) or not isinstance(keys.get("keys"), list):
        raise WitnessRefused("keyset", "no usable key set {keys: [...]}")
    records = {}
    for name in ("announcement", "freeze"):
        try:
            records[name] = verify_envelope(package.get(name), keys)
        except SignatureError as exc:
            raise WitnessRefused("signature", f"the {name} record does not verify under the key set: {exc}") from exc
        except (AttributeError, TypeError) as exc:
            raise WitnessRefused("signature", f"the {name} record is not a signed envelope") from exc
        if not isinstance(records[name], dict):
            raise WitnessRefused("signature", f"the {name} payload is not an object")
    announcement, freeze = records["announcement"], records["freeze"]
    for name, kind in (("announcement", "draw.announcement"), ("freeze", "draw.freeze")):
        got = records[name].get("type")
        if got != kind:
            raise WitnessRefused("format", f"the {name} record has type {str(got)[:40]!r}, not {kind!r}")
    if freeze.get("announcement_digest") != payload_digest(announcement):
        raise WitnessRefused("announcement-digest", "the freeze record names another announcement")
    draw_id = announcement.get("draw_id")
    if not isinstance(draw_id, str) or not draw_id:
        raise WitnessRefused("draw-id", "the announcement has no draw id")
    if freeze.get("draw_id") != draw_id:
        raise WitnessRefused("draw-id", f"the freeze record is for draw {str(freeze.get('draw_id'))[:80]!r}, "
                                        f"the announcement for {str(announcement.get('draw_id'))[:80]!r}")
    return announcement, freeze


def _own_entry(announcement: dict[str, Any], private_key: Ed25519PrivateKey) -> dict[str, Any]:
    """This witness's entry in the announcement's witness set."""
    witnesses: Any = announcement.get("witnesses")
    problem = witness_set_problem(witnesses)
    if problem:
        raise WitnessRefused("witness-set", f"the announcement's witness set is unusable: {problem}")
    mine = public_entry(private_key, "")
    for entry in witnesses["keys"]:
        if entry["kid"] == mine["kid"] and entry["public_key"] == mine["public_key"]:
            return entry
    raise WitnessRefused("not-a-witness", f"this witness's key {mine['kid']} is not in the draw's witness set")


def _check_timing(announcement: dict[str, Any], freeze: dict[str, Any], now: int) -> None:
    """Refuse unless the witness clock ``now`` lies where a cosignature proves something."""
    try:
        entropy_at = entropy_available_at(announcement.get("entropy_source"))
        freeze_at = parse_timestamp(announcement.get("freeze_at"))
        frozen_at = parse_timestamp(freeze.get("frozen_at"))
    except (DrawError, KeyError, TypeError) as exc:
        raise WitnessRefused("timing", f"the records' times are unreadable: {exc}") from exc
    if now >= entropy_at:
        raise WitnessRefused("entropy-time", f"the entropy exists from {format_timestamp(entropy_at)} and this "
                                             f"witness's clock says {format_timestamp(now)}: cosigning now would "
                                             "prove nothing")
    if now < freeze_at:
        raise WitnessRefused("before-freeze-time", f"this witness's clock says {format_timestamp(now)}, before "
                                                   f"the announced freeze time {format_timestamp(freeze_at)}")
    if frozen_at < freeze_at:
        raise WitnessRefused("frozen-at", f"frozen_at {format_timestamp(frozen_at)} is before the announced "
                                          f"freeze time {format_timestamp(freeze_at)}")
    if frozen_at > now + MAX_FROZEN_AT_AHEAD:
        raise WitnessRefused("frozen-at", f"frozen_at {format_timestamp(frozen_at)} is more than "
                                          f"{MAX_FROZEN_AT_AHEAD} s ahead of this witness's clock "
                                          f"({format_timestamp(now)})")
    if frozen_at >= entropy_at:
        raise WitnessRefused("frozen-at", f"frozen_at {format_timestamp(frozen_at)} is not before the entropy "
                                          f"time {format_timestamp(entropy_at)}")


@contextmanager
def _locked_log(path: str) -> Iterator[IO[str]]:
    """The log opened for reading and appending, under an exclusive lock where the platform has one."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    except OSError as exc:
        raise UnreadableInput(f"cannot open the witness log {path}: {exc}") from exc
    with os.fdopen(fd, "r+", encoding="utf-8") as handle:
        if fcntl is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        yield handle


def read_log(handle: IO[str], path: str = "witness log") -> list[dict[str, Any]]:
    """Every cosignature envelope in the log; UnreadableInput for a damaged line (never skip one:
    a skipped line could hide an earlier cosignature and let the witness equivocate)."""
    handle.seek(0)
    try:
        text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise UnreadableInput(f"cannot read the witness log {path}: {exc}") from exc
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            payload = entry["payload"]
            _ = (payload["draw_id"], payload["freeze_digest"], payload["witness"]["kid"])
        except (ValueError, KeyError, TypeError) as exc:
            raise UnreadableInput(f"the witness log {path} is damaged at line {number}: {exc!r}") from exc
        entries.append(entry)
    return entries


def _sign(announcement: dict[str, Any], freeze: dict[str, Any], entry: dict[str, Any],
          private_key: Ed25519PrivateKey, now: int) -> dict[str, Any]:
    return sign_payload(private_key, {
        "type": COSIGNATURE_TYPE,
        "version": COSIGNATURE_VERSION,
        "draw_id": announcement["draw_id"],
        "announcement_digest": payload_digest(announcement),
        "freeze_digest": payload_digest(freeze),
        "witness": {"name": entry["name"], "kid": entry["kid"]},
        "cosigned_at": format_timestamp(now),
    })


def cosign(
    package: Any,
    private_key: Ed25519PrivateKey,
    *,
    now: int,
    keyset: dict[str, Any] | None = None,
    log_path: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Check a freeze package and return this witness's cosignature envelope, timed ``now`` (Unix seconds).

    ``keyset`` is the service's key set obtained independently; without it the package's own is used
    (which proves only self-consistency). Raises :class:`WitnessRefused` when a rule fails and
    :class:`UnreadableInput` when the log cannot be read. With ``log_path``, the cosignature is appended
    to the log; a draw already cosigned with the same freeze digest gets the earlier cosignature back
    unchanged, one cosigned with a different digest is refused (equivocation).
    """
    now = int(now)
    announcement, freeze = _checked_records(package, keyset)
    entry = _own_entry(announcement, private_key)
    if log_path is None:
        _check_timing(announcement, freeze, now)
        return _sign(announcement, freeze, entry, private_key, now)
    path = os.fspath(log_path)
    freeze_digest = payload_digest(freeze)
    with _locked_log(path) as handle:
        for earlier in read_log(handle, path):
            payload = earlier["payload"]
            if payload["draw_id"] != announcement["draw_id"] or payload["witness"]["kid"] != entry["kid"]:
                continue
            if payload["freeze_digest"] == freeze_digest:
                return earlier
            raise WitnessRefused("equivocation", f"this witness already cosigned draw "
                                                 f"{str(announcement['draw_id'])[:80]!r} with freeze digest "
                                                 f"{payload['freeze_digest']} at {payload.get('cosigned_at')}; "
                                                 f"it will not cosign another ({freeze_digest})")
        _check_timing(announcement, freeze, now)
        envelope = _sign(announcement, freeze, entry, private_key, now)
        try:
            handle.write(json.dumps(envelope, sort_keys=True, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        except OSError as exc:
            # A cosignature that is not in the log must not leave the witness: it would escape the guard.
            raise UnreadableInput(f"cannot append to the witness log {path}: {exc}") from exc
    return envelope


# ------------------------------------------------------------------------------------------ key files
def generate_key_file(path: str) -> Ed25519PrivateKey:
    """Write a new PKCS#8 PEM Ed25519 private key to ``path`` (mode 0600); FileExistsError if it exists."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
        handle.flush()
        os.fsync(handle.fileno())
    return key


def load_key_file(path: str) -> Ed25519PrivateKey:
    """The Ed25519 private key in the PEM file ``path``; UnreadableInput if it is not one."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
        key = serialization.load_pem_private_key(data, password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise UnreadableInput(f"cannot read the witness key {path}: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise UnreadableInput(f"the witness key {path} is not an Ed25519 key")
    return key


def _load_json(path: str, what: str) -> Any:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise UnreadableInput(f"cannot read the {what} {path}: {exc}") from exc


def _load_keyset(path: str | None) -> dict[str, Any] | None:
    if path is None:
        return None
    keyset = _load_json(path, "key set")
    if not isinstance(keyset, dict) or not isinstance(keyset.get("keys"), list):
        raise UnreadableInput(f"the key set {path} is not {{\"keys\": [...]}}")
    return keyset


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def _warn_key_mode(path: str) -> None:
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        _warn(f"the witness key {path} is readable by others (mode {stat.S_IMODE(mode):o}); chmod 600 it")


# ---------------------------------------------------------------------------------------------- serve
class WitnessServer(HTTPServer):
    """An HTTP server that cosigns freeze packages: ``POST /cosign``, ``GET /witness``.

    Single-threaded on purpose: one request at a time, so the log check and append never race.
    """

    def __init__(self, address: tuple[str, int], private_key: Ed25519PrivateKey, *,
                 keyset: dict[str, Any] | None = None, log_path: str | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(address, _CosignHandler)
        self.private_key = private_key
        self.keyset = keyset
        self.log_path = log_path
        self.clock = clock


class _CosignHandler(BaseHTTPRequestHandler):
    server: WitnessServer
    timeout = 10  # a slow client must not hold the single-threaded server
    server_version = "draws-witness/2"

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path != "/witness":
            self._reply(404, {"error": "not found: POST /cosign or GET /witness"})
            return
        mine = public_entry(self.server.private_key, "")
        self._reply(200, {"kid": mine["kid"], "public_key": mine["public_key"]})

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        if self.path != "/cosign":
            self._reply(404, {"error": "not found: POST /cosign"})
            return
        length_text = self.headers.get("Content-Length")
        if length_text is None:
            self._reply(411, {"error": "Content-Length is required"})
            return
        try:
            length = int(length_text)
        except ValueError:
            length = -1
        if length < 0:
            self._reply(400, {"error": "bad Content-Length"})
            return
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            self._reply(413, {"error": f"the package is larger than {MAX_BODY_BYTES} bytes"})
            return
        try:
            package = json.loads(self.rfile.read(length).decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            self._reply(400, {"error": "the body is not a JSON freeze package"})
            return
        server = self.server
        try:
            envelope = cosign(package, server.private_key, now=int(server.clock()),
                              keyset=server.keyset, log_path=server.log_path)
        except WitnessRefused as exc:
            self._reply(422, {"error": exc.reason})
            return
        except UnreadableInput as exc:
            self._reply(500, {"error": str(exc)})
            return
        self._reply(200, envelope)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        print(f"{self.address_string()} {format % args}", file=sys.stderr)


# ---------------------------------------------------------------------------------------- command line
def _cmd_keygen(args: argparse.Namespace) -> int:
    problem = name_problem(args.name)
    if problem:
        print(f"refused: {problem}", file=sys.stderr)
        return EXIT_REFUSED
    try:
        key = generate_key_file(args.out)
    except FileExistsError:
        print(f"refused: {args.out} exists; a witness key is never overwritten", file=sys.stderr)
        return EXIT_REFUSED
    except OSError as exc:
        raise UnreadableInput(f"cannot write {args.out}: {exc}") from exc
    print(json.dumps(public_entry(key, args.name), ensure_ascii=False))
    return EXIT_OK


def _cmd_public(args: argparse.Namespace) -> int:
    problem = name_problem(args.name)
    if problem:
        print(f"refused: {problem}", file=sys.stderr)
        return EXIT_REFUSED
    print(json.dumps(public_entry(load_key_file(args.key), args.name), ensure_ascii=False))
    return EXIT_OK


def _cmd_cosign(args: argparse.Namespace) -> int:
    package = _load_json(args.package, "freeze package")
    _warn_key_mode(args.key)
    key = load_key_file(args.key)
    keyset = _load_keyset(args.keyset)
    if keyset is None:
        _warn("no --keyset: the package's own key set was used, which proves only that the package is "
              "self-consistent; fetch the service's key set (/api/v1/keys) independently and pass --keyset")
    if args.log is None:
        _warn("no --log: this witness cannot detect a second, different freeze of the same draw")
    try:
        envelope = cosign(package, key, now=int(time.time()), keyset=keyset, log_path=args.log)
    except WitnessRefused as exc:
        print(f"refused: {exc.reason}", file=sys.stderr)
        return EXIT_REFUSED
    text = json.dumps(envelope, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if args.out is None:
        sys.stdout.write(text)
        return EXIT_OK
    try:
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise UnreadableInput(f"cannot write {args.out}: {exc}") from exc
    return EXIT_OK


def _cmd_serve(args: argparse.Namespace) -> int:
    _warn_key_mode(args.key)
    key = load_key_file(args.key)
    keyset = _load_keyset(args.keyset)
    if keyset is None:
        _warn("no --keyset: each package's own key set will be used (proves only self-consistency)")
    if args.log is None:
        _warn("no --log: this witness cannot detect a second, different freeze of the same draw")
    try:
        server = WitnessServer((args.host, args.port), key, keyset=keyset, log_path=args.log)
    except OSError as exc:
        raise UnreadableInput(f"cannot listen on {args.host}:{args.port}: {exc}") from exc
    host, port = server.server_address[:2]
    host = host.decode() if isinstance(host, bytes) else host  # typed str | bytes; an IP server's is str
    print(f"witness {public_entry(key, '')['kid']} listening on http://{host}:{port}/cosign", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (0 done, 1 refused, 2 unreadable input)."""
    parser = argparse.ArgumentParser(prog="python -m draws.witness", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    keygen = commands.add_parser("keygen", help="create a witness key and print its public entry")
    keygen.add_argument("--out", required=True, help="where to write the private key (PEM, never overwritten)")
    keygen.add_argument("--name", required=True, help="the witness's name, as the announcement will show it")
    public = commands.add_parser("public", help="print the public entry of an existing witness key")
    public.add_argument("--key", required=True)
    public.add_argument("--name", required=True)
    cosign_cmd = commands.add_parser("cosign", help="check a freeze package and cosign it")
    cosign_cmd.add_argument("package", help="the freeze package (JSON)")
    cosign_cmd.add_argument("--out", help="write the cosignature here instead of standard output")
    serve = commands.add_parser("serve", help="cosign freeze packages over HTTP (POST /cosign)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765)
    for sub in (cosign_cmd, serve):
        sub.add_argument("--key", required=True, help="the witness's private key (PEM)")
        sub.add_argument("--keyset", help="the service's key set, obtained independently (/api/v1/keys)")
        sub.add_argument("--log", help="the witness log (JSON lines); guards against equivocation")
    args = parser.parse_args(argv)
    handler = {"keygen": _cmd_keygen, "public": _cmd_public, "cosign": _cmd_cosign, "serve": _cmd_serve}
    try:
        return handler[args.command](args)
    except UnreadableInput as exc:
        print(f"unreadable: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE


if __name__ == "__main__":
    sys.exit(main())
