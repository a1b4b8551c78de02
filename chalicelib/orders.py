"""Orders: read back under their tenant only; the shopper's order token; cancellation.

An order token is the shopper's capability for one order (cancel it; pay it, once payments
exist): 32 random bytes handed out with the checkout's answer, of which only the SHA-256 is
stored. Every change of an order's status is ONE TransactWriteItems conditioned on the status
it leaves, with the stock moves it implies, so it happens once however requests race.
"""

from __future__ import annotations

import dataclasses
import enum
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.expressions.condition import Condition, size
from pynamodb.transactions import TransactWrite

from chalicelib import clients, contention, cursors, digests, lifecycle, limits
from chalicelib.errors import NotFound, OrderNotCancellable, OrderNotDeliverable, OrderNotShippable, Unavailable
from chalicelib.ids import is_ulid
from chalicelib.lifecycle import STOCK, OrderStatus, Transition
from chalicelib.mail import claims as mail_claims
from chalicelib.models import OrderModel, PaymentDispute, ProductModel, RefundFailure, hold_queue, status_key

TOKEN_BYTES = 32
# Each replay of a checkout hands out a token of its own; the cap keeps a replaying client from
# growing the order item without bound. Beyond it a replay answers without a new token.
MAX_TOKENS_PER_ORDER = 20


def new_token() -> tuple[str, str]:
    """A fresh order token and the digest that is stored in its place."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, digests.digest(token)


def token_opens(order: OrderModel, token: str) -> bool:
    """True when `token` is one of the tokens handed out for this order: with the checkout's answer, or in
    the link of one of its e-mails (those are read only when it is none of the first, so the shopper's
    usual requests read nothing more)."""
    if digests.matches(token, order.token_hashes or ()):
        return True
    return mail_claims.token_opens(order.tenant_id, order.order_id, token)


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


SWEEP_PAGE = 100


class Moved(enum.Enum):
    """How a transition's one transaction ended."""

    DONE = "done"
    SHORT = "short"  # a product had fewer units on sale than the order needs (a late payment)
    CHANGED = "changed"  # the order left the status it was read in, or a conflict: read again


def cancel(tenant_id: str, order_id: str) -> OrderModel:
    """Cancel a confirmed or unpaid order and put its units back on sale; a cancelled one is answered as it is.

    A card order's PaymentIntent is cancelled first, by chalicelib/payments/, which calls this.
    """
    return _advance(
        tenant_id,
        order_id,
        OrderStatus.CANCELLED,
        settled=lambda order: order.status == OrderStatus.CANCELLED,
        refusal=lambda order: OrderNotCancellable(
            f"Order {order_id!r} is {order.status} and cannot be cancelled.", {"status": order.status}
        ),
    )


def lapsed_holds(tenant_id: str, now: datetime, limit: int = SWEEP_PAGE) -> list[OrderModel]:
    """A tenant's unpaid orders whose hold has lapsed, oldest first, at most `limit`, read again consistently."""
    lapsed, _ = lapsed_page(hold_queue(tenant_id), now, limit)
    orders = [get_order(indexed.tenant_id, indexed.order_id, consistent=True) for indexed in lapsed]
    return [order for order in orders if order.status == OrderStatus.PENDING_PAYMENT]


def lapsed_page(
    queue: str, now: datetime, limit: int = SWEEP_PAGE, start: dict[str, Any] | None = None
) -> tuple[list[OrderModel], dict[str, Any] | None]:
    """One page of a hold queue's lapsed orders, oldest first, as the pending-holds index has them,
    and where the next page starts (None after the last).

    Reads the index (no scan). It is eventually consistent: an order paid or cancelled a moment ago
    may still be listed, and fails its expiry's condition (on its status and hold) later.
    """
    results = OrderModel.pending_holds.query(
        queue, OrderModel.hold_expires_at <= now, limit=limit, last_evaluated_key=start
    )
    page = list(results)
    return page, results.last_evaluated_key if len(page) == limit else None


def expire(order: OrderModel, now: datetime) -> bool:
    """Expire an unpaid order whose hold lapsed by `now`, its units back on sale; False if it changed meanwhile."""
    expiry = lifecycle.transition(order.status, OrderStatus.EXPIRED)
    return _move(order, expiry, OrderModel.hold_expires_at <= now) is Moved.DONE


def mark_paid(order: OrderModel) -> Moved:
    """Record a successful payment of the order's PaymentIntent.

    From pending_payment the held units are sold. From expired (the payment succeeded after the hold
    lapsed) the units are taken from stock again, if there are enough: else SHORT, and the caller
    refunds the payment.
    """
    return _move(order, lifecycle.transition(order.status, OrderStatus.PAID))


