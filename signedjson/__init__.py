"""Canonical JSON and Ed25519-signed envelopes: the pure code that the kernel and the draw verifier share.

Needs only the standard library and ``cryptography``, so the standalone verifier ships with it alone.

Canonical JSON (docs/draw-algorithm.md section 2 spells the bytes out for other languages):
- objects with keys sorted by their Unicode code points, no insignificant white space
  (separators ``,`` and ``:``);
- strings as UTF-8, not ``\\u``-escaped except where JSON requires it;
- integers only: floats are refused, because their text form differs between platforms;
- ``true``, ``false``, ``null`` as usual.

Signed envelopes:
An envelope is ``{"payload": {...}, "signature": {"alg": "Ed25519", "kid": KID, "sig": SIG}}`` where
``SIG`` is the unpadded base64url Ed25519 signature of ``canonical_json(payload)``.

Timestamps inside signed records are UTC instants written ``YYYY-MM-DDTHH:MM:SSZ`` (whole seconds;
:func:`utc_timestamp`); the event log's chain and the key set's creation times add microseconds
(``YYYY-MM-DDTHH:MM:SS.ffffffZ``), so that records made within one second keep their order.

A key set is ``{"keys": [{"kid", "alg", "public_key", "created", "retired"}]}`` where ``public_key``
is the unpadded base64url raw 32-byte Ed25519 public key and ``kid`` is the first 16 hex digits of
SHA-256 of those 32 bytes. A retired key still verifies what it signed; it just signs nothing new.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


def _check(value: Any, path: str = "$") -> None:
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return
    if isinstance(value, float):
        raise ValueError(f"canonical JSON refuses floats (at {path})")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"canonical JSON keys must be strings (at {path})")
            _check(item, f"{path}.{key}")
        return
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check(item, f"{path}[{index}]")
        return
    raise ValueError(f"canonical JSON cannot encode {type(value).__name__} (at {path})")


def canonical_json(value: Any) -> bytes:
    """Encode ``value`` as canonical JSON bytes (sorted keys, compact, UTF-8, no floats)."""
    _check(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    """Lower-case hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
TIMESTAMP_FORMAT_MICROSECONDS = "%Y-%m-%dT%H:%M:%S.%fZ"


def utc_timestamp(moment: datetime, *, microseconds: bool = False) -> str:
    """The text of an instant in UTC: ``YYYY-MM-DDTHH:MM:SSZ`` (fractions of a second dropped), or
    ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` with ``microseconds``.

    An aware instant is converted to UTC first; a naive one is taken to be UTC already (as the
    database returns stored instants).
    """
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime(TIMESTAMP_FORMAT_MICROSECONDS if microseconds else TIMESTAMP_FORMAT)


def parse_utc_timestamp(text: str) -> datetime:
    """The aware UTC instant of a ``YYYY-MM-DDTHH:MM:SSZ`` text; ``ValueError`` for any other text."""
    return datetime.strptime(text, TIMESTAMP_FORMAT).replace(tzinfo=UTC)


class SignatureError(Exception):
    """A signature is missing, malformed, made by an unknown key, or does not match."""


def b64u_encode(data: bytes) -> str:
    """Unpadded base64url text of ``data``."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(text: str) -> bytes:
    """Bytes of base64url ``text`` (RFC 4648 section 5), unpadded or with its exact ``=`` padding.

    Strict, so that one value has one spelling: any other character, wrong padding, or a last
    character whose unused bits are not zero raises ``ValueError`` (``binascii.Error``).
    """
    bare = text[:-2] if text.endswith("==") else text[:-1] if text.endswith("=") else text
    if bare != text and len(text) % 4:
        raise binascii.Error("base64url padding must complete a group of four characters")
    if not _B64U.fullmatch(bare) or len(bare) % 4 == 1:
        raise binascii.Error("not base64url text")
    data = base64.urlsafe_b64decode(bare + "=" * (-len(bare) % 4))
    if b64u_encode(data) != bare:
        raise binascii.Error("base64url text with non-zero unused bits (not the canonical spelling)")
    return data


_B64U = re.compile("[A-Za-z0-9_-]*")


def kid_for(public_raw: bytes) -> str:
    """Key id: the first 16 hex digits of SHA-256 of the raw 32-byte public key."""
    return hashlib.sha256(public_raw).hexdigest()[:16]


def sign_payload(private_key: Ed25519PrivateKey, payload: dict[str, Any]) -> dict[str, Any]:
    """Wrap ``payload`` in an envelope signed by ``private_key``."""
    public_raw = private_key.public_key().public_bytes_raw()
    sig = private_key.sign(canonical_json(payload))
    return {
        "payload": payload,
        "signature": {"alg": "Ed25519", "kid": kid_for(public_raw), "sig": b64u_encode(sig)},
    }


def public_key_for(keyset: dict[str, Any], kid: str) -> Ed25519PublicKey:
    """The public key with id ``kid`` in ``keyset``; checks that the kid matches the key bytes."""
    for entry in keyset.get("keys", []):
        if entry.get("kid") == kid:
            raw = b64u_decode(entry["public_key"])
            if kid_for(raw) != kid:
                raise SignatureError(f"key set entry {kid} does not match its public key")
            return Ed25519PublicKey.from_public_bytes(raw)
    raise SignatureError(f"unknown signing key {kid!r}")


def verify_envelope(envelope: Any, keyset: dict[str, Any]) -> dict[str, Any]:
    """Return the payload of ``envelope`` if its signature verifies against ``keyset``."""
    try:
        payload: dict[str, Any] = envelope["payload"]
        signature = envelope["signature"]
        if signature.get("alg") != "Ed25519":
            raise SignatureError(f"unsupported algorithm {signature.get('alg')!r}")
        key = public_key_for(keyset, signature["kid"])
        key.verify(b64u_decode(signature["sig"]), canonical_json(payload))
    except InvalidSignature as exc:
        raise SignatureError("signature does not match the payload") from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise SignatureError(f"malformed envelope: {exc}") from exc
    return payload
