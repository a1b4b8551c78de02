"""Bounded counters: the top-K maps kept on DynamoDB items (co-purchases, best sellers).

An item may hold at most 400 KB, and a map that gains an entry per product ever bought with it
would grow toward that limit with the catalogue. So each map keeps at most K counters, updated
with the Space-Saving algorithm (Metwally, Agrawal, El Abbadi, 2005): a new key takes the place
of the smallest counter and inherits its count. Every key counted more than N/K times (N the
total counted) is guaranteed to be kept, which is what a "top co-purchases" ranking needs; a
newcomer's count may be over-estimated by at most the evicted count.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pynamodb.attributes import MapAttribute


def as_counts(raw: Any) -> dict[str, int]:
    """A stored map (PynamoDB MapAttribute or dict) as positive int counts; bad values are ignored."""
    if raw is None:
        return {}
    data: Mapping[str, Any] = raw.as_dict() if isinstance(raw, MapAttribute) else raw
    counts = {}
    for key, value in data.items():
        try:
            count = int(value)
        except (TypeError, ValueError):
            continue
        if count > 0:
            counts[str(key)] = count
    return counts


def ranked(counts: Mapping[str, int]) -> list[str]:
    """Keys by count, largest first; ties by key, so the order is deterministic."""
    return sorted(counts, key=lambda key: (-counts[key], key))


def add_top_k(counts: Mapping[str, int], increments: Mapping[str, int], k: int) -> dict[str, int]:
    """`counts` plus `increments`, keeping at most `k` keys (Space-Saving)."""
    kept = {key: counts[key] for key in ranked(counts)[:k]}  # maps stored before the cap are cut first
    for key in sorted(increments):
        amount = increments[key]
        if key in kept:
            kept[key] += amount
        elif len(kept) < k:
            kept[key] = amount
        else:
            smallest = min(kept, key=lambda other: (kept[other], other))
            kept[key] = kept.pop(smallest) + amount
    return kept
