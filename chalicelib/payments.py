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

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, overload

from chalicelib import clients, contention, idempotency, orders
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
from chalicelib.ids import is_ulid
from chalicelib.models import OrderModel
from chalicelib.observability import logger
from chalicelib.orders import Moved
from chalicelib.tenants import Tenant

# Secrets are read from SSM at most this often per warm function: a rotated key is used within
# five minutes, and a payment does not pay an SSM round trip.
SECRET_MAX_AGE_SECONDS = 300
# Stripe retries a webhook for up to three days; an applied event's id is remembered a little longer.
EVENT_MEMORY = timedelta(days=4)
SETTLE_ATTEMPTS = 6
# A sweep stops this long before its function's time limit: one more order's Stripe calls fit in it.
SWEEP_MARGIN_SECONDS = 10
# A card attempt per SetupIntent: more than this on one order looks like card testing.
MAX_CARD_ATTEMPTS = 10
# Currencies Stripe counts in thousandths; in whole units (the set after); every other one in hundredths.
THREE_DECIMAL_CURRENCIES = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})
# Currencies Stripe counts in whole units (no minor unit); every other one has 100 minor units.
ZERO_DECIMAL_CURRENCIES = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"}
)
HANDLED_EVENTS = frozenset({"payment_intent.succeeded", "charge.refunded"})
# The refund reason of an order refunded outside the shop (Stripe's dashboard, say; decision 21).
REFUNDED_AT_STRIPE = "refunded_at_stripe"
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
    code = currency.upper()
    scaled = amount if code in ZERO_DECIMAL_CURRENCIES else amount * (1000 if code in THREE_DECIMAL_CURRENCIES else 100)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} {currency} is not a whole number of minor units")
    return int(scaled)


def pay(tenant: Tenant, order: OrderModel, payment_method: str) -> Payment:
    """Confirm the order's (as just read, consistently) PaymentIntent with the shopper's PaymentMethod.

    Paid already → answered as it is. Expired, cancelled, refunded or its hold lapsed → 409
    ORDER_NOT_PAYABLE. Declined → 402 PAYMENT_FAILED, the order still payable with another card.
    3-D Secure → requires_action and the client secret for Stripe.js.
    """
    if order.status == "paid":
        return Payment(order, "succeeded")
    with _stripe_errors():
        intent = None
        if order.payment_intent_id:
            intent = _client(tenant.tenant_id).v1.payment_intents.retrieve(order.payment_intent_id)
        # Stripe's word first: a shopper who finished paying just as the hold lapsed is answered with
        # the payment (recorded now, or refunded if the units were gone), not told to pay again.
        if intent is None or intent.status != "succeeded":
            _require_payable(order)  # before anything is created at Stripe
            stripe = _client(tenant.tenant_id)
            intent = _intent_of(stripe, order, intent)
            if intent.status in ("requires_payment_method", "requires_confirmation"):
                intent = _confirm(stripe, order, intent.id, payment_method)
    return _outcome(tenant.tenant_id, order, intent)


def start_card_setup(tenant: Tenant, order: OrderModel, attempt: str) -> str:
    """A SetupIntent's client secret, for Stripe.js to turn the shopper's card into a PaymentMethod.

    Stripe.js's confirmCardSetup is the card-to-PaymentMethod step that both Stripe and localstripe
    implement (localstripe has no createPaymentMethod; decision 0018). One per card attempt, keyed by
    the order and the attempt id the browser sends, so a retried request gets the same one.
    """
    _require_payable(order)
    with _stripe_errors():
        # Ready to call Stripe before the attempt counts: our own outage (a secret unreadable) costs
        # the shopper none of their attempts. A retried attempt id counts once anyway.
        stripe = _client(tenant.tenant_id)
    if not orders.count_card_attempt(order, attempt, MAX_CARD_ATTEMPTS):
        # Card testing: someone trying stolen numbers against one cheap order. The hold lapses as usual.
        raise OrderNotPayable(
            f"Order {order.order_id!r} had {MAX_CARD_ATTEMPTS} card attempts already.",
            {"status": order.status, "reason": "too_many_card_attempts"},
        )
    metadata = {"tenant_id": order.tenant_id, "order_id": order.order_id}
    with _stripe_errors():
        # The card is set up for the order's customer: Stripe lets a PaymentMethod saved to a customer
        # be used again, which the intent's confirmation is (one without a customer may be used once).
        customer = stripe.v1.customers.create({"metadata": metadata}, {"idempotency_key": _key(order, "customer")})
        setup = stripe.v1.setup_intents.create(
            {"usage": "on_session", "payment_method_types": ["card"], "customer": customer.id, "metadata": metadata},
            {"idempotency_key": _key(order, f"setup/{attempt}")},
        )
    return str(setup.client_secret)


