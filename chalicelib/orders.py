"""Orders: read back under their tenant only."""

from __future__ import annotations

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
