"""Encryption at rest of a draw's secret and salt key (AES-256-GCM, keys outside the database).

The key file (``instance/keys/draw-secrets.key`` by default, mode 0600) holds one or more 32-byte keys
in hex, one per line, newest first: the first encrypts, every listed key decrypts, so a key can be
rotated without re-encrypting old draws at once (the MultiFernet idea). A sealed value is
``v1:<key id>:<base64url(nonce || ciphertext)>`` where the key id is the first 8 hex digits of
SHA-256 of the key and the draw's id is bound as associated data (a sealed secret copied onto another
draw does not open). Stdlib + ``cryptography`` only.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from signedjson import b64u_decode, b64u_encode


class SecretBoxError(Exception):
    """The key file is missing, unsafe or does not open a sealed value."""


def _key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:8]


class SecretBox:
    """Seal and open small secrets with the keys of one key file."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def ensure_key(self) -> None:
        """Create the key file with one fresh key if it does not exist (0600, folder 0700)."""
        if self.path.exists():
            return
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_hex(32) + "\n")

    def rotate(self) -> str:
        """Prepend a new key (it encrypts from now on); returns its id."""
        self.ensure_key()
        key = secrets.token_bytes(32)
        old = self.path.read_text(encoding="ascii")
        self.path.write_text(key.hex() + "\n" + old, encoding="ascii")
        return _key_id(key)

    def _keys(self) -> list[bytes]:
        if not self.path.exists():
            raise SecretBoxError(f"no draw secret key file at {self.path}")
        if stat.S_IMODE(self.path.stat().st_mode) & (stat.S_IRWXG | stat.S_IRWXO):
            raise SecretBoxError(f"{self.path} is readable by others; run chmod 600 on it")
        keys = [
            bytes.fromhex(line.strip()) for line in self.path.read_text(encoding="ascii").splitlines() if line.strip()
        ]
        if not keys or any(len(k) != 32 for k in keys):
            raise SecretBoxError(f"{self.path} must hold 32-byte keys in hex, one per line")
        return keys

    def seal(self, plaintext: bytes, context: str) -> str:
        """Encrypt ``plaintext`` bound to ``context`` (the draw id) with the newest key."""
        key = self._keys()[0]
        nonce = secrets.token_bytes(12)
        sealed = AESGCM(key).encrypt(nonce, plaintext, context.encode("utf-8"))
        return f"v1:{_key_id(key)}:{b64u_encode(nonce + sealed)}"

    def open(self, token: str, context: str) -> bytes:
        """Decrypt a value made by :meth:`seal` for the same ``context``."""
        try:
            version, kid, body = token.split(":", 2)
        except ValueError as exc:
            raise SecretBoxError("malformed sealed value") from exc
        if version != "v1":
            raise SecretBoxError(f"unknown sealed value version {version!r}")
        for key in self._keys():
            if _key_id(key) == kid:
                raw = b64u_decode(body)
                try:
                    return AESGCM(key).decrypt(raw[:12], raw[12:], context.encode("utf-8"))
                except InvalidTag as exc:
                    raise SecretBoxError("sealed value does not open (tampered, or another draw's)") from exc
        raise SecretBoxError(f"the key {kid} that sealed this value is not in {self.path}")
