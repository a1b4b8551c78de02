"""The catalogue: every read stays inside one tenant's partition and reads a bounded number of items."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pynamodb.constants import ALL_OLD
from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib import clients, contention, cursors, idempotency
from chalicelib.errors import BadRequest, NotFound, OutOfStock, Unavailable
from chalicelib.ids import is_product_id
from chalicelib.models import ProductModel, category_key

MAX_STOCK = 1_000_000

# What a cart needs of its products to price them and check their stock. Not the description,
# tags, complements or co-purchase counts: up to 50 learned counts are most of a product item, and
# reading them for every cart line cost the checkout of a 5-line cart 1.4 ms of CPU for nothing.
# A product read this way is partial (the rest are defaults): read it, never save it.
PRICING_READS: list[Any] = [
    ProductModel.tenant_id,
    ProductModel.product_id,
    ProductModel.name,
    ProductModel.price,
    ProductModel.stock,
]


@dataclass(frozen=True)
class ProductFields:
    """What an operator sets on a product; stock bookkeeping (reserved, sold) and co-purchase counts are not."""

    name: str
    description: str
    category: str
    price: Decimal
    stock: int | None  # None: leave the stock as it is (0 for a new product)
    tags: list[str]
    complements: list[str]


def list_products(
    tenant_id: str, limit: int, cursor: str | None = None, category: str | None = None
) -> tuple[list[ProductModel], str | None]:
    """One page of the tenant's products (or of one category, through its index) in id order: one Query."""
    start_after = cursors.decode(cursor, is_product_id) if cursor else None
    start_key = {"tenant_id": {"S": tenant_id}, "product_id": {"S": start_after}} if start_after else None
    if category:
        partition = category_key(tenant_id, category)
        if start_key:
            start_key["category_key"] = {"S": partition}
        results = ProductModel.by_category.query(partition, limit=limit, last_evaluated_key=start_key)
    else:
        results = ProductModel.query(tenant_id, limit=limit, last_evaluated_key=start_key)
    items = list(results)
    last_key = results.last_evaluated_key
    return items, cursors.encode(last_key["product_id"]["S"]) if last_key else None


def get_product(tenant_id: str, product_id: str, consistent: bool = False) -> ProductModel:
    if is_product_id(product_id):
        try:
            return ProductModel.get(tenant_id, product_id, consistent_read=consistent)
        except ProductModel.DoesNotExist:
            pass
    raise NotFound(f"Product {product_id!r} not found.", {"product_id": product_id})


def product_from_record(tenant_id: str, record: dict) -> ProductModel:
    """A product from a plain record as in data/tenants/*.json (price as a string), nothing reserved or sold yet."""
    return ProductModel(
        tenant_id,
        record["product_id"],
        name=record["name"],
        description=record.get("description", ""),
        category=record["category"],
        category_key=category_key(tenant_id, record["category"]),
        price=Decimal(record["price"]),
        stock=record["stock"],
        reserved=0,
        sold=0,
        tags=record.get("tags", []),
        complements=record.get("complements", []),
    )


def get_products(
    tenant_id: str, product_ids: Iterable[str], consistent: bool = False, attributes: Sequence[Any] | None = None
) -> dict[str, ProductModel]:
    """One BatchGetItem for a cart's products; unknown ids are simply absent. `attributes`: a
    projection (attributes or document paths), else the whole items."""
    keys = [(tenant_id, product_id) for product_id in dict.fromkeys(product_ids)]
    if not keys:
        return {}
    return {
        p.product_id: p for p in ProductModel.batch_get(keys, consistent_read=consistent, attributes_to_get=attributes)
    }


