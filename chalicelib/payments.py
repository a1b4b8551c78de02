"""Card payments through Stripe: pay, the webhook, cancel, refund and the hold sweeper around them.

The shopper's browser turns the card into a PaymentMethod with Stripe.js; this module confirms the
order's one PaymentIntent for the order's exact total on the server. Stripe's answer, the signed
webhook and the sweeper all end in the same status-conditioned transitions of chalicelib/orders.py,
so whichever arrives first records the payment and the others find it done.

Never two charges for one order: an order is only ever confirmed through the PaymentIntent stored
on it (set once), and a PaymentIntent succeeds at most once. Every Stripe write carries an
idempotency key derived from the order, so a retried request replays Stripe's first answer.
Stripe timing out or failing answers 503 with the order unchanged. See
docs/decisions/0018-card-payments.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from pynamodb.exceptions import PutError

from chalicelib import clients, contention, orders
from chalicelib.config import get_settings
from chalicelib.errors import (
    BadRequest,
    NotFound,
    OrderNotCancellable,
    OrderNotPayable,
    OrderNotRefundable,
    PaymentFailed,
    Unavailable,
)
from chalicelib.models import IdempotencyKeyModel, OrderModel
from chalicelib.observability import logger
from chalicelib.orders import Moved
from chalicelib.tenants import Tenant

# Secrets are read from SSM at most this often per warm function: a rotated key is used within
# five minutes, and a payment does not pay an SSM round trip.
SECRET_MAX_AGE_SECONDS = 300
# Stripe retries a webhook for up to three days; a processed event id is remembered a little longer.
EVENT_MEMORY = timedelta(days=4)
SETTLE_ATTEMPTS = 6
# Currencies Stripe counts in whole units (no minor unit); every other one has 100 minor units.
ZERO_DECIMAL_CURRENCIES = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"}
)
HANDLED_EVENTS = frozenset({"payment_intent.succeeded"})
# Intent statuses a cancel cannot (and need not) change.
FINAL_OR_MOVING = ("succeeded", "canceled", "processing")


@dataclass(frozen=True)
class Payment:
    """What a payment attempt came to: the order as it is now and Stripe's word on the intent."""

    order: OrderModel
    status: str  # "succeeded", "requires_action" or "processing"
    client_secret: str | None = None  # for Stripe.js to finish 3-D Secure (requires_action only)


def minor_units(amount: Decimal, currency: str) -> int:
    """The amount in the currency's minor units, as Stripe counts it (EUR 193.30 → 19330)."""
    scaled = amount if currency.upper() in ZERO_DECIMAL_CURRENCIES else amount * 100
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} {currency} is not a whole number of minor units")
    return int(scaled)


def pay(tenant: Tenant, order_id: str, payment_method: str) -> Payment:
    """Confirm the order's PaymentIntent with the shopper's PaymentMethod (pm_…).

    Paid already → answered as it is. Expired, cancelled, refunded or its hold lapsed → 409
    ORDER_NOT_PAYABLE. Declined → 402 PAYMENT_FAILED, the order still payable with another card.
    3-D Secure → requires_action and the client secret for Stripe.js.
    """
    order = orders.get_order(tenant.tenant_id, order_id, consistent=True)
    if order.status == "paid":
        return Payment(order, "succeeded")
    if not order.payment_intent_id:
        _require_payable(order)  # nothing at Stripe yet: what cannot be paid never reaches it
    with _stripe_errors():
        stripe = _client(tenant.tenant_id)
        current = stripe.v1.payment_intents.retrieve(order.payment_intent_id) if order.payment_intent_id else None
        # Stripe's word first: a shopper who finished paying just as the hold lapsed is answered with
        # the payment (recorded now, or refunded if the units were gone), not told to pay again.
        if current is None or current.status != "succeeded":
            _require_payable(order)
            intent = _intent_of(stripe, order, current)
            if intent.status in ("requires_payment_method", "requires_confirmation"):
                intent = _confirm(stripe, order, intent.id, payment_method)
        else:
            intent = current
    return _outcome(tenant.tenant_id, order, intent)


