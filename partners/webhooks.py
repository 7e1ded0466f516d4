"""Signed webhooks per the Standard Webhooks specification (pure: stdlib and ``cryptography`` only).

A message is sent as an HTTP POST with three headers:

- ``webhook-id``: the message's id (``msg_...``), the same on every retry and replay (the receiver's
  key for de-duplication);
- ``webhook-timestamp``: seconds since the epoch when this attempt was signed;
- ``webhook-signature``: space-separated signatures, each ``<version>,<base64>`` over the bytes
  ``<webhook-id>.<webhook-timestamp>.<body>``: ``v1`` = HMAC-SHA256 keyed with the base64-decoded part
  of a ``whsec_`` secret, ``v1a`` = Ed25519 with the endpoint's private key (the partner holds the
  ``whpk_`` public key). During a secret rotation's overlap the message carries both signatures.

The retry schedule spans more than three days; :func:`next_delay` says how long to wait after a
failed attempt, and None when the message is given up.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

HMAC = "hmac"
ED25519 = "ed25519"
SCHEMES = (HMAC, ED25519)
SECRET_PREFIX = "whsec_"
PRIVATE_PREFIX = "whsk_"
PUBLIC_PREFIX = "whpk_"

EVENTS = ("code.redeemed", "code.rollback", "code.revoked", "code.expiring", "offer.changed")

# Seconds to wait after attempt 1, 2, ...: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h
# (about 75 hours in all: a receiver down for three days still gets every message).
SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)
TOLERANCE_SECONDS = 300  # a receiver refuses a timestamp further than this from its clock


def N_(text: str) -> str:
    """Mark a message for the catalogue (translated where it is shown)."""
    return text


class WebhookError(Exception):
    """A refused webhook setting (the feature registers it as a refusal)."""

    def __init__(self, template: str, **params: object) -> None:
        super().__init__(template % params if params else template)
        self.template, self.params = template, params


class BadSignature(Exception):
    """A message whose signature does not verify (the receiver's side)."""


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def new_secret(scheme: str = HMAC) -> str:
    """A new signing secret: ``whsec_`` + 32 random bytes (HMAC), or an Ed25519 private key ``whsk_``."""
    if scheme == HMAC:
        return SECRET_PREFIX + _b64(secrets.token_bytes(32))
    if scheme == ED25519:
        raw = Ed25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return PRIVATE_PREFIX + _b64(raw)
    raise WebhookError(N_("unknown signature scheme %(scheme)s"), scheme=repr(scheme))


def _key_bytes(secret: str, prefix: str) -> bytes:
    if not secret.startswith(prefix):
        raise WebhookError(N_("a secret of this kind starts with %(prefix)s"), prefix=prefix)
    try:
        return base64.b64decode(secret[len(prefix):], validate=True)
    except ValueError as exc:
        raise WebhookError(N_("the secret is not base64 after %(prefix)s"), prefix=prefix) from exc


def public_key(secret: str) -> str | None:
    """What the partner verifies with: the ``whpk_`` public key of an Ed25519 secret; None for HMAC
    (the partner holds the ``whsec_`` secret itself)."""
    if not secret.startswith(PRIVATE_PREFIX):
        return None
    key = Ed25519PrivateKey.from_private_bytes(_key_bytes(secret, PRIVATE_PREFIX))
    return PUBLIC_PREFIX + _b64(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


def signed_content(msg_id: str, timestamp: int, body: bytes) -> bytes:
    """The bytes every signature covers."""
    return f"{msg_id}.{timestamp}.".encode() + body


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One signature ``v1,...`` (a ``whsec_`` secret) or ``v1a,...`` (a ``whsk_`` Ed25519 key)."""
    content = signed_content(msg_id, timestamp, body)
    if secret.startswith(SECRET_PREFIX):
        return "v1," + _b64(hmac.new(_key_bytes(secret, SECRET_PREFIX), content, hashlib.sha256).digest())
    key = Ed25519PrivateKey.from_private_bytes(_key_bytes(secret, PRIVATE_PREFIX))
    return "v1a," + _b64(key.sign(content))


def headers(secrets_now: Iterable[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three headers of one attempt, signed with every secret in force (newest first)."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(s, msg_id, timestamp, body) for s in secrets_now),
        "content-type": "application/json",
    }


def verify(key: str, header_map: dict[str, str], body: bytes, now: int,
           tolerance: int = TOLERANCE_SECONDS) -> None:
    """What a receiver does (the example in docs/api.md): check the timestamp is recent and that one of
    the signatures verifies with ``key`` (a ``whsec_`` secret or a ``whpk_`` public key); raises
    :class:`BadSignature` otherwise. Header names are looked up case-insensitively."""
    low = {k.lower(): v for k, v in header_map.items()}
    try:
        msg_id, stamp, signatures = low["webhook-id"], int(low["webhook-timestamp"]), low["webhook-signature"]
    except (KeyError, ValueError) as exc:
        raise BadSignature("missing or malformed webhook headers") from exc
    if abs(now - stamp) > tolerance:
        raise BadSignature("timestamp too far from now")
    content = signed_content(msg_id, stamp, body)
    for item in signatures.split():
        version, _, sig = item.partition(",")
        try:
            raw = base64.b64decode(sig, validate=True)
        except ValueError:
            continue
        if version == "v1" and key.startswith(SECRET_PREFIX):
            expected = hmac.new(_key_bytes(key, SECRET_PREFIX), content, hashlib.sha256).digest()
            if hmac.compare_digest(expected, raw):
                return
        elif version == "v1a" and key.startswith(PUBLIC_PREFIX):
            try:
                Ed25519PublicKey.from_public_bytes(_key_bytes(key, PUBLIC_PREFIX)).verify(raw, content)
                return
            except (InvalidSignature, ValueError):
                continue
    raise BadSignature("no signature matches")


def next_delay(attempts: int) -> int | None:
    """Seconds to wait after the ``attempts``-th failed attempt, or None: give the message up."""
    return SCHEDULE[attempts - 1] if 1 <= attempts <= len(SCHEDULE) else None


def check_url(url: str, allow_http: bool) -> str:
    """An endpoint's URL: https (http only where allowed: tests, a laptop), at most 500 characters."""
    url = url.strip()
    if len(url) > 500 or not url.isprintable() or " " in url:
        raise WebhookError(N_("an endpoint URL has at most 500 characters and no spaces"))
    if not (url.startswith("https://") or (allow_http and url.startswith("http://"))):
        raise WebhookError(N_("an endpoint URL starts with https://"))
    if len(url.split("://", 1)[1].split("/", 1)[0]) == 0:
        raise WebhookError(N_("an endpoint URL names a host"))
    return url


def check_events(events: Iterable[str]) -> list[str]:
    """The event types an endpoint subscribes to (empty: all of them)."""
    chosen = sorted(set(events))
    for event in chosen:
        if event not in EVENTS:
            raise WebhookError(N_("unknown event type %(event)s"), event=repr(event))
    return chosen
