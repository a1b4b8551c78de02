"""The payment rules: pay an order, set up a card, cancel, refund, and settle a payment that succeeded.

The shopper's browser turns the card into a PaymentMethod with Stripe.js; `pay` confirms the
order's one PaymentIntent for the order's exact total on the server. Stripe's answer, the signed
webhook and the sweeper all end in `settle`, on the status-conditioned transitions of
chalicelib/orders.py, so whichever arrives first records the payment and the others find it done.

Never two charges for one order: an order is only ever confirmed through the PaymentIntent stored
on it (set once), and a PaymentIntent succeeds at most once. Every provider write carries an
idempotency key derived from the order, so a retried request replays the provider's first answer.
See docs/decisions/0018-card-payments.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from chalicelib import contention, limits, orders
from chalicelib.errors import (
    BadRequest,
    OrderNotCancellable,
    OrderNotPayable,
    OrderNotRefundable,
    PaymentFailed,
    RefundRefused,
    Unavailable,
)
from chalicelib.lifecycle import OrderStatus
from chalicelib.models import OrderModel
from chalicelib.observability import logger
from chalicelib.orders import Moved
from chalicelib.payments import gateway
from chalicelib.payments.amounts import minor_units
from chalicelib.payments.gateway import Gateway, Intent
from chalicelib.tenants import Tenant

# Intent statuses a cancel cannot (and need not) change.
FINAL_OR_MOVING = ("succeeded", "canceled", "processing")
# Refunds that count against what was paid.
REFUND_COUNTS = ("succeeded", "pending")


@dataclass(frozen=True)
class Payment:
    """What a payment attempt came to: the order as it is now and Stripe's word on the intent."""

    order: OrderModel
    status: str  # "succeeded", "requires_action" or "processing"
    client_secret: str | None = None  # for Stripe.js to finish 3-D Secure (requires_action only)


def pay(tenant: Tenant, order: OrderModel, payment_method: str, client: str | None = None) -> Payment:
    """Confirm the order's (as just read, consistently) PaymentIntent with the shopper's PaymentMethod.

    Paid already → answered as it is. Expired, cancelled, refunded or its hold lapsed → 409
    ORDER_NOT_PAYABLE. Declined → 402 PAYMENT_FAILED, the order still payable with another card.
    3-D Secure → requires_action and the client secret for Stripe.js.
    """
    if order.status == OrderStatus.PAID:
        return Payment(order, "succeeded")
    # A card tried again (a retry, or after 3-D Secure) counts once on the order; every request
    # counts for the client: card testers try many cards on many orders.
    _count_card_attempt(tenant, order, f"pay/{payment_method}", client)
    intent = None
    if order.payment_intent_id:
        intent = gateway.connect(tenant.tenant_id).retrieve_intent(order.payment_intent_id)
    # Stripe's word first: a shopper who finished paying just as the hold lapsed is answered with
    # the payment (recorded now, or refunded if the units were gone), not told to pay again.
    if intent is None or intent.status != "succeeded":
        _require_payable(order)  # before anything is read or created at Stripe
        account = gateway.connect(tenant.tenant_id)
        _require_the_orders_card(account, order, payment_method)  # before an intent is made for it
        intent = _intent_of(account, order, intent)
        if intent.status in ("requires_payment_method", "requires_confirmation"):
            intent = _confirm(account, order, intent.id, payment_method)
    return _outcome(tenant.tenant_id, order, intent)


def start_card_setup(tenant: Tenant, order: OrderModel, attempt: str, client: str | None = None) -> str:
    """A SetupIntent's client secret, for Stripe.js to turn the shopper's card into a PaymentMethod.

    Stripe.js's confirmCardSetup is the card-to-PaymentMethod step that both Stripe and localstripe
    implement (localstripe has no createPaymentMethod; decision 0018). One per card attempt, keyed by
    the order and the attempt id the browser sends, so a retried request gets the same one.
    """
    _require_payable(order)
    # Ready to call Stripe before the attempt counts: our own outage (a secret unreadable) costs
    # the shopper none of their attempts. A retried attempt id counts once anyway.
    account = gateway.connect(tenant.tenant_id)
    _count_card_attempt(tenant, order, attempt, client)
    # The card is set up for the order's customer: Stripe lets a PaymentMethod saved to a customer
    # be used again, which the intent's confirmation is (one without a customer may be used once),
    # and `pay` takes no card saved to another customer. One customer per order, recorded on it.
    customer = order.stripe_customer_id
    if not customer:
        customer = orders.attach_customer(order, account.create_customer(_metadata(order), _key(order, "customer")))
    return account.create_setup_intent(customer, _metadata(order), _key(order, f"setup/{attempt}"))


