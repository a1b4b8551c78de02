"""Races against DynamoDB Local (moto is not atomic under concurrency), through the real HTTP API.

acme takes cards: a checkout there moves units from stock to reserved (the order awaits its payment),
and stock + reserved + sold never changes. globex, paid on delivery, sells them at once. The session's
stack is shared, so no test switches a tenant's payment mode.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import httpx
import pytest

from chalicelib.ids import new_ulid
from chalicelib.models import OrderModel, ProductModel
from support.delivery import checkout_key, deliver, ship_as_acme


def new_race_product(local_stack, tenant_id: str) -> str:
    assert local_stack.dynamodb_fallback_reason is None, "races must run on DynamoDB Local, not moto"
    product_id = f"race-{new_ulid().lower()}"
    ProductModel(
        tenant_id, product_id, name="Limited edition", category="camping", price=Decimal("10.00"), stock=10
    ).save()
    return product_id


@pytest.fixture
def race_product(local_stack, stack_aws) -> str:
    """10 units of a fresh product at acme, a card shop."""
    return new_race_product(local_stack, "acme")


@pytest.fixture
def on_delivery_race_product(local_stack, stack_aws) -> str:
    """10 units of a fresh product at globex, paid on delivery."""
    return new_race_product(local_stack, "globex")


def all_at_once(count: int, call):
    """Run `call(i)` on `count` threads released together by a barrier."""
    barrier = threading.Barrier(count)

    def run(index: int):
        barrier.wait()
        return call(index)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def orders_for(product_id: str, tenant_id: str = "acme") -> list[OrderModel]:
    return [o for o in OrderModel.query(tenant_id, consistent_read=True) if o.lines[0].product_id == product_id]


def deliverable_cart(http: httpx.Client, api_url: str, tenant_id: str, product_id: str, quantity: int = 1) -> str:
    """A cart of `quantity` units of one product with the shop's delivery set (support/delivery.py)."""
    items = [{"product_id": product_id, "quantity": quantity}]
    cart_id = http.post(f"{api_url}/tenants/{tenant_id}/carts", json={"items": items}).json()["cart_id"]
    deliver(http, tenant_id, cart_id, base=api_url)
    return cart_id


def test_fifty_shoppers_for_ten_units_never_oversell(local_stack, race_product):
    base = f"{local_stack.api_url}/tenants/acme/carts"
    with httpx.Client(timeout=60) as http:
        carts = [deliverable_cart(http, local_stack.api_url, "acme", race_product) for _ in range(50)]
        responses = all_at_once(50, lambda i: http.post(f"{base}/{carts[i]}/checkout", headers=checkout_key()))

    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 10
    assert statuses.count(409) == 40
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {"OUT_OF_STOCK"}
    product = ProductModel.get("acme", race_product, consistent_read=True)
    assert (product.stock, product.reserved, product.sold) == (0, 10, 0)  # held for 10 orders awaiting payment
    assert [o.status for o in orders_for(race_product)] == ["pending_payment"] * 10


@pytest.mark.parametrize(("retries", "quantity"), [(20, 2), (16, 6), (16, 10)])
def test_concurrent_retries_of_one_key_make_one_order_whatever_the_quantity(
    local_stack, race_product, retries, quantity
):
    """With 6 or 10 of 10, every loser sees the winner's stock taken: it must still get the order, not a 409."""
    base = f"{local_stack.api_url}/tenants/acme/carts"
    with httpx.Client(timeout=60) as http:
        cart_id = deliverable_cart(http, local_stack.api_url, "acme", race_product, quantity)
        responses = all_at_once(
            retries,
            lambda i: http.post(
                f"{base}/{cart_id}/checkout",
                headers={"Idempotency-Key": f"double-click-{cart_id}"},
                json={"email": "a@example.com"},
            ),
        )

    assert sorted(r.status_code for r in responses) == [200] * (retries - 1) + [201]
    assert len({r.json()["order"]["order_id"] for r in responses}) == 1
    product = ProductModel.get("acme", race_product, consistent_read=True)
    assert (product.stock, product.reserved, product.sold) == (10 - quantity, quantity, 0)
    assert len(orders_for(race_product)) == 1


def test_racing_checkouts_of_two_carts_with_one_key_place_one_order(local_stack, race_product):
    """The key belongs to the tenant: whichever cart wins, the other is 422 and keeps its stock."""
    base = f"{local_stack.api_url}/tenants/acme/carts"
    with httpx.Client(timeout=60) as http:
        carts = [deliverable_cart(http, local_stack.api_url, "acme", race_product, 3) for _ in range(2)]
        responses = all_at_once(
            10,
            lambda i: http.post(
                f"{base}/{carts[i % 2]}/checkout", headers={"Idempotency-Key": f"one-key-{race_product}"}
            ),
        )

    winner = next(r for r in responses if r.status_code == 201)
    won_cart = winner.json()["order"]["cart_id"]
    outcomes = sorted((r.status_code, r.json().get("error", {}).get("code")) for r in responses if r is not winner)
    # The winner's cart: 4 replays of its order; the other cart: 5 refusals of the key.
    assert outcomes == [(200, None)] * 4 + [(422, "IDEMPOTENCY_KEY_REUSED")] * 5
    assert all(r.json()["order"]["cart_id"] == won_cart for r in responses if r.status_code == 200)
    product = ProductModel.get("acme", race_product, consistent_read=True)
    assert (product.stock, product.reserved, product.sold) == (7, 3, 0)
    assert len(orders_for(race_product)) == 1


