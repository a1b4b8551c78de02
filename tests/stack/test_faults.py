"""Checkout under injected storage faults: botocore's real retries against DynamoDB Local behind a fault proxy.

The app runs in-process (Chalice's test client) with DynamoDB and SSM reached through
tests/faults_proxy.py. DynamoDB calls make three attempts (clients.DYNAMODB_RETRIES), then the
checkout answers 503 UNAVAILABLE with Retry-After, and a failed checkout leaves stock, orders
and the cart exactly as they were: the one transaction is all or nothing.

acme takes cards (the session's stack is shared, so it is not switched): a placed order awaits its
payment, its units moved from stock to reserved by that one transaction.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from decimal import Decimal

import pytest
from chalice.test import Client

from chalicelib import clients, upsell
from chalicelib.ids import new_ulid
from chalicelib.models import CartModel, OrderModel, ProductModel
from support.delivery import checkout_key, deliver
from tests.admin import admin
from tests.conftest import Api, reset_process_state
from tests.faults_proxy import APPLIED_THEN_ERROR, SERVER_ERROR, THROTTLE, FaultProxy

ATTEMPTS = clients.DYNAMODB_RETRIES["total_max_attempts"]
STOCK = 5
QUANTITY = 2
UNTOUCHED = (STOCK, 0, 0)  # (stock, reserved, sold)
HELD = (STOCK - QUANTITY, QUANTITY, 0)  # an order placed, awaiting its card payment


@pytest.fixture
def dynamodb(local_stack) -> Iterator[FaultProxy]:
    assert local_stack.dynamodb_fallback_reason is None, "fault tests run on DynamoDB Local"
    proxy = FaultProxy(local_stack.dynamodb_url).start()
    yield proxy
    proxy.stop()


@pytest.fixture
def ssm(local_stack) -> Iterator[FaultProxy]:
    proxy = FaultProxy(local_stack.aws_url).start()
    yield proxy
    proxy.stop()


@pytest.fixture
def shop(local_stack, dynamodb, ssm, monkeypatch, request) -> Iterator[Api]:
    """The app with DynamoDB and SSM behind the proxies; fresh clients, so botocore's retry quota is full."""
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    for name, value in local_stack.env.items():
        if name.startswith(("AWS_", "CARTWISE_")):
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", ssm.url)
    monkeypatch.setenv("CLIENT_LIMITS", "off")  # every checkout here is 127.0.0.1's, as in the session's stack
    monkeypatch.delenv("LLM_BASE_URL", raising=False)
    reset_process_state(f"faults:{request.node.name}")
    upsell.reset()
    from app import app

    with Client(app) as client:
        yield Api(client)
    upsell.reset()
    reset_process_state()


@pytest.fixture
def cart(shop, dynamodb) -> tuple[str, str]:
    """A fresh product (stock 5) and an open cart holding 2 of it; tenant settings are cached by then."""
    product_id = f"fault-{new_ulid().lower()}"
    ProductModel("acme", product_id, name="Fault lamp", category="camping", price=Decimal("10.00"), stock=STOCK).save()
    response = shop.post("/tenants/acme/carts", {"items": [{"product_id": product_id, "quantity": QUANTITY}]})
    assert response.status_code == 201
    deliver(shop, "acme", response.data["cart_id"])  # to DE by standard
    dynamodb.reset_counts()
    return product_id, response.data["cart_id"]


def checkout(shop: Api, cart_id: str, key: str | None = None):
    """Under `key` (made this cart's own: keys belong to the tenant and the session's stack is shared),
    or a fresh key."""
    headers = {"Idempotency-Key": f"{key}-{cart_id}"} if key else checkout_key()
    return shop.post(f"/tenants/acme/carts/{cart_id}/checkout", headers=headers)


def state(product_id: str, cart_id: str) -> dict:
    """Units, the cart and the orders of the cart, read consistently (no fault is active while reading)."""
    product = ProductModel.get("acme", product_id, consistent_read=True)
    record = CartModel.get("acme", cart_id, consistent_read=True)
    orders = [o.order_id for o in OrderModel.query("acme", consistent_read=True) if o.cart_id == cart_id]
    return {
        "units": (product.stock, product.reserved, product.sold),
        "cart": (record.status, record.order_id, record.version),
        "orders": orders,
    }


def assert_unavailable(response) -> None:
    assert response.status_code == 503
    assert response.data["error"]["code"] == "UNAVAILABLE"
    assert response.headers["Retry-After"] == "1"


@pytest.mark.parametrize("fault", [THROTTLE, SERVER_ERROR])
def test_a_failing_transaction_is_retried_three_times_then_503_and_nothing_changes(shop, dynamodb, cart, fault):
    product_id, cart_id = cart
    before = state(product_id, cart_id)
    dynamodb.fail("TransactWriteItems", fault)

    response = checkout(shop, cart_id, key="k-1")

    assert_unavailable(response)
    assert dynamodb.calls["TransactWriteItems"] == ATTEMPTS
    assert dynamodb.faults["TransactWriteItems"] == ATTEMPTS
    dynamodb.heal()
    assert state(product_id, cart_id) == before
    assert (before["units"], before["cart"][:2], before["orders"]) == (UNTOUCHED, ("open", None), [])

    # Once DynamoDB recovers, the client's retry (same key) places the order, once.
    retried = checkout(shop, cart_id, key="k-1")
    assert retried.status_code == 201
    after = state(product_id, cart_id)
    assert after["units"] == HELD
    assert after["orders"] == [retried.data["order"]["order_id"]]


