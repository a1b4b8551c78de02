"""The checkout's floor in `make bench`: the app's own three DynamoDB requests, replayed with new ids."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bench.catalogue import RecordedCheckout

CART, ORDER, TOKEN = "01CARTRECORDED", "01ORDERRECORDED", "token-of-the-recorded-checkout"
KEY = "key-of-the-recorded-checkout"


def recorded_calls() -> list[tuple[str, dict[str, Any]]]:
    key = {"tenant_id": {"S": "acme"}, "cart_id": {"S": CART}}
    order = {
        "tenant_id": {"S": "acme"},
        "order_id": {"S": ORDER},
        "cart_id": {"S": CART},
        "idempotency_key": {"S": KEY},
    }
    claim = {"tenant_id": {"S": "acme"}, "idempotency_key": {"S": f"checkout#{KEY}"}, "order_id": {"S": ORDER}}
    return [
        ("GetItem", {"TableName": "carts", "Key": key, "ConsistentRead": True}),
        ("BatchGetItem", {"RequestItems": {"products": {"Keys": [{"tenant_id": {"S": "acme"}}]}}}),
        (
            "TransactWriteItems",
            {
                "TransactItems": [
                    {"Put": {"TableName": "orders", "Item": order}},
                    {"Update": {"TableName": "carts", "Key": key, "ExpressionAttributeValues": {":o": {"S": ORDER}}}},
                    {"Put": {"TableName": "idempotency", "Item": claim}},
                ],
                "ClientRequestToken": TOKEN,
            },
        ),
    ]


def test_the_replay_is_the_recorded_requests_on_another_cart_with_a_new_order_and_token() -> None:
    recorded = RecordedCheckout.of(recorded_calls(), CART, ORDER, KEY)

    replay = recorded.requests_for("01OTHERCART")

    assert [method for method, _ in replay] == ["get_item", "batch_get_item", "transact_write_items"]
    text = json.dumps(replay)
    for recorded_only in (CART, ORDER, TOKEN, KEY):
        assert recorded_only not in text
    get_item, batch_get, transaction = (params for _, params in replay)
    other_cart = {"tenant_id": {"S": "acme"}, "cart_id": {"S": "01OTHERCART"}}
    assert get_item == {"TableName": "carts", "Key": other_cart, "ConsistentRead": True}
    assert batch_get == recorded_calls()[1][1]
    put, update, claim = transaction["TransactItems"]
    new_order = put["Put"]["Item"]["order_id"]["S"]
    assert put["Put"]["Item"]["cart_id"] == {"S": "01OTHERCART"}
    assert update["Update"]["ExpressionAttributeValues"] == {":o": {"S": new_order}}
    # A new key, the same in the order and in its record (a replayed claim of the recorded key would fail).
    new_key = put["Put"]["Item"]["idempotency_key"]["S"]
    assert claim["Put"]["Item"] == {
        "tenant_id": {"S": "acme"},
        "idempotency_key": {"S": f"checkout#{new_key}"},
        "order_id": {"S": new_order},
    }
    assert transaction["ClientRequestToken"] != TOKEN
    # Each replay is a new order with a new token (DynamoDB would answer a reused token with the first outcome).
    again = recorded.requests_for("01OTHERCART")[2][1]
    assert again["TransactItems"][0]["Put"]["Item"]["order_id"]["S"] != new_order
    assert again["ClientRequestToken"] != transaction["ClientRequestToken"]
    # The recording itself is left as recorded.
    assert recorded.calls == tuple(recorded_calls())


def test_the_recording_survives_json_between_processes() -> None:
    recorded = RecordedCheckout.of(recorded_calls(), CART, ORDER, KEY)

    assert RecordedCheckout.from_json(json.loads(json.dumps(recorded.as_json()))) == recorded


def test_a_checkout_that_made_other_calls_is_not_the_floor() -> None:
    calls = recorded_calls()
    with pytest.raises(ValueError, match="not the floor's"):
        RecordedCheckout.of([*calls, ("PutItem", {"TableName": "idempotency"})], CART, ORDER, KEY)
    with pytest.raises(ValueError, match="not the floor's"):
        RecordedCheckout.of(calls[::-1], CART, ORDER, KEY)


def test_the_repeated_measurement_takes_turns_and_reports_each_kinds_median_run(monkeypatch):
    from bench import lambda_checkout

    ratios = iter([1.45, 1.2, 1.32, 1.18, 1.4, 1.25])  # per request and reused, taking turns
    calls = []

    def run(stack_env, product, rounds, **settings):
        calls.append(settings)
        return {"checkout_to_floor": next(ratios), "product": product}

    monkeypatch.setattr(lambda_checkout, "run", run)
    reused = {"UPSELL_FLAG_MAX_AGE_SECONDS": "60"}

    measured = lambda_checkout.run_repeated({}, "hot", per_request={}, flag_reused=reused)

    assert calls == [{}, reused] * 3
    assert measured == {
        "per_request": {"checkout_to_floor": 1.4, "product": "hot", "ratios": [1.45, 1.32, 1.4]},
        "flag_reused": {"checkout_to_floor": 1.2, "product": "hot", "ratios": [1.2, 1.18, 1.25]},
    }
