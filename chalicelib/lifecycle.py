"""The order lifecycle: its statuses and the one table of the transitions between them.

Every change of an order's status is one row here: the status it leaves, the one it enters, the
product counters its units move between (from, to; None when they stay), the order's timestamp
it sets, and the event the orders stream publishes for it. chalicelib/orders.py carries a row out
as ONE transaction conditioned on the status it leaves; chalicelib/orders_stream.py publishes the
row's event; docs/architecture.md's state diagram is checked against the table. Pure: no I/O.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class OrderStatus(enum.StrEnum):
    PENDING_PAYMENT = "pending_payment"  # a card order: its units held until paid or the hold lapses
    CONFIRMED = "confirmed"  # an order paid on delivery: its units sold at checkout
    PAID = "paid"
    SHIPPED = "shipped"  # handed to the carrier (admin), with its tracking
    DELIVERED = "delivered"  # at the shopper's door (admin); an on-delivery order is paid there
    CANCELLED = "cancelled"
    EXPIRED = "expired"  # a card order whose hold lapsed unpaid
    REFUNDED = "refunded"


# Product counters an order's units sit in.
STOCK, RESERVED, SOLD = "stock", "reserved", "sold"


@dataclass(frozen=True)
class Transition:
    source: OrderStatus
    target: OrderStatus
    units: tuple[str, str] | None  # the product counters each line's units move from and to
    stamp: str  # the order's attribute set to the time of the change
    event: str  # what the orders stream publishes when an order enters `target`
    why: str  # what makes it happen, for people
    # The goods are with the shopper: the units go back on sale only when the operator says they came back.
    units_on_restock_only: bool = False


S = OrderStatus
TRANSITIONS: tuple[Transition, ...] = (
    Transition(S.PENDING_PAYMENT, S.PAID, (RESERVED, SOLD), "paid_at", "order_paid", "PaymentIntent succeeded"),
    Transition(S.PENDING_PAYMENT, S.EXPIRED, (RESERVED, STOCK), "expired_at", "order_expired", "hold lapsed, sweeper"),
    Transition(S.PENDING_PAYMENT, S.CANCELLED, (RESERVED, STOCK), "cancelled_at", "order_cancelled", "cancel"),
    Transition(S.CONFIRMED, S.CANCELLED, (SOLD, STOCK), "cancelled_at", "order_cancelled", "cancel"),
    Transition(S.PAID, S.REFUNDED, (SOLD, STOCK), "refunded_at", "order_refunded", "refund"),
    # Fulfilment (admin): no stock moves; a card order ships once paid, an on-delivery one once confirmed.
    Transition(S.PAID, S.SHIPPED, None, "shipped_at", "order_shipped", "ship"),
    Transition(S.CONFIRMED, S.SHIPPED, None, "shipped_at", "order_shipped", "ship"),
    Transition(S.SHIPPED, S.DELIVERED, None, "delivered_at", "order_delivered", "deliver"),
    Transition(S.SHIPPED, S.REFUNDED, (SOLD, STOCK), "refunded_at", "order_refunded", "refund", True),
    Transition(S.DELIVERED, S.REFUNDED, (SOLD, STOCK), "refunded_at", "order_refunded", "refund", True),
    # A payment that succeeded after the hold lapsed: sold again if every line's units are on sale,
    # else refunded at Stripe (the units were released at expiry, so none move).
    Transition(S.EXPIRED, S.PAID, (STOCK, SOLD), "paid_at", "order_paid", "late payment, units still there"),
    Transition(S.EXPIRED, S.REFUNDED, None, "refunded_at", "order_refunded", "late payment, units gone"),
    # A payment that succeeded after the order was cancelled is refunded.
    Transition(S.CANCELLED, S.REFUNDED, None, "refunded_at", "order_refunded", "late payment"),
)
# Where a new order's units go at checkout, by the status it starts in.
CREATED_UNITS: dict[str, tuple[str, str]] = {S.PENDING_PAYMENT: (STOCK, RESERVED), S.CONFIRMED: (STOCK, SOLD)}
# Statuses that make an order a sale, counted once into the up-sell's co-purchases and the metrics.
SALES: frozenset[str] = frozenset({S.CONFIRMED, S.PAID, S.SHIPPED, S.DELIVERED})
# The order's timeline: each timestamp it may carry, and the event it shows as.
TIMELINE = (
    ("created_at", "created"),
    ("paid_at", "paid"),
    ("shipped_at", "shipped"),
    ("delivered_at", "delivered"),
    ("cancelled_at", "cancelled"),
    ("expired_at", "expired"),
    ("refunded_at", "refunded"),
)

# Keyed by plain strings: a status read from DynamoDB is a str, and a StrEnum member is one too.
_BY_STATUSES: dict[tuple[str, str], Transition] = {(row.source, row.target): row for row in TRANSITIONS}
# The event an order entering a status publishes (one per target status).
EVENTS: dict[str, str] = {row.target: row.event for row in TRANSITIONS}


class InvalidTransition(Exception):
    """A move the lifecycle has no row for: a bug in the caller, never the client's fault."""


def transition(source: str, target: OrderStatus) -> Transition:
    """The row from `source` to `target`; InvalidTransition when there is none."""
    row = _BY_STATUSES.get((source, target))
    if row is None:
        raise InvalidTransition(f"an order cannot go from {source} to {target}")
    return row


def can_move(source: str, target: OrderStatus) -> bool:
    return (source, target) in _BY_STATUSES
