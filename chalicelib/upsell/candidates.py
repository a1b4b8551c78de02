"""Candidates for a cart: only the tenant's own catalogue, in stock, not in the cart, pre-ranked.

Ranking (best first), compared in this order:
1. complement hints: the product is a hint of a cart product (2 points per cart product)
   or names a cart product as its own hint (1 point);
2. co-purchase counts from the tenant's past orders (`ProductModel.co_purchases`, a map
   product_id -> count kept by the order-stream handler), summed over the cart's products;
3. how many cart products share its category;
4. popularity: units currently reserved by orders;
5. product_id, so the order is deterministic.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pynamodb.attributes import MapAttribute

from chalicelib.models import ProductModel

MAX_CANDIDATES = 20  # keeps the prompt small; the LLM chooses among these only


@dataclass(frozen=True)
class Candidate:
    product: ProductModel
    signal: str  # "complement" | "co_purchase" | "category" | "popular": the strongest reason it ranks
    related_to: str | None  # the cart product (name) or category behind the signal

    @property
    def product_id(self) -> str:
        return self.product.product_id


@dataclass(frozen=True)
class Ranking:
    catalogue: dict[str, ProductModel]  # the tenant's whole catalogue, by id
    cart_ids: frozenset[str]
    cart: list[ProductModel]  # cart products found in the catalogue, in cart order
    ranked: list[Candidate]  # every eligible product, best first

    @property
    def offered(self) -> list[Candidate]:
        """The capped list the LLM may choose from."""
        return self.ranked[:MAX_CANDIDATES]


def load_catalogue(tenant_id: str) -> list[ProductModel]:
    """The tenant's products: one query on its partition (never a scan)."""
    return list(ProductModel.query(tenant_id))


def co_purchase_counts(product: ProductModel) -> dict[str, int]:
    raw: Any = product.co_purchases
    if raw is None:
        return {}
    data: Mapping[str, Any] = raw.as_dict() if isinstance(raw, MapAttribute) else raw
    counts = {}
    for other, value in data.items():
        try:
            count = int(value)
        except (TypeError, ValueError):
            continue
        if count > 0:
            counts[str(other)] = count
    return counts


def in_stock(product: ProductModel) -> bool:
    return (product.stock or 0) > 0


def rank(products: Iterable[ProductModel], cart_product_ids: Collection[str]) -> Ranking:
    catalogue = {product.product_id: product for product in products}
    cart_ids = frozenset(cart_product_ids)
    cart = [catalogue[pid] for pid in dict.fromkeys(cart_product_ids) if pid in catalogue]
    counts = {product.product_id: co_purchase_counts(product) for product in catalogue.values()}

    scored: list[tuple[tuple[Any, ...], Candidate]] = []
    for product in catalogue.values():
        pid = product.product_id
        if pid in cart_ids or not in_stock(product):
            continue
        hinted_by = [item for item in cart if pid in (item.complements or ())]
        hints_to = [item for item in cart if item.product_id in (product.complements or ())]
        together = {
            item.product_id: max(counts[item.product_id].get(pid, 0), counts[pid].get(item.product_id, 0))
            for item in cart
        }
        same_category = [item for item in cart if item.category == product.category]
        hint_score = 2 * len(hinted_by) + len(hints_to)
        co_purchases = sum(together.values())
        key = (-hint_score, -co_purchases, -len(same_category), -int(product.reserved or 0), pid)

        if hint_score:
            candidate = Candidate(product, "complement", (hinted_by or hints_to)[0].name)
        elif co_purchases:
            best = max(cart, key=lambda item: together[item.product_id])
            candidate = Candidate(product, "co_purchase", best.name)
        elif same_category:
            candidate = Candidate(product, "category", product.category)
        else:
            candidate = Candidate(product, "popular", None)
        scored.append((key, candidate))

    scored.sort(key=lambda pair: pair[0])
    return Ranking(catalogue=catalogue, cart_ids=cart_ids, cart=cart, ranked=[c for _, c in scored])