def test_concurrent_cart_edits_lose_no_update(local_stack, stack_aws):
    base = f"{local_stack.api_url}/tenants/acme/carts"
    products = ["tent-2p", "headlamp", "sun-hat", "wool-socks", "cook-set", "camp-chair", "fuel-canister", "gift-card"]
    with httpx.Client(timeout=60) as http:
        cart_id = http.post(base).json()["cart_id"]
        responses = all_at_once(
            len(products), lambda i: http.put(f"{base}/{cart_id}/items/{products[i]}", json={"quantity": 1})
        )
        assert [r.status_code for r in responses] == [200] * len(products)
        cart = http.get(f"{base}/{cart_id}").json()
    assert sorted(item["product_id"] for item in cart["items"]) == sorted(products)


def test_checkouts_racing_cancels_keep_every_unit_accounted_for(local_stack, on_delivery_race_product):
    """Stock 10 at an on-delivery shop: 6 orders placed, then 8 more checkouts race 12 cancels (each of the
    6 orders twice). Every cancel happens once, and stock + reserved + sold stays 10 with sold = the
    confirmed orders' units. (Cancels racing the release of card holds: the next test.)"""
    race_product = on_delivery_race_product
    base = f"{local_stack.api_url}/tenants/globex"
    with httpx.Client(timeout=60) as http:

        def new_cart() -> str:
            return deliverable_cart(http, local_stack.api_url, "globex", race_product)

        first = [http.post(f"{base}/carts/{new_cart()}/checkout", headers=checkout_key()).json() for _ in range(6)]
        later = [new_cart() for _ in range(8)]
        calls = [("checkout", cart_id) for cart_id in later] + [
            ("cancel", answer) for answer in first for _ in range(2)
        ]

        def call(i: int):
            kind, target = calls[i]
            if kind == "checkout":
                return kind, http.post(f"{base}/carts/{target}/checkout", headers=checkout_key())
            order_id = target["order"]["order_id"]
            headers = {"X-Order-Token": target["order_token"]}
            return kind, http.post(f"{base}/orders/{order_id}/cancel", headers=headers)

        results = all_at_once(len(calls), call)

    cancels = [r for kind, r in results if kind == "cancel"]
    assert [(r.status_code, r.json()["status"]) for r in cancels] == [(200, "cancelled")] * 12
    placed_later = [r for kind, r in results if kind == "checkout" and r.status_code == 201]
    refused = [r for kind, r in results if kind == "checkout" and r.status_code != 201]
    assert {r.json()["error"]["code"] for r in refused} <= {"OUT_OF_STOCK"}
    assert 4 <= len(placed_later) <= 8  # 4 units were free all along; cancels may free more in time
    product = ProductModel.get("globex", race_product, consistent_read=True)
    assert product.stock + product.reserved + product.sold == 10
    assert (product.reserved, product.sold) == (0, len(placed_later))
    statuses = sorted(o.status for o in orders_for(race_product, "globex"))
    assert statuses == ["cancelled"] * 6 + ["confirmed"] * len(placed_later)


def test_cancels_racing_the_sweeper_release_each_hold_once(local_stack, stack_aws):
    """8 unpaid orders whose holds have lapsed: 8 cancels race 4 sweeps. Each order ends cancelled or
    expired, never both, and every held unit is back on sale exactly once."""
    from datetime import UTC, datetime, timedelta
    from decimal import Decimal as D

    from chalicelib.models import TenantModel
    from chalicelib.payments import sweeper

    tenant = f"cards-{new_ulid().lower()[-8:]}"
    TenantModel(tenant, name="Card shop", currency="EUR", vat_rate=D("0.20"), payment_mode="stripe").save()
    ship_as_acme(tenant)
    product_id = "limited"
    ProductModel(tenant, product_id, name="Limited", category="camping", price=D("10.00"), stock=10).save()
    base = f"{local_stack.api_url}/tenants/{tenant}"
    with httpx.Client(timeout=60) as http:
        placed = []
        for _ in range(8):
            cart_id = deliverable_cart(http, local_stack.api_url, tenant, product_id)
            placed.append(http.post(f"{base}/carts/{cart_id}/checkout", headers=checkout_key()).json())
        assert {answer["order"]["status"] for answer in placed} == {"pending_payment"}
        after_the_holds = datetime.now(UTC) + timedelta(hours=1)

        def call(i: int):
            if i < 8:
                order_id = placed[i]["order"]["order_id"]
                headers = {"X-Order-Token": placed[i]["order_token"]}
                return http.post(f"{base}/orders/{order_id}/cancel", headers=headers)
            # The sweeper also expires what earlier tests left awaiting payment: this tenant's count.
            return sweeper.sweep(now=after_the_holds).expired_by_tenant[tenant]

        results = all_at_once(12, call)

    cancels, sweeps = results[:8], results[8:]
    final = {
        a["order"]["order_id"]: OrderModel.get(tenant, a["order"]["order_id"], consistent_read=True) for a in placed
    }
    expired_ids = [order_id for order_id, order in final.items() if order.status == "expired"]
    assert sum(sweeps) == len(expired_ids)  # no order expired twice
    for answer, cancel in zip(placed, cancels, strict=True):
        order_id = answer["order"]["order_id"]
        if cancel.status_code == 200:
            assert cancel.json()["status"] == "cancelled"
            assert order_id not in expired_ids
        else:
            assert (cancel.status_code, cancel.json()["error"]["details"]) == (409, {"status": "expired"})
            assert order_id in expired_ids
    statuses = sorted(OrderModel.get(tenant, a["order"]["order_id"], consistent_read=True).status for a in placed)
    assert statuses == sorted(["cancelled"] * (8 - len(expired_ids)) + ["expired"] * len(expired_ids))
    product = ProductModel.get(tenant, product_id, consistent_read=True)
    assert (product.stock, product.reserved, product.sold) == (10, 0, 0)
