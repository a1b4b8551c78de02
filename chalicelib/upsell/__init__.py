"""AI up-sell: checkout and the cart page call `suggest` and nothing else."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from decimal import Decimal

from chalicelib.tenants import Tenant


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


def suggest(tenant: Tenant, cart_id: str, cart_product_ids: Collection[str]) -> Upsell:
    """Suggestions for a cart; never raises, so a checkout cannot fail because of it."""
    return DISABLED