def cancel(tenant: Tenant, order: OrderModel) -> OrderModel:
    """Cancel an order (shopper with its token, or an admin): its PaymentIntent first, then its hold.

    An intent that succeeded meanwhile cannot be cancelled: the payment is recorded and the answer
    is 409 ORDER_NOT_CANCELLABLE (refund instead).
    """
    if order.status == OrderStatus.PENDING_PAYMENT and order.payment_intent_id:
        intent = cancel_intent(gateway.connect(tenant.tenant_id), order)
        if intent.status == "succeeded":
            settled = settle(tenant.tenant_id, order.order_id, intent.id)
            raise OrderNotCancellable(
                f"Order {order.order_id!r} is {settled.status} and cannot be cancelled.", {"status": settled.status}
            )
    return orders.cancel(tenant.tenant_id, order.order_id)


# A card order is refunded from here; a shipped or delivered one's units come back only with `restock`.
REFUNDABLE = (OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.DELIVERED)


def refund(tenant: Tenant, order_id: str, restock: bool = False) -> OrderModel:
    """Refund a card order in full (admin): Stripe refund first, then the order refunded; its units go
    back on sale when it was only paid, or when the goods came back (`restock`) once it had shipped."""
    order = orders.get_order(tenant.tenant_id, order_id, consistent=True)
    if order.status == OrderStatus.REFUNDED:
        return order
    if order.status not in REFUNDABLE or not order.payment_intent_id:
        raise OrderNotRefundable(
            f"Order {order_id!r} is {order.status}; only a paid, shipped or delivered card order can be refunded.",
            {"status": order.status},
        )
    try:
        _refund_intent(gateway.connect(tenant.tenant_id), order)
    except gateway.Refused as refused:  # for good, e.g. a disputed charge: a retry will not change it
        logger.warning("Refund refused by Stripe", order_id=order_id, error=str(refused))
        raise RefundRefused(
            f"Stripe refused to refund order {order_id!r}: {refused}", {"status": order.status}
        ) from None
    return record_refund(order, "requested_by_admin", restock)


def settle(tenant_id: str, order_id: str, intent_id: str) -> OrderModel:
    """Record that a PaymentIntent of the order succeeded (Stripe's answer, the webhook or the sweeper).

    Exactly once whoever comes first. A payment that succeeded after the hold lapsed takes its units
    from stock again if they are there; else, or when the shopper had cancelled, it is refunded. A
    succeeded intent the order no longer holds (replaced while a racing request confirmed it) is
    refunded: the order is only ever paid through the intent it holds.
    """
    for _ in contention.attempts():
        order = orders.get_order(tenant_id, order_id, consistent=True)
        if order.payment_intent_id != intent_id:
            logger.warning("Payment of a replaced intent refunded", order_id=order_id, intent=intent_id)
            _refund_intent(gateway.connect(tenant_id), order, intent_id)
            return order
        if order.status in (OrderStatus.PAID, OrderStatus.REFUNDED):
            return order
        if order.status == OrderStatus.CANCELLED:
            return _refund_late(tenant_id, order, "order_cancelled")
        if order.status == OrderStatus.EXPIRED and _refunded_at_all(tenant_id, intent_id):
            # A late payment refunded at Stripe whose recording failed: finish it, never sell it now.
            return _refund_late(tenant_id, order, "stock_released")
        moved = orders.mark_paid(order)
        if moved is Moved.DONE:
            logger.info("Order paid", order_id=order_id, status=order.status)
            return order
        if moved is Moved.SHORT:
            return _refund_late(tenant_id, order, "stock_released")
        # changed meanwhile (expired, cancelled) or a conflict: read again
    raise Unavailable("The order is being changed concurrently, please retry.")


def record_refund(order: OrderModel, reason: str, restock: bool = False) -> OrderModel:
    """The order refunded, its units back on sale (see orders.mark_refunded): once, whoever else is changing it."""
    for _ in contention.attempts():
        if orders.mark_refunded(order, reason, restock) is Moved.DONE:
            return order
        order = orders.get_order(order.tenant_id, order.order_id, consistent=True)  # lost a race: read again
        if order.status == OrderStatus.REFUNDED:
            return order
    raise Unavailable("The order is being changed concurrently, please retry.")


