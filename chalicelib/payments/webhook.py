"""Stripe's events, sent to each tenant's own endpoint: verified, applied once, read defensively.

Each handled event type has its handler in HANDLERS; every other type is acknowledged and ignored.
A handler answers "applied" or why it ignored the event.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib import idempotency, orders
from chalicelib.errors import BadRequest, NotFound
from chalicelib.ids import is_ulid
from chalicelib.lifecycle import OrderStatus
from chalicelib.observability import logger
from chalicelib.payments import gateway, service
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
    outcome = handler(tenant, subject)
    if outcome != "applied":
        logger.warning("Stripe event ignored", event_id=event_id, event_type=event_type, reason=outcome)
        return "ignored"
    idempotency.remember(delivery, datetime.now(UTC), EVENT_MEMORY)
    return "applied"


def _payment_succeeded(tenant: Tenant, intent: dict[str, Any]) -> str:
    """payment_intent.succeeded: the order its metadata names, of this tenant, is settled."""
    order_id = _order_named(tenant, intent["metadata"])
    if order_id is None:
        return "another tenant's payment"
    try:
        service.settle(tenant.tenant_id, order_id, intent["id"])
    except NotFound:
        return "an unknown order"
    return "applied"


def _charge_refunded(tenant: Tenant, charge: dict[str, Any]) -> str:
    """charge.refunded: a paid order whose charge was refunded in full at Stripe (its dashboard, say)
    is refunded here too, its units back on sale as the admin refund puts them (decision 21). A
    partial refund leaves the order paid: the shop decides what it means."""
    intent_id = charge.get("payment_intent")
    if charge.get("refunded") is not True or not isinstance(intent_id, str):
        return "not a full refund of a PaymentIntent's charge"
    # The charge's own metadata is not ours to trust; the intent's names the order we created it for.
    try:
        intent = gateway.connect(tenant.tenant_id).retrieve_intent(intent_id)
    except gateway.UnknownIntent:
        return "a payment this tenant's key does not know"  # another account's, or a test one after going live
    order_id = _order_named(tenant, intent.metadata)
    if order_id is None:
        return "another tenant's payment"
    try:
        order = orders.get_order(tenant.tenant_id, order_id, consistent=True)
    except NotFound:
        return "an unknown order"
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


HANDLERS: dict[str, Callable[[Tenant, dict[str, Any]], str]] = {
    "payment_intent.succeeded": _payment_succeeded,
    "charge.refunded": _charge_refunded,
}


def _order_named(tenant: Tenant, metadata: dict[str, Any]) -> str | None:
    """The order id an intent's metadata names when it is this tenant's, else None."""
    order_id = metadata.get("order_id")
    if metadata.get("tenant_id") != tenant.tenant_id or not isinstance(order_id, str) or not is_ulid(order_id):
        return None
    return order_id


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
