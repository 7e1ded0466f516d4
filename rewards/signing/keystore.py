"""The signing key store: ``instance/keys/`` holds one private PEM and one public JSON per key.

The newest key that is neither retired nor compromised signs; every key that ever existed stays in the
published key set so that old signatures keep verifying. The folder must be 0700 and the PEM files
0600: a key readable by others is refused, because anyone who can read it can forge results.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from signedjson import b64u_encode, kid_for, sign_payload, utc_timestamp


class KeyStoreError(Exception):
    """The key store is missing, unsafe or inconsistent."""


@dataclass(frozen=True)
class KeyInfo:
    """Public facts about one signing key."""

    kid: str
    public_key: str
    created: str
    retired: str | None
    compromised: str | None


def _now() -> str:
    return utc_timestamp(datetime.now(UTC), microseconds=True)  # microseconds: order of keys made in one second


def _check_private(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyStoreError(f"{path} is readable by others (mode {mode:o}); run chmod 600 on it")


class KeyStore:
    """Signing keys in one folder."""

    def __init__(self, folder: str | os.PathLike[str]):
        self.folder = Path(folder)

    def _ensure_folder(self) -> None:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.folder, 0o700)

    def generate(self, created_at: datetime | None = None) -> KeyInfo:
        """Create a new key; it becomes the signing key and the previous one is retired.

        ``created_at`` (default: now) is the key's ``created`` time in the key set: a verifier refuses a
        record this key signs with an earlier time (only tests and key imports set it)."""
        self._ensure_folder()
        key = Ed25519PrivateKey.generate()
        raw = key.public_key().public_bytes_raw()
        kid = kid_for(raw)
        created = created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if created_at else _now()
        for info in self.keys():
            if info.retired is None:
                self._update_meta(info.kid, retired=created)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        pem_path = self.folder / f"{kid}.pem"
        fd = os.open(pem_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        meta: dict[str, Any] = {"kid": kid, "public_key": b64u_encode(raw), "created": created, "retired": None,
                                "compromised": None}
        (self.folder / f"{kid}.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
        return KeyInfo(**meta)

    def _update_meta(self, kid: str, **changes: Any) -> None:
        path = self.folder / f"{kid}.json"
        meta = json.loads(path.read_text(encoding="utf-8"))
        meta.update(changes)
        path.write_text(json.dumps(meta, indent=2), encoding="utf-8")

    def mark_compromised(self, kid: str) -> None:
        """Record that a key leaked: it signs nothing more and the key set says since when."""
        if not (self.folder / f"{kid}.json").exists():
            raise KeyStoreError(f"no key {kid}")
        now = _now()
        info = next(k for k in self.keys() if k.kid == kid)
        self._update_meta(kid, compromised=now, retired=info.retired or now)

    def keys(self) -> list[KeyInfo]:
        """Every key ever generated, oldest first."""
        if not self.folder.exists():
            return []
        infos = []
        for path in self.folder.glob("*.json"):
            meta = json.loads(path.read_text(encoding="utf-8"))
            infos.append(KeyInfo(**{f: meta.get(f) for f in KeyInfo.__dataclass_fields__}))
        return sorted(infos, key=lambda k: (k.created, k.kid))

    def keyset(self) -> dict[str, Any]:
        """The public key set, in the format ``signedjson`` verifies against."""
        return {
            "keys": [
                {
                    "kid": k.kid,
                    "alg": "Ed25519",
                    "public_key": k.public_key,
                    "created": k.created,
                    "retired": k.retired,
                    "compromised": k.compromised,
                }
                for k in self.keys()
            ]
        }

    def current(self) -> tuple[KeyInfo, Ed25519PrivateKey]:
        """The signing key: the newest one not retired; refuses an unsafe folder or file."""
        active = [k for k in self.keys() if k.retired is None and k.compromised is None]
        if not active:
            raise KeyStoreError(f"no signing key in {self.folder}; run 'flask keys generate'")
        info = active[-1]
        folder_mode = stat.S_IMODE(self.folder.stat().st_mode)
        if folder_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyStoreError(f"{self.folder} is open to others (mode {folder_mode:o}); run chmod 700 on it")
        pem_path = self.folder / f"{info.kid}.pem"
        if not pem_path.exists():
            raise KeyStoreError(f"the private key of {info.kid} is missing; see docs/operations.md")
        _check_private(pem_path)
        key = serialization.load_pem_private_key(pem_path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey) or kid_for(key.public_key().public_bytes_raw()) != info.kid:
            raise KeyStoreError(f"{pem_path} does not hold the key {info.kid}")
        return info, key

    def sign(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Sign ``payload`` with the current key; returns the envelope."""
        _info, key = self.current()
        return sign_payload(key, payload)
