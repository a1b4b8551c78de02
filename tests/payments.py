"""Card payments in tests: a tenant paying through localstripe, cards as Stripe.js makes them and
webhooks as Stripe signs them."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import boto3
import requests

from chalicelib import tenants
from chalicelib.models import TenantModel
from tests.conftest import product_record

PUBLISHABLE_KEY = "pk_test_cartwise_tests"
CARDS = {
    "pays": "4242424242424242",
    "declined": "4000000000000341",  # attaches, then declined when charged
    "3ds": "4000002760003184",  # needs 3-D Secure on every payment
}


def webhook_secret(tenant_id: str) -> str:
    return f"whsec_{tenant_id}_tests"


def accept_cards(tenant_id: str, stage: str = "dev") -> None:
    """Switch a tenant to card payments with its (test) secrets in SSM, as the tenants CLI does."""
    ssm = boto3.client("ssm")
    prefix = f"/cartwise/{stage}/tenants/{tenant_id}/stripe"
    ssm.put_parameter(Name=f"{prefix}/secret_key", Value=f"sk_test_{tenant_id}", Type="SecureString", Overwrite=True)
    secret = webhook_secret(tenant_id)
    ssm.put_parameter(Name=f"{prefix}/webhook_secret", Value=secret, Type="SecureString", Overwrite=True)
    TenantModel(tenant_id).update(
        actions=[TenantModel.payment_mode.set("stripe"), TenantModel.stripe_publishable_key.set(PUBLISHABLE_KEY)]
    )
    tenants.clear_cache()


def stripe_client(base_url: str, tenant_id: str = "acme") -> Any:
    import stripe

    return stripe.StripeClient(f"sk_test_{tenant_id}", base_addresses={"api": base_url})


def card(base_url: str, kind: str) -> str:
    """A PaymentMethod for one of the test cards, as Stripe.js's confirmCardSetup leaves it."""
    details = {"number": CARDS[kind], "exp_month": 12, "exp_year": 2034, "cvc": "123"}
    return stripe_client(base_url).v1.payment_methods.create({"type": "card", "card": details}).id


def authenticate(base_url: str, client_secret: str, success: bool = True) -> dict:
    """Finish (or fail) 3-D Secure as localstripe's Stripe.js does after the shopper's choice."""
    intent_id = client_secret.split("_secret_")[0]
    response = requests.post(
        f"{base_url}/v1/payment_intents/{intent_id}/_authenticate?success={'true' if success else 'false'}",
        json={"key": PUBLISHABLE_KEY, "client_secret": client_secret},
        timeout=5,
    )
    response.raise_for_status()
    return response.json()


def signed(event: dict, secret: str) -> tuple[bytes, dict[str, str]]:
    """A webhook body and its Stripe-Signature header, made the way Stripe signs them."""
    payload = json.dumps(event).encode()
    timestamp = int(time.time())
    signature = hmac.new(secret.encode(), b"%d.%s" % (timestamp, payload), hashlib.sha256).hexdigest()
    return payload, {"Stripe-Signature": f"t={timestamp},v1={signature}", "Content-Type": "application/json"}


def succeeded_event(intent: Any, event_id: str) -> dict:
    return {
        "id": event_id,
        "object": "event",
        "type": "payment_intent.succeeded",
        "created": int(time.time()),
        "data": {"object": intent.to_dict() if hasattr(intent, "to_dict") else intent},
    }


def units(tenant_id: str, product_id: str) -> tuple[int, int, int]:
    """(stock, reserved, sold) of a product."""
    product = product_record(tenant_id, product_id)
    return int(product.stock), int(product.reserved), int(product.sold)


def intents_of(base_url: str, order_id: str) -> list[Any]:
    """Every PaymentIntent localstripe holds for an order (its metadata names the order)."""
    listed = stripe_client(base_url).v1.payment_intents.list({"limit": 100})
    return [intent for intent in listed.auto_paging_iter() if intent.metadata.to_dict().get("order_id") == order_id]