def cancel(tenant: Tenant, order: OrderModel) -> OrderModel:
    """Cancel an order (shopper with its token, or an admin): its PaymentIntent first, then its hold.

    An intent that succeeded meanwhile cannot be cancelled: the payment is recorded and the answer
    is 409 ORDER_NOT_CANCELLABLE (refund instead).
    """
    if order.status == "pending_payment" and order.payment_intent_id:
        with _stripe_errors():
            intent = _cancel_intent(_client(tenant.tenant_id), order)
        if intent.status == "succeeded":
            settled = settle(tenant.tenant_id, order.order_id, intent.id)
            raise OrderNotCancellable(
                f"Order {order.order_id!r} is {settled.status} and cannot be cancelled.", {"status": settled.status}
            )
    return orders.cancel(tenant.tenant_id, order.order_id)


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


def settle(tenant_id: str, order_id: str, intent_id: str) -> OrderModel:
    """Record that a PaymentIntent of the order succeeded (Stripe's answer, the webhook or the sweeper).

    Exactly once whoever comes first. A payment that succeeded after the hold lapsed takes its units
    from stock again if they are there; else, or when the shopper had cancelled, it is refunded. A
    succeeded intent the order no longer holds (replaced while a racing request confirmed it) is
    refunded: the order is only ever paid through the intent it holds.
    """
    for attempt in range(SETTLE_ATTEMPTS):
        order = orders.get_order(tenant_id, order_id, consistent=True)
        if order.payment_intent_id != intent_id:
            logger.warning("Payment of a replaced intent refunded", order_id=order_id, intent=intent_id)
            with _stripe_errors():
                _refund_intent(_client(tenant_id), order, intent_id)
            return order
        if order.status in ("paid", "refunded"):
            return order
        if order.status == "cancelled":
            return _refund_late(tenant_id, order, "order_cancelled")
        if order.status == "expired" and _has_refund(tenant_id, intent_id):
            # A late payment refunded at Stripe whose recording failed: finish it, never sell it now.
            return _refund_late(tenant_id, order, "stock_released")
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

    # A shop that never took cards has no secret; one that stopped keeps its secret, so late
    # payments of its last card orders are still recorded or refunded.
    secret = _secret(tenant.tenant_id, "webhook_secret", required=tenant.payment_mode == "stripe")
    if secret is None:
        raise BadRequest("This shop takes no card payments.")
    try:
        # Stripe's tolerance: a signed event older than 5 minutes is a replay, not a delivery.
        stripe_sdk.WebhookSignature.verify_header(
            payload, signature or "", secret, tolerance=stripe_sdk.Webhook.DEFAULT_TOLERANCE
        )
        event = json.loads(payload)
    except (ValueError, stripe_sdk.SignatureVerificationError):
        raise BadRequest("The Stripe signature does not match this tenant's webhook secret.") from None
    # Signed by Stripe, but read defensively: anything of another shape is acknowledged and ignored.
    event_id, event_type, subject = _event_fields(event)
    if event_type not in HANDLED_EVENTS or event_id is None or subject is None:
        return "ignored"
    delivery = idempotency.KeyUse.of(tenant.tenant_id, "stripe_event", event_id)
    if idempotency.recorded(delivery, datetime.now(UTC)):
        return "duplicate"
    if event_type == "charge.refunded":
        outcome = _mirror_refund(tenant, subject)
    else:
        outcome = _settle_from_event(tenant, subject)
    if outcome == "applied":
        idempotency.remember(delivery, datetime.now(UTC), EVENT_MEMORY)
    else:
        logger.warning("Stripe event ignored", event_id=event_id, event_type=event_type, reason=outcome)
    return "applied" if outcome == "applied" else "ignored"


def _settle_from_event(tenant: Tenant, intent: dict[str, Any]) -> str:
    """payment_intent.succeeded: the order its metadata names, of this tenant, is settled."""
    order_id = _order_named(tenant, intent["metadata"])
    if order_id is None:
        return "another tenant's payment"
    try:
        settle(tenant.tenant_id, order_id, intent["id"])
    except NotFound:
        return "an unknown order"
    return "applied"


