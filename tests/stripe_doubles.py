"""What the payment tests do at Stripe's side, against either Stripe double: the in-memory fake
behind the gateway seam (tests/api/test_payments.py) or localstripe over HTTP through the real SDK
(tests/stack/test_stripe_contract.py, which runs a handful of the same tests).

Intents, refunds and events come back as Stripe's API spells them (dicts), whichever double answers.
"""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib import config
from support.card_shop import authenticate, card, intents_of, save_card, stripe_client
from tests.fake_gateway import FakeStripe


class FakeDouble:
    def __init__(self, fake: FakeStripe) -> None:
        self.fake = fake

    def card(self, kind: str) -> str:
        """A card as Stripe.js makes it, not saved to any customer yet."""
        return self.fake.card(kind)

    def unsaved(self, payment_method: str) -> bool:
        """A card of this double's making that no customer holds yet."""
        return payment_method in self.fake.payment_methods and payment_method not in self.fake.saved_to

    def save_card(self, payment_method: str, setup_client_secret: str) -> None:
        """Stripe.js's confirmCardSetup with the card: saved to the SetupIntent's customer."""
        self.fake.save_card(payment_method, setup_client_secret)

    def intents_of(self, order_id: str) -> list[dict[str, Any]]:
        return [i.as_stripe() for i in self.fake.intents.values() if i.metadata.get("order_id") == order_id]

    def authenticate(self, client_secret: str, success: bool = True) -> dict[str, Any]:
        """The shopper finishes (or fails) 3-D Secure in the browser."""
        intent = self.fake.intents[client_secret.split("_secret_")[0]]
        assert intent.status == "requires_action"
        if success:
            intent.status, intent.latest_charge = "succeeded", self.fake.new_id("ch")
        else:
            intent.status, intent.payment_method = "requires_payment_method", None
        return intent.as_stripe()

    def refund(self, intent_id: str, amount: int | None = None) -> None:
        """A refund made in Stripe's dashboard."""
        account = self.fake.connect(self.fake.intents[intent_id].account)
        account.create_refund(intent_id, amount, {}, key=self.fake.new_id("dashboard"))

    def refunds_of(self, intent_id: str) -> list[dict[str, Any]]:
        return [{"amount": r.amount, "status": r.status} for r in self.fake.intents[intent_id].refunds]

    def dispute(self, intent_id: str, event_id: str) -> dict[str, Any]:
        """The shopper's bank disputes the payment: Stripe's charge.dispute.created, and no refund of
        the charge is possible any more (Stripe's `charge_disputed`)."""
        intent = self.fake.intents[intent_id]
        intent.disputed = True
        dispute = {
            "id": self.fake.new_id("dp"),
            "object": "dispute",
            "amount": intent.amount,
            "currency": intent.currency,
            "charge": intent.latest_charge,
            "payment_intent": intent_id,
            "reason": "fraudulent",
            "status": "needs_response",
            "created": 1_790_000_000,
            "metadata": {},
        }
        return {"id": event_id, "object": "event", "type": "charge.dispute.created", "data": {"object": dispute}}

    def fail_refund(self, intent_id: str, event_id: str) -> dict[str, Any]:
        """The intent's last refund fails after Stripe accepted it (the card was closed): its
        charge.refund.updated event. A failed refund no longer counts against the payment."""
        refund = self.fake.intents[intent_id].refunds[-1]
        refund.status, refund.failure_reason = "failed", "expired_or_canceled_card"
        stripe_refund = {
            "id": refund.id,
            "object": "refund",
            "amount": refund.amount,
            "payment_intent": intent_id,
            "status": "failed",
            "failure_reason": refund.failure_reason,
            "metadata": {},
        }
        return {"id": event_id, "object": "event", "type": "charge.refund.updated", "data": {"object": stripe_refund}}

    def set_metadata(self, intent_id: str, metadata: dict[str, str]) -> dict[str, Any]:
        self.fake.intents[intent_id].metadata.update(metadata)
        return self.fake.intents[intent_id].as_stripe()

    def refunded_event(self, intent_id: str, event_id: str, refunded_amount: int) -> dict[str, Any]:
        intent = self.fake.intents[intent_id]
        charge = {
            "id": intent.latest_charge,
            "object": "charge",
            "amount": intent.amount,
            "amount_refunded": refunded_amount,
            "refunded": refunded_amount == intent.amount,
            "payment_intent": intent_id,
            "metadata": {},
        }
        return {"id": event_id, "object": "event", "type": "charge.refunded", "data": {"object": charge}}

    def paid_intent(self, tenant_id: str, amount: int, metadata: dict[str, str]) -> dict[str, Any]:
        """An intent confirmed at Stripe outside the shop's flow (a stray one)."""
        account = self.fake.connect(tenant_id)
        intent = account.create_intent(amount, "eur", metadata, key=self.fake.new_id("stray"))
        account.attach_card(intent.id, "pm_card_visa", account.create_customer({}, key="stray"), key="stray")
        return self.fake.intents[account.confirm_intent(intent.id, key="stray").id].as_stripe()

    def setup_of(self, client_secret: str) -> tuple[str, dict[str, str], dict[str, str]]:
        """(usage, metadata, the customer's metadata) of a SetupIntent."""
        setup = self.fake.setups[client_secret.split("_secret_")[0]]
        return setup["usage"], setup["metadata"], self.fake.customers[setup["customer"]]

    def go_down(self) -> None:
        self.fake.down = True

    def come_back(self) -> None:
        self.fake.down = False