def start_card_setup(tenant: Tenant, order_id: str, attempt: str) -> str:
    """A SetupIntent's client secret, for Stripe.js to turn the shopper's card into a PaymentMethod.

    Stripe.js's confirmCardSetup is the card-to-PaymentMethod step that both Stripe and localstripe
    implement (localstripe has no createPaymentMethod; decision 0018). One per card attempt, keyed by
    the order and the attempt id the browser sends, so a retried request gets the same one.
    """
    order = orders.get_order(tenant.tenant_id, order_id, consistent=True)
    _require_payable(order)
    with _stripe_errors():
        setup = _client(tenant.tenant_id).v1.setup_intents.create(
            {
                "usage": "on_session",
                "payment_method_types": ["card"],
                "metadata": {"tenant_id": order.tenant_id, "order_id": order.order_id},
            },
            {"idempotency_key": _key(order, f"setup/{attempt}")},
        )
    return str(setup.client_secret)


def cancel(tenant: Tenant, order_id: str) -> OrderModel:
    """Cancel an order (shopper with its token, or an admin): its PaymentIntent first, then its hold.

    An intent that succeeded meanwhile cannot be cancelled: the payment is recorded and the answer
    is 409 ORDER_NOT_CANCELLABLE (refund instead).
    """
    order = orders.get_order(tenant.tenant_id, order_id, consistent=True)
    if order.status == "pending_payment" and order.payment_intent_id:
        with _stripe_errors():
            intent = _cancel_intent(_client(tenant.tenant_id), order)
        if intent.status == "succeeded":
            settled = settle(tenant.tenant_id, order.order_id, intent)
            raise OrderNotCancellable(
                f"Order {order_id!r} is {settled.status} and cannot be cancelled.", {"status": settled.status}
            )
    return orders.cancel(tenant.tenant_id, order_id)


def refund(tenant: Tenant, order_id: str) -> OrderModel:
    """Refund a paid order in full (admin): Stripe refund first, then its units back on sale."""
    order = orders.get_order(tenant.tenant_id, order_id, consistent=True)
    if order.status == "refunded":
        return order
    if order.status != "paid" or not order.payment_intent_id:
        raise OrderNotRefundable(
            f"Order {order_id!r} is {order.status}; only a paid order can be refunded.", {"status": order.status}
        )
    with _stripe_errors():
        _refund_intent(_client(tenant.tenant_id), order)
    return _record_refund(order, "requested_by_admin")


def settle(tenant_id: str, order_id: str, intent: Any) -> OrderModel:
    """Record that the order's PaymentIntent succeeded (Stripe's answer, the webhook or the sweeper).

    Exactly once whoever comes first. A payment that succeeded after the hold lapsed takes its units
    from stock again if they are there; else, or when the shopper had cancelled, it is refunded.
    """
    for attempt in range(SETTLE_ATTEMPTS):
        order = orders.get_order(tenant_id, order_id, consistent=True)
        if order.payment_intent_id != intent.id:
            # Not this order's intent (a duplicate a racing request cancelled): it is never charged.
            logger.warning("Payment for another intent ignored", order_id=order_id, intent=intent.id)
            return order
        if order.status in ("paid", "refunded"):
            return order
        if order.status == "cancelled":
            return _refund_late(tenant_id, order, "order_cancelled")
        moved = orders.mark_paid(order)
        if moved is Moved.DONE:
            logger.info("Order paid", order_id=order_id, status=order.status)
            return order
        if moved is Moved.SHORT:
            return _refund_late(tenant_id, order, "stock_released")
        contention.pause(attempt)  # changed meanwhile (expired, cancelled) or a conflict: read again
    raise Unavailable("The order is being changed concurrently, please retry.")


