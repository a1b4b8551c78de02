"""The orders-stream handler (moto): order_created on EventBridge, co-purchase counts exactly once.

acme is paid on delivery here (`acme_on_delivery`), so its orders are sales when inserted; a card
order, counted once paid, is set up by its own test.
"""

from __future__ import annotations

import json

import boto3
import pytest

from chalicelib import catalog, clients, orders, orders_stream, tenants
from chalicelib.models import OrderModel, ProductModel, TenantModel
from support.delivery import check_out
from tests.conftest import product_record
from tests.streams import synthetic_record

CARTS = "/tenants/acme/carts"
pytestmark = pytest.mark.usefixtures("acme_on_delivery")
PATTERN = {
    "source": ["cartwise.orders"],
    "detail-type": ["order_created", "order_paid", "order_cancelled", "order_expired", "order_refunded"],
}


def subscribe(bus: str, name: str = "order-events") -> object:
    """A queue receiving every order event of the bus; returns a function draining it."""
    sqs = boto3.client("sqs")
    events = boto3.client("events")
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps(PATTERN))
    events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "queue", "Arn": queue_arn}])

    def drain() -> list[dict]:
        messages = []
        while True:
            batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return messages
            for message in batch:
                messages.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])

    return drain


@pytest.fixture
def received(aws):
    return subscribe("cartwise-dev")


@pytest.fixture
def handler(aws):
    from app import order_stream

    return lambda *records: order_stream({"Records": list(records)}, None)


def order(api, *items) -> dict:
    cart_id = api.post(CARTS, {"items": [{"product_id": p, "quantity": q} for p, q in items]}).data["cart_id"]
    response = check_out(api, "acme", cart_id)
    assert response.status_code == 201
    return response.data["order"]


def order_item(order_id: str) -> dict:
    """The order exactly as DynamoDB stores it (the NEW_IMAGE of its INSERT record)."""
    key = {"tenant_id": {"S": "acme"}, "order_id": {"S": order_id}}
    return clients.client("dynamodb").get_item(TableName=OrderModel.Meta.table_name, Key=key)["Item"]


def counts(product_id: str) -> dict:
    return product_record("acme", product_id).co_purchases.as_dict()


def best_sellers() -> dict:
    stored = TenantModel.get("acme", consistent_read=True).best_sellers
    return stored.as_dict() if stored else {}


def test_insert_publishes_order_created(api, handler, received):
    placed = order(api, ("tent-2p", 1), ("headlamp", 2))
    handler(synthetic_record(order_item(placed["order_id"])))

    [event] = received()
    assert (event["source"], event["detail-type"]) == ("cartwise.orders", "order_created")
    assert event["detail"] == {
        "event_id": f"order_created:acme:{placed['order_id']}",
        "tenant_id": "acme",
        "order_id": placed["order_id"],
        "cart_id": placed["cart_id"],
        "status": "confirmed",
        "created_at": placed["created_at"],
        "total": "214.78",
        "currency": "EUR",
        "lines": [
            {"product_id": "tent-2p", "name": "Ridgeline 2-Person Tent", "unit_price": "129.00", "quantity": 1,
             "line_total": "129.00"},
            {"product_id": "headlamp", "name": "LED Headlamp 300", "unit_price": "24.99", "quantity": 2,
             "line_total": "49.98"},
        ],
    }  # fmt: skip
    assert placed["totals"]["total"] == "214.78"


def test_co_purchases_count_every_pair_once(api, handler, received):
    first = order(api, ("tent-2p", 1), ("headlamp", 1), ("sun-hat", 3))
    second = order(api, ("tent-2p", 2), ("headlamp", 1))
    handler(synthetic_record(order_item(first["order_id"]), sequence=1))
    handler(synthetic_record(order_item(second["order_id"]), sequence=2))

    assert counts("tent-2p") == {"headlamp": 2, "sun-hat": 1}
    assert counts("headlamp") == {"tent-2p": 2, "sun-hat": 1}
    assert counts("sun-hat") == {"tent-2p": 1, "headlamp": 1}
    assert counts("cook-set") == {}
    assert len(received()) == 2


def test_redelivered_records_count_once_and_republish_the_same_event_id(api, handler, received):
    placed = order(api, ("tent-2p", 1), ("headlamp", 1))
    record = synthetic_record(order_item(placed["order_id"]))
    handler(record)
    handler(record)
    handler(record, record)  # the same record twice in one batch, too

    assert counts("tent-2p") == {"headlamp": 1}
    assert counts("headlamp") == {"tent-2p": 1}
    events = received()
    assert len(events) == 4  # at-least-once: consumers de-duplicate on event_id
    assert {e["detail"]["event_id"] for e in events} == {f"order_created:acme:{placed['order_id']}"}
    assert OrderModel.get("acme", placed["order_id"]).co_purchases_counted_at is not None