def mark_refunded(order: OrderModel, reason: str, restock: bool = False) -> Moved:
    """Record a refund: a paid order's units go back on sale; a shipped or delivered order's only with
    `restock` (the goods came back); an order whose units were released already (a late payment
    that found no stock) only changes status."""
    move = lifecycle.transition(order.status, OrderStatus.REFUNDED)
    if move.units_on_restock_only and not restock:
        move = dataclasses.replace(move, units=None)
    return _move(order, move, reason=reason)


def ship(tenant_id: str, order_id: str, carrier: str, tracking_number: str, tracking_url: str | None) -> OrderModel:
    """Hand a paid (or on-delivery, confirmed) order to its carrier; the same shipment again is answered
    as it is, another order status is 409 ORDER_NOT_SHIPPABLE."""
    shipment = (carrier, tracking_number, tracking_url)
    order = _advance(
        tenant_id,
        order_id,
        OrderStatus.SHIPPED,
        settled=lambda order: (
            order.status in (OrderStatus.SHIPPED, OrderStatus.DELIVERED)
            and (order.carrier, order.tracking_number, order.tracking_url) == shipment
        ),
        refusal=lambda order: OrderNotShippable(
            f"Order {order_id!r} is {order.status} and cannot be shipped.", {"status": order.status}
        ),
        extra_actions=[
            OrderModel.carrier.set(carrier),
            OrderModel.tracking_number.set(tracking_number),
            OrderModel.tracking_url.set(tracking_url) if tracking_url else OrderModel.tracking_url.remove(),
        ],
    )
    order.carrier, order.tracking_number, order.tracking_url = shipment
    return order


def mark_delivered(tenant_id: str, order_id: str) -> OrderModel:
    """A shipped order reached its shopper; a delivered one is answered as it is, others are 409."""
    return _advance(
        tenant_id,
        order_id,
        OrderStatus.DELIVERED,
        settled=lambda order: order.status == OrderStatus.DELIVERED,
        refusal=lambda order: OrderNotDeliverable(
            f"Order {order_id!r} is {order.status}; only a shipped order can be delivered.", {"status": order.status}
        ),
    )


def _advance(
    tenant_id: str,
    order_id: str,
    target: OrderStatus,
    settled: Callable[[OrderModel], bool],
    refusal: Callable[[OrderModel], Exception],
    extra_actions: list[Any] | None = None,
) -> OrderModel:
    """Move an order to `target` as a shopper or an operator asks: answered as it is once `settled`
    (a repeated request), refused when the lifecycle has no such move from its status, and read
    again when it changed meanwhile (a payment, the sweeper or another request got there first)."""
    for _ in contention.attempts():
        order = get_order(tenant_id, order_id, consistent=True)
        if settled(order):
            return order
        if not lifecycle.can_move(order.status, target):
            raise refusal(order)
        move = lifecycle.transition(order.status, target)
        if _move(order, move, extra_actions=extra_actions) is Moved.DONE:
            return order
    raise Unavailable("The order is being changed concurrently, please retry.")


def timeline(order: OrderModel) -> list[dict[str, Any]]:
    """What happened to the order, oldest first, from the timestamps its transitions set."""
    moments = [(getattr(order, stamp), event) for stamp, event in lifecycle.TIMELINE if getattr(order, stamp)]
    return [{"event": event, "at": at} for at, event in sorted(moments, key=lambda moment: moment[0])]


def attach_payment_intent(order: OrderModel, intent_id: str, replacing: str | None = None) -> str:
    """Record the PaymentIntent the order may be charged through; returns the one it holds now.

    Set while the order awaits payment, from none (or from `replacing`, a spent intent that can never
    succeed): a concurrent request that stored its own first wins, and the loser cancels its intent,
    so an order is never confirmed through two.
    """
    unchanged = (
        OrderModel.payment_intent_id.does_not_exist()
        if replacing is None
        else OrderModel.payment_intent_id == replacing
    )
    try:
        OrderModel(order.tenant_id, order.order_id).update(
            actions=[OrderModel.payment_intent_id.set(intent_id)],
            condition=(OrderModel.status == OrderStatus.PENDING_PAYMENT) & unchanged,
        )
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        current = get_order(order.tenant_id, order.order_id, consistent=True)
        order.status = current.status
        order.payment_intent_id = current.payment_intent_id
        return current.payment_intent_id or ""
    order.payment_intent_id = intent_id
    return intent_id


