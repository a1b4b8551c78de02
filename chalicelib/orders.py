"""Orders: read back under their tenant only."""

from __future__ import annotations

from chalicelib import cursors
from chalicelib.errors import NotFound
from chalicelib.ids import is_ulid
from chalicelib.models import OrderModel


def get_order(tenant_id: str, order_id: str, consistent: bool = False) -> OrderModel:
    if is_ulid(order_id):
        try:
            return OrderModel.get(tenant_id, order_id, consistent_read=consistent)
        except OrderModel.DoesNotExist:
            pass
    raise NotFound(f"Order {order_id!r} not found.", {"order_id": order_id})


def list_orders(tenant_id: str, limit: int, cursor: str | None = None) -> tuple[list[OrderModel], str | None]:
    """One page of the tenant's orders, newest first (order ids are ULIDs, so they sort by time).

    One item more than the page is read, so the last page says so (next_cursor null) instead of
    sending the client to an empty page.
    """
    start_after = cursors.decode(cursor, is_ulid) if cursor else None
    results = OrderModel.query(
        tenant_id,
        scan_index_forward=False,
        limit=limit + 1,
        last_evaluated_key={"tenant_id": {"S": tenant_id}, "order_id": {"S": start_after}} if start_after else None,
    )
    items = list(results)
    if len(items) <= limit:
        return items, None
    return items[:limit], cursors.encode(items[limit - 1].order_id)
