"""Stripe's events, sent to each tenant's own endpoint: verified, applied once, read defensively.

Each handled event type has its handler in HANDLERS; every other type is acknowledged and ignored.
A handler answers "applied" or why it ignored the event. An event only says which object changed:
what it changed to is read back from Stripe with the tenant's key (a signed "succeeded" is not a
payment until Stripe says so when asked). Stripe refusing what an event leads to (the refund of a
late payment whose charge is disputed, say) is logged and acknowledged as "refused", never a 500
that Stripe would retry for three days.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib import idempotency, orders
from chalicelib.errors import BadRequest, NotFound
from chalicelib.ids import is_ulid
from chalicelib.lifecycle import OrderStatus
from chalicelib.models import OrderModel, PaymentDispute, RefundFailure
from chalicelib.observability import logger
from chalicelib.payments import gateway, service
from chalicelib.payments.amounts import minor_units
from chalicelib.tenants import Tenant

# Stripe retries a webhook for up to three days; an applied event's id is remembered a little longer.
EVENT_MEMORY = timedelta(days=4)
# The refund reason of an order refunded outside the shop (Stripe's dashboard, say; decision 21).
REFUNDED_AT_STRIPE = "refunded_at_stripe"


def handle_webhook(tenant: Tenant, payload: bytes | str, signature: str | None) -> str:
    """Verify and apply one Stripe event sent to this tenant's endpoint; returns what was done.

    The signature must be this tenant's signing secret's (else 400). An event is applied once (its
    id is remembered), and only to an order of this tenant that holds the event's PaymentIntent:
    metadata naming another tenant, another order or another intent changes nothing.
    """
    # A shop that never took cards has no secret; one that stopped keeps its secret, so late
    # payments of its last card orders are still recorded or refunded.
    secret = gateway.secret(tenant.tenant_id, "webhook_secret", required=tenant.payment_mode == "stripe")
    if secret is None:
        raise BadRequest("This shop takes no card payments.")
    try:
        event = gateway.verify_event(payload, signature, secret)
    except gateway.BadSignature:
        raise BadRequest("The Stripe signature does not match this tenant's webhook secret.") from None
    # Signed by Stripe, but read defensively: anything of another shape is acknowledged and ignored.
    event_id, event_type, subject = _event_fields(event)
    handler = HANDLERS.get(event_type or "")
    if handler is None or event_id is None or subject is None:
        return "ignored"
    delivery = idempotency.KeyUse.of(tenant.tenant_id, "stripe_event", event_id)
    if idempotency.recorded(delivery, datetime.now(UTC)):
        return "duplicate"
    try:
        outcome = handler(tenant, subject)
    except gateway.Refused as refused:
        # Final at Stripe: a redelivery would be refused again. Acknowledged, for an operator to see.
        logger.error("Stripe refused what an event asked", event_id=event_id, event_type=event_type, error=str(refused))
        return "refused"
    if outcome != "applied":
        logger.warning("Stripe event ignored", event_id=event_id, event_type=event_type, reason=outcome)
        return "ignored"
    idempotency.remember(delivery, datetime.now(UTC), EVENT_MEMORY)
    return "applied"


def _payment_succeeded(tenant: Tenant, event_intent: dict[str, Any]) -> str:
    """payment_intent.succeeded: the order is settled once Stripe, asked with the tenant's key, says the
    intent succeeded, for the order's total in its currency, and names this tenant's order in its
    metadata. The event's own copy of the intent is not believed (its status, amount, metadata)."""
    found = _order_of_intent(tenant, event_intent["id"])
    if isinstance(found, str):
        return found
    order, intent = found
    if intent.status != "succeeded":
        return f"a payment Stripe says is {intent.status}, not succeeded"
    charged = (intent.amount, intent.currency)
    if charged != (minor_units(order.totals.total, order.currency), order.currency.lower()):
        logger.warning("Payment of another amount than the order's", order_id=order.order_id, charged=str(charged))
        return "a payment of another amount or currency than the order's total"
    service.settle(tenant.tenant_id, order.order_id, intent.id)
    return "applied"


def _charge_refunded(tenant: Tenant, charge: dict[str, Any]) -> str:
    """charge.refunded: a paid order whose charge was refunded in full at Stripe (its dashboard, say)
    is refunded here too, its units back on sale as the admin refund puts them (decision 21). A
    partial refund leaves the order paid: the shop decides what it means."""
    intent_id = charge.get("payment_intent")
    if charge.get("refunded") is not True or not isinstance(intent_id, str):
        return "not a full refund of a PaymentIntent's charge"
    # The charge's own metadata is not ours to trust; the intent's names the order we created it for.
    found = _order_of_intent(tenant, intent_id)
    if isinstance(found, str):
        return found
    order, intent = found
    order_id = order.order_id
    if order.payment_intent_id != intent_id or intent.status != "succeeded":
        return "not the payment the order holds, or not a payment that went through"
    if order.status != OrderStatus.REFUNDED:
        # Stripe's events may come out of order: the payment is recorded first (paid, or refunded
        # already when it came too late), so a refund never lands on an order not yet paid.
        order = service.settle(tenant.tenant_id, order_id, intent_id)
    if order.status == OrderStatus.PAID:
        service.record_refund(order, REFUNDED_AT_STRIPE)
        logger.info("Order refunded at Stripe", order_id=order_id)
    return "applied"


