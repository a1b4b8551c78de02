"""An in-memory Stripe behind the payments gateway seam (chalicelib/payments/gateway.py), so every
payment rule runs in `make test-fast` with no server.

It keeps what the rules rely on from Stripe, as localstripe and Stripe answer it (the contract tests
in tests/stack/test_stripe_contract.py run the same tests against localstripe):
- each tenant's account sees only its own objects (another account's intent is unknown);
- a PaymentIntent moves requires_payment_method → requires_confirmation → succeeded, or
  requires_action (3-D Secure) until the browser finishes, or back to requires_payment_method
  with its charge kept when the card is declined; succeeded and canceled intents cannot be
  cancelled; refunds never exceed what was charged;
- a card is saved to a customer by confirming a SetupIntent of that customer with it (what Stripe.js's
  confirmCardSetup does in the browser, `save_card` here); a card saved to one customer cannot be
  put on an intent for another;
- a disputed charge cannot be refunded (Stripe's `charge_disputed`, a refusal for good); a refund
  can fail afterwards (`fail_refund`: Stripe's refund status `failed`, which no longer counts);
- creates honour idempotency keys (a retried key answers the first result), as Stripe does and
  localstripe does not;
- the test cards: `pays`, `declined`, `3ds`; `pm_card_visa` pays too.

Gaps, on purpose: no pagination (the gateway's `refunds` is the whole list; stripe_gateway.py pages
through Stripe's), no rate limits, and a 3-D Secure card is saved at setup without a challenge
(Stripe challenges it there too). `latency` (seconds, 0 by default) is slept before every call, as a
Stripe round trip would take; `calls` counts them by account and method and `log` lists them in turn,
for the sweeper's figures and its order.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from chalicelib.errors import Unavailable
from chalicelib.payments import gateway
from chalicelib.payments.gateway import Intent, Refund

KINDS = ("pays", "declined", "3ds")


@dataclass
class StoredRefund:
    id: str
    amount: int
    status: str = "succeeded"
    failure_reason: str | None = None

    def view(self) -> Refund:
        return Refund(self.amount, self.status)


@dataclass
class StoredIntent:
    id: str
    account: str
    amount: int
    currency: str
    metadata: dict[str, str]
    status: str = "requires_payment_method"
    payment_method: str | None = None
    customer: str | None = None
    latest_charge: str | None = None
    disputed: bool = False
    refunds: list[StoredRefund] = field(default_factory=list)

    @property
    def client_secret(self) -> str:
        return f"{self.id}_secret_fake"

    def view(self) -> Intent:
        return Intent(
            self.id,
            self.status,
            self.client_secret,
            self.latest_charge,
            dict(self.metadata),
            self.amount,
            self.currency,
        )

    def as_stripe(self) -> dict[str, Any]:
        """The intent as Stripe's API (and its webhook events) spell it."""
        return {
            "id": self.id,
            "object": "payment_intent",
            "amount": self.amount,
            "currency": self.currency,
            "status": self.status,
            "metadata": dict(self.metadata),
            "latest_charge": self.latest_charge,
            "client_secret": self.client_secret,
            "customer": self.customer,
        }


class FakeStripe:
    """Every tenant's Stripe account in memory; `connect` is what replaces `gateway.connect`."""

    def __init__(self, latency: float = 0.0) -> None:
        self.intents: dict[str, StoredIntent] = {}
        self.payment_methods: dict[str, str] = {"pm_card_visa": "pays"}  # id -> kind
        self.saved_to: dict[str, str] = {}  # payment method -> the customer it is saved to
        self.setups: dict[str, dict[str, Any]] = {}
        self.customers: dict[str, dict[str, str]] = {}
        self.created: dict[tuple[str, str], Any] = {}  # (account, idempotency key) -> first result
        self.down = False
        self.latency = latency
        self.calls: Counter[tuple[str, str]] = Counter()  # (account, method) -> calls
        self.log: list[tuple[str, str, str]] = []  # (account, method, the object's id) in the order made
        self.lock = threading.RLock()
        self._ids = itertools.count(1)

    def new_id(self, prefix: str) -> str:
        with self.lock:
            return f"{prefix}_fake{next(self._ids):06d}"

    def connect(self, tenant_id: str) -> FakeAccount:
        gateway.secret(tenant_id, "secret_key")  # a tenant's key is still read: an unreadable one is our outage
        return FakeAccount(self, tenant_id)

    def card(self, kind: str) -> str:
        assert kind in KINDS, kind
        payment_method = self.new_id("pm")
        self.payment_methods[payment_method] = kind
        return payment_method

    def save_card(self, payment_method: str, setup_client_secret: str) -> None:
        """Stripe.js's confirmCardSetup: the card saved to the SetupIntent's customer."""
        with self.lock:
            setup = self.setups[setup_client_secret.split("_secret_")[0]]
            assert payment_method in self.payment_methods, payment_method
            assert self.saved_to.get(payment_method, setup["customer"]) == setup["customer"], "saved to another"
            self.saved_to[payment_method] = setup["customer"]
            setup["payment_method"], setup["status"] = payment_method, "succeeded"


