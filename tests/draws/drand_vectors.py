"""Published League of Entropy rounds (public beacon data), the test vectors of the drand BLS check."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from draws.sample import QUICKNET_ROUNDS as QUICKNET_SIGNATURES
from draws.sample import quicknet_value

__all__ = ["MAINNET_SIGNATURES", "QUICKNET_SIGNATURES", "mainnet_value", "quicknet_value", "relay_text"]


MAINNET_SIGNATURES = {
    2: "aa18facd2d51b616511d542de6f9af8a3b920121401dad1434ed1db4a565f10e04fad8d9b2b4e3e0094364374caafe9b"
    "10478bf75650124831509c638b5a36a7a232ec70289f8751a2adb47fc32eb70b57dc81c39d48cbcac9fec46cdfc31663",
    3: "a7b0877eaea7a0222f4c39a2c03434c34f5fe3ea47c533d24b88e5c3053b84775ccb78e984addcb55173f40428513f28"
    "0cc6e0fccc3c89bb1625c7c0b477deb6faae43fc6ec036f09233bf38da16586b3042dd01a7e9ed97c8bafa343cc6071e",
    4: "b3d74f1ab9da993e3e3c01d1a395cce8834b42de57f5ad922ac63b2e715c238f986f3098d379ce6aad07b8581e4cfd6d"
    "1533835d5e2a7e299beec8851a21c8f9ca2d714d87a471641427d21838fb2ca1a406707bb0b372f74ab667f0509fa341",
}


def mainnet_value(round_number: int) -> dict[str, Any]:
    """The entropy value of a published mainnet round, with its previous signature."""
    signature = MAINNET_SIGNATURES[round_number]
    return {
        "type": "drand",
        "round": round_number,
        "randomness": hashlib.sha256(bytes.fromhex(signature)).hexdigest(),
        "signature": signature,
        "previous_signature": MAINNET_SIGNATURES[round_number - 1],
    }


def relay_text(value: dict[str, Any]) -> str:
    """The round as a relay serves it (no ``type`` field)."""
    return json.dumps({k: v for k, v in value.items() if k != "type"})
