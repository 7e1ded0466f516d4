"""base64url (keys and signatures) has exactly one spelling per value."""

from __future__ import annotations

import binascii
import os

import pytest

from signedjson import b64u_decode, b64u_encode


def test_every_value_round_trips_unpadded_and_padded() -> None:
    for size in range(40):
        data = os.urandom(size)
        text = b64u_encode(data)
        assert "=" not in text and b64u_decode(text) == data
        assert b64u_decode(text + "=" * (-len(text) % 4)) == data  # the padded spelling is the same value


@pytest.mark.parametrize("bad", ["ab!c", "a b", "A", "AB=", "ABC==", "====", "AB", "Zh", "ab+/", "Zg=x"])
def test_other_spellings_are_refused(bad: str) -> None:
    with pytest.raises(binascii.Error):  # foreign characters, bad padding, non-zero unused bits
        b64u_decode(bad)
