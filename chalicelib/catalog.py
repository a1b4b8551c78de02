"""Catalogue reads: every read stays inside one tenant's partition."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from pynamodb.constants import ALL_OLD
from pynamodb.exceptions import UpdateError

from chalicelib import cursors
from chalicelib.errors import NotFound, OutOfStock
from chalicelib.ids import is_product_id
from chalicelib.models import ProductModel


@dataclass(frozen=True)
class ProductFields:
    """What an operator sets on a product; stock bookkeeping (reserved) and co-purchase counts are not."""

    name: str
    description: str
    category: str
    price: Decimal
    stock: int
    tags: list[str]
    complements: list[str]


def list_products(
    tenant_id: str, limit: int, cursor: str | None = None, category: str | None = None
) -> tuple[list[ProductModel], str | None]:
    """One page of the tenant's products in id order.

    PynamoDB keeps querying until `limit` items passed the category filter, and its
    last_evaluated_key then names the last item returned, which becomes the cursor.
    """
    start_after = cursors.decode(cursor, is_product_id) if cursor else None
    results = ProductModel.query(
        tenant_id,
        filter_condition=(ProductModel.category == category) if category else None,
        limit=limit,
        last_evaluated_key={"tenant_id": {"S": tenant_id}, "product_id": {"S": start_after}} if start_after else None,
    )
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
    """A product from a plain record as in data/tenants/*.json (price as a string), nothing reserved yet."""
    return ProductModel(
        tenant_id,
        record["product_id"],
        name=record["name"],
        description=record.get("description", ""),
        category=record["category"],
        price=Decimal(record["price"]),
        stock=record["stock"],
        reserved=0,
        tags=record.get("tags", []),
        complements=record.get("complements", []),
    )


def get_products(tenant_id: str, product_ids: Iterable[str], consistent: bool = False) -> dict[str, ProductModel]:
    """One BatchGetItem for a cart's products; unknown ids are simply absent."""
    keys = [(tenant_id, product_id) for product_id in dict.fromkeys(product_ids)]
    if not keys:
        return {}
    return {p.product_id: p for p in ProductModel.batch_get(keys, consistent_read=consistent)}


def upsert_product(tenant_id: str, product_id: str, fields: ProductFields) -> tuple[ProductModel, bool]:
    """Create or replace a product in ONE UpdateItem; True when it was created.

    Only the operator's fields are set: `reserved` and `co_purchases` of an existing product are
    kept (and start at 0 and {} for a new one), so a replace racing a checkout loses nothing.
    """
    actions = [
        ProductModel.name.set(fields.name),
        ProductModel.description.set(fields.description),
        ProductModel.category.set(fields.category),
        ProductModel.price.set(fields.price),
        ProductModel.stock.set(fields.stock),
        ProductModel.tags.set(fields.tags),
        ProductModel.complements.set(fields.complements),
        ProductModel.reserved.set(ProductModel.reserved | 0),
        ProductModel.co_purchases.set(ProductModel.co_purchases | {}),
    ]
    old = ProductModel._get_connection().update_item(tenant_id, product_id, actions=actions, return_values=ALL_OLD)
    product = ProductModel(tenant_id, product_id, **vars(fields))
    return product, not old.get("Attributes")


def adjust_stock(tenant_id: str, product_id: str, delta: int) -> ProductModel:
    """Add `delta` to the available stock atomically (one conditional UpdateItem); never below 0."""
    if not is_product_id(product_id):
        raise NotFound(f"Product {product_id!r} not found.", {"product_id": product_id})
    condition = ProductModel.product_id.exists()
    if delta < 0:
        condition &= ProductModel.stock >= -delta
    product = ProductModel(tenant_id, product_id)
    try:
        product.update(actions=[ProductModel.stock.add(delta)], condition=condition)
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        # Why it failed, for the answer only: the write itself was all or nothing.
        current = get_product(tenant_id, product_id, consistent=True)
        raise OutOfStock([{"product_id": product_id, "requested": -delta, "available": int(current.stock)}]) from None
    return product