def test_a_sale_counts_once_whichever_record_shows_it_first_and_a_remove_publishes_nothing(api, handler, received):
    placed = order(api, ("tent-2p", 1), ("headlamp", 1))
    item = order_item(placed["order_id"])
    handler(synthetic_record(item, "REMOVE", 1))
    assert (received(), counts("tent-2p")) == ([], {})
    handler(synthetic_record(item, "MODIFY", 2), synthetic_record(item, "INSERT", 3))
    assert counts("tent-2p") == {"headlamp": 1}
    assert [e["detail-type"] for e in received()] == ["order_created"]  # a confirmed order's MODIFY publishes nothing


def test_a_card_order_counts_when_paid_and_publishes_paid_then_refunded(api, handler, received, monkeypatch):
    TenantModel("acme").update(actions=[TenantModel.payment_mode.set("stripe")])
    tenants.clear_cache()
    placed = order(api, ("tent-2p", 1), ("headlamp", 1))
    handler(synthetic_record(order_item(placed["order_id"]), sequence=1))
    assert (counts("tent-2p"), best_sellers()) == ({}, {})  # awaiting payment: not a sale yet
    stored = OrderModel.get("acme", placed["order_id"], consistent_read=True)

    assert orders.mark_paid(stored) is orders.Moved.DONE
    paid = synthetic_record(order_item(placed["order_id"]), event_name="MODIFY", sequence=2)
    handler(paid, paid)  # redelivered in the same batch
    assert orders.mark_refunded(stored, "requested_by_admin") is orders.Moved.DONE
    handler(synthetic_record(order_item(placed["order_id"]), event_name="MODIFY", sequence=3))

    assert counts("tent-2p") == {"headlamp": 1}
    assert best_sellers() == {"tent-2p": 1, "headlamp": 1}
    published = received()
    assert [e["detail-type"] for e in published] == ["order_created", "order_paid", "order_paid", "order_refunded"]
    assert [e["detail"]["status"] for e in published] == ["pending_payment", "paid", "paid", "refunded"]
    assert published[3]["detail"]["event_id"] == f"order_refunded:acme:{placed['order_id']}"


def test_a_single_product_order_is_published_and_counts_its_units_only(api, handler, received):
    placed = order(api, ("tent-2p", 3))
    handler(synthetic_record(order_item(placed["order_id"])))
    assert [e["detail"]["order_id"] for e in received()] == [placed["order_id"]]
    assert counts("tent-2p") == {}
    assert best_sellers() == {"tent-2p": 3}
    assert OrderModel.get("acme", placed["order_id"]).co_purchases_counted_at is not None


def test_best_sellers_add_units_of_every_order_once(api, handler, received):
    first = order(api, ("tent-2p", 1), ("headlamp", 2))
    second = order(api, ("headlamp", 3), ("sun-hat", 1))
    record = synthetic_record(order_item(first["order_id"]), sequence=1)
    handler(record, synthetic_record(order_item(second["order_id"]), sequence=2), record)
    assert best_sellers() == {"headlamp": 5, "tent-2p": 1, "sun-hat": 1}
    assert tenants.get_tenant("acme", fresh=True).best_sellers == ("headlamp", "sun-hat", "tent-2p")


def test_co_purchases_keep_the_top_k_whatever_the_catalogue(api, handler, received, monkeypatch):
    """With room for 2 counters, a third partner takes the smallest one's place (Space-Saving)."""
    monkeypatch.setattr(orders_stream, "CO_PURCHASES_KEPT", 2)
    for partner, times in (("headlamp", 3), ("sun-hat", 1), ("cook-set", 1)):
        for _ in range(times):
            handler(synthetic_record(order_item(order(api, ("tent-2p", 1), (partner, 1))["order_id"])))
    # cook-set evicted sun-hat (the smallest) and inherited its count: 1 + 1.
    assert counts("tent-2p") == {"headlamp": 3, "cook-set": 2}
    assert counts("sun-hat") == {"tent-2p": 1}


def test_a_map_changed_since_it_was_read_is_read_again(api, handler, received, monkeypatch):
    """Another order counted between this one's read and its write: nothing is lost."""
    placed = order(api, ("tent-2p", 1), ("headlamp", 1))
    real_get_products = catalog.get_products
    raced = []

    def get_products_then_race(*args, **kwargs):
        products = real_get_products(*args, **kwargs)
        if not raced:
            raced.append(True)
            ProductModel("acme", "tent-2p").update(actions=[ProductModel.co_purchases["sun-hat"].set(4)])
        return products

    monkeypatch.setattr(catalog, "get_products", get_products_then_race)
    handler(synthetic_record(order_item(placed["order_id"])))
    assert counts("tent-2p") == {"headlamp": 1, "sun-hat": 4}
    assert counts("headlamp") == {"tent-2p": 1}
    assert best_sellers() == {"tent-2p": 1, "headlamp": 1}


