"""Signing keys: file modes, kid, rotation, verification by retired keys, the published key set."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from flask import Flask

from rewards.signing.keystore import KeyStore, KeyStoreError
from signedjson import SignatureError, b64u_decode, kid_for, verify_envelope


def test_generate_sign_rotate_verify(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys")
    first = store.generate()
    assert oct((tmp_path / "keys").stat().st_mode & 0o777) == "0o700"
    assert oct((tmp_path / "keys" / f"{first.kid}.pem").stat().st_mode & 0o777) == "0o600"
    assert first.kid == kid_for(b64u_decode(first.public_key))
    old_record = store.sign({"n": 1})
    second = store.generate()
    assert store.current()[0].kid == second.kid
    keyset = store.keyset()
    assert [k["kid"] for k in keyset["keys"]] == [first.kid, second.kid]
    assert keyset["keys"][0]["retired"] is not None and keyset["keys"][1]["retired"] is None
    assert verify_envelope(old_record, keyset) == {"n": 1}  # the retired key still verifies
    new_record = store.sign({"n": 2})
    assert new_record["signature"]["kid"] == second.kid
    tampered = {"payload": {"n": 3}, "signature": new_record["signature"]}
    with pytest.raises(SignatureError):
        verify_envelope(tampered, keyset)


def test_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys")
    info = store.generate()
    os.chmod(tmp_path / "keys" / f"{info.kid}.pem", 0o644)
    with pytest.raises(KeyStoreError, match="readable by others"):
        store.sign({"x": 1})
    os.chmod(tmp_path / "keys" / f"{info.kid}.pem", 0o600)
    os.chmod(tmp_path / "keys", 0o755)
    with pytest.raises(KeyStoreError, match="open to others"):
        store.sign({"x": 1})


def test_compromised_key_signs_nothing_more(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys")
    info = store.generate()
    store.mark_compromised(info.kid)
    with pytest.raises(KeyStoreError, match="no signing key"):
        store.sign({"x": 1})
    assert store.keyset()["keys"][0]["compromised"] is not None


def test_keyset_endpoint(app: Flask) -> None:
    r = app.test_client().get("/api/v1/keys")
    assert r.status_code == 200
    keys = r.get_json()["keys"]
    assert len(keys) == 1 and keys[0]["alg"] == "Ed25519"
    result = app.test_cli_runner().invoke(args=["keys", "generate"])
    assert result.exit_code == 0, result.output
    assert len(app.test_client().get("/api/v1/keys").get_json()["keys"]) == 2
