"""Admin routes and the orders stream on DynamoDB Local, through `chalice local` (real HTTP, real authorizer path)."""

from __future__ import annotations

import boto3
import httpx
import pytest

from chalicelib.ids import new_ulid
from chalicelib.models import OrderModel, ProductModel
from support.delivery import check_out
from tests.admin import ACME_KEY, GLOBEX_KEY, KEYS, admin
from tests.api.test_order_events import subscribe
from tests.stack.test_concurrency import all_at_once
from tests.streams import read_stream, records_of, stream_arn

UNAUTHORIZED = {"error": {"code": "UNAUTHORIZED", "message": "A valid X-Api-Key is required.", "details": {}}}


@pytest.fixture
def shop(local_stack, stack_aws):
    assert local_stack.dynamodb_fallback_reason is None, "these tests must run on DynamoDB Local, not moto"
    with httpx.Client(base_url=local_stack.api_url, timeout=60) as http:
        yield http


@pytest.fixture
def product(shop) -> str:
    """A fresh product created through the admin API."""
    product_id = f"stock-{new_ulid().lower()}"
    body = {"name": "Stock test", "category": "camping", "price": "10.00", "stock": 30}
    assert shop.put(f"/tenants/acme/products/{product_id}", json=body, headers=admin()).status_code == 201
    return product_id


def test_chalice_local_reads_the_key_from_x_api_key_and_answers_in_the_envelope(shop):
    assert shop.get("/tenants/acme/orders", headers=admin()).status_code == 200
    for headers in ({}, {"X-Api-Key": "cw_acme_" + "x" * 43}, {"Authorization": ACME_KEY}):
        response = shop.get("/tenants/acme/orders", headers=headers)
        assert (response.status_code, response.json()) == (401, UNAUTHORIZED)
    response = shop.get("/tenants/acme/orders", headers=admin(GLOBEX_KEY))
    assert (response.status_code, response.json()["error"]["code"]) == (403, "FORBIDDEN")


def keyed(index: int) -> dict[str, str]:
    """The admin key and an Idempotency-Key of this adjustment's own (one per operator action)."""
    return {**admin(), "Idempotency-Key": f"adjust-{index}-{new_ulid()}"}


def test_twenty_concurrent_deltas_are_all_counted(shop, product):
    deltas = [-3] * 10 + [2] * 10  # whatever the order, stock never drops below 0
    url = f"/tenants/acme/products/{product}/stock"
    responses = all_at_once(len(deltas), lambda i: shop.post(url, json={"delta": deltas[i]}, headers=keyed(i)))

    assert [r.status_code for r in responses] == [200] * 20
    assert ProductModel.get("acme", product, consistent_read=True).stock == 30 - 30 + 20
    assert shop.get(f"/tenants/acme/products/{product}").json()["stock"] == 20


def test_concurrent_removals_never_go_below_zero(shop, product):
    url = f"/tenants/acme/products/{product}/stock"
    responses = all_at_once(20, lambda i: shop.post(url, json={"delta": -2}, headers=keyed(i)))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 15 + [409] * 5
    for rejected in (r for r in responses if r.status_code == 409):
        [item] = rejected.json()["error"]["details"]["items"]
        assert (item["product_id"], item["requested"], item["available"]) == (product, 2, 0)
    assert ProductModel.get("acme", product, consistent_read=True).stock == 0


def test_a_real_stream_record_becomes_an_order_created_event(local_stack, shop):
    """At globex, paid on delivery: its orders are sales when inserted (acme's card orders count once paid)."""
    received = subscribe("cartwise-dev", f"stream-{new_ulid().lower()}")
    product, partner = (f"stream-{new_ulid().lower()}" for _ in range(2))
    for product_id, price in ((product, "10.00"), (partner, "24.99")):
        body = {"name": "Stream test", "category": "desk", "price": price, "stock": 30}
        assert (
            shop.put(f"/tenants/globex/products/{product_id}", json=body, headers=admin(GLOBEX_KEY)).status_code == 201
        )
    cart = shop.post(
        "/tenants/globex/carts",
        json={"items": [{"product_id": product, "quantity": 2}, {"product_id": partner, "quantity": 1}]},
    ).json()
    placed = check_out(shop, "globex", cart["cart_id"]).json()["order"]
    assert placed["status"] == "confirmed"

    dynamodb = boto3.client("dynamodb", endpoint_url=local_stack.dynamodb_url)
    streams = boto3.client("dynamodbstreams", endpoint_url=local_stack.dynamodb_url)
    arn = stream_arn(dynamodb)
    [insert] = records_of(read_stream(streams, arn), placed["order_id"])
    assert insert["eventName"] == "INSERT"

    from app import order_stream

    order_stream({"Records": [insert]}, None)
    order_stream({"Records": [insert]}, None)  # redelivered

    events = received()
    assert [e["detail"]["event_id"] for e in events] == [f"order_created:globex:{placed['order_id']}"] * 2
    detail = events[0]["detail"]
    # 2 x 10.00 + 24.99 = 44.99, under ground's 100.00: shipping 6.00; VAT on 50.99 is 10.198 -> 10.20;
    # total 50.99 + 10.20 = 61.19.
    assert (detail["order_id"], detail["total"], detail["currency"]) == (placed["order_id"], "61.19", "USD")
    assert [(line["product_id"], line["quantity"], line["line_total"]) for line in detail["lines"]] == [
        (product, 2, "20.00"),
        (partner, 1, "24.99"),
    ]
    assert ProductModel.get("globex", product, consistent_read=True).co_purchases.as_dict() == {partner: 1}
    # The mark that makes counting exactly-once is a MODIFY of the order: it reaches the stream and is ignored.
    kinds = [r["eventName"] for r in records_of(read_stream(streams, arn), placed["order_id"])]
    assert kinds == ["INSERT", "MODIFY"]
    order_stream({"Records": records_of(read_stream(streams, arn), placed["order_id"])[1:]}, None)
    assert received() == []
    assert OrderModel.get("globex", placed["order_id"], consistent_read=True).co_purchases_counted_at is not None


def test_make_run_prints_the_demo_admin_keys(local_stack):
    for tenant_id, key in KEYS.items():
        assert f"admin key for {tenant_id} (X-Api-Key, local demo only): {key}" in local_stack.provision_output


def test_twenty_concurrent_retries_of_one_keyed_adjustment_apply_it_once(shop, product):
    url = f"/tenants/acme/products/{product}/stock"
    headers = {**admin(), "Idempotency-Key": f"restock-{product}"}
    responses = all_at_once(20, lambda i: shop.post(url, json={"delta": 7}, headers=headers))

    assert [r.status_code for r in responses] == [200] * 20
    assert {r.json()["stock"] for r in responses} == {37}
    assert ProductModel.get("acme", product, consistent_read=True).stock == 37
