"""Deterministic suggestions: the pre-ranking with template reasons (no LLM involved)."""

from __future__ import annotations

from collections.abc import Collection

from chalicelib.upsell.candidates import Candidate, Ranking
from chalicelib.upsell.results import MAX_SUGGESTIONS, Suggestion


def reason(candidate: Candidate) -> str:
    if candidate.signal == "complement":
        return f"Goes well with your {candidate.related_to}."
    if candidate.signal == "co_purchase":
        return f"Often bought together with {candidate.related_to}."
    if candidate.signal == "category":
        return f"More {candidate.related_to} to go with your order."
    return "A popular pick in our shop."


def suggestion(candidate: Candidate, text: str | None = None) -> Suggestion:
    product = candidate.product
    return Suggestion(product.product_id, product.name, product.price, text or reason(candidate))


def pick(ranking: Ranking, limit: int = MAX_SUGGESTIONS, exclude: Collection[str] = ()) -> list[Suggestion]:
    """The best `limit` ranked candidates not in `exclude`."""
    chosen: list[Suggestion] = []
    for candidate in ranking.ranked:
        if len(chosen) >= limit:
            break
        if candidate.product_id not in exclude:
            chosen.append(suggestion(candidate))
    return chosen