def cancel_intent(account: Gateway, order: OrderModel) -> Intent:
    """Cancel the order's intent unless it succeeded or is cancelled already; returns it as it is now."""
    assert order.payment_intent_id is not None
    intent = account.retrieve_intent(order.payment_intent_id)
    if intent.status in FINAL_OR_MOVING:
        return intent
    return _cancel(account, order, intent.id)


def cancel_lapsed_intent(account: Gateway, order: OrderModel) -> Intent:
    """The sweeper's cancel of a lapsed order's intent, one Stripe call when it can be cancelled (most
    are): cancelled first, and read only when Stripe says it moved on (succeeded, cancelled already)."""
    assert order.payment_intent_id is not None
    return _cancel(account, order, order.payment_intent_id)


def _count_card_attempt(tenant: Tenant, order: OrderModel, attempt: str, client: str | None) -> None:
    """Card testing (stolen numbers tried against cheap orders) stops at the tenant's limits: per
    client per hour (429), and per order, setups and payments alike (409, the hold lapses as usual)."""
    limits.count_card_attempt(tenant.tenant_id, tenant.limits, client)
    most = tenant.limits.card_attempts_per_order
    if not orders.count_card_attempt(order, attempt, most):
        raise OrderNotPayable(
            f"Order {order.order_id!r} had {most} card attempts already.",
            {"status": order.status, "reason": "too_many_card_attempts"},
        )


def _require_payable(order: OrderModel) -> None:
    lapsed = order.hold_expires_at is not None and order.hold_expires_at <= datetime.now(UTC)
    if order.status != OrderStatus.PENDING_PAYMENT or lapsed:
        status = OrderStatus.EXPIRED.value if order.status == OrderStatus.PENDING_PAYMENT else order.status
        raise OrderNotPayable(f"Order {order.order_id!r} is {status} and cannot be paid.", {"status": status})


def _require_the_orders_card(account: Gateway, order: OrderModel, payment_method: str) -> None:
    """The card must be saved to the order's own Stripe customer (by the order's card setup): not to
    another order's customer, nor to none. Else 400, and nothing is made at Stripe."""
    try:
        owner = account.payment_method_customer(payment_method)
    except gateway.PaymentMethodUnusable:
        raise BadRequest.for_field("payment_method", "Not a usable PaymentMethod.") from None
    if not order.stripe_customer_id or owner != order.stripe_customer_id:
        logger.info("Card of another customer refused", order_id=order.order_id)
        raise BadRequest.for_field(
            "payment_method", "Not a card set up for this order: set it up with POST …/payment/setup first."
        )


def _intent_of(account: Gateway, order: OrderModel, intent: Intent | None) -> Intent:
    """The order's PaymentIntent (`intent`, as just retrieved): created on its first payment attempt,
    then the same one, unless it is spent (declined at charge, or cancelled) and replaced."""
    if intent is None:
        return _new_intent(account, order, "intent", replacing=None)
    declined = intent.status == "requires_payment_method" and intent.latest_charge is not None
    if declined or intent.status == "canceled":
        # localstripe cannot confirm an intent again after a declined charge (Stripe can); a fresh
        # intent works on both, and the spent one can never succeed, so one charge at most holds.
        if intent.status != "canceled":
            intent = _cancel(account, order, intent.id)
            if intent.status in ("succeeded", "processing"):  # a racing request's card went through
                return intent
        return _new_intent(account, order, f"intent/after/{intent.id}", replacing=intent.id)
    return intent


def _new_intent(account: Gateway, order: OrderModel, key: str, replacing: str | None) -> Intent:
    try:
        amount = minor_units(order.totals.total, order.currency)
        intent = account.create_intent(amount, order.currency.lower(), _metadata(order), _key(order, key))
    except (ValueError, gateway.AmountRefused):
        # Below Stripe's minimum charge, above its maximum, or not a whole number of minor units.
        raise OrderNotPayable(
            f"A total of {order.totals.total} {order.currency} cannot be paid by card.",
            {"status": order.status, "reason": "amount"},
        ) from None
    held = orders.attach_payment_intent(order, intent.id, replacing)
    if held == intent.id:
        return intent
    # A concurrent attempt stored its own intent first (localstripe ignores idempotency keys): ours
    # is cancelled before anything could confirm it, and the order's is used.
    _cancel(account, order, intent.id)
    _require_payable(order)
    return account.retrieve_intent(held)


