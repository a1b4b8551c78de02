"""The `Gateway` of chalicelib/payments/gateway.py on Stripe's official SDK: the one module that
imports `stripe`, loaded on a tenant's first payment call.

Stripe's errors become the gateway's: unreachable, throttling, failing or refusing our key →
`Unavailable` (503); a declined card, an unusable PaymentMethod, a refused amount, an unknown or
moved-on intent → the gateway's refusals; any other refusal → `Refused`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import stripe

from chalicelib.errors import Unavailable
from chalicelib.observability import logger
from chalicelib.payments.gateway import (
    AmountRefused,
    BadSignature,
    CardDeclined,
    Intent,
    IntentMovedOn,
    PaymentMethodUnusable,
    Refund,
    Refused,
    UnknownIntent,
)

# Stripe calls sit on the shopper's payment request, a few in a row: a confirmation takes a second
# or two at Stripe, and the whole request must end within the function's 15 s. One network retry
# is safe because every Stripe write carries an idempotency key.
TIMEOUT_SECONDS = (2.0, 4.0)  # connect, read
NETWORK_RETRIES = 1


@lru_cache(maxsize=16)
def client(secret_key: str, api_base: str | None) -> stripe.StripeClient:
    """A StripeClient for one account; `api_base` points it at localstripe under `make run` and in tests."""
    return stripe.StripeClient(
        secret_key,
        base_addresses={"api": api_base} if api_base else None,
        max_network_retries=NETWORK_RETRIES,
        http_client=stripe.RequestsClient(timeout=TIMEOUT_SECONDS),
    )


class StripeGateway:
    def __init__(self, secret_key: str, api_base: str | None) -> None:
        self.stripe = client(secret_key, api_base)

    def retrieve_intent(self, intent_id: str) -> Intent:
        with _errors():
            try:
                return _intent(self.stripe.v1.payment_intents.retrieve(intent_id))
            except stripe.InvalidRequestError as exc:
                raise UnknownIntent(str(exc)) from None

    def create_intent(self, amount: int, currency: str, metadata: dict[str, str], key: str) -> Intent:
        params: Any = {"amount": amount, "currency": currency, "payment_method_types": ["card"], "metadata": metadata}
        with _errors():
            try:
                return _intent(self.stripe.v1.payment_intents.create(params, {"idempotency_key": key}))
            except stripe.InvalidRequestError as exc:
                if exc.param == "amount":
                    raise AmountRefused(str(exc)) from None
                raise Refused(str(exc)) from None

    def payment_method_customer(self, payment_method: str) -> str | None:
        with _errors(), _card_errors():
            customer = self.stripe.v1.payment_methods.retrieve(payment_method).customer
        if not customer:
            return None
        return customer if isinstance(customer, str) else str(customer.id)

    def attach_card(self, intent_id: str, payment_method: str, customer: str, key: str) -> None:
        """Put the card on the intent (localstripe's confirm takes no card), with the customer it was
        set up for: Stripe lets a PaymentMethod saved to a customer be used again only with that customer."""
        with _errors(), _card_errors():
            card: Any = {"payment_method": payment_method, "customer": customer}
            self.stripe.v1.payment_intents.update(intent_id, card, {"idempotency_key": key})

    def confirm_intent(self, intent_id: str, key: str) -> Intent:
        with _errors(), _card_errors():
            return _intent(self.stripe.v1.payment_intents.confirm(intent_id, options={"idempotency_key": key}))

    def cancel_intent(self, intent_id: str, key: str) -> Intent:
        with _errors():
            try:
                return _intent(self.stripe.v1.payment_intents.cancel(intent_id, options={"idempotency_key": key}))
            except stripe.InvalidRequestError as exc:
                raise IntentMovedOn(str(exc)) from None

    def refunds(self, intent_id: str) -> list[Refund]:
        """Every refund of the intent, page by page."""
        with _errors():
            listed = self.stripe.v1.refunds.list({"payment_intent": intent_id, "limit": 100})
            return [Refund(int(refund.amount), str(refund.status)) for refund in listed.auto_paging_iter()]

    def create_refund(self, intent_id: str, amount: int | None, metadata: dict[str, str], key: str) -> None:
        params: Any = {"payment_intent": intent_id, "metadata": metadata} | ({"amount": amount} if amount else {})
        with _errors():
            try:
                self.stripe.v1.refunds.create(params, {"idempotency_key": key})
            except stripe.InvalidRequestError as exc:
                raise Refused(str(exc)) from None

    def create_customer(self, metadata: dict[str, str], key: str) -> str:
        with _errors():
            return str(self.stripe.v1.customers.create({"metadata": metadata}, {"idempotency_key": key}).id)

    def create_setup_intent(self, customer: str, metadata: dict[str, str], key: str) -> str:
        params: Any = {"usage": "on_session", "payment_method_types": ["card"], "customer": customer}
        with _errors():
            setup = self.stripe.v1.setup_intents.create(params | {"metadata": metadata}, {"idempotency_key": key})
        return str(setup.client_secret)


def verify_event(payload: bytes | str, signature: str | None, signing_secret: str) -> object:
    try:
        # Stripe's tolerance: a signed event older than 5 minutes is a replay, not a delivery.
        stripe.WebhookSignature.verify_header(
            payload, signature or "", signing_secret, tolerance=stripe.Webhook.DEFAULT_TOLERANCE
        )
        return json.loads(payload)
    except (ValueError, stripe.SignatureVerificationError):
        raise BadSignature from None


def _intent(intent: Any) -> Intent:
    charge = intent.latest_charge
    metadata = intent.metadata.to_dict() if intent.metadata else {}
    amount, currency = getattr(intent, "amount", None), getattr(intent, "currency", None)
    return Intent(
        id=str(intent.id),
        status=str(intent.status),
        client_secret=intent.client_secret,
        latest_charge=None if charge is None else str(getattr(charge, "id", charge)),
        metadata={str(name): str(value) for name, value in metadata.items()},
        amount=None if amount is None else int(amount),
        currency=None if currency is None else str(currency).lower(),
    )


@contextmanager
def _card_errors() -> Iterator[None]:
    """A card's refusals: declined, or not a PaymentMethod we may use; else the intent moved on."""
    try:
        yield
    except stripe.CardError as exc:
        decline_code = (exc.error.decline_code if exc.error else None) or exc.code or "card_declined"
        raise CardDeclined(decline_code, exc.user_message or "The card was declined.") from None
    except stripe.InvalidRequestError as exc:
        if exc.param == "payment_method" or exc.code == "resource_missing" or exc.http_status == 404:
            raise PaymentMethodUnusable(str(exc)) from None
        raise IntentMovedOn(str(exc)) from None


@contextmanager
def _errors() -> Iterator[None]:
    """Stripe unreachable, throttling, failing or refusing our key: 503 with Retry-After, nothing changed."""
    try:
        yield
    except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as exc:
        logger.warning("Stripe unavailable", error=type(exc).__name__)
        raise Unavailable("The payment provider is unavailable, please retry shortly.") from None
    except (stripe.AuthenticationError, stripe.PermissionError) as exc:
        logger.error("Stripe refused this tenant's key", error=type(exc).__name__)
        raise Unavailable("Card payments are not available right now, please retry shortly.") from None
    except stripe.InvalidRequestError:
        raise  # the call's own handler says what it means
    except stripe.StripeError as exc:
        raise Refused(str(exc)) from None
