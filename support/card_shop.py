"""A card shop against localstripe, for the tests and `make bench`: a tenant paying by card, cards
as Stripe.js makes them, webhooks as Stripe signs them, and a randomized crowd of card shoppers
with the stock invariant it must leave true."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import random
import secrets
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
import httpx
import requests
from pynamodb.exceptions import UpdateError

from chalicelib import digests, payments, tenants
from chalicelib.models import OrderModel, ProductModel, TenantModel
from support.delivery import checkout_key, deliver, ship_as_acme

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


def card(base_url: str, kind: str, tenant_id: str = "acme") -> str:
    """A PaymentMethod for one of the test cards, as Stripe.js's confirmCardSetup leaves it."""
    details = {"number": CARDS[kind], "exp_month": 12, "exp_year": 2034, "cvc": "123"}
    return stripe_client(base_url, tenant_id).v1.payment_methods.create({"type": "card", "card": details}).id


def save_card(base_url: str, payment_method: str, setup_client_secret: str) -> None:
    """What Stripe.js's confirmCardSetup does with the card: the SetupIntent the order's card setup
    made (POST …/payment/setup) is confirmed with it, which saves the card to the order's customer
    (localstripe does so as Stripe does, scripts/localstripe_server.py). A card that asks for 3-D
    Secure is authenticated, as the shopper would."""
    setups = stripe_client(base_url).v1.setup_intents
    setup_id = setup_client_secret.split("_secret_")[0]
    if setups.confirm(setup_id, {"payment_method": payment_method}).status == "requires_action":
        setups.confirm(setup_id)


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


def signed(event: Any, secret: str, age_seconds: int = 0) -> tuple[bytes, dict[str, str]]:
    """A webhook body and its Stripe-Signature header, made the way Stripe signs them (`age_seconds` ago)."""
    payload = json.dumps(event).encode()
    timestamp = int(time.time()) - age_seconds
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
    product = ProductModel.get(tenant_id, product_id, consistent_read=True)
    return int(product.stock), int(product.reserved), int(product.sold)


def intents_of(base_url: str, order_id: str) -> list[Any]:
    """Every PaymentIntent localstripe holds for an order (its metadata names the order)."""
    listed = stripe_client(base_url).v1.payment_intents.list({"limit": 100})
    return [intent for intent in listed.auto_paging_iter() if intent.metadata.to_dict().get("order_id") == order_id]


# --- a randomized crowd of card shoppers --------------------------------------------------------

SEEDED = {"lamp": 6, "stove": 4, "tarp": 3}  # scarce on purpose: carts and checkouts run out
PRICES = {"lamp": Decimal("10.00"), "stove": Decimal("25.50"), "tarp": Decimal("7.25")}
# Shopping (checkout and payment) most often, so orders get paid and then refunded; restocks keep it selling.
ACTIONS = ["shop"] * 4 + ["pay", "cancel", "lapse", "refund", "refund", "restock"]


def open_card_shop(tenant_id: str) -> str:
    """A card tenant with the crowd's scarce products, shipping as acme does; returns its admin key."""
    TenantModel(tenant_id, name="Card crowd", currency="EUR", vat_rate=Decimal("0.20")).save()
    ship_as_acme(tenant_id)
    for product_id, stock in SEEDED.items():
        ProductModel(
            tenant_id, product_id, name=product_id.title(), category="camping", price=PRICES[product_id], stock=stock
        ).save()
    accept_cards(tenant_id)
    key = f"cw_{tenant_id}_{secrets.token_urlsafe(24)}"
    tenants.set_key_hashes(tenant_id, digests.digest(key), replace=True)
    return key


def lapse(tenant_id: str, order_id: str) -> None:
    """Move an unpaid order's hold into the past (an order no longer pending is left as it is)."""
    with contextlib.suppress(UpdateError):
        OrderModel(tenant_id, order_id).update(
            actions=[OrderModel.hold_expires_at.set(datetime.now(UTC) - timedelta(seconds=1))],
            condition=OrderModel.hold_queue.exists(),
        )


@dataclass
class Crowd:
    """What a crowd run did: outcomes per action and answer, and the units operators added."""

    seed: int
    outcomes: Counter[str] = field(default_factory=Counter)
    added: Counter[str] = field(default_factory=Counter)