def _mirror_refund(tenant: Tenant, charge: dict[str, Any]) -> str:
    """charge.refunded: a paid order whose charge was refunded in full at Stripe (its dashboard, say)
    is refunded here too, its units back on sale as the admin refund puts them (decision 21). A
    partial refund leaves the order paid: the shop decides what it means."""
    import stripe as stripe_sdk

    intent_id = charge.get("payment_intent")
    if charge.get("refunded") is not True or not isinstance(intent_id, str):
        return "not a full refund of a PaymentIntent's charge"
    # The charge's own metadata is not ours to trust; the intent's names the order we created it for.
    try:
        with _stripe_errors():
            intent = _client(tenant.tenant_id).v1.payment_intents.retrieve(intent_id)
    except stripe_sdk.InvalidRequestError:
        return "a payment this tenant's key does not know"  # another account's, or a test one after going live
    order_id = _order_named(tenant, intent.metadata.to_dict())
    if order_id is None:
        return "another tenant's payment"
    try:
        order = orders.get_order(tenant.tenant_id, order_id, consistent=True)
    except NotFound:
        return "an unknown order"
    if order.payment_intent_id != intent_id or intent.status != "succeeded":
        return "not the payment the order holds, or not a payment that went through"
    if order.status != "refunded":
        # Stripe's events may come out of order: the payment is recorded first (paid, or refunded
        # already when it came too late), so a refund never lands on an order not yet paid.
        order = settle(tenant.tenant_id, order_id, intent_id)
    if order.status == "paid":
        _record_refund(order, REFUNDED_AT_STRIPE)
        logger.info("Order refunded at Stripe", order_id=order_id)
    return "applied"


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


def sweep_lapsed_holds(now: datetime | None = None, max_pages: int = 10, time_left: float | None = None) -> int:
    """The sweeper's run (every minute in the cloud, every few seconds with `make run`): expire every
    lapsed hold, cancelling its PaymentIntent first; returns how many orders expired.

    An intent that succeeded after all is recorded as paid instead. When Stripe cannot be reached the
    hold still lapses (stock must not stay locked by an outage): a payment that completes later is
    taken back into stock or refunded by `settle`. One order failing is logged and skipped, so it
    never holds back the other tenants' holds; `time_left` (the function's, in seconds) stops the run
    in time, and the next run goes on.
    """
    deadline = time.monotonic() + time_left - SWEEP_MARGIN_SECONDS if time_left is not None else None
    expired = 0
    for _ in range(max_pages):
        cutoff = now or datetime.now(UTC)
        page = orders.lapsed_holds(cutoff)
        for order in page:
            if deadline is not None and time.monotonic() > deadline:
                logger.info("Sweep stopped for time", orders=expired)
                return expired
            try:
                if order.payment_intent_id and _paid_meanwhile(order):
                    continue
                expired += orders.expire(order, cutoff)
            except Exception:  # noqa: BLE001 - logged; the next run tries this order again
                logger.exception("Lapsed hold not expired", tenant_id=order.tenant_id, order_id=order.order_id)
        if len(page) < orders.SWEEP_PAGE:
            break
    if expired:
        logger.info("Lapsed holds expired", orders=expired)
    return expired


def _paid_meanwhile(order: OrderModel) -> bool:
    """Cancel a lapsed order's intent; True when it had succeeded (and the order is now recorded as paid).

    Stripe unreachable, or not knowing the intent (a tenant switched to live keys with test orders
    pending): the hold lapses anyway.
    """
    import stripe as stripe_sdk

    try:
        with _stripe_errors():
            intent = _cancel_intent(_client(order.tenant_id), order)
    except (Unavailable, stripe_sdk.StripeError) as exc:
        logger.warning("Intent of a lapsed hold not cancelled", order_id=order.order_id, error=type(exc).__name__)
        return False
    if intent.status != "succeeded":
        return False
    settle(order.tenant_id, order.order_id, intent.id)
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
            intent = _cancel(stripe, order, intent.id)
            if intent.status in ("succeeded", "processing"):  # a racing request's card went through
                return intent
        return _new_intent(stripe, order, f"intent/after/{intent.id}", replacing=intent.id)
    return intent


