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
    source: str  # "llm" | "fallback" | "disabled"
    suggestions: list[Suggestion] = field(default_factory=list)


DISABLED = Upsell(enabled=False, source="disabled")