@pytest.mark.parametrize(("operation", "fault"), [("GetItem", THROTTLE), ("BatchGetItem", SERVER_ERROR)])
def test_failing_reads_are_retried_three_times_then_503_before_any_write(shop, dynamodb, cart, operation, fault):
    product_id, cart_id = cart
    before = state(product_id, cart_id)
    dynamodb.reset_counts()
    dynamodb.fail(operation, fault)

    response = checkout(shop, cart_id)

    assert_unavailable(response)
    assert dynamodb.calls[operation] == ATTEMPTS
    assert "TransactWriteItems" not in dynamodb.calls
    dynamodb.heal()
    assert state(product_id, cart_id) == before


def test_throttling_that_clears_within_the_retries_places_the_order_once(shop, dynamodb, cart):
    product_id, cart_id = cart
    dynamodb.fail("TransactWriteItems", THROTTLE, times=ATTEMPTS - 1)

    response = checkout(shop, cart_id)

    assert response.status_code == 201
    assert (dynamodb.calls["TransactWriteItems"], dynamodb.faults["TransactWriteItems"]) == (ATTEMPTS, ATTEMPTS - 1)
    after = state(product_id, cart_id)
    assert after["units"] == HELD
    assert after["orders"] == [response.data["order"]["order_id"]]
    assert after["cart"][:2] == ("checked_out", response.data["order"]["order_id"])


def test_a_transaction_applied_but_answered_500_is_retried_without_applying_twice(shop, dynamodb, cart):
    """DynamoDB applied the transaction, the answer was lost: botocore's retry carries the same
    ClientRequestToken, so DynamoDB answers success without applying it again."""
    product_id, cart_id = cart
    dynamodb.fail("TransactWriteItems", APPLIED_THEN_ERROR, times=1)

    response = checkout(shop, cart_id, key="k-applied")

    assert response.status_code == 201
    assert (dynamodb.calls["TransactWriteItems"], dynamodb.faults["TransactWriteItems"]) == (2, 1)
    after = state(product_id, cart_id)
    assert after["units"] == HELD
    assert after["orders"] == [response.data["order"]["order_id"]]


def test_every_answer_lost_after_the_commit_is_503_and_the_retry_finds_the_one_order(shop, dynamodb, cart):
    product_id, cart_id = cart
    dynamodb.fail("TransactWriteItems", APPLIED_THEN_ERROR)

    response = checkout(shop, cart_id, key="k-lost")

    assert_unavailable(response)
    assert dynamodb.calls["TransactWriteItems"] == ATTEMPTS
    dynamodb.heal()
    after = state(product_id, cart_id)
    assert after["units"] == HELD  # applied once, whole: never half an order
    assert len(after["orders"]) == 1
    order_id = after["orders"][0]
    assert after["cart"][:2] == ("checked_out", order_id)

    retried = checkout(shop, cart_id, key="k-lost")
    assert (retried.status_code, retried.data["order"]["order_id"]) == (200, order_id)
    another_key = checkout(shop, cart_id)
    assert (another_key.status_code, another_key.data["error"]["code"]) == (409, "CART_CLOSED")
    assert another_key.data["error"]["details"] == {"order_id": order_id}
    assert state(product_id, cart_id) == after


def test_ssm_down_turns_the_upsell_off_and_the_checkout_goes_through(shop, dynamodb, ssm, cart, local_stack):
    product_id, cart_id = cart
    clients.ssm().put_parameter(Name="/cartwise/dev/flags/UPSELL_ENABLED", Value="true", Overwrite=True)
    ssm.reset_counts()
    ssm.fail("GetParameters", SERVER_ERROR)

    response = checkout(shop, cart_id)

    assert response.status_code == 201
    assert response.data["upsell"] == {"enabled": False, "source": "disabled", "suggestions": []}
    # One GetParameters, two attempts (clients.PARAMETERS_CONFIG); a failure is never taken for a missing flag.
    assert ssm.calls == {"GetParameters": 2}
    after = state(product_id, cart_id)
    assert after["units"] == HELD
    assert after["orders"] == [response.data["order"]["order_id"]]
    assert dynamodb.calls["TransactWriteItems"] == 1


@pytest.mark.parametrize("fault", [THROTTLE, SERVER_ERROR])
def test_the_admin_authorizer_answers_503_in_the_envelope_when_the_tenants_table_fails(shop, dynamodb, fault):
    dynamodb.fail("GetItem", fault)

    response = shop.get("/tenants/acme/orders", headers=admin())

    assert_unavailable(response)
    assert response.headers["Access-Control-Allow-Origin"] == "*"  # a browser can read why
    assert dynamodb.calls["GetItem"] == ATTEMPTS
    dynamodb.heal()
    assert shop.get("/tenants/acme/orders", headers=admin()).status_code == 200


def test_every_table_and_the_transaction_share_one_connection_and_its_retries(shop, cart):
    """The retry counts above hold for every table: models and transactions use clients.dynamodb()."""
    from chalicelib.models import ALL_MODELS

    shared = clients.dynamodb()
    assert {model._get_connection().connection for model in ALL_MODELS} == {shared}
    assert shared.client.meta.config.retries == {"mode": "standard", "total_max_attempts": ATTEMPTS}
    assert shared.session is clients.botocore_session()