def _new_intent(stripe: Any, order: OrderModel, key: str, replacing: str | None) -> Any:
    import stripe as stripe_sdk

    try:
        intent = stripe.v1.payment_intents.create(
            {
                "amount": minor_units(order.totals.total, order.currency),
                "currency": order.currency.lower(),
                "payment_method_types": ["card"],
                "metadata": {"tenant_id": order.tenant_id, "order_id": order.order_id},
            },
            {"idempotency_key": _key(order, key)},
        )
    except (ValueError, stripe_sdk.InvalidRequestError) as exc:
        if isinstance(exc, stripe_sdk.InvalidRequestError) and exc.param != "amount":
            raise
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
        card = {"payment_method": payment_method}
        customer = stripe.v1.payment_methods.retrieve(payment_method).customer
        if customer:  # set up for this order's customer (start_card_setup): the intent must name it too
            card["customer"] = customer
        stripe.v1.payment_intents.update(intent_id, card, {"idempotency_key": _key(order, f"card/{attempt}")})
        confirm_key = _key(order, f"confirm/{attempt}")
        return stripe.v1.payment_intents.confirm(intent_id, options={"idempotency_key": confirm_key})
    except stripe_sdk.CardError as exc:
        decline_code = (exc.error.decline_code if exc.error else None) or exc.code or "card_declined"
        logger.info("Card declined", order_id=order.order_id, code=decline_code)
        raise PaymentFailed(exc.user_message or "The card was declined.", {"decline_code": decline_code}) from None
    except stripe_sdk.InvalidRequestError as exc:
        if exc.param == "payment_method" or exc.code == "resource_missing" or exc.http_status == 404:
            raise BadRequest.for_field("payment_method", "Not a usable PaymentMethod.") from None
        # The intent moved on meanwhile (a concurrent attempt confirmed it): answer what it is now.
        logger.info("Intent changed during confirmation", order_id=order.order_id, error=str(exc))
        return stripe.v1.payment_intents.retrieve(intent_id)


def _outcome(tenant_id: str, order: OrderModel, intent: Any) -> Payment:
    if intent.status == "succeeded":
        settled = settle(tenant_id, order.order_id, intent.id)
        if settled.status != "paid":
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


def _refund_intent(stripe: Any, order: OrderModel, intent_id: str | None = None) -> None:
    """Refund a payment of the order (its intent's unless named) in full, once: what Stripe has refunded
    already (an earlier attempt that failed after Stripe acted, a partial refund made in its dashboard)
    counts, and only the rest is refunded."""
    intent_id = intent_id or order.payment_intent_id
    paid = minor_units(order.totals.total, order.currency)
    rest = paid - sum(int(refund.amount) for refund in _refunds_of(stripe, intent_id))
    if rest <= 0:
        return
    metadata = {"tenant_id": order.tenant_id, "order_id": order.order_id}
    params = {"payment_intent": intent_id, "metadata": metadata} | ({"amount": rest} if rest < paid else {})
    stripe.v1.refunds.create(params, {"idempotency_key": _key(order, f"refund/{intent_id}/{rest}")})


def _refunds_of(stripe: Any, intent_id: str | None) -> list[Any]:
    listed = stripe.v1.refunds.list({"payment_intent": intent_id, "limit": 10})
    return [refund for refund in listed.data if refund.status in ("succeeded", "pending")]


def _has_refund(tenant_id: str, intent_id: str) -> bool:
    with _stripe_errors():
        return bool(_refunds_of(_client(tenant_id), intent_id))


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


@overload
def _secret(tenant_id: str, name: str) -> str: ...
@overload
def _secret(tenant_id: str, name: str, required: bool) -> str | None: ...
def _secret(tenant_id: str, name: str, required: bool = True) -> str | None:
    """A tenant's Stripe secret from SSM (cached); a missing one is None unless `required`."""
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    parameter = get_settings().stripe_parameter(tenant_id, name)
    try:
        return str(clients.parameters().get(parameter, decrypt=True, max_age=SECRET_MAX_AGE_SECONDS))
    except GetParameterError as exc:
        # Powertools wraps botocore's error without `from`; the original is the implicit context.
        if not required and _is_parameter_not_found(exc.__context__):
            return None
        # A card tenant without its secrets is a configuration fault, not the shopper's: retry later.
        logger.error("Stripe secret not readable", parameter=parameter, error=repr(exc))
        raise Unavailable("Card payments are not available right now, please retry shortly.") from None


def _is_parameter_not_found(error: BaseException | None) -> bool:
    from botocore.exceptions import ClientError

    return isinstance(error, ClientError) and error.response.get("Error", {}).get("Code") == "ParameterNotFound"


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
