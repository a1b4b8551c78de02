"""A small stateful stand-in for the Stripe API on loopback, for tests that must not start localstripe.

It answers the calls chalicelib/payments/ makes (SetupIntents, PaymentIntents, refunds) in Stripe's
wire format, so the official SDK talks to it as to Stripe (`STRIPE_API_BASE`). Stripe's test
PaymentMethods decide the outcome: `pm_card_visa` pays, `pm_card_chargeDeclined` is declined,
`pm_card_authenticationRequired` asks for 3-D Secure. A card is saved to a customer by `save_card`
(what Stripe.js's confirmCardSetup does in the browser); saving a test card again moves it, as Stripe
makes a new PaymentMethod of a test card each time. Idempotency keys are ignored, as localstripe
does. Tests that need the real fake (Stripe.js, webhooks sent by the server) use localstripe.
"""

from __future__ import annotations

import json
import secrets
import threading
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from support.loopback import LoopbackServer, QuietHandler

DECLINED = "pm_card_chargeDeclined"
NEEDS_AUTHENTICATION = "pm_card_authenticationRequired"


def form(body: str) -> dict[str, Any]:
    """Stripe's form encoding (`metadata[order_id]=…`) back into a dict one level deep."""
    fields: dict[str, Any] = {}
    for name, value in parse_qsl(body):
        outer, _, inner = name.partition("[")
        if inner:
            fields.setdefault(outer, {})[inner.rstrip("]")] = value
        else:
            fields[name] = value
    return fields


class StripeStub:
    def __init__(self) -> None:
        self.intents: dict[str, dict[str, Any]] = {}
        self.refunds: list[dict[str, Any]] = []
        self.setups: dict[str, str] = {}  # SetupIntent -> its customer
        self.saved: dict[str, str] = {}  # PaymentMethod -> the customer it is saved to
        self.lock = threading.Lock()
        self.server = LoopbackServer(self.handler(), "stripe-stub")

    @property
    def url(self) -> str:
        return self.server.origin

    def __enter__(self) -> StripeStub:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    def save_card(self, payment_method: str, setup_client_secret: str) -> None:
        with self.lock:
            self.saved[payment_method] = self.setups[setup_client_secret.split("_secret_")[0]]

    def answer(self, method: str, path: str, fields: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        parts = path.strip("/").split("/")[1:]  # without "v1"
        if method == "POST" and parts == ["customers"]:
            return 200, {"id": "cus_" + secrets.token_hex(8), "object": "customer", "metadata": fields["metadata"]}
        if method == "GET" and parts[0] == "payment_methods":
            return 200, {"id": parts[1], "object": "payment_method", "customer": self.saved.get(parts[1])}
        if method == "POST" and parts == ["setup_intents"]:
            setup_id = "seti_" + secrets.token_hex(8)
            self.setups[setup_id] = fields["customer"]
            return 200, {"id": setup_id, "object": "setup_intent", "client_secret": f"{setup_id}_secret_x"}
        if parts[0] == "payment_intents":
            return self.payment_intents(method, parts[1:], fields)
        if parts == ["refunds"] and method == "GET":
            data = [r for r in self.refunds if r["payment_intent"] == fields.get("payment_intent")]
            return 200, {"object": "list", "data": data, "has_more": False, "url": "/v1/refunds"}
        if parts == ["refunds"]:
            refund = {"id": "re_" + secrets.token_hex(8), "object": "refund", "status": "succeeded"}
            refund["payment_intent"] = fields["payment_intent"]
            # Stripe refunds what is left of the payment unless told an amount.
            refund["amount"] = int(fields.get("amount") or self.intents[fields["payment_intent"]]["amount"])
            self.refunds.append(refund)
            return 200, refund
        return 404, {"error": {"type": "invalid_request_error", "message": f"No such route: {method} {path}"}}

    def payment_intents(self, method: str, parts: list[str], fields: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if not parts:
            intent_id = "pi_" + secrets.token_hex(8)
            intent = {"id": intent_id, "object": "payment_intent", "client_secret": f"{intent_id}_secret_x"}
            intent |= {"amount": int(fields["amount"]), "currency": fields["currency"], "metadata": fields["metadata"]}
            intent |= {"status": "requires_payment_method", "payment_method": None, "latest_charge": None}
            self.intents[intent_id] = intent
            return 200, intent
        intent = self.intents.get(parts[0])
        if intent is None:
            return 404, {"error": {"type": "invalid_request_error", "message": "No such payment_intent"}}
        action = parts[1] if len(parts) > 1 else ("update" if method == "POST" else "retrieve")
        if action == "update":
            intent["payment_method"] = fields["payment_method"]
            intent["status"] = "requires_confirmation"
        elif action == "confirm":
            charge = "ch_" + secrets.token_hex(8)
            if intent["payment_method"] == DECLINED:
                intent |= {"status": "requires_payment_method", "latest_charge": charge}
                error = {"type": "card_error", "code": "card_declined", "decline_code": "generic_decline"}
                return 402, {"error": error | {"message": "Your card was declined."}}
            if intent["payment_method"] == NEEDS_AUTHENTICATION:
                intent["status"] = "requires_action"
            else:
                intent |= {"status": "succeeded", "latest_charge": charge}
        elif action == "cancel":
            if intent["status"] == "succeeded":
                return 400, {"error": {"type": "invalid_request_error", "message": "This PaymentIntent succeeded."}}
            intent["status"] = "canceled"
        return 200, intent

    def handler(self) -> type[QuietHandler]:
        stub = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                self.serve("GET")

            def do_POST(self) -> None:
                self.serve("POST")

            def serve(self, method: str) -> None:
                url = urlsplit(self.path)
                fields = form(self.read_body().decode() if method == "POST" else url.query)
                with stub.lock:  # ThreadingHTTPServer: one request at a time changes the intents
                    status, payload = stub.answer(method, url.path, fields)
                self.send(status, json.dumps(payload).encode())

        return Handler