def run_crowd(
    api_url: str, stripe_url: str, tenant_id: str, key: str, *, shoppers: int = 20, actions: int = 200,
    seconds: float = 90, seed: int | None = None,
) -> Crowd:  # fmt: skip
    """`shoppers` at once, `actions` at most (or `seconds`): checkouts, payments that pay or are
    declined, cancels, lapsed holds swept (in this process), refunds and restocks, at random."""
    crowd = Crowd(seed if seed is not None else random.randrange(1_000_000))
    base = f"{api_url}/tenants/{tenant_id}"
    until = time.monotonic() + seconds
    budget = [actions]
    lock = threading.Lock()
    placed: list[tuple[str, dict[str, str]]] = []
    paid: list[str] = []

    def take_turn() -> bool:
        with lock:
            if budget[0] <= 0 or time.monotonic() > until:
                return False
            budget[0] -= 1
            return True

    def shopper(index: int) -> None:
        rng = random.Random(crowd.seed + index)
        with httpx.Client(timeout=60) as client:

            def post(url: str, **kwargs: Any) -> httpx.Response:
                """As a client should: a 503 (contention) is retried after its Retry-After, same request."""
                for _ in range(5):
                    response = client.post(url, **kwargs)
                    if response.status_code != 503:
                        return response
                    crowd.outcomes["retried 503"] += 1
                    time.sleep(float(response.headers["Retry-After"]) * rng.random())
                return response

            def pay(order_id: str, token: dict[str, str], kind: str) -> None:
                """As the storefront pays: the card set up for the order's customer, then the payment."""
                method = card(stripe_url, kind, tenant_id)
                setup = post(f"{base}/orders/{order_id}/payment/setup", json={"attempt": method}, headers=token)
                assert setup.status_code in (200, 409), setup.text
                if setup.status_code == 200:
                    save_card(stripe_url, method, setup.json()["client_secret"])
                response = post(f"{base}/orders/{order_id}/payment", json={"payment_method": method}, headers=token)
                assert response.status_code in (200, 402, 409), response.text
                crowd.outcomes[f"{'pay' if kind == 'pays' else 'decline'} {response.status_code}"] += 1
                if response.status_code == 200 and response.json()["order"]["status"] == "paid":
                    with lock:
                        paid.append(order_id)

            while take_turn():
                action = rng.choice(ACTIONS) if placed else "shop"
                if action == "shop":  # check out, then pay, be declined first, or walk away
                    items = [{"product_id": p, "quantity": rng.randint(1, 2)} for p in rng.sample(list(SEEDED), 2)]
                    created = post(f"{base}/carts", json={"items": items})
                    if created.status_code == 409:  # sold out meanwhile: the cart cannot even be filled
                        crowd.outcomes["cart 409"] += 1
                        continue
                    cart_id = created.json()["cart_id"]
                    deliver(client, tenant_id, cart_id, base=api_url)
                    # The same key on a retried 503: one order, whichever attempt placed it.
                    answer = post(f"{base}/carts/{cart_id}/checkout", headers=checkout_key())
                    crowd.outcomes[f"checkout {answer.status_code}"] += 1
                    if answer.status_code != 201:
                        continue
                    order_id = answer.json()["order"]["order_id"]
                    token = {"X-Order-Token": answer.json()["order_token"]}
                    with lock:
                        placed.append((order_id, token))
                    for kind in rng.choice([["pays"], ["pays"], ["declined", "pays"], ["declined"], []]):
                        pay(order_id, token, kind)
                    continue
                if action == "restock":  # an operator adds units: the invariant counts them in
                    product_id = rng.choice(list(SEEDED))
                    response = post(
                        f"{base}/products/{product_id}/stock",
                        json={"delta": 2},
                        headers={"X-Api-Key": key, "Idempotency-Key": secrets.token_urlsafe(16)},
                    )
                    assert response.status_code == 200, response.text
                    with lock:
                        crowd.added[product_id] += 2
                    crowd.outcomes["restock 200"] += 1
                    continue
                with lock:  # anyone's order: cancels, lapses, refunds and late payments race the owners
                    order_id, token = rng.choice(placed)
                    if action == "refund" and paid:  # an operator refunds what was paid, mostly
                        order_id = rng.choice(paid)
                if action == "pay":
                    pay(order_id, token, "pays")
                    continue
                if action == "lapse":  # the hold lapses now and the sweeper comes by
                    lapse(tenant_id, order_id)
                    payments.sweep_lapsed_holds()
                    crowd.outcomes["lapse"] += 1
                    continue
                if action == "cancel":
                    response = post(f"{base}/orders/{order_id}/cancel", headers=token)
                else:
                    response = post(f"{base}/orders/{order_id}/refund", headers={"X-Api-Key": key})
                assert response.status_code in (200, 409), response.text
                crowd.outcomes[f"{action} {response.status_code}"] += 1

    with ThreadPoolExecutor(max_workers=shoppers) as pool:
        for future in [pool.submit(shopper, i) for i in range(shoppers)]:
            future.result()
    return crowd


def invariant_breaches(stripe_url: str, tenant_id: str, added: Counter[str]) -> list[str]:
    """Everything the crowd must have left true, as a list of what is not (empty: all holds).

    For every product stock + reserved + sold = seeded + added, reserved = the units of unpaid
    orders and sold = those of paid ones; every order was charged at most once, a paid one
    exactly once for its total.
    """
    breaches = []
    orders = list(OrderModel.query(tenant_id, consistent_read=True))
    held: dict[str, Counter[str]] = {"pending_payment": Counter(), "paid": Counter()}
    for order in orders:
        for line in order.lines:
            if order.status in held:
                held[order.status][line.product_id] += int(line.quantity)
    for product_id, seeded in SEEDED.items():
        stock, reserved, sold = units(tenant_id, product_id)
        if stock + reserved + sold != seeded + added[product_id]:
            breaches.append(f"{product_id}: {stock}+{reserved}+{sold} != {seeded}+{added[product_id]}")
        expected = (held["pending_payment"][product_id], held["paid"][product_id])
        if (reserved, sold) != expected:
            breaches.append(f"{product_id}: reserved, sold = {reserved}, {sold}; the orders hold {expected}")
    charged: Counter[str] = Counter()
    amounts: dict[str, int] = {}
    listed = stripe_client(stripe_url, tenant_id).v1.payment_intents.list({"limit": 100})
    for intent in listed.auto_paging_iter():
        order_id = intent.metadata.to_dict().get("order_id")
        if intent.status == "succeeded" and intent.metadata.to_dict().get("tenant_id") == tenant_id:
            charged[order_id] += 1
            amounts[order_id] = intent.amount
    for order in orders:
        if charged[order.order_id] > 1:
            breaches.append(f"order {order.order_id} charged {charged[order.order_id]} times")
        total = payments.minor_units(order.totals.total, order.currency)
        if order.status == "paid" and amounts.get(order.order_id) != total:
            breaches.append(f"paid order {order.order_id} charged {amounts.get(order.order_id)}")
    return breaches
