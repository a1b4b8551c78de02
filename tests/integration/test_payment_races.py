"""Card orders under real concurrency (DynamoDB Local, localstripe, the HTTP API): every transition
happens once and no unit is lost or made, whatever races the webhook, the sweeper, retries and cancels.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from pynamodb.exceptions import UpdateError

from chalicelib import digests, payments, tenants
from chalicelib.ids import new_ulid
from chalicelib.models import OrderModel, ProductModel, TenantModel
from tests.integration.test_concurrency import all_at_once
from tests.payments import (
    CARDS,
    accept_cards,
    authenticate,
    intents_of,
    signed,
    stripe_client,
    succeeded_event,
    webhook_secret,
)

SEEDED = {"lamp": 6, "stove": 4, "tarp": 3}
PRICES = {"lamp": Decimal("10.00"), "stove": Decimal("25.50"), "tarp": Decimal("7.25")}


@pytest.fixture
def card_tenant(local_stack, stack_aws, localstripe_url):
    """A fresh card tenant with a few scarce products and an admin key; returns (tenant, base url, key)."""
    assert local_stack.dynamodb_fallback_reason is None, "races must run on DynamoDB Local, not moto"
    tenant = f"race-{new_ulid().lower()[-10:]}"
    TenantModel(tenant, name="Race shop", currency="EUR", vat_rate=Decimal("0.20")).save()
    for product_id, stock in SEEDED.items():
        ProductModel(
            tenant, product_id, name=product_id.title(), category="camping", price=PRICES[product_id], stock=stock
        ).save()
    accept_cards(tenant)
    key = f"cw_{tenant}_{new_ulid()}"
    tenants.set_key_hashes(tenant, digests.digest(key), replace=True)
    return tenant, f"{local_stack.api_url}/tenants/{tenant}", key


def units(tenant: str) -> dict[str, tuple[int, int, int]]:
    products = {p: ProductModel.get(tenant, p, consistent_read=True) for p in SEEDED}
    return {p: (int(x.stock), int(x.reserved), int(x.sold)) for p, x in products.items()}


def pm(localstripe_url: str, tenant: str, kind: str) -> str:
    details = {"number": CARDS[kind], "exp_month": 12, "exp_year": 2034, "cvc": "123"}
    return stripe_client(localstripe_url, tenant).v1.payment_methods.create({"type": "card", "card": details}).id


def lapse(tenant: str, order_id: str) -> None:
    """Move an unpaid order's hold into the past (an order no longer pending is left as it is)."""
    with contextlib.suppress(UpdateError):
        OrderModel(tenant, order_id).update(
            actions=[OrderModel.hold_expires_at.set(datetime.now(UTC) - timedelta(seconds=1))],
            condition=OrderModel.hold_queue.exists(),
        )


def test_one_authenticated_payment_raced_by_webhooks_retries_sweeps_and_cancels_is_recorded_once(
    card_tenant, localstripe_url
):
    tenant, base, _ = card_tenant
    with httpx.Client(timeout=60) as http:
        cart = http.post(f"{base}/carts", json={"items": [{"product_id": "stove", "quantity": 3}]}).json()
        answer = http.post(f"{base}/carts/{cart['cart_id']}/checkout").json()
        order_id, token = answer["order"]["order_id"], {"X-Order-Token": answer["order_token"]}
        card = pm(localstripe_url, tenant, "3ds")
        started = http.post(f"{base}/orders/{order_id}/payment", json={"payment_method": card}, headers=token).json()
        intent = authenticate(localstripe_url, started["payment"]["client_secret"])
        OrderModel(tenant, order_id).update(actions=[OrderModel.hold_expires_at.set(datetime.now(UTC))])  # lapsed
        body, headers = signed(succeeded_event(intent, f"evt_{order_id}"), webhook_secret(tenant))

        def call(i: int):
            if i < 4:
                return http.post(f"{base}/payments/stripe/webhook", content=body, headers=headers).status_code
            if i < 8:
                path = f"{base}/orders/{order_id}/payment"
                return http.post(path, json={"payment_method": card}, headers=token).status_code
            if i < 10:
                return http.post(f"{base}/orders/{order_id}/cancel", headers=token).status_code
            return payments.sweep_lapsed_holds()

        results = all_at_once(12, call)

    assert results[:8] == [200] * 8  # webhooks and payment retries all see the payment
    assert results[8:10] == [409, 409]  # paid: not cancellable
    assert results[10:] == [0, 0]  # nothing expired
    assert OrderModel.get(tenant, order_id, consistent_read=True).status == "paid"
    assert units(tenant)["stove"] == (1, 0, 3)
    assert [i.status for i in intents_of(localstripe_url, order_id)] == ["succeeded"]