def handle_webhook(tenant: Tenant, payload: bytes | str, signature: str | None) -> str:
    """Verify and apply one Stripe event sent to this tenant's endpoint; returns what was done.

    The signature must be this tenant's signing secret's (else 400). An event is applied once (its
    id is remembered), and only to an order of this tenant that holds the event's PaymentIntent:
    metadata naming another tenant, another order or another intent changes nothing.
    """
    import stripe as stripe_sdk

    if tenant.payment_mode != "stripe":
        raise BadRequest("This shop takes no card payments.")
    secret = _secret(tenant.tenant_id, "webhook_secret")
    try:
        event = stripe_sdk.Webhook.construct_event(payload, signature or "", secret)
    except (ValueError, stripe_sdk.SignatureVerificationError):
        raise BadRequest("The Stripe signature does not match this tenant's webhook secret.") from None
    if event.type not in HANDLED_EVENTS:
        return "ignored"
    if _seen(tenant.tenant_id, event.id):
        return "duplicate"
    intent = event.data.object
    metadata = intent.metadata.to_dict() if intent.metadata else {}
    if metadata.get("tenant_id") != tenant.tenant_id or not metadata.get("order_id"):
        logger.warning("Webhook for another tenant's payment ignored", event_id=event.id)
        return "ignored"
    try:
        settle(tenant.tenant_id, metadata["order_id"], intent)
    except NotFound:
        logger.warning("Webhook for an unknown order ignored", event_id=event.id)
        return "ignored"
    _remember(tenant.tenant_id, event.id, event.type)
    return "applied"


def sweep_lapsed_holds(now: datetime | None = None, max_pages: int = 10) -> int:
    """The sweeper's run (every minute in the cloud, every few seconds with `make run`): expire every
    lapsed hold, cancelling its PaymentIntent first; returns how many orders expired.

    An intent that succeeded after all is recorded as paid instead. When Stripe cannot be reached the
    hold still lapses (stock must not stay locked by an outage): a payment that completes later is
    taken back into stock or refunded by `settle`.
    """
    expired = 0
    for _ in range(max_pages):
        cutoff = now or datetime.now(UTC)
        page = orders.lapsed_holds(cutoff)
        for order in page:
            if order.payment_intent_id and _paid_meanwhile(order):
                continue
            expired += orders.expire(order, cutoff)
        if len(page) < orders.SWEEP_PAGE:
            break
    if expired:
        logger.info("Lapsed holds expired", orders=expired)
    return expired


def _paid_meanwhile(order: OrderModel) -> bool:
    """Cancel a lapsed order's intent; True when it had succeeded (and the order is now recorded as paid)."""
    try:
        with _stripe_errors():
            intent = _cancel_intent(_client(order.tenant_id), order)
    except Unavailable:
        logger.warning("Intent of a lapsed hold not cancelled", order_id=order.order_id)
        return False
    if intent.status != "succeeded":
        return False
    settle(order.tenant_id, order.order_id, intent)
    return True


def _require_payable(order: OrderModel) -> None:
    lapsed = order.hold_expires_at is not None and order.hold_expires_at <= datetime.now(UTC)
    if order.status != "pending_payment" or lapsed:
        status = "expired" if order.status == "pending_payment" else order.status
        raise OrderNotPayable(f"Order {order.order_id!r} is {status} and cannot be paid.", {"status": status})


def _intent_of(stripe: Any, order: OrderModel, intent: Any) -> Any:
    """The order's PaymentIntent (`intent`, as just retrieved): created on its first payment attempt,
    then the same one, unless it is spent (declined at charge, or cancelled) and replaced."""
    if intent is None:
        return _new_intent(stripe, order, "intent", replacing=None)
    declined = intent.status == "requires_payment_method" and intent.latest_charge is not None
    if declined or intent.status == "canceled":
        # localstripe cannot confirm an intent again after a declined charge (Stripe can); a fresh
        # intent works on both, and the spent one can never succeed, so one charge at most holds.
        if intent.status != "canceled":
            _cancel(stripe, order, intent.id)
        return _new_intent(stripe, order, f"intent/after/{intent.id}", replacing=intent.id)
    return intent