def test_products_stored_before_co_purchases_existed_are_counted(api, handler, received):
    placed = order(api, ("tent-2p", 1), ("headlamp", 1))
    ProductModel("acme", "tent-2p").update(actions=[ProductModel.co_purchases.remove()])
    assert (
        "co_purchases"
        not in clients.client("dynamodb").get_item(
            TableName=ProductModel.Meta.table_name, Key={"tenant_id": {"S": "acme"}, "product_id": {"S": "tent-2p"}}
        )["Item"]
    )
    handler(synthetic_record(order_item(placed["order_id"])))
    assert counts("tent-2p") == {"headlamp": 1}
    assert counts("headlamp") == {"tent-2p": 1}


def test_a_product_deleted_since_is_skipped_not_recreated(api, handler, received):
    placed = order(api, ("tent-2p", 1), ("headlamp", 1), ("sun-hat", 1))
    ProductModel("acme", "sun-hat").delete()
    handler(synthetic_record(order_item(placed["order_id"])))
    # The remaining pair is counted; the gone product is neither recreated nor suggested any more.
    assert counts("tent-2p") == {"headlamp": 1}
    assert counts("headlamp") == {"tent-2p": 1}
    with pytest.raises(ProductModel.DoesNotExist):
        ProductModel.get("acme", "sun-hat")
    assert len(received()) == 1


def failures(*sequences: int) -> dict:
    """The partial batch response naming the records synthetic_record() made with these sequences."""
    return {"batchItemFailures": [{"itemIdentifier": str(n).rjust(21, "0")} for n in sequences]}


class EventsRefusing:
    """EventBridge that refuses the entries of some orders (as PutEvents does, per entry) and takes the rest."""

    def __init__(self, *order_ids: str) -> None:
        self.order_ids = order_ids
        self.bus = boto3.client("events")

    def put_events(self, Entries):
        refused = [any(order_id in entry["Detail"] for order_id in self.order_ids) for entry in Entries]
        accepted = self.bus.put_events(Entries=[e for e, no in zip(Entries, refused, strict=True) if not no])
        results = iter(accepted["Entries"])
        return {
            "FailedEntryCount": sum(refused),
            "Entries": [{"ErrorCode": "InternalFailure"} if no else next(results) for no in refused],
        }


class EventsDown:
    def put_events(self, Entries):
        raise boto3.client("events").exceptions.InternalException({"Error": {"Code": "InternalException"}}, "PutEvents")


def test_a_handled_batch_reports_no_failures(api, handler, received):
    placed = order(api, ("tent-2p", 1), ("headlamp", 1))
    assert handler(synthetic_record(order_item(placed["order_id"]))) == {"batchItemFailures": []}
    assert len(received()) == 1


def test_a_poisoned_record_is_reported_and_the_rest_of_the_batch_is_handled(api, handler, received):
    first = order(api, ("tent-2p", 1), ("headlamp", 1))
    poisoned = order(api, ("sun-hat", 1), ("headlamp", 1))
    last = order(api, ("sun-hat", 1), ("tent-2p", 1))
    unreadable = order_item(poisoned["order_id"]) | {"totals": {"S": "not a map"}}
    batch = [
        synthetic_record(order_item(first["order_id"]), sequence=1),
        synthetic_record(unreadable, sequence=2),
        synthetic_record(order_item(last["order_id"]), sequence=3),
    ]

    assert handler(*batch) == failures(2)
    assert sorted(e["detail"]["order_id"] for e in received()) == sorted([first["order_id"], last["order_id"]])
    assert counts("tent-2p") == {"headlamp": 1, "sun-hat": 1}
    assert counts("sun-hat") == {"tent-2p": 1}  # the poisoned order's pair (sun-hat, headlamp) is not counted
    assert OrderModel.get("acme", poisoned["order_id"]).co_purchases_counted_at is None


def test_an_event_refused_by_the_bus_reports_its_record_only(api, handler, received, monkeypatch):
    placed = [order(api, ("tent-2p", 1), ("headlamp", 1))["order_id"] for _ in range(3)]
    records = [synthetic_record(order_item(order_id), sequence=n) for n, order_id in enumerate(placed, start=1)]
    with monkeypatch.context() as patched:
        patched.setattr(clients, "events", lambda: EventsRefusing(placed[1]))
        assert handler(*records) == failures(2)
    assert sorted(e["detail"]["order_id"] for e in received()) == sorted([placed[0], placed[2]])
    assert counts("tent-2p") == {"headlamp": 3}  # counted before publishing, and only once

    assert handler(*records[1:]) == failures()  # Lambda delivers again from the reported record
    assert sorted(e["detail"]["order_id"] for e in received()) == sorted(placed[1:])
    assert counts("tent-2p") == {"headlamp": 3}