def _dispute_created(tenant: Tenant, dispute: dict[str, Any]) -> str:
    """charge.dispute.created: the shopper's bank disputes a payment. Noted on the order its intent
    names (read back from Stripe), for the operators to answer at Stripe; the order's status and units
    stay as they are, and an admin refund of it is refused by Stripe (409 REFUND_REFUSED)."""
    found = _order_of_intent(tenant, dispute.get("payment_intent"))
    if isinstance(found, str):
        return found
    order, _ = found
    orders.record_dispute(
        order,
        PaymentDispute(
            dispute_id=dispute["id"],
            reason=_text(dispute.get("reason"), "general"),
            status=_text(dispute.get("status"), "needs_response"),
            amount=_count(dispute.get("amount")),
            disputed_at=_moment(dispute.get("created")),
        ),
    )
    logger.warning("Payment disputed", order_id=order.order_id, dispute_id=dispute["id"])
    return "applied"


def _refund_updated(tenant: Tenant, refund: dict[str, Any]) -> str:
    """charge.refund.updated: a refund that failed after Stripe accepted it (the card was closed, say)
    is noted on the order its intent names, for the operators to pay the shopper back another way.
    The order stays as it is: its units came back when it was refunded."""
    if refund.get("status") != "failed":
        return "not a failed refund"
    found = _order_of_intent(tenant, refund.get("payment_intent"))
    if isinstance(found, str):
        return found
    order, _ = found
    orders.record_refund_failure(
        order,
        RefundFailure(
            refund_id=refund["id"],
            reason=_text(refund.get("failure_reason"), "unknown"),
            amount=_count(refund.get("amount")),
            failed_at=datetime.now(UTC),
        ),
    )
    logger.error("Refund failed at Stripe", order_id=order.order_id, refund_id=refund["id"])
    return "applied"


HANDLERS: dict[str, Callable[[Tenant, dict[str, Any]], str]] = {
    "payment_intent.succeeded": _payment_succeeded,
    "charge.refunded": _charge_refunded,
    "charge.dispute.created": _dispute_created,
    "charge.refund.updated": _refund_updated,
}


def _order_of_intent(tenant: Tenant, intent_id: Any) -> tuple[OrderModel, gateway.Intent] | str:
    """The PaymentIntent as Stripe has it (read with the tenant's key) and this tenant's order its
    metadata names (written by us when we created it); else why the event is ignored."""
    if not isinstance(intent_id, str) or not intent_id:
        return "not about a PaymentIntent"
    try:
        intent = gateway.connect(tenant.tenant_id).retrieve_intent(intent_id)
    except gateway.UnknownIntent:
        return "a payment this tenant's key does not know"  # another account's, or a test one after going live
    order_id = _order_named(tenant, intent.metadata)
    if order_id is None:
        return "another tenant's payment"
    try:
        return orders.get_order(tenant.tenant_id, order_id, consistent=True), intent
    except NotFound:
        return "an unknown order"


def _order_named(tenant: Tenant, metadata: dict[str, Any]) -> str | None:
    """The order id an intent's metadata names when it is this tenant's, else None."""
    order_id = metadata.get("order_id")
    if metadata.get("tenant_id") != tenant.tenant_id or not isinstance(order_id, str) or not is_ulid(order_id):
        return None
    return order_id


def _text(value: Any, default: str) -> str:
    return value if isinstance(value, str) and value else default


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _moment(value: Any) -> datetime:
    """A Stripe timestamp (seconds since the epoch), or now."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            pass
    return datetime.now(UTC)


def _event_fields(event: Any) -> tuple[str | None, str | None, dict[str, Any] | None]:
    """The event's id, type and object (a PaymentIntent, a Charge), each None when not of the expected shape."""
    if not isinstance(event, dict):
        return None, None, None
    event_id, event_type, data = event.get("id"), event.get("type"), event.get("data")
    subject = data.get("object") if isinstance(data, dict) else None
    valid_subject = (
        isinstance(subject, dict) and isinstance(subject.get("id"), str) and isinstance(subject.get("metadata"), dict)
    )
    return (
        event_id if isinstance(event_id, str) else None,
        event_type if isinstance(event_type, str) else None,
        subject if valid_subject else None,
    )