def _new_intent(stripe: Any, order: OrderModel, key: str, replacing: str | None) -> Any:
    intent = stripe.v1.payment_intents.create(
        {
            "amount": minor_units(order.totals.total, order.currency),
            "currency": order.currency.lower(),
            "payment_method_types": ["card"],
            "metadata": {"tenant_id": order.tenant_id, "order_id": order.order_id},
        },
        {"idempotency_key": _key(order, key)},
    )
    held = orders.attach_payment_intent(order, intent.id, replacing)
    if held == intent.id:
        return intent
    # A concurrent attempt stored its own intent first (localstripe ignores idempotency keys): ours
    # is cancelled before anything could confirm it, and the order's is used.
    _cancel(stripe, order, intent.id)
    _require_payable(order)
    return stripe.v1.payment_intents.retrieve(held)


def _confirm(stripe: Any, order: OrderModel, intent_id: str, payment_method: str) -> Any:
    """Put the card on the intent and confirm it (two calls: localstripe's confirm takes no card).

    Keyed by order and card: a retry with the same card replays Stripe's answer, another card is a
    new attempt. A decline leaves the intent waiting for another card.
    """
    import stripe as stripe_sdk

    attempt = f"{intent_id}/{payment_method}"
    try:
        stripe.v1.payment_intents.update(
            intent_id, {"payment_method": payment_method}, {"idempotency_key": _key(order, f"card/{attempt}")}
        )
        confirm_key = _key(order, f"confirm/{attempt}")
        return stripe.v1.payment_intents.confirm(intent_id, options={"idempotency_key": confirm_key})
    except stripe_sdk.CardError as exc:
        logger.info("Card declined", order_id=order.order_id, code=exc.code)
        raise PaymentFailed(
            exc.user_message or "The card was declined.", {"decline_code": exc.code or "card_declined"}
        ) from None
    except stripe_sdk.InvalidRequestError as exc:
        if exc.param == "payment_method" or exc.code == "resource_missing" or exc.http_status == 404:
            raise BadRequest.for_field("payment_method", "Not a usable PaymentMethod.") from None
        # The intent moved on meanwhile (a concurrent attempt confirmed it): answer what it is now.
        logger.info("Intent changed during confirmation", order_id=order.order_id, error=str(exc))
        return stripe.v1.payment_intents.retrieve(intent_id)


def _outcome(tenant_id: str, order: OrderModel, intent: Any) -> Payment:
    if intent.status == "succeeded":
        settled = settle(tenant_id, order.order_id, intent)
        if settled.status != "paid":  # paid after the hold lapsed and the units were gone: refunded
            _require_payable(settled)
        return Payment(settled, "succeeded")
    if intent.status == "requires_action":
        return Payment(order, "requires_action", intent.client_secret)
    if intent.status == "processing":
        return Payment(order, "processing")
    # Canceled (the hold lapsed or the order was cancelled meanwhile) or waiting for a card again.
    current = orders.get_order(tenant_id, order.order_id, consistent=True)
    _require_payable(current)
    raise PaymentFailed("The payment did not go through, please try again.", {"intent_status": intent.status})


def _cancel_intent(stripe: Any, order: OrderModel) -> Any:
    """Cancel the order's intent unless it succeeded or is cancelled already; returns it as it is now."""
    intent = stripe.v1.payment_intents.retrieve(order.payment_intent_id)
    if intent.status in FINAL_OR_MOVING:
        return intent
    return _cancel(stripe, order, intent.id)


def _cancel(stripe: Any, order: OrderModel, intent_id: str) -> Any:
    """Cancel an intent; one that a concurrent request moved on meanwhile (cancelled it, or it
    succeeded) cannot be, and is answered as it is now."""
    import stripe as stripe_sdk

    try:
        return stripe.v1.payment_intents.cancel(
            intent_id, options={"idempotency_key": _key(order, f"cancel/{intent_id}")}
        )
    except stripe_sdk.InvalidRequestError:
        intent = stripe.v1.payment_intents.retrieve(intent_id)
        if intent.status in FINAL_OR_MOVING:
            return intent
        raise