def upsert_product(tenant_id: str, product_id: str, fields: ProductFields) -> tuple[ProductModel, bool]:
    """Create or replace a product in ONE UpdateItem; True when it was created.

    Only the operator's fields are set: `reserved`, `sold` and `co_purchases` of an existing product are
    kept (and start at 0 and {} for a new one), so a replace racing a checkout loses nothing. So is
    `stock` when the operator leaves it out: fixing a typo during a sale must not reset it.
    """
    stock = ProductModel.stock | 0 if fields.stock is None else fields.stock
    actions = [
        ProductModel.name.set(fields.name),
        ProductModel.description.set(fields.description),
        ProductModel.category.set(fields.category),
        ProductModel.category_key.set(category_key(tenant_id, fields.category)),
        ProductModel.price.set(fields.price),
        ProductModel.stock.set(stock),
        ProductModel.tags.set(fields.tags),
        ProductModel.complements.set(fields.complements),
        ProductModel.reserved.set(ProductModel.reserved | 0),
        ProductModel.sold.set(ProductModel.sold | 0),
        ProductModel.co_purchases.set(ProductModel.co_purchases | {}),
    ]
    old = ProductModel._get_connection().update_item(tenant_id, product_id, actions=actions, return_values=ALL_OLD)
    old_item = old.get("Attributes") or {}
    if fields.stock is None:
        fields = ProductFields(**{**vars(fields), "stock": int(old_item.get("stock", {}).get("N", 0))})
    product = ProductModel(tenant_id, product_id, **vars(fields))
    return product, not old_item


def adjust_stock(tenant_id: str, product_id: str, delta: int, idempotency_key: str | None = None) -> ProductModel:
    """Add `delta` to the sellable stock, keeping it within 0..MAX_STOCK; applied once per Idempotency-Key."""
    if not is_product_id(product_id):
        raise NotFound(f"Product {product_id!r} not found.", {"product_id": product_id})
    if idempotency_key is None:
        return _add_stock(tenant_id, product_id, delta)
    use = idempotency.KeyUse.of(tenant_id, "adjust_stock", idempotency_key, product_id=product_id, delta=delta)

    def replay() -> ProductModel | None:
        record = idempotency.recorded(use, datetime.now(UTC))
        return ProductModel.from_raw_data(json.loads(record.result)) if record and record.result else None

    product, _ = idempotency.perform(
        attempt=lambda: _adjust_once(tenant_id, product_id, delta, use),
        replay=replay,
        refusals=(NotFound, OutOfStock, BadRequest),
    )
    return product


def _add_stock(tenant_id: str, product_id: str, delta: int) -> ProductModel:
    """One conditional UpdateItem (ADD): concurrent adjustments never conflict, the bounds hold."""
    bound = ProductModel.stock >= -delta if delta < 0 else ProductModel.stock <= MAX_STOCK - delta
    for _ in contention.attempts():
        product = ProductModel(tenant_id, product_id)
        try:
            product.update(actions=[ProductModel.stock.add(delta)], condition=ProductModel.product_id.exists() & bound)
            return product
        except UpdateError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
        # Why it failed, for the answer: the write itself was all or nothing. If the bounds hold
        # now, the stock moved in between, and the same write may simply go again.
        _check_bounds(get_product(tenant_id, product_id, consistent=True), delta)
    raise Unavailable("The stock keeps changing while it is adjusted, please retry.")


def _check_bounds(product: ProductModel, delta: int) -> None:
    current = int(product.stock)
    if current + delta < 0:
        raise OutOfStock([{"product_id": product.product_id, "requested": -delta, "available": current}])
    if current + delta > MAX_STOCK:
        raise BadRequest.for_field(
            "delta",
            f"The stock would exceed the maximum of {MAX_STOCK}.",
            f"at most {MAX_STOCK - current} more for this product",
        )


def _adjust_once(tenant_id: str, product_id: str, delta: int, use: idempotency.KeyUse) -> ProductModel | None:
    """Read, then write the exact new figure with the key's record; None when the stock changed in between.

    Writing `stock = read + delta` on the condition that it is still the figure read makes the
    answer (and the snapshot a replay returns) exactly what this adjustment left.
    """
    product = get_product(tenant_id, product_id, consistent=True)
    _check_bounds(product, delta)
    current = int(product.stock)
    product.stock = current + delta
    try:
        with TransactWrite(connection=clients.dynamodb()) as transaction:
            transaction.update(
                ProductModel(tenant_id, product_id),
                actions=[ProductModel.stock.set(product.stock)],
                condition=ProductModel.stock == current,
            )
            # The answer as a replay shows it; co-purchase counts grow with the catalogue and are not in it.
            snapshot = {name: value for name, value in product.serialize().items() if name != "co_purchases"}
            idempotency.claim(transaction, use, datetime.now(UTC), result=json.dumps(snapshot))
    except TransactWriteError as exc:
        if exc.cause_response_code != "TransactionCanceledException":
            raise
        idempotency.raise_if_key_taken(exc)
        contention.raise_if_permanent(exc)
        return None
    return product