class LocalstripeDouble:
    def __init__(self, base_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
        self.base_url = base_url
        self.monkeypatch = monkeypatch
        self.stripe = stripe_client(base_url)

    def card(self, kind: str) -> str:
        return card(self.base_url, kind)

    def unsaved(self, payment_method: str) -> bool:
        import stripe

        try:
            return self.stripe.v1.payment_methods.retrieve(payment_method).customer is None
        except stripe.InvalidRequestError:
            return False  # not a card: sent as it is

    def save_card(self, payment_method: str, setup_client_secret: str) -> None:
        save_card(self.base_url, payment_method, setup_client_secret)

    def intents_of(self, order_id: str) -> list[dict[str, Any]]:
        return [intent.to_dict() for intent in intents_of(self.base_url, order_id)]

    def authenticate(self, client_secret: str, success: bool = True) -> dict[str, Any]:
        return authenticate(self.base_url, client_secret, success)

    def refund(self, intent_id: str, amount: int | None = None) -> None:
        self.stripe.v1.refunds.create({"payment_intent": intent_id} | ({"amount": amount} if amount else {}))

    def refunds_of(self, intent_id: str) -> list[dict[str, Any]]:
        listed = self.stripe.v1.refunds.list({"payment_intent": intent_id}).auto_paging_iter()  # 10 a page
        return [{"amount": refund.amount, "status": refund.status} for refund in listed]

    def set_metadata(self, intent_id: str, metadata: dict[str, str]) -> dict[str, Any]:
        return self.stripe.v1.payment_intents.update(intent_id, {"metadata": metadata}).to_dict()

    def refunded_event(self, intent_id: str, event_id: str, refunded_amount: int) -> dict[str, Any]:
        """Stripe's charge.refunded about the intent's charge, as Stripe sends it after a refund made in
        its dashboard (localstripe sends none, and its Charge lacks `refunded` and `amount_refunded`)."""
        latest = self.stripe.v1.payment_intents.retrieve(intent_id).latest_charge
        # An id at Stripe unless expanded; localstripe always expands it.
        charge = latest.to_dict() if hasattr(latest, "to_dict") else self.stripe.v1.charges.retrieve(latest).to_dict()
        charge |= {"amount_refunded": refunded_amount, "refunded": refunded_amount == charge["amount"]}
        return {"id": event_id, "object": "event", "type": "charge.refunded", "data": {"object": charge}}

    def paid_intent(self, tenant_id: str, amount: int, metadata: dict[str, str]) -> dict[str, Any]:
        params: Any = {"amount": amount, "currency": "eur", "payment_method": "pm_card_visa", "confirm": True}
        return self.stripe.v1.payment_intents.create(params | {"metadata": metadata}).to_dict()

    def setup_of(self, client_secret: str) -> tuple[str, dict[str, str], dict[str, str]]:
        setup = self.stripe.v1.setup_intents.retrieve(client_secret.split("_secret_")[0])
        customer = self.stripe.v1.customers.retrieve(setup.customer)
        return setup.usage, setup.metadata.to_dict(), customer.metadata.to_dict()

    def go_down(self) -> None:
        self.monkeypatch.setenv("STRIPE_API_BASE", "http://127.0.0.1:9")  # nothing listens on the discard port
        config.reset()

    def come_back(self) -> None:
        self.monkeypatch.setenv("STRIPE_API_BASE", self.base_url)
        config.reset()
