"""Entrants: validation, canonical order, the canonical list encoding and its digest, masking.

An entrant is an account number (a string: leading zeros matter, ``"0012"`` and ``"12"`` are two
accounts), its tier code and its integer weight.

Canonical order
    Entrants are sorted by the UTF-8 bytes of their account string, compared byte by byte (shorter
    prefix first). UTF-8 preserves code-point order, so for valid strings this is also Python's
    ``str`` order, which is what :func:`canonical_entrants` uses. Entrants of weight 0 are not
    eligible and are removed *before* sorting: they are not part of the frozen list, its digest,
    its Merkle tree or its indices.

Version 2 keeps the rules but orders the list by each account's keyed hash
``HMAC-SHA256(salt_key, utf8(account))`` (``draws.merkle.order_keys``) under the draw's secret salt
key, so that a position (and its neighbours, and the public weights vector) says nothing about which
account holds it; its encoding starts with the tag ``loyalty-draw/entrants/v2``.

Canonical list encoding (``ENTRANTS_V1``)::

    lp("loyalty-draw/entrants/v1") || u64(count) ||
    for each entrant in canonical order: lp(utf8(account)) || lp(ascii(tier)) || u64(weight)

The entrant digest is the SHA-256 of those bytes (lower-case hex when written in JSON).

Weights vector encoding (public, no account numbers)::

    lp("loyalty-draw/weights/v1") || u64(count) || u64(weight_0) || ... || u64(weight_{count-1})

It lets anyone recompute the winners' positions from the public record without seeing accounts.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from operator import add, attrgetter
from struct import Struct

from draws.encoding import lp, lp_utf8_each, u64
from draws.errors import N_, BadAccount, BadWeight

ENTRANTS_TAG = b"loyalty-draw/entrants/v1"
ENTRANTS_TAG_V2 = b"loyalty-draw/entrants/v2"
ENTRANT_TAGS = {1: ENTRANTS_TAG, 2: ENTRANTS_TAG_V2}
WEIGHTS_TAG = b"loyalty-draw/weights/v1"
MAX_WEIGHT = 2**63 - 1  # fits a signed 64-bit database column; the sum may exceed 2**64 (see stream.py)
MAX_ACCOUNT_BYTES = 64
MASK_PREFIX = "******"


@dataclass(frozen=True, slots=True)
class Entrant:
    """One eligible account: ``account`` (string), ``tier`` (tier code) and ``weight`` (int >= 1)."""

    account: str
    tier: str
    weight: int


def check_weight(weight: object, where: str = "weight") -> int:
    """Return ``weight`` if it is an ``int`` in 0..2**63-1 (``bool`` refused), else raise BadWeight."""
    if isinstance(weight, bool) or not isinstance(weight, int):
        raise BadWeight(N_("%(where)s must be a non-negative integer, got %(weight)s"),
                        where=where, weight=repr(weight))
    if weight < 0 or weight > MAX_WEIGHT:
        raise BadWeight(N_("%(where)s must be between 0 and 2**63-1, got %(weight)s"), where=where, weight=weight)
    return weight


def check_account(account: object) -> str:
    """Return ``account`` if it is a non-empty string of at most 64 UTF-8 bytes without control chars."""
    if not isinstance(account, str) or not account:
        raise BadAccount(N_("account must be a non-empty string, got %(account)s"), account=repr(account))
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in account):
        raise BadAccount(N_("account %(account)s contains control characters"), account=repr(account))
    try:
        size = len(account.encode("utf-8"))
    except UnicodeEncodeError as exc:  # lone surrogates cannot be encoded: refuse, never guess
        raise BadAccount(N_("account %(account)s is not valid Unicode text"), account=repr(account)) from exc
    if size > MAX_ACCOUNT_BYTES:
        raise BadAccount(N_("account %(account)s... is longer than %(max_account_bytes)s bytes"),
                         account=repr(account[:16]), max_account_bytes=MAX_ACCOUNT_BYTES)
    return account


_CONTROL = re.compile("[\x00-\x1f\x7f]")


def canonical_entrants(entrants: Iterable[Entrant | tuple[str, str, int]]) -> list[Entrant]:
    """Validate, drop weight-0 entrants, and sort by the UTF-8 bytes of the account.

    Raises :class:`BadAccount` for a malformed or duplicated account and :class:`BadWeight` for a
    weight that is not a non-negative integer. An empty result is allowed here (the draw refuses it).
    The checks are those of :func:`check_account` and :func:`check_weight`, inlined for speed
    (1.5 million entrants).
    """
    kept: list[Entrant] = []
    append = kept.append
    control = _CONTROL.search
    for item in entrants:
        entrant = item if isinstance(item, Entrant) else Entrant(*item)
        account, weight, tier = entrant.account, entrant.weight, entrant.tier
        if type(account) is not str or not account or control(account):
            check_account(account)  # raises with the precise message
        if not account.isascii() or len(account) > MAX_ACCOUNT_BYTES:
            check_account(account)
        if type(weight) is not int or not 0 <= weight <= MAX_WEIGHT:
            check_weight(weight, f"weight of account {account!r}")
        if type(tier) is not str or not tier or not tier.isascii():
            raise BadAccount(N_("tier of account %(account)s must be a non-empty ASCII code"), account=repr(account))
        if weight > 0:
            append(entrant)
    # str order == UTF-8 byte order for valid (surrogate-free) strings, checked in check_account.
    kept.sort(key=attrgetter("account"))
    for before, after in zip(kept, kept[1:], strict=False):
        if before.account == after.account:
            raise BadAccount(N_("account %(account)s appears twice in the entrant list"), account=repr(after.account))
    return kept


def is_canonical(entrants: Sequence[Entrant]) -> bool:
    """True if ``entrants`` is strictly increasing by account and every weight is >= 1."""
    return all(a.account < b.account for a, b in zip(entrants, entrants[1:], strict=False)) and all(
        e.weight >= 1 for e in entrants
    )




def encode_entrant_columns(
    accounts: Sequence[str], tiers: Sequence[str], weights: Sequence[int], version: int = 2,
    prefixed: Sequence[bytes] | None = None, classes: Iterable[tuple[str, int]] | None = None,
) -> bytes:
    """The ``ENTRANTS_V<version>`` encoding from three parallel columns already in canonical order.

    ``prefixed`` (``lp(utf8(account))`` of each account, :func:`draws.encoding.lp_utf8_each`) and
    ``classes`` (the distinct ``(tier, weight)`` pairs) are passed when the caller has them already."""
    if not len(accounts) == len(tiers) == len(weights):
        raise ValueError("accounts, tiers and weights must be the same length")
    if prefixed is None:
        prefixed = lp_utf8_each(accounts)
    pairs = set(classes) if classes is not None else set(zip(tiers, weights, strict=True))
    # lp(ascii(tier)) || u64(weight): few distinct values, each encoded once.
    suffix = {(t, w): lp(t.encode("ascii")) + u64(w) for t, w in pairs}
    if len({t for t, _w in pairs}) == len(pairs):  # one weight per tier: the tier alone names the suffix
        by_tier = {t: value for (t, _w), value in suffix.items()}
        suffixes = map(by_tier.__getitem__, tiers)
    else:
        suffixes = map(suffix.__getitem__, zip(tiers, weights, strict=True))
    return b"".join(chain((lp(ENTRANT_TAGS[version]), u64(len(accounts))), map(add, prefixed, suffixes)))


def encode_entrants(entrants: Sequence[Entrant], version: int = 2) -> bytes:
    """The ``ENTRANTS_V<version>`` encoding of an already canonical list (see module docstring)."""
    return encode_entrant_columns(
        [e.account for e in entrants], [e.tier for e in entrants], [e.weight for e in entrants], version
    )


def entrant_digest(entrants: Sequence[Entrant], version: int = 2) -> str:
    """Hex SHA-256 of :func:`encode_entrants` of a canonical list."""
    return hashlib.sha256(encode_entrants(entrants, version)).hexdigest()


def entrant_columns_digest(
    accounts: Sequence[str], tiers: Sequence[str], weights: Sequence[int], version: int = 2
) -> str:
    """Hex SHA-256 of :func:`encode_entrant_columns`, fed a block of entrants at a time (the verifier
    checks lists of millions: their whole encoding is never held)."""
    if not len(accounts) == len(tiers) == len(weights):
        raise ValueError("accounts, tiers and weights must be the same length")
    head = lp(ENTRANT_TAGS[version]) + u64(len(accounts))
    sha = hashlib.sha256(head)
    for at in range(0, len(accounts), _DIGEST_BLOCK):
        block = slice(at, at + _DIGEST_BLOCK)
        encoded = encode_entrant_columns(accounts[block], tiers[block], weights[block], version)
        sha.update(memoryview(encoded)[len(head):])  # the block's own head has the block's count: skipped
    return sha.hexdigest()


_DIGEST_BLOCK = 1 << 16


def encode_weights(weights: Sequence[int]) -> bytes:
    """The weights-vector encoding (see module docstring)."""
    return lp(WEIGHTS_TAG) + u64(len(weights)) + Struct(f">{len(weights)}Q").pack(*weights)


def decode_weights(data: bytes) -> list[int]:
    """Inverse of :func:`encode_weights` (one C-level unpack). Raises ``ValueError`` if ``data`` is not
    a complete weights-vector encoding."""
    head = lp(WEIGHTS_TAG)
    if not data.startswith(head) or len(data) < len(head) + 8:
        raise ValueError("not a weights-vector encoding")
    (count,) = Struct(">Q").unpack_from(data, len(head))
    if len(data) != len(head) + 8 + 8 * count:
        raise ValueError("the weights-vector encoding's length does not match its count")
    return list(Struct(f">{count}Q").unpack_from(data, len(head) + 8))


def weights_digest(weights: Sequence[int]) -> str:
    """Hex SHA-256 of :func:`encode_weights`."""
    return hashlib.sha256(encode_weights(weights)).hexdigest()


def tier_totals(entrants: Iterable[Entrant]) -> dict[str, dict[str, int]]:
    """``{tier: {"count": n, "weight": total}}`` over the list, as published in the freeze record."""
    totals: dict[str, dict[str, int]] = {}
    for e in entrants:
        slot = totals.setdefault(e.tier, {"count": 0, "weight": 0})
        slot["count"] += 1
        slot["weight"] += e.weight
    return dict(sorted(totals.items()))


def mask_account(account: str, version: int = 2) -> str:
    """Public form of an account: six asterisks then at most its last four characters (``******1234``).

    Always six asterisks, whatever the length, so the mask does not reveal how long the number is.
    Version 2 shows ``min(4, len // 2)`` characters (counted in Unicode code points), so an account
    of fewer than eight characters never appears whole or nearly whole; version 1 showed the last four.
    """
    if version == 1:
        return MASK_PREFIX + account[-4:]
    visible = min(4, len(account) // 2)
    return MASK_PREFIX + (account[-visible:] if visible else "")


def decode_entrant_columns(data: bytes) -> tuple[list[str], list[str], list[int]]:
    """Inverse of :func:`encode_entrant_columns` of either version (the service stores the frozen list
    in this form). Raises ``ValueError`` if ``data`` is not a complete ``ENTRANTS_V1``/``V2`` encoding.
    """
    head = next((lp(tag) for tag in ENTRANT_TAGS.values() if data.startswith(lp(tag))), None)
    if head is None:
        raise ValueError("not an ENTRANTS_V1 or ENTRANTS_V2 encoding")
    pos = len(head)
    (count,) = Struct(">Q").unpack_from(data, pos)
    pos += 8
    accounts: list[str] = []
    tiers: list[str] = []
    weights: list[int] = []
    tier_names: dict[bytes, str] = {}
    u32 = Struct(">I").unpack_from
    # One Struct per (account length, tier length) pair: "account || u32 tier length || tier || u64".
    records: dict[tuple[int, int], Struct] = {}
    try:
        for _ in range(count):
            (size,) = u32(data, pos)
            (tsize,) = u32(data, pos + 4 + size)
            rec = records.get((size, tsize))
            if rec is None:
                rec = records[(size, tsize)] = Struct(f">{size}sI{tsize}sQ")
            acc, _, tier, weight = rec.unpack_from(data, pos + 4)
            pos += 4 + rec.size
            accounts.append(acc.decode("utf-8"))
            name = tier_names.get(tier)
            if name is None:
                name = tier_names[tier] = tier.decode("ascii")
            tiers.append(name)
            weights.append(weight)
    except Exception as exc:  # struct.error, UnicodeDecodeError: a truncated or corrupt list
        raise ValueError(f"corrupt ENTRANTS_V1 encoding: {exc}") from exc
    if pos != len(data):
        raise ValueError("trailing or missing bytes in the ENTRANTS_V1 encoding")
    return accounts, tiers, weights