def test_a_randomized_crowd_of_card_shoppers_never_loses_or_makes_a_unit(card_tenant, localstripe_url):
    """20 shoppers at once, 150 actions at most (or 90 s): checkouts, payments that pay or are
    declined, cancels, lapsed holds swept, refunds. Afterwards, for every product,
    stock + reserved + sold = seeded, reserved = units of unpaid orders, sold = units of paid ones,
    and every order was charged at most once, paid orders exactly once for their total."""
    tenant, base, key = card_tenant
    seed = random.randrange(1_000_000)
    print(f"random seed {seed}")  # shown on failure, to replay the run
    budget = {"actions": 150, "until": time.monotonic() + 90}
    lock = threading.Lock()
    placed: list[tuple[str, dict[str, str]]] = []
    outcomes: Counter[str] = Counter()

    def take_turn() -> bool:
        with lock:
            if budget["actions"] <= 0 or time.monotonic() > budget["until"]:
                return False
            budget["actions"] -= 1
            return True

    def shopper(index: int) -> None:
        rng = random.Random(seed + index)
        with httpx.Client(timeout=60) as http:
            while take_turn():
                action = rng.choice(["checkout", "checkout", "pay", "pay", "decline", "cancel", "lapse", "refund"])
                if action == "checkout" or not placed:
                    items = [{"product_id": p, "quantity": rng.randint(1, 2)} for p in rng.sample(list(SEEDED), 2)]
                    cart = http.post(f"{base}/carts", json={"items": items}).json()
                    answer = http.post(f"{base}/carts/{cart['cart_id']}/checkout")
                    if answer.status_code == 201:
                        order = answer.json()
                        with lock:
                            placed.append((order["order"]["order_id"], {"X-Order-Token": order["order_token"]}))
                    outcomes[f"checkout {answer.status_code}"] += 1
                    continue
                with lock:
                    order_id, token = rng.choice(placed)
                if action in ("pay", "decline"):
                    card = pm(localstripe_url, tenant, "pays" if action == "pay" else "declined")
                    path = f"{base}/orders/{order_id}/payment"
                    response = http.post(path, json={"payment_method": card}, headers=token)
                elif action == "cancel":
                    response = http.post(f"{base}/orders/{order_id}/cancel", headers=token)
                elif action == "refund":
                    response = http.post(f"{base}/orders/{order_id}/refund", headers={"X-Api-Key": key})
                else:  # the hold lapses now and the sweeper comes by
                    lapse(tenant, order_id)
                    payments.sweep_lapsed_holds()
                    outcomes["lapse"] += 1
                    continue
                assert response.status_code in (200, 402, 409), response.text
                outcomes[f"{action} {response.status_code}"] += 1

    with ThreadPoolExecutor(max_workers=20) as pool:
        for future in [pool.submit(shopper, i) for i in range(20)]:
            future.result()

    print(dict(outcomes))
    orders = list(OrderModel.query(tenant, consistent_read=True))
    held: dict[str, Counter[str]] = {"pending_payment": Counter(), "paid": Counter()}
    for order in orders:
        for line in order.lines:
            if order.status in held:
                held[order.status][line.product_id] += int(line.quantity)
    after = units(tenant)
    for product_id, seeded in SEEDED.items():
        stock, reserved, sold = after[product_id]
        assert stock + reserved + sold == seeded, product_id
        assert (reserved, sold) == (held["pending_payment"][product_id], held["paid"][product_id]), product_id
    for order in orders:
        charged = [i for i in intents_of(localstripe_url, order.order_id) if i.status == "succeeded"]
        assert len(charged) <= 1, order.order_id
        if order.status == "paid":
            assert [i.amount for i in charged] == [int(order.totals.total * 100)]
    # The run exercised the losing paths, not only the happy one.
    assert outcomes["checkout 409"] > 0
    assert outcomes["decline 402"] > 0
    assert outcomes["pay 200"] > 0