def attach_customer(order: OrderModel, customer: str) -> str:
    """Record the Stripe Customer the order's cards are set up for; returns the one it holds now
    (a concurrent first setup's, if that one stored its own first)."""
    try:
        OrderModel(order.tenant_id, order.order_id).update(
            actions=[OrderModel.stripe_customer_id.set(customer)],
            condition=OrderModel.order_id.exists() & OrderModel.stripe_customer_id.does_not_exist(),
        )
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        customer = get_order(order.tenant_id, order.order_id, consistent=True).stripe_customer_id or ""
    order.stripe_customer_id = customer
    return customer


def record_dispute(order: OrderModel, dispute: PaymentDispute) -> None:
    """Note a dispute of the order's payment for its operators; its status and units stay as they are."""
    OrderModel(order.tenant_id, order.order_id).update(
        actions=[OrderModel.dispute.set(dispute)], condition=OrderModel.order_id.exists()
    )
    order.dispute = dispute


def record_refund_failure(order: OrderModel, failure: RefundFailure) -> None:
    """Note a refund of the order's payment that failed at Stripe, for its operators to settle with the shopper."""
    OrderModel(order.tenant_id, order.order_id).update(
        actions=[OrderModel.refund_failure.set(failure)], condition=OrderModel.order_id.exists()
    )
    order.refund_failure = failure


def count_card_attempt(order: OrderModel, attempt: str, most: int) -> bool:
    """Count a card attempt (by its id, so a retried request counts once); False past `most` attempts."""
    room = OrderModel.card_attempts.does_not_exist() | (size(OrderModel.card_attempts) < most)
    try:
        OrderModel(order.tenant_id, order.order_id).update(
            actions=[OrderModel.card_attempts.add({attempt})],
            condition=room | OrderModel.card_attempts.contains(attempt),
        )
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        return False
    return True


def _move_units(transaction: TransactWrite, order: OrderModel, units: tuple[str, str]) -> None:
    """Add the moves of each line's units from one product counter to another to `transaction`, each
    conditioned on the units being there: no counter ever goes below zero."""
    source, target = (getattr(ProductModel, counter) for counter in units)
    for line in order.lines:
        transaction.update(
            ProductModel(order.tenant_id, line.product_id),
            actions=[target.add(line.quantity), source.add(-line.quantity)],
            condition=ProductModel.product_id.exists() & (source >= line.quantity),
        )


def _move(
    order: OrderModel,
    move: Transition,
    extra_condition: Condition | None = None,
    reason: str | None = None,
    extra_actions: list[Any] | None = None,
) -> Moved:
    """Carry out one row of the lifecycle: the order to its target status and its units between two
    counters, in ONE transaction conditioned on the status it leaves."""
    changed_at = datetime.now(UTC)
    condition = OrderModel.status == move.source
    if extra_condition is not None:
        condition &= extra_condition
    stamp = getattr(OrderModel, move.stamp)
    actions = [
        OrderModel.status.set(move.target),
        OrderModel.status_key.set(status_key(order.tenant_id, move.target)),
        OrderModel.hold_queue.remove(),  # leaves the pending-holds index, if it was there
        stamp.set(changed_at),
    ]
    if reason:
        actions.append(OrderModel.refund_reason.set(reason))
    actions += extra_actions or []
    try:
        with TransactWrite(connection=clients.dynamodb()) as transaction:
            transaction.update(OrderModel(order.tenant_id, order.order_id), actions=actions, condition=condition)
            if move.units is not None:
                _move_units(transaction, order, move.units)
            if move.source == OrderStatus.PENDING_PAYMENT and order.hold_counter:
                limits.release_hold(transaction, order.tenant_id, order.hold_counter)
    except TransactWriteError as exc:
        if exc.cause_response_code != "TransactionCanceledException":
            raise
        contention.raise_if_permanent(exc)
        # Every action is an update, so PynamoDB keeps their order: the order's own comes first.
        codes = [reason.code if reason else None for reason in exc.cancellation_reasons or []]
        # Units not on sale any more: a late payment finds the stock gone. From any other counter the
        # units are missing only while a racing transition (its conflict reported on the order) moves
        # them: read again, and the order's new status decides.
        product_refused = "ConditionalCheckFailed" in codes[1:] and codes[0] != "ConditionalCheckFailed"
        if product_refused and move.units is not None and move.units[0] == STOCK:
            return Moved.SHORT
        return Moved.CHANGED
    order.status = move.target.value
    order.status_key = status_key(order.tenant_id, move.target)
    order.hold_queue = None
    setattr(order, move.stamp, changed_at)
    if reason:
        order.refund_reason = reason
    return Moved.DONE
