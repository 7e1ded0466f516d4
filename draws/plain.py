"""The facts of a draw's public page in plain words: what randomness the draw used, and who received
a prize passed on after a disqualification. Reads the signed payloads only (what anyone can check)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from draws.entropy import DEFAULT_DRAND_RELAY


def entropy_used(source: Mapping[str, Any], value: Mapping[str, Any] | None,
                 chains: Mapping[str, Any]) -> dict[str, Any] | None:
    """What the draw used: ``{"type": "rfc3797", "sources": [(name, numbers)]}`` or ``{"type": "drand",
    "round": R, "chain": name, "url": a public relay's page of that round}``; None before the draw."""
    if not value:
        return None
    if source.get("type") == "rfc3797":
        names = [str(n) for n in source.get("sources", [])]
        numbers = [" ".join(str(x) for x in numbers) for numbers in value.get("sources", [])]
        pairs = [(names[i] if i < len(names) else "", numbers[i]) for i in range(len(numbers))]
        return {"type": "rfc3797", "sources": pairs}
    if source.get("type") == "drand":
        chain = source.get("chain")
        if isinstance(chain, Mapping):  # protocol 2: the announcement pins the chain's parameters
            name, chain_hash = str(chain.get("name", "")), str(chain.get("chain_hash", ""))
        else:  # protocol 1: the chain by name, its parameters in the settings
            name = str(chain or "")
            chain_hash = str((chains.get(name) or {}).get("chain_hash", ""))
        round_number = value.get("round")
        url = f"{DEFAULT_DRAND_RELAY}/{chain_hash}/public/{round_number}" if chain_hash else None
        return {"type": "drand", "round": round_number, "chain": name, "url": url}
    return None


def passed_on(result: Mapping[str, Any] | None, disqualifications: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each disqualification in order: the prize (numbered from 1), its amount, the masked account
    that lost it, the reason, and the reserve (numbered from 1, masked account) who received it, or
    None when no reserve was left."""
    if not result:
        return []
    holders = {w["prize_index"]: w.get("account_masked", "") for w in result.get("winners", [])}
    amounts = {w["prize_index"]: w.get("amount_kopecks") for w in result.get("winners", [])}
    reserves = result.get("reserves", [])
    steps = []
    for dq in sorted(disqualifications, key=lambda d: d.get("sequence", 0)):
        prize = dq["prize_index"]
        index = dq.get("replacement_reserve_index")
        to = reserves[index].get("account_masked", "") if index is not None and index < len(reserves) else None
        steps.append({
            "prize": prize + 1,
            "amount_kopecks": amounts.get(prize),
            "from": holders.get(prize, ""),
            "reason": dq.get("reason", ""),
            "reserve": index + 1 if index is not None else None,
            "to": to,
            "at": dq.get("disqualified_at", ""),
        })
        holders[prize] = to or ""
    return steps
