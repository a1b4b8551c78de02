"""Catalogue reads: every read stays inside one tenant's partition."""

from __future__ import annotations

from collections.abc import Iterable

from chalicelib import cursors
from chalicelib.errors import NotFound
from chalicelib.ids import is_product_id
from chalicelib.models import ProductModel


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


def get_product(tenant_id: str, product_id: str) -> ProductModel:
    if is_product_id(product_id):
        try:
            return ProductModel.get(tenant_id, product_id)
        except ProductModel.DoesNotExist:
            pass
    raise NotFound(f"Product {product_id!r} not found.", {"product_id": product_id})


def get_products(tenant_id: str, product_ids: Iterable[str], consistent: bool = False) -> dict[str, ProductModel]:
    """One BatchGetItem for a cart's products; unknown ids are simply absent."""
    keys = [(tenant_id, product_id) for product_id in dict.fromkeys(product_ids)]
    if not keys:
        return {}
    return {p.product_id: p for p in ProductModel.batch_get(keys, consistent_read=consistent)}
