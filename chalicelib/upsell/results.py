"""The up-sell answer: what checkout and the cart page receive."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

MAX_SUGGESTIONS = 3


@dataclass(frozen=True)
class Suggestion:
    product_id: str
    name: str
    price: Decimal
    reason: str


@dataclass(frozen=True)
class Upsell:
    enabled: bool
    source: str  # "llm" | "fallback" | "disabled" | "holdout"
    suggestions: list[Suggestion] = field(default_factory=list)
    set_id: str | None = None  # an answer with suggestions, once kept with its cart (memo.py)


DISABLED = Upsell(enabled=False, source="disabled")
# A cart of the tenant's holdout share (arms.py): no suggestions, on the cart page and at checkout alike.
HOLDOUT = Upsell(enabled=False, source="holdout")