def _confirm(account: Gateway, order: OrderModel, intent_id: str, payment_method: str) -> Intent:
    """Put the card on the intent and confirm it.

    Keyed by order and card: a retry with the same card replays Stripe's answer, another card is a
    new attempt. A decline leaves the intent waiting for another card.
    """
    attempt = f"{intent_id}/{payment_method}"
    try:
        assert order.stripe_customer_id is not None  # _require_the_orders_card
        account.attach_card(intent_id, payment_method, order.stripe_customer_id, _key(order, f"card/{attempt}"))
        return account.confirm_intent(intent_id, _key(order, f"confirm/{attempt}"))
    except gateway.CardDeclined as declined:
        logger.info("Card declined", order_id=order.order_id, code=declined.decline_code)
        raise PaymentFailed(declined.message, {"decline_code": declined.decline_code}) from None
    except gateway.PaymentMethodUnusable:
        raise BadRequest.for_field("payment_method", "Not a usable PaymentMethod.") from None
    except gateway.IntentMovedOn as moved:
        # A concurrent attempt confirmed it meanwhile: answer what it is now.
        logger.info("Intent changed during confirmation", order_id=order.order_id, error=str(moved))
        return account.retrieve_intent(intent_id)


def _outcome(tenant_id: str, order: OrderModel, intent: Intent) -> Payment:
    if intent.status == "succeeded":
        settled = settle(tenant_id, order.order_id, intent.id)
        if settled.status != OrderStatus.PAID:
            _require_payable(settled)  # paid after the hold lapsed and the units were gone: refunded
            raise PaymentFailed("That payment was refunded; please pay again.", {"intent_status": "refunded"})
        return Payment(settled, "succeeded")
    if intent.status == "requires_action":
        return Payment(order, "requires_action", intent.client_secret)
    if intent.status == "processing":
        return Payment(order, "processing")
    # Canceled (the hold lapsed or the order was cancelled meanwhile) or waiting for a card again.
    current = orders.get_order(tenant_id, order.order_id, consistent=True)
    _require_payable(current)
    raise PaymentFailed("The payment did not go through, please try again.", {"intent_status": intent.status})


def _cancel(account: Gateway, order: OrderModel, intent_id: str) -> Intent:
    """Cancel an intent; one that a concurrent request moved on meanwhile (cancelled it, or it
    succeeded) cannot be, and is answered as it is now."""
    try:
        return account.cancel_intent(intent_id, _key(order, f"cancel/{intent_id}"))
    except gateway.IntentMovedOn:
        intent = account.retrieve_intent(intent_id)
        if intent.status in FINAL_OR_MOVING:
            return intent
        raise


def _refund_intent(account: Gateway, order: OrderModel, intent_id: str | None = None) -> None:
    """Refund a payment of the order (its intent's unless named) in full, once: what Stripe has refunded
    already (an earlier attempt that failed after Stripe acted, a partial refund made in its dashboard)
    counts, and only the rest is refunded."""
    intent_id = intent_id or order.payment_intent_id
    assert intent_id is not None
    paid = minor_units(order.totals.total, order.currency)
    rest = paid - sum(refund.amount for refund in account.refunds(intent_id) if refund.status in REFUND_COUNTS)
    if rest <= 0:
        return
    key = _key(order, f"refund/{intent_id}/{rest}")
    account.create_refund(intent_id, rest if rest < paid else None, _metadata(order), key)


def _refunded_at_all(tenant_id: str, intent_id: str) -> bool:
    refunds = gateway.connect(tenant_id).refunds(intent_id)
    return any(refund.status in REFUND_COUNTS for refund in refunds)


def _refund_late(tenant_id: str, order: OrderModel, reason: str) -> OrderModel:
    """A payment that came after the order ended (lapsed hold and no stock left, or cancelled): refund it."""
    logger.info("Late payment refunded", order_id=order.order_id, reason=reason)
    _refund_intent(gateway.connect(tenant_id), order)
    return record_refund(order, reason)


def _metadata(order: OrderModel) -> dict[str, str]:
    """What every object made at Stripe for an order carries: the webhook trusts nothing else."""
    return {"tenant_id": order.tenant_id, "order_id": order.order_id}


def _key(order: OrderModel, step: str) -> str:
    return f"cartwise/{order.tenant_id}/{order.order_id}/{step}"
