"""The seam between the payment rules and the payment provider: what they ask of it, in our types.

`connect(tenant_id)` gives the tenant's `Gateway`: Stripe through its SDK (`stripe_gateway`, the
one module that imports `stripe`, loaded on the first payment so cold starts never pay for it).
The test suite puts an in-memory gateway in its place to run every payment rule without a
server; a few tests against localstripe keep the Stripe side honest.

Every call either answers in these types, raises one of the refusals below, or raises
`Unavailable` (503 with Retry-After) when the provider cannot be reached, throttles, fails or
refuses our key, with nothing changed on our side.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, overload

from chalicelib import clients
from chalicelib.config import get_settings
from chalicelib.errors import Unavailable
from chalicelib.observability import logger

# Secrets are read from SSM at most this often per warm function: a rotated key is used within
# five minutes, and a payment does not pay an SSM round trip.
SECRET_MAX_AGE_SECONDS = 300


@dataclass(frozen=True)
class Intent:
    """A PaymentIntent as the rules need it."""

    id: str
    status: str  # Stripe's: requires_payment_method, requires_confirmation, requires_action, processing, ...
    client_secret: str | None = None
    latest_charge: str | None = None  # set once a charge was attempted (a decline leaves one)
    metadata: dict[str, str] = field(default_factory=dict)
    amount: int | None = None  # minor units, as Stripe counts them
    currency: str | None = None  # lowercase, as Stripe spells it


@dataclass(frozen=True)
class Refund:
    amount: int  # minor units
    status: str  # pending, succeeded, failed, canceled, requires_action


class Refused(Exception):
    """The provider refused a request for a reason a retry will not change (a refund of a disputed
    charge, say): 409 on an admin's request, an acknowledged and logged outcome on a webhook."""


class CardDeclined(Refused):
    def __init__(self, decline_code: str, message: str) -> None:
        super().__init__(message)
        self.decline_code = decline_code
        self.message = message


class PaymentMethodUnusable(Refused):
    """Not a PaymentMethod this account knows, or not one it may use."""


class AmountRefused(Refused):
    """Below the provider's minimum charge, above its maximum, or not whole minor units."""


class UnknownIntent(Refused):
    """No such PaymentIntent on this account (another account's, or a test one after going live)."""


class IntentMovedOn(Refused):
    """The intent changed meanwhile (a concurrent request confirmed or cancelled it): read it again."""


class Gateway(Protocol):
    """One tenant's account at the payment provider. Every write carries an idempotency key."""

    def retrieve_intent(self, intent_id: str) -> Intent: ...
    def create_intent(self, amount: int, currency: str, metadata: dict[str, str], key: str) -> Intent: ...
    # The customer a PaymentMethod is saved to (None: saved to none); PaymentMethodUnusable if unknown.
    def payment_method_customer(self, payment_method: str) -> str | None: ...
    # The card and the customer it is saved to on the intent, ready to confirm.
    def attach_card(self, intent_id: str, payment_method: str, customer: str, key: str) -> None: ...
    def confirm_intent(self, intent_id: str, key: str) -> Intent: ...
    def cancel_intent(self, intent_id: str, key: str) -> Intent: ...
    def refunds(self, intent_id: str) -> list[Refund]: ...
    def create_refund(self, intent_id: str, amount: int | None, metadata: dict[str, str], key: str) -> None: ...
    def create_customer(self, metadata: dict[str, str], key: str) -> str: ...
    def create_setup_intent(self, customer: str, metadata: dict[str, str], key: str) -> str: ...


def connect(tenant_id: str) -> Gateway:
    """The tenant's account at Stripe, with its secret key (from SSM, cached)."""
    from chalicelib.payments import stripe_gateway

    return stripe_gateway.StripeGateway(secret(tenant_id, "secret_key"), get_settings().stripe_api_base)


def verify_event(payload: bytes | str, signature: str | None, signing_secret: str) -> object:
    """The webhook event's JSON when Stripe's signature over it is the tenant's; else BadSignature."""
    from chalicelib.payments import stripe_gateway

    return stripe_gateway.verify_event(payload, signature, signing_secret)


class BadSignature(Exception):
    """Not signed with this tenant's webhook secret, too old to be a delivery, or not JSON."""


@overload
def secret(tenant_id: str, name: str) -> str: ...
@overload
def secret(tenant_id: str, name: str, required: bool) -> str | None: ...
def secret(tenant_id: str, name: str, required: bool = True) -> str | None:
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
