"""Assembling public records and auditor bundles (format ``loyalty-draw-bundle/1``).

The verifier (``draws.verify``) reads what these functions write. The public record carries the
signed envelopes, the key set and, optionally, the weights vector (weights in canonical order,
without accounts) so that anyone can recompute the winners' positions. The auditor bundle adds the
full entrant list as three columns (compact enough for 1.5 million entrants), the draw's salt key
and the exclusion list.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from draws.engine import FrozenList

BUNDLE_FORMAT = "loyalty-draw-bundle/1"


def public_record(
    keyset: dict[str, Any],
    announcement: dict[str, Any],
    freeze: dict[str, Any],
    result: dict[str, Any],
    disqualifications: Sequence[dict[str, Any]] = (),
    weights: Sequence[int] | None = None,
    head: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The public record: signed envelopes (masked accounts only), key set, the signed head (version
    2), optional weights."""
    record: dict[str, Any] = {
        "format": BUNDLE_FORMAT,
        "kind": "public",
        "keyset": keyset,
        "announcement": announcement,
        "freeze": freeze,
        "result": result,
        "disqualifications": list(disqualifications),
    }
    if head is not None:
        record["head"] = head
    if weights is not None:
        record["weights"] = list(weights)
    return record


def auditor_bundle(
    keyset: dict[str, Any],
    announcement: dict[str, Any],
    freeze: dict[str, Any],
    result: dict[str, Any],
    frozen: FrozenList,
    salt_key: bytes,
    exclusions: Sequence[str] = (),
    disqualifications: Sequence[dict[str, Any]] = (),
    head: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The auditor bundle: the public record plus the entrant list, the salt key and the exclusions."""
    bundle = public_record(keyset, announcement, freeze, result, disqualifications, head=head)
    bundle["kind"] = "auditor"
    bundle["entrants"] = {"accounts": list(frozen.accounts), "tiers": list(frozen.tiers),
                          "weights": list(frozen.weights)}
    bundle["salt_key"] = salt_key.hex()
    bundle["exclusions"] = sorted(set(exclusions))
    return bundle