class FakeAccount:
    """One tenant's account: the `Gateway` the payment rules call."""

    def __init__(self, stripe: FakeStripe, account: str) -> None:
        self.stripe = stripe
        self.account = account

    def _call(self, name: str, about: str = "") -> None:
        """A round trip to Stripe: counted, as slow as `latency`, and refused while Stripe is down."""
        with self.stripe.lock:
            self.stripe.calls[self.account, name] += 1
            self.stripe.log.append((self.account, name, about))
        if self.stripe.latency:
            time.sleep(self.stripe.latency)
        if self.stripe.down:
            raise Unavailable("The payment provider is unavailable, please retry shortly.")

    def _intent(self, intent_id: str) -> StoredIntent:
        intent = self.stripe.intents.get(intent_id)
        if intent is None or intent.account != self.account:
            raise gateway.UnknownIntent(f"No such payment_intent: '{intent_id}'")
        return intent

    def _once(self, key: str, make: Any) -> Any:
        with self.stripe.lock:
            if (self.account, key) not in self.stripe.created:
                self.stripe.created[self.account, key] = make()
            return self.stripe.created[self.account, key]

    def retrieve_intent(self, intent_id: str) -> Intent:
        self._call("retrieve_intent")
        return self._intent(intent_id).view()

    def create_intent(self, amount: int, currency: str, metadata: dict[str, str], key: str) -> Intent:
        self._call("create_intent")
        if not 50 <= amount <= 99_999_999:  # Stripe's minimum and maximum charge in EUR cents
            raise gateway.AmountRefused(f"Amount must be at least 50 cents and at most 999,999.99: {amount}")

        def make() -> str:
            intent = StoredIntent(self.stripe.new_id("pi"), self.account, amount, currency, dict(metadata))
            self.stripe.intents[intent.id] = intent
            return intent.id

        return self._intent(self._once(key, make)).view()

    def payment_method_customer(self, payment_method: str) -> str | None:
        self._call("payment_method_customer")
        with self.stripe.lock:
            if payment_method not in self.stripe.payment_methods:
                raise gateway.PaymentMethodUnusable(f"No such PaymentMethod: '{payment_method}'")
            return self.stripe.saved_to.get(payment_method)

    def attach_card(self, intent_id: str, payment_method: str, customer: str, key: str) -> None:
        self._call("attach_card")
        with self.stripe.lock:
            if payment_method not in self.stripe.payment_methods:
                raise gateway.PaymentMethodUnusable(f"No such PaymentMethod: '{payment_method}'")
            if self.stripe.saved_to.get(payment_method, customer) != customer:
                raise gateway.PaymentMethodUnusable("The provided PaymentMethod belongs to a different Customer.")
            intent = self._intent(intent_id)
            if intent.status not in ("requires_payment_method", "requires_confirmation"):
                raise gateway.IntentMovedOn(f"This PaymentIntent's status is {intent.status}")
            intent.payment_method, intent.customer = payment_method, customer
            intent.status = "requires_confirmation"

    def confirm_intent(self, intent_id: str, key: str) -> Intent:
        self._call("confirm_intent")
        with self.stripe.lock:
            intent = self._intent(intent_id)
            if intent.status != "requires_confirmation" or intent.payment_method is None:
                raise gateway.IntentMovedOn(f"This PaymentIntent's status is {intent.status}")
            kind = self.stripe.payment_methods[intent.payment_method]
            if kind == "declined":
                intent.status, intent.latest_charge = "requires_payment_method", self.stripe.new_id("ch")
                raise gateway.CardDeclined("card_declined", "Your card was declined.")
            if kind == "3ds":
                intent.status = "requires_action"
            else:
                intent.status, intent.latest_charge = "succeeded", self.stripe.new_id("ch")
            return intent.view()

    def cancel_intent(self, intent_id: str, key: str) -> Intent:
        self._call("cancel_intent", intent_id)
        with self.stripe.lock:
            intent = self._intent(intent_id)
            if intent.status in ("succeeded", "canceled", "processing"):
                raise gateway.IntentMovedOn(f"You cannot cancel this PaymentIntent: its status is {intent.status}")
            intent.status = "canceled"
            return intent.view()

    def refunds(self, intent_id: str) -> list[Refund]:
        self._call("refunds")
        with self.stripe.lock:
            return [refund.view() for refund in self._intent(intent_id).refunds]

    def create_refund(self, intent_id: str, amount: int | None, metadata: dict[str, str], key: str) -> None:
        self._call("create_refund")

        def make() -> StoredRefund:
            with self.stripe.lock:
                intent = self._intent(intent_id)
                if intent.disputed:
                    raise gateway.Refused(
                        f"Charge {intent.latest_charge} has been charged back; cannot issue a refund."
                    )
                counted = [refund for refund in intent.refunds if refund.status in ("succeeded", "pending")]
                left = intent.amount - sum(refund.amount for refund in counted)
                if intent.status != "succeeded" or left <= 0 or (amount or left) > left:
                    raise gateway.Refused(f"Charge for {intent_id} has been refunded already or was never made")
                refund = StoredRefund(self.stripe.new_id("re"), amount or left)
                intent.refunds.append(refund)
                return refund

        self._once(key, make)

    def create_customer(self, metadata: dict[str, str], key: str) -> str:
        self._call("create_customer")

        def make() -> str:
            customer = self.stripe.new_id("cus")
            self.stripe.customers[customer] = dict(metadata)
            return customer

        return str(self._once(key, make))

    def create_setup_intent(self, customer: str, metadata: dict[str, str], key: str) -> str:
        self._call("create_setup_intent")

        def make() -> str:
            setup = self.stripe.new_id("seti")
            self.stripe.setups[setup] = {
                "usage": "on_session",
                "customer": customer,
                "metadata": dict(metadata),
                "status": "requires_payment_method",
            }
            return f"{setup}_secret_fake"

        return str(self._once(key, make))
