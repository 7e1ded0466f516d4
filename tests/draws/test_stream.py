"""The HMAC-SHA256 counter-mode stream and unbiased ``uniform_below``."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from draws.stream import ByteStream, acceptance_limit, first_blocks, stream_block, words_needed

SEED = hashlib.sha256(b"test seed").digest()


class ScriptedStream(ByteStream):
    """A stream whose bytes are given by the test (to force rejections)."""

    def __init__(self, data: bytes) -> None:
        super().__init__(b"\x00" * 32)
        self._data = data

    def read(self, size: int) -> bytes:
        chunk, self._data = self._data[:size], self._data[size:]
        assert len(chunk) == size, "test script ran out of bytes"
        self.bytes_consumed += size
        return chunk


def test_block_is_hmac_of_big_endian_counter() -> None:
    assert stream_block(SEED, 0) == hmac.new(SEED, b"\x00" * 8, hashlib.sha256).digest()
    assert stream_block(SEED, 258) == hmac.new(SEED, b"\x00" * 6 + b"\x01\x02", hashlib.sha256).digest()


def test_bytes_are_consumed_in_order_across_blocks() -> None:
    stream = ByteStream(SEED)
    data = stream.read(5) + stream.read(40) + stream.read(19)
    assert data == stream_block(SEED, 0) + stream_block(SEED, 1)
    assert stream.blocks_generated == 2 and stream.bytes_consumed == 64
    assert first_blocks(SEED, 2) == [stream_block(SEED, 0).hex(), stream_block(SEED, 1).hex()]


def test_uniform_below_reads_big_endian_words() -> None:
    stream = ByteStream(SEED)
    block = stream_block(SEED, 0)
    n = 1_000_003
    assert stream.uniform_below(n) == int.from_bytes(block[:8], "big") % n
    assert stream.uniform_below(n) == int.from_bytes(block[8:16], "big") % n


def test_rejection_happens_and_consumes_the_rejected_word() -> None:
    # n = 3: 2**64 mod 3 == 1, so the limit is 2**64 - 1 and the all-ones word is rejected.
    assert acceptance_limit(3) == 2**64 - 1
    stream = ScriptedStream(b"\xff" * 8 + (5).to_bytes(8, "big"))
    assert stream.uniform_below(3) == 2
    assert stream.rejections == 1 and stream.bytes_consumed == 16


def test_rejection_region_near_two_to_the_63() -> None:
    n = 2**63 + 1
    assert acceptance_limit(n) == n  # only x < n is accepted: about half the words are rejected
    stream = ScriptedStream((n).to_bytes(8, "big") + (n - 1).to_bytes(8, "big"))
    assert stream.uniform_below(n) == n - 1
    assert stream.rejections == 1


def test_no_modulo_bias_exhaustive_on_a_small_word() -> None:
    # The same rule over 8-bit words: every residue gets exactly the same number of accepted values.
    for n in range(1, 40):
        modulus = 256
        limit = modulus - modulus % n
        counts = [0] * n
        for x in range(limit):
            counts[x % n] += 1
        assert len(set(counts)) == 1


def test_words_needed_grows_past_two_to_the_64() -> None:
    assert words_needed(1) == 1
    assert words_needed(2**64) == 1
    assert words_needed(2**64 + 1) == 2
    assert words_needed(2**128 + 1) == 3
    stream = ByteStream(SEED)
    n = 2**64 + 12345
    value = stream.uniform_below(n)
    assert 0 <= value < n and stream.bytes_consumed == 16


def test_n_equal_one_still_consumes_a_word() -> None:
    stream = ByteStream(SEED)
    assert stream.uniform_below(1) == 0
    assert stream.bytes_consumed == 8


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "3"])
def test_uniform_below_refuses_bad_bounds(bad: object) -> None:
    with pytest.raises(ValueError):
        ByteStream(SEED).uniform_below(bad)  # type: ignore[arg-type]


def test_seed_must_be_32_bytes() -> None:
    with pytest.raises(ValueError):
        ByteStream(b"short")


def test_roughly_uniform() -> None:
    stream = ByteStream(SEED)
    counts = [0] * 6
    for _ in range(6000):
        counts[stream.uniform_below(6)] += 1
    assert all(900 < c < 1100 for c in counts)
