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
from chalicelib.errors import BadRequest, NotFound, OutOfStock
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
    stock: int | None  # a new product's initial stock; None: as it is (0 for a new product)
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


# What the operator's inventory shows of a product, and what editing it sends back: not the
# co-purchase counts, which are most of a product item and none of the operator's business here.
INVENTORY_READS: list[Any] = [
    ProductModel.product_id,
    ProductModel.name,
    ProductModel.description,
    ProductModel.category,
    ProductModel.price,
    ProductModel.stock,
    ProductModel.reserved,
    ProductModel.sold,
    ProductModel.tags,
    ProductModel.complements,
]


def inventory_page(tenant_id: str, limit: int, cursor: str | None = None) -> tuple[list[ProductModel], str | None]:
    """One page of the tenant's products in id order with their stock counters: one Query of its
    partition, projected (INVENTORY_READS). One item more than the page is read, so the last page
    says so (next_cursor null) instead of sending the operator to an empty page."""
    start_after = cursors.decode(cursor, is_product_id) if cursor else None
    start_key = {"tenant_id": {"S": tenant_id}, "product_id": {"S": start_after}} if start_after else None
    results = ProductModel.query(
        tenant_id, limit=limit + 1, last_evaluated_key=start_key, attributes_to_get=INVENTORY_READS
    )
    items = list(results)
    if len(items) <= limit:
        return items, None
    return items[:limit], cursors.encode(items[limit - 1].product_id)


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


class LiveHolds(Exception):
    """An operator's bulk write refused because it would overwrite units held by unpaid orders."""


# A transaction takes at most 100 actions: a re-seed of up to 100 products is all or nothing.
RESEED_BATCH = 100


def units_held(tenant_id: str, product_ids: Iterable[str] | None = None) -> dict[str, int]:
    """The tenant's products (of `product_ids`, if given) with units in `reserved`, held by orders
    awaiting payment: product id -> units. A consistent Query of the tenant's partition, for
    operators' tools (never on a request's path)."""
    wanted = None if product_ids is None else set(product_ids)
    found = ProductModel.query(
        tenant_id,
        consistent_read=True,
        filter_condition=ProductModel.reserved > 0,
        attributes_to_get=["product_id", "reserved"],
    )
    return {p.product_id: int(p.reserved) for p in found if wanted is None or p.product_id in wanted}


def holds_message(tenant_id: str, held: dict[str, int]) -> str:
    units = ", ".join(f"{product_id} ({count})" for product_id, count in sorted(held.items())) or "released since"
    return (
        f"{tenant_id}: units are held by orders awaiting payment: {units}. Nothing was written. Let those"
        " orders be paid, expire or be cancelled first, then run this again."
    )


def refuse_live_holds(tenant_id: str, product_ids: Iterable[str]) -> None:
    """LiveHolds when one of these products holds units for an order awaiting payment."""
    held = units_held(tenant_id, product_ids)
    if held:
        raise LiveHolds(holds_message(tenant_id, held))


def reseed_products(tenant_id: str, records: Sequence[dict]) -> None:
    """Write products from plain records (data/tenants/*.json): catalogue fields and stock as the
    records have them, nothing reserved, co-purchase counts cleared; `sold` is kept, so a refund or
    cancel of an order placed earlier still finds its units.

    Refused (LiveHolds, nothing written) when one of these products holds units for an order awaiting
    payment: overwriting `reserved` would lose them. Each write is conditioned on it, so a checkout
    that holds units after the check fails the whole transaction (up to RESEED_BATCH products).
    """
    refuse_live_holds(tenant_id, (record["product_id"] for record in records))
    for start in range(0, len(records), RESEED_BATCH):
        batch = [product_from_record(tenant_id, record) for record in records[start : start + RESEED_BATCH]]
        try:
            with TransactWrite(connection=clients.dynamodb()) as transaction:
                for product in batch:
                    transaction.update(
                        ProductModel(tenant_id, product.product_id),
                        actions=[
                            ProductModel.name.set(product.name),
                            ProductModel.description.set(product.description),
                            ProductModel.category.set(product.category),
                            ProductModel.category_key.set(product.category_key),
                            ProductModel.price.set(product.price),
                            ProductModel.stock.set(product.stock),
                            ProductModel.reserved.set(0),
                            ProductModel.sold.set(ProductModel.sold | 0),
                            ProductModel.tags.set(product.tags),
                            ProductModel.complements.set(product.complements),
                            ProductModel.co_purchases.set({}),
                        ],
                        condition=ProductModel.reserved.does_not_exist() | (ProductModel.reserved == 0),
                    )
        except TransactWriteError as exc:
            codes = [reason.code if reason else None for reason in exc.cancellation_reasons or []]
            if "ConditionalCheckFailed" not in codes:
                raise
            held = units_held(tenant_id, (product.product_id for product in batch))
            raise LiveHolds(holds_message(tenant_id, held)) from None


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
    kept (and start at 0 and {} for a new one), so a replace racing a checkout loses nothing. `stock`
    is an existing product's own: it changes only through adjustments (`adjust_stock`, each once per
    key), so a `stock` here is for a new product only; for an existing one it is 400 and nothing is
    written (the write is conditioned on the product not existing yet, so a racing creation is too).
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
    condition = None if fields.stock is None else ProductModel.product_id.does_not_exist()
    try:
        old = ProductModel._get_connection().update_item(
            tenant_id, product_id, actions=actions, condition=condition, return_values=ALL_OLD
        )
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        raise BadRequest.for_field(
            "stock",
            f"Product {product_id!r} exists: its stock changes only through POST .../products/{product_id}/stock.",
            "not settable on an existing product; leave it out, and adjust the stock with a delta",
        ) from None
    old_item = old.get("Attributes") or {}
    if fields.stock is None:
        fields = ProductFields(**{**vars(fields), "stock": int(old_item.get("stock", {}).get("N", 0))})
    product = ProductModel(tenant_id, product_id, **vars(fields))
    return product, not old_item


def adjust_stock(tenant_id: str, product_id: str, delta: int, idempotency_key: str) -> ProductModel:
    """Add `delta` to the sellable stock, keeping it within 0..MAX_STOCK, once per Idempotency-Key.

    The key is required (the API answers 400 without one): an adjustment whose answer was lost and
    that is sent again must not count twice, so every adjustment is recorded with its key.
    """
    if not is_product_id(product_id):
        raise NotFound(f"Product {product_id!r} not found.", {"product_id": product_id})
    use = idempotency.KeyUse.of(tenant_id, "adjust_stock", idempotency_key, product_id=product_id, delta=delta)

    def replay() -> ProductModel | None:
        record = idempotency.recorded(use, datetime.now(UTC))
        return ProductModel.from_raw_data(json.loads(record.result)) if record and record.result else None

    product, _ = idempotency.perform(
        attempt=lambda: _adjust_once(tenant_id, product_id, delta, use),
        replay=replay,
        refusals=(NotFound, OutOfStock, BadRequest),
        attempts=contention.STOCK_ADJUST_ATTEMPTS,
    )
    return product


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