def _refund_intent(stripe: Any, order: OrderModel) -> None:
    """Refund the order's payment in full, once: an existing refund (an earlier attempt) is reused."""
    existing = stripe.v1.refunds.list({"payment_intent": order.payment_intent_id, "limit": 10})
    if any(refund.status in ("succeeded", "pending") for refund in existing.data):
        return
    stripe.v1.refunds.create(
        {
            "payment_intent": order.payment_intent_id,
            "metadata": {"tenant_id": order.tenant_id, "order_id": order.order_id},
        },
        {"idempotency_key": _key(order, "refund")},
    )


def _refund_late(tenant_id: str, order: OrderModel, reason: str) -> OrderModel:
    """A payment that came after the order ended (lapsed hold and no stock left, or cancelled): refund it."""
    logger.info("Late payment refunded", order_id=order.order_id, reason=reason)
    with _stripe_errors():
        _refund_intent(_client(tenant_id), order)
    return _record_refund(order, reason)


def _record_refund(order: OrderModel, reason: str) -> OrderModel:
    for attempt in range(SETTLE_ATTEMPTS):
        if orders.mark_refunded(order, reason) is Moved.DONE:
            return order
        contention.pause(attempt)
        order = orders.get_order(order.tenant_id, order.order_id, consistent=True)
        if order.status == "refunded":
            return order
    raise Unavailable("The order is being changed concurrently, please retry.")


def _key(order: OrderModel, step: str) -> str:
    return f"cartwise/{order.tenant_id}/{order.order_id}/{step}"


def _client(tenant_id: str) -> Any:
    return clients.stripe(_secret(tenant_id, "secret_key"), get_settings().stripe_api_base)


def _secret(tenant_id: str, name: str) -> str:
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    parameter = get_settings().stripe_parameter(tenant_id, name)
    try:
        return str(clients.parameters().get(parameter, decrypt=True, max_age=SECRET_MAX_AGE_SECONDS))
    except GetParameterError as exc:
        # A card tenant without its secrets is a configuration fault, not the shopper's: retry later.
        logger.error("Stripe secret not readable", parameter=parameter, error=repr(exc))
        raise Unavailable("Card payments are not available right now, please retry shortly.") from None


@contextmanager
def _stripe_errors() -> Iterator[None]:
    """Stripe unreachable, throttling, failing or rejecting our key: 503 with Retry-After, nothing changed."""
    import stripe as stripe_sdk

    try:
        yield
    except (stripe_sdk.APIConnectionError, stripe_sdk.RateLimitError, stripe_sdk.APIError) as exc:
        logger.warning("Stripe unavailable", error=type(exc).__name__)
        raise Unavailable("The payment provider is unavailable, please retry shortly.") from None
    except (stripe_sdk.AuthenticationError, stripe_sdk.PermissionError) as exc:
        logger.error("Stripe refused this tenant's key", error=type(exc).__name__)
        raise Unavailable("Card payments are not available right now, please retry shortly.") from None


def _seen(tenant_id: str, event_id: str) -> bool:
    try:
        IdempotencyKeyModel.get(tenant_id, f"stripe_event#{event_id}", consistent_read=True)
    except IdempotencyKeyModel.DoesNotExist:
        return False
    return True


def _remember(tenant_id: str, event_id: str, event_type: str) -> None:
    now = datetime.now(UTC)
    record = IdempotencyKeyModel(
        tenant_id, f"stripe_event#{event_id}", fingerprint=event_type, created_at=now, expires_at=now + EVENT_MEMORY
    )
    try:
        record.save(condition=IdempotencyKeyModel.idempotency_key.does_not_exist())
    except PutError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
