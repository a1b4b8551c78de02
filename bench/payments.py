"""Card payments in `make bench`: the payment call against localstripe, how soon a lapsed hold's
units are on sale again, and the stock invariant after a randomized crowd of card shoppers.

Runs against the bench's API server and the stack's DynamoDB Local, with localstripe and the hold
sweeper started here exactly as `make run` starts them (the sweeper every few seconds).
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from chalicelib import clients, tenants
from chalicelib.models import OrderModel, ProductModel
from scripts.local_stack import start_sweeper
from scripts.sweeper import DEFAULT_INTERVAL_SECONDS
from support.card_shop import SEEDED, card, invariant_breaches, open_card_shop, run_crowd, save_card, units
from support.delivery import check_out

PAYMENTS = 40
LAPSES = 12
PRODUCT = "lamp"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def place(http: httpx.Client, api_url: str, tenant_id: str, product_id: str) -> tuple[str, dict[str, str]]:
    """One unit checked out, delivered as acme's shopper (the shop ships as acme does: open_card_shop)."""
    cart = http.post(
        f"{api_url}/tenants/{tenant_id}/carts", json={"items": [{"product_id": product_id, "quantity": 1}]}
    )
    cart.raise_for_status()
    answer = check_out(http, tenant_id, cart.json()["cart_id"], base=api_url)
    answer.raise_for_status()
    return answer.json()["order"]["order_id"], {"X-Order-Token": answer.json()["order_token"]}


def payment_latency(api_url: str, stripe_url: str, tenant_id: str, key: str) -> dict[str, Any]:
    """POST …/payment with a card that pays, one client, each order fresh (checkout and the card's setup
    for the order's customer not timed)."""
    base = f"{api_url}/tenants/{tenant_id}"
    seconds = []
    with httpx.Client(timeout=30) as http:
        http.post(
            f"{base}/products/{PRODUCT}/stock",
            json={"delta": PAYMENTS + LAPSES},
            headers={"X-Api-Key": key, "Idempotency-Key": "bench-pay"},
        ).raise_for_status()
        for _ in range(PAYMENTS):
            order_id, token = place(http, api_url, tenant_id, PRODUCT)
            method = card(stripe_url, "pays", tenant_id)
            setup = http.post(f"{base}/orders/{order_id}/payment/setup", json={"attempt": method}, headers=token)
            save_card(stripe_url, method, setup.raise_for_status().json()["client_secret"])  # as Stripe.js does
            started = time.perf_counter()
            response = http.post(f"{base}/orders/{order_id}/payment", json={"payment_method": method}, headers=token)
            seconds.append(time.perf_counter() - started)
            assert response.json()["order"]["status"] == "paid", response.text
    return {
        "payments": PAYMENTS,
        "p50_ms": round(statistics.median(seconds) * 1000, 1),
        "p95_ms": round(percentile(seconds, 0.95) * 1000, 1),
    }


def lapse_to_sellable(api_url: str, tenant_id: str) -> dict[str, Any]:
    """Orders whose holds lapse a moment from now: the time until the catalogue shows their unit on
    sale again, as a shopper would see it (GET …/products/{id}), with the sweeper running as locally."""
    base = f"{api_url}/tenants/{tenant_id}"
    waits: list[float] = []
    lock = threading.Lock()

    def one(index: int) -> None:
        # A product of its own, one unit: the order takes it, the sweeper must put it back.
        product_id = f"lapse-{index}"
        ProductModel(tenant_id, product_id, name=product_id, category="bench", price=Decimal("5.00"), stock=1).save()
        with httpx.Client(timeout=30) as http:
            order_id, _ = place(http, api_url, tenant_id, product_id)
            lapses_at = datetime.now(UTC) + timedelta(seconds=0.5 + index * 0.37)  # spread over the sweep interval
            OrderModel(tenant_id, order_id).update(actions=[OrderModel.hold_expires_at.set(lapses_at)])
            deadline = time.monotonic() + 4 * DEFAULT_INTERVAL_SECONDS + 10  # a wait this long is a miss anyway
            while time.monotonic() < deadline and http.get(f"{base}/products/{product_id}").json()["stock"] < 1:
                time.sleep(0.05)
            with lock:
                waits.append((datetime.now(UTC) - lapses_at).total_seconds())

    threads = [threading.Thread(target=one, args=(i,)) for i in range(LAPSES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {
        "holds": LAPSES,
        "sweep_interval_s": DEFAULT_INTERVAL_SECONDS,
        "p50_s": round(statistics.median(waits), 2),
        "p95_s": round(percentile(waits, 0.95), 2),
    }


def phase_payments(api_url: str, stripe_url: str, env: Mapping[str, str], log_dir: Path) -> dict[str, Any]:
    # This process seeds the card shops and sweeps the crowd's lapsed holds itself: point it at the stack.
    os.environ.update(env)
    clients.reset()
    tenants.clear_cache()
    tenant_id = f"bench-cards-{int(time.time())}"
    key = open_card_shop(tenant_id)
    results: dict[str, Any] = {"payment_call": payment_latency(api_url, stripe_url, tenant_id, key)}
    sweeper = start_sweeper(env, log_dir=log_dir)
    try:
        results["lapse_to_sellable"] = lapse_to_sellable(api_url, tenant_id)
    finally:
        sweeper.stop()
    crowd_tenant = f"bench-crowd-{int(time.time())}"
    crowd_key = open_card_shop(crowd_tenant)
    crowd = run_crowd(api_url, stripe_url, crowd_tenant, crowd_key)
    breaches = invariant_breaches(stripe_url, crowd_tenant, crowd.added)
    counted = {product: units(crowd_tenant, product) for product in SEEDED}
    results["crowd"] = {
        "seed": crowd.seed,
        "outcomes": dict(crowd.outcomes),
        "units": counted,
        # stock + reserved + sold against seeded + added, per product: 0 when no unit was lost or made
        "units_off": {p: sum(counted[p]) - SEEDED[p] - crowd.added[p] for p in SEEDED},
        "breaches": breaches,
    }
    return results
