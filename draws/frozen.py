"""The freeze's data layout: a frozen entrant list kept as a few compact buffers, not Python objects.

At 5 M snapshot rows (3.6 M entrants) a list of strings, 32-byte keys, entries and leaf hashes costs
about 530 bytes per entrant as Python objects; here each of these is one buffer of fixed-size or
length-prefixed records (about 66 bytes per entrant while the list is built), and what is written
out (the ``ENTRANTS`` encoding, the weights vector, the proof chunks) goes straight into its digest
and its compressed form, one chunk at a time. The bytes are those of the plain rules
(``draws.entrants``, ``draws.merkle``): the test vectors check them.

Building: :class:`FreezeBuilder` takes the columns batch by batch (the service streams them from the
database in account order), checks each batch with the fast canonical test, and keeps per entrant
``lp(utf8(account))`` (one ``bytearray`` and an offsets ``array``), its ``(tier, weight)`` class
(an ``array`` of indices), its leaf hash (32 bytes of a ``bytearray``) and, for version 2, the first
8 bytes of its order key (an ``array('Q')``). :meth:`FreezeBuilder.finish` sorts positions by key
prefix (its first 53 bits as one float per entrant, the ties -- equal 53-bit prefixes -- settled by
the full key), then walks the sorted list one proof chunk (``CHUNK_SIZE`` entrants) at a time: the
chunk's entries, its part of the encoding and of the weights vector, its subtree root. The tree above the chunks is
built from those roots (``CHUNK_SIZE`` is a power of two, so each chunk is an aligned subtree); the
levels below are never kept.
"""

from __future__ import annotations

import hashlib
import hmac
import zlib
from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import accumulate, groupby, islice, repeat
from operator import add, itemgetter, lt, mul, rshift
from struct import Struct

from draws.encoding import lp, u64
from draws.entrants import (
    ENTRANT_TAGS,
    MAX_ACCOUNT_BYTES,
    MAX_WEIGHT,
    WEIGHTS_TAG,
    Entrant,
    canonical_entrants,
    decode_entrant_columns,
    mask_account,
)
from draws.errors import N_, DrawError, EmptyEntrantList, ProofError
from draws.merkle import (
    CHUNK_SIZE,
    InclusionProof,
    MerkleTree,
    entrant_leaf_hashes,
    entrant_salt,
    entry_parts,
    node_hashes,
    order_keys,
    salted_leaf_hashes,
)

HASH_SIZE = 32
_KEY_PREFIX = Struct(">Q24x")  # the first 8 bytes of a 32-byte order key, as an unsigned integer
_APPROX_SHIFT = 64 - 53  # a key prefix's first 53 bits fit a float's mantissa exactly
_LENGTHS = [Struct(">I").pack(n) for n in range(MAX_ACCOUNT_BYTES + 1)]
_PAIR = Struct(f"{2 * HASH_SIZE}s")  # two sibling nodes
_FIRST = itemgetter(0)
_BLOCK = 1 << 16  # entrants reduced to records at a time
_COMPRESS_LEVEL = 1  # as the service always stored the list: fast, and the digest is over the plain bytes


