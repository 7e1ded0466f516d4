"""The deterministic byte stream and unbiased integer sampling.

Stream
    Block ``i`` (``i = 0, 1, 2, ...``) is ``HMAC-SHA256(key=seed, message=u64(i))`` where ``u64`` is
    the 8-byte big-endian counter. The stream is block 0, then block 1, and so on; bytes are consumed
    strictly in order and never skipped or reused. A read of ``k`` bytes takes the next ``k`` bytes of
    the stream, crossing block boundaries when needed (with 8-byte reads they never do: 32 = 4 x 8).

``uniform_below(n)``
    Returns an integer uniformly distributed in ``0 .. n-1`` (``n >= 1``) with rejection sampling,
    integer arithmetic only:

    1. ``w = max(1, ceil(bitlen(n - 1) / 64))`` words of 64 bits are needed; ``w == 1`` for every
       ``n <= 2**64`` (the practical case: 1.5 million entrants times small tier weights).
       Larger totals (possible in principle because one weight may be up to 2**63-1) use more words.
    2. Read ``8*w`` bytes and interpret them as one unsigned big-endian integer ``x`` (for ``w == 1``:
       one 64-bit big-endian word).
    3. Let ``M = 2**(64*w)``. Accept if ``x < M - (M mod n)`` and return ``x mod n``; otherwise
       discard ``x`` and go back to step 2 (the rejected bytes stay consumed).

    ``M - (M mod n)`` is the largest multiple of ``n`` not above ``M``, so every residue is hit by the
    same number of accepted ``x``: no modulo bias. Even ``n == 1`` reads (and consumes) one word, so
    that the number of bytes consumed never depends on a special case.
"""

from __future__ import annotations

import hashlib
import hmac

from draws.encoding import u64

BLOCK_SIZE = 32
WORD_BITS = 64


def stream_block(seed: bytes, counter: int) -> bytes:
    """Block ``counter`` of the stream: ``HMAC-SHA256(seed, u64(counter))``."""
    return hmac.digest(seed, u64(counter), hashlib.sha256)


def words_needed(n: int) -> int:
    """How many 64-bit words ``uniform_below(n)`` reads per attempt (1 for every n <= 2**64)."""
    return max(1, -(-(n - 1).bit_length() // WORD_BITS))


def acceptance_limit(n: int) -> int:
    """The exclusive upper bound for accepted draws: ``M - (M mod n)`` with ``M = 2**(64*w)``."""
    modulus = 1 << (WORD_BITS * words_needed(n))
    return modulus - modulus % n


class ByteStream:
    """HMAC-SHA256 counter-mode byte stream keyed by the 32-byte draw seed.

    Keeps count of blocks generated and of bytes consumed, and of rejections made by
    :meth:`uniform_below`, so that a test lab can see exactly how much output a draw used.
    """

    def __init__(self, seed: bytes) -> None:
        if not isinstance(seed, bytes) or len(seed) != 32:
            raise ValueError("the stream seed must be exactly 32 bytes")
        self._seed = seed
        self._counter = 0
        self._buffer = b""
        self._pos = 0
        self.bytes_consumed = 0
        self.rejections = 0

    @property
    def blocks_generated(self) -> int:
        """Number of HMAC blocks generated so far."""
        return self._counter

    def read(self, size: int) -> bytes:
        """The next ``size`` bytes of the stream."""
        out = bytearray()
        while len(out) < size:
            if self._pos == len(self._buffer):
                self._buffer = stream_block(self._seed, self._counter)
                self._counter += 1
                self._pos = 0
            take = min(size - len(out), len(self._buffer) - self._pos)
            out += self._buffer[self._pos : self._pos + take]
            self._pos += take
        self.bytes_consumed += size
        return bytes(out)

    def read_uint(self, words: int) -> int:
        """The next ``8*words`` bytes as one unsigned big-endian integer."""
        return int.from_bytes(self.read(8 * words), "big")

    def uniform_below(self, n: int) -> int:
        """An unbiased integer in ``0 .. n-1`` by rejection sampling (see module docstring)."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"uniform_below needs an integer n >= 1, got {n!r}")
        words = words_needed(n)
        limit = acceptance_limit(n)
        while True:
            x = self.read_uint(words)
            if x < limit:
                return x % n
            self.rejections += 1


def first_blocks(seed: bytes, count: int) -> list[str]:
    """Hex of the first ``count`` stream blocks, for test vectors and raw-output dumps."""
    return [stream_block(seed, i).hex() for i in range(count)]
