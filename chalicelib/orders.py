"""Orders: read back under their tenant only; the shopper's order token; cancellation.

An order token is the shopper's capability for one order (cancel it; pay it, once payments
exist): 32 random bytes handed out with the checkout's answer, of which only the SHA-256 is
stored. Every change of an order's status is ONE TransactWriteItems conditioned on the status
it leaves, with the stock moves it implies, so it happens once however requests race.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.expressions.condition import Condition, size
from pynamodb.transactions import TransactWrite

from chalicelib import clients, contention, cursors, digests
from chalicelib.errors import NotFound, OrderNotCancellable, Unavailable
from chalicelib.ids import is_ulid
from chalicelib.models import HOLD_QUEUE, OrderModel, ProductModel, status_key
from chalicelib.observability import logger

TOKEN_BYTES = 32
# Each replay of a checkout hands out a token of its own; the cap keeps a replaying client from
# growing the order item without bound. Beyond it a replay answers without a new token.
MAX_TOKENS_PER_ORDER = 20
CANCEL_ATTEMPTS = 6


def new_token() -> tuple[str, str]:
    """A fresh order token and the digest that is stored in its place."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, digests.digest(token)


def token_opens(order: OrderModel, token: str) -> bool:
    """True when `token` is one of the tokens handed out for this order."""
    return digests.matches(token, order.token_hashes or ())


def issue_another_token(order: OrderModel) -> str | None:
    """A new token for a replayed checkout's answer (the first one is only stored hashed); None past the cap."""
    token, token_digest = new_token()
    room = OrderModel.token_hashes.does_not_exist() | (size(OrderModel.token_hashes) < MAX_TOKENS_PER_ORDER)
    try:
        OrderModel(order.tenant_id, order.order_id).update(
            actions=[OrderModel.token_hashes.add({token_digest})], condition=OrderModel.order_id.exists() & room
        )
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        return None
    return token


def get_order(tenant_id: str, order_id: str, consistent: bool = False) -> OrderModel:
    if is_ulid(order_id):
        try:
            return OrderModel.get(tenant_id, order_id, consistent_read=consistent)
        except OrderModel.DoesNotExist:
            pass
    raise NotFound(f"Order {order_id!r} not found.", {"order_id": order_id})


def list_orders(
    tenant_id: str, limit: int, cursor: str | None = None, status: str | None = None
) -> tuple[list[OrderModel], str | None]:
    """One page of the tenant's orders (or of one status, through its index), newest first.

    Order ids are ULIDs, so they sort by time. One item more than the page is read, so the last
    page says so (next_cursor null) instead of sending the client to an empty page.
    """
    start_after = cursors.decode(cursor, is_ulid) if cursor else None
    start_key = {"tenant_id": {"S": tenant_id}, "order_id": {"S": start_after}} if start_after else None
    if status:
        partition = status_key(tenant_id, status)
        if start_key:
            start_key["status_key"] = {"S": partition}
        results = OrderModel.by_status.query(
            partition, scan_index_forward=False, limit=limit + 1, last_evaluated_key=start_key
        )
    else:
        results = OrderModel.query(tenant_id, scan_index_forward=False, limit=limit + 1, last_evaluated_key=start_key)
    items = list(results)
    if len(items) <= limit:
        return items, None
    return items[:limit], cursors.encode(items[limit - 1].order_id)


# Where an order's units are while it is in a status they can leave from: a cancel or an expiry
# puts them back on sale from there.
HELD_IN = {"confirmed": ProductModel.sold, "pending_payment": ProductModel.reserved}
SWEEP_PAGE = 100


def cancel(tenant_id: str, order_id: str) -> OrderModel:
    """Cancel a confirmed or unpaid order and put its units back on sale; a cancelled one is answered as it is."""
    for attempt in range(CANCEL_ATTEMPTS):
        order = get_order(tenant_id, order_id, consistent=True)
        if order.status == "cancelled":
            return order
        if order.status not in HELD_IN:
            raise OrderNotCancellable(
                f"Order {order_id!r} is {order.status} and cannot be cancelled.", {"status": order.status}
            )
        if _release(order, "cancelled", OrderModel.cancelled_at):
            return order
        contention.pause(attempt)  # changed meanwhile (paid, expired, cancelled) or a conflict: read again
    raise Unavailable("The order is being changed concurrently, please retry.")


def expire_lapsed_holds(now: datetime | None = None, limit: int = SWEEP_PAGE) -> list[OrderModel]:
    """Expire unpaid orders whose hold has lapsed, oldest first, at most `limit`: the sweeper's one pass.

    Reads the pending-holds index (no scan). An order paid or cancelled since the index was read
    fails its transition's condition and is left alone.
    """
    now = now or datetime.now(UTC)
    lapsed = OrderModel.pending_holds.query(HOLD_QUEUE, OrderModel.hold_expires_at <= now, limit=limit)
    expired = []
    for indexed in lapsed:
        order = get_order(indexed.tenant_id, indexed.order_id, consistent=True)
        if order.status == "pending_payment" and _release(
            order, "expired", OrderModel.expired_at, extra_condition=OrderModel.hold_expires_at <= now
        ):
            expired.append(order)
    return expired


def sweep_lapsed_holds(max_pages: int = 10) -> int:
    """The sweeper's run (every minute in the cloud, every few seconds with `make run`): expire lapsed
    holds page by page until none is left or `max_pages` pages were handled; returns how many."""
    expired = 0
    for _ in range(max_pages):
        page = expire_lapsed_holds()
        expired += len(page)
        if len(page) < SWEEP_PAGE:
            break
    if expired:
        logger.info("Lapsed holds expired", orders=expired)
    return expired


def _release(order: OrderModel, to_status: str, stamp: Any, extra_condition: Condition | None = None) -> bool:
    """Move the order to `to_status` and its units back to `stock`, in ONE transaction conditioned on
    the status it leaves; False when that condition (or a conflict) cancelled it."""
    held = HELD_IN[order.status]
    changed_at = datetime.now(UTC)
    condition = OrderModel.status == order.status
    if extra_condition is not None:
        condition &= extra_condition
    try:
        with TransactWrite(connection=clients.dynamodb()) as transaction:
            transaction.update(
                OrderModel(order.tenant_id, order.order_id),
                actions=[
                    OrderModel.status.set(to_status),
                    OrderModel.status_key.set(status_key(order.tenant_id, to_status)),
                    OrderModel.hold_queue.remove(),  # leaves the pending-holds index, if it was there
                    stamp.set(changed_at),
                ],
                condition=condition,
            )
            for line in order.lines:
                transaction.update(
                    ProductModel(order.tenant_id, line.product_id),
                    actions=[ProductModel.stock.add(line.quantity), held.add(-line.quantity)],
                    condition=ProductModel.product_id.exists(),
                )
    except TransactWriteError as exc:
        if exc.cause_response_code != "TransactionCanceledException":
            raise
        contention.raise_if_permanent(exc)
        return False
    order.status = to_status
    order.status_key = status_key(order.tenant_id, to_status)
    order.hold_queue = None
    setattr(order, stamp.attr_name, changed_at)
    return True