def test_a_bus_that_is_down_reports_every_record_of_the_batch(api, handler, received, monkeypatch):
    placed = [order(api, ("tent-2p", 1), ("headlamp", 1))["order_id"] for _ in range(2)]
    records = [synthetic_record(order_item(order_id), sequence=n) for n, order_id in enumerate(placed, start=1)]
    with monkeypatch.context() as patched:
        patched.setattr(clients, "events", EventsDown)
        assert handler(*records) == failures(1, 2)
    assert received() == []
    assert handler(*records) == failures()
    assert sorted(e["detail"]["order_id"] for e in received()) == sorted(placed)


def test_more_than_ten_orders_in_a_batch(api, handler, received):
    placed = [order(api, ("fuel-canister", 1))["order_id"] for _ in range(12)]
    handler(*(synthetic_record(order_item(order_id), sequence=i) for i, order_id in enumerate(placed)))
    assert sorted(e["detail"]["order_id"] for e in received()) == sorted(placed)


def test_bus_name_comes_from_settings(api, handler, monkeypatch):
    boto3.client("events").create_event_bus(Name="cartwise-custom")
    drain = subscribe("cartwise-custom", "custom")
    monkeypatch.setenv("EVENT_BUS_NAME", "cartwise-custom")
    from chalicelib import config

    config.reset()
    placed = order(api, ("tent-2p", 1))
    handler(synthetic_record(order_item(placed["order_id"])))
    assert [e["detail"]["order_id"] for e in drain()] == [placed["order_id"]]


def test_an_order_is_counted_in_the_metrics_once_whatever_redelivers_or_replays_it(api, handler, aws, capsys):
    """Orders and Revenue come from the order's first count, not from the checkout's answer: a replay
    (or a checkout whose answer was lost) and a redelivered stream record count nothing more."""
    cart_id = api.post(
        CARTS, {"items": [{"product_id": "tent-2p", "quantity": 1}, {"product_id": "headlamp", "quantity": 2}]}
    ).data["cart_id"]
    placed = check_out(api, "acme", cart_id, key="k-metrics").data["order"]
    assert api.post(f"{CARTS}/{cart_id}/checkout", headers={"Idempotency-Key": "k-metrics"}).status_code == 200
    capsys.readouterr()
    record = synthetic_record(order_item(placed["order_id"]))

    handler(record)
    handler(record)  # redelivered

    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    [document] = [d for d in documents if "Orders" in d]
    assert (document["Orders"], document["Revenue"]) == ([1.0], [214.78])  # 129.00 + 2 x 24.99 + 20 % VAT
    assert (document["currency"], document["tenant_id"], document["order_id"]) == ("EUR", "acme", placed["order_id"])
    assert document["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Cartwise"
    assert ["currency", "service"] in [sorted(d) for d in document["_aws"]["CloudWatchMetrics"][0]["Dimensions"]]


def test_a_cancellation_publishes_order_cancelled_once_per_event_id(api, handler, received):
    cart_id = api.post(CARTS, {"items": [{"product_id": "sun-hat", "quantity": 2}]}).data["cart_id"]
    answer = check_out(api, "acme", cart_id).data
    handler(synthetic_record(order_item(answer["order"]["order_id"])))
    cancel = api.post(
        f"/tenants/acme/orders/{answer['order']['order_id']}/cancel", headers={"X-Order-Token": answer["order_token"]}
    )
    assert cancel.status_code == 200
    received()  # the order_created event

    cancelled = synthetic_record(order_item(answer["order"]["order_id"]), event_name="MODIFY", sequence=2)
    handler(cancelled)
    handler(cancelled)  # redelivered

    events = received()
    assert [e["detail-type"] for e in events] == ["order_cancelled", "order_cancelled"]
    assert {e["detail"]["event_id"] for e in events} == {f"order_cancelled:acme:{answer['order']['order_id']}"}
    assert events[0]["detail"]["status"] == "cancelled"
    # A MODIFY of an order that is not cancelled (the stream handler's own count mark) publishes nothing.
    other = api.post(CARTS, {"items": [{"product_id": "sun-hat", "quantity": 1}]}).data["cart_id"]
    confirmed = check_out(api, "acme", other).data["order"]
    handler(synthetic_record(order_item(confirmed["order_id"]), event_name="MODIFY", sequence=3))
    assert received() == []
