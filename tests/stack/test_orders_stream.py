"""The orders stream handled locally as Lambda's event source mapping does (scripts/orders_stream.py)."""

from __future__ import annotations

import time
from pathlib import Path

import boto3
import httpx
import pytest

from chalicelib.ids import new_ulid
from chalicelib.models import ProductModel
from scripts.local_stack import start_orders_stream
from scripts.orders_stream import StreamPoller, orders_stream_arn
from support.delivery import check_out
from tests.admin import GLOBEX_KEY, admin
from tests.api.test_order_events import subscribe


@pytest.fixture
def dynamodb_local(local_stack, stack_aws):
    assert local_stack.dynamodb_fallback_reason is None, "these tests must run on DynamoDB Local, not moto"
    return local_stack


def wait_for(check, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, "not within the time limit"
        time.sleep(0.2)
    return result


def test_make_run_counts_orders_and_publishes_events_within_seconds(dynamodb_local, tmp_path: Path):
    """A new user's story: orders of A with B, again and again; the fallback then suggests B for A.

    At globex, paid on delivery, whose orders are sales when placed (acme's card orders count once paid).
    """
    stack = dynamodb_local
    runner = start_orders_stream(stack.env, log_dir=tmp_path)
    try:
        received = subscribe("cartwise-dev", f"stream-runner-{new_ulid().lower()}")
        suffix = new_ulid().lower()
        a, b = f"stream-a-{suffix}", f"stream-b-{suffix}"
        with httpx.Client(base_url=stack.api_url, timeout=60) as shop:
            for product_id, category in ((a, f"alone-{suffix}"), (b, "lighting")):
                body = {"name": product_id, "category": category, "price": "5.00", "stock": 50}
                assert (
                    shop.put(f"/tenants/globex/products/{product_id}", json=body, headers=admin(GLOBEX_KEY)).status_code
                    == 201
                )
            placed = []
            for _ in range(3):
                items = [{"product_id": a, "quantity": 1}, {"product_id": b, "quantity": 2}]
                cart = shop.post("/tenants/globex/carts", json={"items": items}).json()
                placed.append(check_out(shop, "globex", cart["cart_id"]).json()["order"]["order_id"])

            def counted():
                return ProductModel.get("globex", a, consistent_read=True).co_purchases.as_dict() == {b: 3}

            wait_for(counted)
            assert ProductModel.get("globex", b, consistent_read=True).co_purchases.as_dict() == {a: 3}
            published = wait_for(lambda: [e for e in received() if e["detail"]["order_id"] in placed] or None)
            mine = sorted(e["detail"]["order_id"] for e in published)
            while len(mine) < len(placed):  # events may arrive in more than one batch
                mine += sorted(e["detail"]["order_id"] for e in received() if e["detail"]["order_id"] in placed)
            assert sorted(mine) == sorted(placed)

            cart = shop.post("/tenants/globex/carts", json={"items": [{"product_id": a, "quantity": 1}]}).json()
            suggestions = shop.get(f"/tenants/globex/carts/{cart['cart_id']}/upsell").json()["suggestions"]
        assert suggestions[0]["product_id"] == b
        assert suggestions[0]["reason"] == f"Often bought together with {a}."
    finally:
        runner.stop()
    assert "Orders stream batch" in runner.log_path.read_text()


@pytest.fixture
def stream_table(dynamodb_local):
    """A table of its own with a stream, so the batches below are exactly the items written here."""
    dynamodb = boto3.client("dynamodb", endpoint_url=dynamodb_local.dynamodb_url)
    name = f"stream-test-{new_ulid().lower()}"
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    streams = boto3.client("dynamodbstreams", endpoint_url=dynamodb_local.dynamodb_url)
    yield dynamodb, name, streams
    dynamodb.delete_table(TableName=name)


def put(dynamodb, table: str, ids) -> None:
    for item_id in ids:
        dynamodb.put_item(TableName=table, Item={"id": {"S": item_id}})


def item_id(record) -> str:
    return record["dynamodb"]["Keys"]["id"]["S"]


class Handler:
    """Records each batch's item ids, then answers with `answer(batch number, records)`."""

    def __init__(self, answer) -> None:
        self.batches: list[list[str]] = []
        self.answer = answer

    def __call__(self, event):
        self.batches.append([item_id(r) for r in event["Records"]])
        return self.answer(len(self.batches), event["Records"])


def test_batches_resume_where_they_left_off_and_a_failed_batch_is_retried_whole(stream_table):
    dynamodb, table, streams = stream_table
    put(dynamodb, table, [f"item-{n:02}" for n in range(30)])
    arn = orders_stream_arn(dynamodb, table)

    def answer(number, records):
        assert {r["eventSourceARN"] for r in records} == {arn}
        if number == 2:
            raise RuntimeError("the handler failed this batch")

    handler, pauses = Handler(answer), []
    poller = StreamPoller(streams, arn, handler, sleep=pauses.append)

    assert poller.poll_once() == 25  # the second batch failed: not handled, not skipped
    assert poller.poll_once() == 5
    assert poller.poll_once() == 0
    put(dynamodb, table, ["late-1", "late-2"])
    assert poller.poll_once() == 2

    expected = [f"item-{n:02}" for n in range(30)]
    assert handler.batches == [expected[:25], expected[25:], expected[25:], ["late-1", "late-2"]]
    assert pauses == [0.5]  # one pause before the retry


def test_a_partial_batch_response_checkpoints_before_the_first_failed_record(stream_table):
    dynamodb, table, streams = stream_table
    put(dynamodb, table, [f"item-{n}" for n in range(6)])

    def answer(number, records):
        failed = [r for r in records if item_id(r) in ("item-2", "item-4")] if number == 1 else []
        return {"batchItemFailures": [{"itemIdentifier": r["dynamodb"]["SequenceNumber"]} for r in failed]}

    handler, pauses = Handler(answer), []
    poller = StreamPoller(streams, orders_stream_arn(dynamodb, table), handler, sleep=pauses.append)

    assert poller.poll_once() == 2
    assert poller.poll_once() == 4
    assert handler.batches == [[f"item-{n}" for n in range(6)], [f"item-{n}" for n in range(2, 6)]]
    assert pauses == [0.5]