# ------------------------------------------------------------------------------------------ the tree
def next_level(level: bytes | bytearray) -> bytes:
    """The tree level above ``level`` (concatenated 32-byte nodes): the node hash of each pair, an
    unpaired last node moved up unchanged (RFC 6962's root, computed bottom-up)."""
    n = len(level) // HASH_SIZE
    pairs = map(_FIRST, _PAIR.iter_unpack(memoryview(level)[:2 * HASH_SIZE * (n // 2)]))
    up = b"".join(node_hashes(pairs))
    return up + bytes(level[-HASH_SIZE:]) if n % 2 else up


def subtree_root(leaves: bytes | bytearray) -> bytes:
    """The root over concatenated leaf hashes (at least one), level by level."""
    level: bytes | bytearray = leaves
    while len(level) > HASH_SIZE:
        level = next_level(level)
    return bytes(level)


def upper_tree(chunk_roots: bytes) -> tuple[bytes, bytes]:
    """The root and the stored upper levels (``draws.merkle.upper_levels_blob``) of a tree whose
    level ``CHUNK_HEIGHT`` is ``chunk_roots``: no upper levels when one chunk holds every leaf."""
    if len(chunk_roots) == HASH_SIZE:
        return chunk_roots, b""
    levels = [chunk_roots]
    while len(levels[-1]) > HASH_SIZE:
        levels.append(next_level(levels[-1]))
    return levels[-1], b"".join(levels)


def merkle_root_compact(leaves: bytes | bytearray) -> bytes:
    """RFC 6962 ``MTH`` of concatenated leaf hashes, one chunk's subtree at a time (never more than
    one level of one chunk besides the input): ``draws.merkle.merkle_root`` without a list of hashes."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    step = CHUNK_SIZE * HASH_SIZE
    roots = b"".join(subtree_root(leaves[at:at + step]) for at in range(0, len(leaves), step))
    return upper_tree(roots)[0]


# ----------------------------------------------------------------------------------------- the order
def keyed_permutation(prefixes: Sequence[int], full_key: Callable[[int], bytes]) -> array[int]:
    """Positions ``0..n-1`` sorted by order key, given each key's first 8 bytes (``prefixes``) and a
    way to compute a whole key: keys whose first 53 bits are equal (some pair in about one list of
    3.6 M entrants in a thousand) are ordered by their whole keys, then by position (the order of
    ``sorted`` by whole key)."""
    # The first 53 bits of each key as a float (exact): CPython sorts a list of floats with a C-level
    # comparison, so this sort of 1.07 M positions costs about half the old one over packed
    # 85-bit integers (1.4 -> 0.7 s of the freeze, with the tie check).
    approx = list(map(float, map(rshift, prefixes, repeat(_APPROX_SHIFT))))
    # A set of the floats (one sequential pass) costs less than comparing sorted neighbours, which
    # visits the floats in a random order (0.2 against 0.4 s at 1.07 M); made and dropped before the
    # sort, so that it never lives beside the sorted positions.
    tied = len(set(approx)) < len(approx)
    positions = sorted(range(len(approx)), key=approx.__getitem__)  # stable: equal approximations keep position order
    if tied:
        _settle_ties(positions, list(map(approx.__getitem__, positions)), full_key)
    del approx
    return array("I" if len(positions) < 1 << 32 else "Q", positions)


def _settle_ties(order: list[int], ranked: list[float], full_key: Callable[[int], bytes]) -> None:
    """Reorder each run of equal approximations by whole key (then position), in place."""
    at = 0
    for _value, run in groupby(ranked):
        size = sum(1 for _ in run)
        if size > 1:
            order[at:at + size] = sorted(order[at:at + size], key=lambda i: (full_key(i), i))
        at += size


# ------------------------------------------------------------------------------------------ checking
def columns_are_canonical(accounts: Sequence[str], tiers: Sequence[str], weights: Sequence[int]) -> bool:
    """Every rule of ``canonical_entrants`` holds and the accounts strictly increase (a list the
    service reads sorted): checked in C-level passes over the joined accounts, for ASCII accounts
    (others take the plain rules)."""
    if not (len(accounts) == len(tiers) == len(weights)) or not accounts:
        return False
    if set(map(type, weights)) != {int} or min(weights) < 1 or max(weights) > MAX_WEIGHT:
        return False
    if any(type(t) is not str or not t or not t.isascii() for t in set(tiers)):
        return False
    try:
        joined = "".join(accounts)  # TypeError if one is not a string
    except TypeError:
        return False
    # The printable ASCII characters are exactly those that are not control characters (newline
    # included); two C-level tests instead of two regular-expression scans: 0.17 -> 0.03 s at 1.07 M.
    if not joined.isascii() or not joined.isprintable():
        return False
    lengths = set(map(len, accounts))  # for ASCII, characters are bytes
    if min(lengths) < 1 or max(lengths) > MAX_ACCOUNT_BYTES:
        return False
    return all(map(lt, accounts, islice(accounts, 1, None)))


# ------------------------------------------------------------------------------------------- results
@dataclass
class FrozenList:
    """A frozen entrant list: what the freeze record signs and what the service stores.

    Held compactly: the ``ENTRANTS_V<version>`` encoding and the weights-vector encoding compressed
    (zlib; the digests are over the plain bytes), the proof chunks (first order key, compressed
    entries), the Merkle root and the tree's upper levels. The columns, leaf hashes, keys and the
    whole tree are rebuilt from the encoding when asked for (tests, samples, small lists).
    """

    version: int
    count: int
    digest: str
    weights_digest: str
    totals: dict[str, dict[str, int]]
    total_weight: int
    root: bytes
    upper: bytes = field(repr=False)
    encoding_z: bytes = field(repr=False)
    weights_z: bytes = field(repr=False)
    chunks: list[tuple[bytes, bytes]] = field(repr=False)
    salt_key: bytes = field(repr=False)

    @cached_property
    def _columns(self) -> tuple[list[str], list[str], list[int]]:
        return decode_entrant_columns(self.encoding)

    @property
    def encoding(self) -> bytes:
        """The ``ENTRANTS_V<version>`` bytes the digest was computed over."""
        return zlib.decompress(self.encoding_z)

    @property
    def accounts(self) -> list[str]:
        """Accounts in canonical order."""
        return self._columns[0]

    @property
    def tiers(self) -> list[str]:
        """Tiers in canonical order."""
        return self._columns[1]

    @property
    def weights(self) -> list[int]:
        """Weights in canonical order."""
        return self._columns[2]

    @cached_property
    def keys(self) -> list[bytes]:
        """Order keys in list order (version 2; empty for version 1, whose order is the accounts')."""
        return order_keys(self.salt_key, self.accounts) if self.version >= 2 else []

    @property
    def parts(self) -> list[bytes]:
        """``lp(utf8(account)) || u64(weight)`` per entrant: the proof chunks' entries."""
        return entry_parts(self.accounts, self.weights)

    @cached_property
    def leaf_hashes(self) -> list[bytes]:
        """The salted leaf hashes in list order."""
        return entrant_leaf_hashes(self.salt_key, self.accounts, self.weights, self.keys or None)

    @cached_property
    def merkle(self) -> MerkleTree:
        """The whole tree (every level as Python objects: for proofs over small lists)."""
        return MerkleTree(self.leaf_hashes)

    @property
    def entrants(self) -> list[Entrant]:
        """The list as :class:`Entrant` objects (built on demand)."""
        return [Entrant(a, t, w) for a, t, w in zip(self.accounts, self.tiers, self.weights, strict=True)]

    def index_of(self, account: str, salt_key: bytes = b"") -> int | None:
        """Position of ``account`` in canonical order, or None (version 2 needs the salt key)."""
        if self.version == 1:
            i = bisect_left(self.accounts, account)
        else:
            i = bisect_left(self.keys, order_keys(salt_key, [account])[0]) if salt_key else self.count
        return i if i < self.count and self.accounts[i] == account else None

    def proof_for(self, draw_id: str, account: str, salt_key: bytes) -> InclusionProof:
        """The inclusion proof of ``account`` (raises :class:`ProofError` if it is not an entrant)."""
        i = self.index_of(account, salt_key)
        if i is None:
            raise ProofError(N_("account %(account)s is not in the frozen entrant list"),
                             account=mask_account(account, self.version))
        return InclusionProof(
            draw_id, account, self.weights[i], entrant_salt(salt_key, account), i, self.count,
            tuple(self.merkle.proof(i)),
        )


# ------------------------------------------------------------------------------------------ building
class _Sink:
    """One output encoding: its SHA-256 and its zlib stream, fed piece by piece."""

    def __init__(self, head: bytes) -> None:
        self.sha = hashlib.sha256(head)
        self.zlib = zlib.compressobj(_COMPRESS_LEVEL)
        self.out = [self.zlib.compress(head)]

    def feed(self, data: bytes) -> None:
        self.sha.update(data)
        self.out.append(self.zlib.compress(data))

    def close(self) -> tuple[str, bytes]:
        self.out.append(self.zlib.flush())
        return self.sha.hexdigest(), b"".join(self.out)


class FreezeBuilder:
    """Takes an entrant list as column batches and freezes it (:meth:`finish`) in compact buffers.

    Batches that together are canonical (valid, weights >= 1, accounts strictly increasing across
    batches: the service's sorted read) are reduced to records as they come; anything else (unsorted,
    weight 0, a bad account) makes the builder keep plain columns and apply the plain rules
    (``canonical_entrants``: same refusals, same order) at the end.
    """

    def __init__(self, salt_key: bytes, version: int) -> None:
        if len(salt_key) != 32:
            raise DrawError(N_("the salt key must be 32 bytes"))
        self.salt_key, self.version = salt_key, version
        self._entries = bytearray()  # lp(utf8(account)) of each entrant, in input order
        self._offsets = array("Q", [0])  # where each entry starts (and the end)
        self._classes: dict[tuple[str, int], int] = {}  # (tier, weight) -> class index
        self._class_of = array("I")
        self._leaves = bytearray()  # 32-byte leaf hashes, in input order
        self._prefixes = array("Q")  # first 8 bytes of each order key (version 2)
        self._last = ""
        self._plain: tuple[list[object], list[object], list[object]] | None = None

    def add(self, accounts: Sequence[str], tiers: Sequence[str], weights: Sequence[int]) -> None:
        """Take one batch of parallel columns (in the order of the whole list)."""
        if self._plain is None and not accounts and len(tiers) == len(weights) == 0:
            return
        if self._plain is None and columns_are_canonical(accounts, tiers, weights) and self._last < accounts[0]:
            self._add_in_blocks(accounts, tiers, weights)
            self._last = accounts[-1]
            return
        if self._plain is None:
            self._plain = self._records_as_columns()
        self._plain[0].extend(accounts)
        self._plain[1].extend(tiers)
        self._plain[2].extend(weights)

    def _add_in_blocks(self, accounts: Sequence[str], tiers: Sequence[str], weights: Sequence[int]) -> None:
        # A block's keys, entries and leaves exist as Python objects while it is reduced: keep blocks small.
        for at in range(0, len(accounts), _BLOCK):
            self._add_records(accounts[at:at + _BLOCK], tiers[at:at + _BLOCK], weights[at:at + _BLOCK])

    def _add_records(self, accounts: Sequence[str], tiers: Sequence[str], weights: Sequence[int]) -> None:
        raw = list(map(str.encode, accounts))  # UTF-8, at most 64 bytes (checked)
        prefixed = list(map(add, map(_LENGTHS.__getitem__, map(len, raw)), raw))
        del raw
        self._entries += b"".join(prefixed)
        self._offsets.extend(islice(accumulate(map(len, prefixed), initial=self._offsets[-1]), 1, None))
        ids = self._class_ids(tiers, weights)
        self._class_of.extend(ids)
        weight_bytes = [u64(w) for _t, w in self._classes]
        keys = order_keys(self.salt_key, accounts)
        self._leaves += b"".join(salted_leaf_hashes(keys, map(add, prefixed, map(weight_bytes.__getitem__, ids))))
        if self.version >= 2:
            self._prefixes.extend(map(itemgetter(0), _KEY_PREFIX.iter_unpack(b"".join(keys))))

    def _class_ids(self, tiers: Sequence[str], weights: Sequence[int]) -> list[int]:
        """The ``(tier, weight)`` class of each entrant, new classes numbered as they come. Looked up
        by tier when each tier of the batch has one weight (the service's case: a weight per tier),
        several times cheaper than a pair per entrant."""
        weight_of = dict(zip(tiers, weights, strict=True))
        for pair in set(weight_of.items()).difference(self._classes):
            self._classes[pair] = len(self._classes)
        if list(map(weight_of.__getitem__, tiers)) == list(weights):
            by_tier = {tier: self._classes[tier, weight] for tier, weight in weight_of.items()}
            return list(map(by_tier.__getitem__, tiers))
        pairs = list(zip(tiers, weights, strict=True))
        for pair in set(pairs).difference(self._classes):
            self._classes[pair] = len(self._classes)
        return list(map(self._classes.__getitem__, pairs))

    def _records_as_columns(self) -> tuple[list[object], list[object], list[object]]:
        """The batches taken so far as plain columns (the list is not canonical: the plain rules apply)."""
        table = list(self._classes)
        offsets = self._offsets
        accounts: list[object] = [self._account(i) for i in range(len(offsets) - 1)]
        tiers: list[object] = [table[c][0] for c in self._class_of]
        weights: list[object] = [table[c][1] for c in self._class_of]
        self._entries, self._offsets, self._class_of = bytearray(), array("Q", [0]), array("I")
        self._leaves, self._prefixes = bytearray(), array("Q")
        return accounts, tiers, weights

    def _account(self, i: int) -> str:
        return self._entries[self._offsets[i] + 4:self._offsets[i + 1]].decode("utf-8")

    def finish(self) -> FrozenList:
        """Validate (when needed), order and freeze the list; raises :class:`EmptyEntrantList` when no
        entrant of positive weight remains."""
        if self._plain is not None:
            canon = canonical_entrants(zip(*self._plain, strict=True))  # type: ignore[arg-type]
            self._plain = None
            again = FreezeBuilder(self.salt_key, self.version)
            if canon:  # valid and sorted now (non-ASCII accounts too, which the fast test leaves to these rules)
                again._add_in_blocks([e.account for e in canon], [e.tier for e in canon], [e.weight for e in canon])
            return again.finish()
        count = len(self._offsets) - 1
        if not count:
            raise EmptyEntrantList()
        order: Sequence[int] = range(count)
        if self.version >= 2:
            prefixes, self._prefixes = self._prefixes, array("Q")
            order = keyed_permutation(prefixes, self._order_key)
            del prefixes
        return self._write(order, count)

    def _order_key(self, i: int) -> bytes:
        return hmac.digest(self.salt_key, self._account(i).encode("utf-8"), hashlib.sha256)

    def _write(self, order: Sequence[int], count: int) -> FrozenList:
        """Walk the list in canonical order one proof chunk at a time, writing every output."""
        table = list(self._classes)
        part_tail = [u64(w) for _t, w in table]
        entry_tail = [lp(t.encode("ascii")) + u64(w) for t, w in table]
        entrants = _Sink(lp(ENTRANT_TAGS[self.version]) + u64(count))
        weights = _Sink(lp(WEIGHTS_TAG) + u64(count))
        # Slices of bytes are bytes, which b"".join takes without a buffer request each (slices of a
        # bytearray are bytearrays): one copy of each buffer, ~0.2 s less at 1.07 M entrants.
        entries, leaves = bytes(self._entries), bytes(self._leaves)
        self._entries, self._leaves = bytearray(), bytearray()
        offsets, class_of = self._offsets, self._class_of
        ends = memoryview(offsets)[1:]
        chunks: list[tuple[bytes, bytes]] = []
        roots = bytearray()
        for start in range(0, count, CHUNK_SIZE):
            idx = order[start:start + CHUNK_SIZE]
            pick = _picker(idx)
            accounts = list(map(entries.__getitem__, map(slice, pick(offsets), pick(ends))))
            ids = pick(class_of)
            entrants.feed(b"".join(map(add, accounts, map(entry_tail.__getitem__, ids))))
            weights.feed(b"".join(map(part_tail.__getitem__, ids)))
            data = b"".join(map(add, accounts, map(part_tail.__getitem__, ids)))
            first = hmac.digest(self.salt_key, accounts[0][4:], hashlib.sha256)
            chunks.append((first, zlib.compress(data, _COMPRESS_LEVEL)))
            starts = list(map(mul, idx, repeat(HASH_SIZE)))
            roots += subtree_root(b"".join(map(leaves.__getitem__, map(slice, starts, map(add, starts,
                                                                                        repeat(HASH_SIZE))))))
        ends.release()
        root, upper = upper_tree(bytes(roots))
        digest, encoding_z = entrants.close()
        weights_digest, weights_z = weights.close()
        totals, total_weight = _totals(table, Counter(class_of))
        return FrozenList(self.version, count, digest, weights_digest, totals, total_weight, root, upper,
                          encoding_z, weights_z, chunks, self.salt_key)


def _picker(positions: Sequence[int]) -> Callable[[Sequence[int]], tuple[int, ...]]:
    """The items at ``positions`` of a sequence, as a tuple, in one C-level gather."""
    if len(positions) == 1:
        only = positions[0]
        return lambda values: (values[only],)
    return itemgetter(*positions)


def _totals(table: list[tuple[str, int]], counts: Counter[int]) -> tuple[dict[str, dict[str, int]], int]:
    """``{tier: {"count", "weight"}}`` (tiers sorted, as published) and the total weight."""
    totals: dict[str, dict[str, int]] = {}
    for (tier, weight), count in sorted((table[c], n) for c, n in counts.items()):
        slot = totals.setdefault(tier, {"count": 0, "weight": 0})
        slot["count"] += count
        slot["weight"] += count * weight
    return dict(sorted(totals.items())), sum(slot["weight"] for slot in totals.values())


def freeze_batches(
    batches: Iterable[tuple[Sequence[str], Sequence[str], Sequence[int]]], salt_key: bytes, version: int
) -> FrozenList:
    """Freeze a list given as batches of ``(accounts, tiers, weights)`` (see :class:`FreezeBuilder`)."""
    builder = FreezeBuilder(salt_key, version)
    for accounts, tiers, weights in batches:
        builder.add(accounts, tiers, weights)
    return builder.finish()
