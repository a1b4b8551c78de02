"""Candidates for a cart: only the tenant's own catalogue, in stock, not in the cart, pre-ranked.

Reading them is bounded whatever the catalogue's size (`gather`): at most
- one BatchGetItem for the cart's products (the first MAX_CART_PRODUCTS),
- then, at the same time (each on its own thread, so they cost one round trip of waiting):
  one BatchGetItem for the tenant's best sellers (BEST_SELLERS ids, carried by the cached tenant)
  and what those cart products point at: their complement hints and their top co-purchases
  (COMPLEMENTS_PER_PRODUCT and CO_PURCHASES_PER_PRODUCT each, MAX_RELATED in all), and one Query
  with a Limit on the `by-category` index for each of the cart's first CATEGORIES categories
  (PER_CATEGORY items each),
so at most MAX_ITEMS_READ items, never the tenant's whole partition. The second reads project each
product's co-purchase map down to the cart's products: ranking a candidate needs only its counts
with them, and a full top-K map is most of a product item (parsing such maps was most of a large
tenant's up-sell CPU). Only the cart's products are read whole, for what they point at.

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

import contextvars
import functools
import threading
from collections.abc import Callable, Collection, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from chalicelib import catalog, counters
from chalicelib.models import ProductModel, category_key

MAX_CANDIDATES = 20  # keeps the prompt small; the LLM chooses among these only

MAX_CART_PRODUCTS = 10  # cart products whose signals are read (all of them are still excluded)
BEST_SELLERS = 10
COMPLEMENTS_PER_PRODUCT = 5
CO_PURCHASES_PER_PRODUCT = 5
MAX_RELATED = 40
CATEGORIES = 3
PER_CATEGORY = 8
MAX_ITEMS_READ = MAX_CART_PRODUCTS + BEST_SELLERS + MAX_RELATED + CATEGORIES * PER_CATEGORY  # 84

_lock = threading.Lock()
_readers: list[ThreadPoolExecutor] = []  # built on first use: no thread at import time


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
    catalogue: dict[str, ProductModel]  # the products gathered for this cart, by id
    cart_ids: frozenset[str]
    cart: list[ProductModel]  # cart products found in the catalogue, in cart order
    ranked: list[Candidate]  # every eligible product, best first

    @property
    def offered(self) -> list[Candidate]:
        """The capped list the LLM may choose from."""
        return self.ranked[:MAX_CANDIDATES]


class Catalogue(Protocol):
    """Where candidates are read from: the tenant's table, or a seed file for the relevance evaluation.

    `counts_for`: of each product's co-purchase map only these products' counts are needed (a
    source may return more); None asks for the whole product.
    """

    def products(
        self, product_ids: Sequence[str], counts_for: Sequence[str] | None = None
    ) -> dict[str, ProductModel]: ...

    def in_category(self, category: str, limit: int, counts_for: Sequence[str] | None = None) -> list[ProductModel]: ...


@dataclass(frozen=True)
class TenantCatalogue:
    """The tenant's products in DynamoDB: key lookups and limited index queries only (never a scan)."""

    tenant_id: str

    def products(self, product_ids: Sequence[str], counts_for: Sequence[str] | None = None) -> dict[str, ProductModel]:
        return catalog.get_products(self.tenant_id, product_ids, attributes=_projection(counts_for))

    def in_category(self, category: str, limit: int, counts_for: Sequence[str] | None = None) -> list[ProductModel]:
        key = category_key(self.tenant_id, category)
        return list(ProductModel.by_category.query(key, limit=limit, attributes_to_get=_projection(counts_for)))


def _projection(counts_for: Sequence[str] | None) -> list[Any] | None:
    """Every attribute but the co-purchase map, and of the map only `counts_for`'s entries."""
    if counts_for is None:
        return None
    attributes: list[Any] = [a for name, a in ProductModel.get_attributes().items() if name != "co_purchases"]
    return attributes + [ProductModel.co_purchases[product_id] for product_id in counts_for]


def gather(source: Catalogue, cart_product_ids: Sequence[str], best_sellers: Sequence[str]) -> list[ProductModel]:
    """The cart's products and the products worth ranking for it, in a bounded number of reads."""
    cart_ids = list(dict.fromkeys(cart_product_ids))
    excluded = set(cart_ids)
    found = source.products(cart_ids[:MAX_CART_PRODUCTS])
    cart = [found[pid] for pid in cart_ids if pid in found]
    pointed_at: list[str] = []
    for item in cart:
        pointed_at += list(item.complements or ())[:COMPLEMENTS_PER_PRODUCT]
        pointed_at += counters.ranked(co_purchase_counts(item))[:CO_PURCHASES_PER_PRODUCT]
    related = [pid for pid in dict.fromkeys(pointed_at) if pid not in excluded][:MAX_RELATED]
    popular = [pid for pid in best_sellers[:BEST_SELLERS] if pid not in excluded]
    others = list(dict.fromkeys(related + popular))
    categories = list(dict.fromkeys(item.category for item in cart))[:CATEGORIES]
    counted = [item.product_id for item in cart]  # whose counts ranking reads off a candidate
    reads: list[Callable[[], Iterable[ProductModel]]] = [
        functools.partial(source.in_category, category, PER_CATEGORY, counted) for category in categories
    ]
    if others:
        reads.insert(0, lambda: source.products(others, counted).values())
    for products in _at_once(reads):
        for product in products:
            found.setdefault(product.product_id, product)
    return list(found.values())


def _at_once(reads: list[Callable[[], Iterable[ProductModel]]]) -> list[Iterable[ProductModel]]:
    """Run independent reads concurrently (in copies of the caller's context); results in order."""
    if len(reads) < 2:
        return [read() for read in reads]
    with _lock:
        if not _readers:
            _readers.append(ThreadPoolExecutor(max_workers=8, thread_name_prefix="upsell-read"))
    futures = [_readers[0].submit(contextvars.copy_context().run, read) for read in reads]
    return [future.result() for future in futures]


def co_purchase_counts(product: ProductModel) -> dict[str, int]:
    return counters.as_counts(product.co_purchases)


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
