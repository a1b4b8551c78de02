"""The happy-path checkout's AWS calls, counted by the hooks `make bench` uses (support/instrument.py).

Tenant settings are cached after the cart is created, so the checkout is the floor of three
DynamoDB round trips: the cart (GetItem), its products (BatchGetItem) and the one
TransactWriteItems; plus the up-sell flag (one SSM GetParameters, on its own thread, counted
with the request). With the flag on, the up-sell's own bounded reads are added, unless the cart
page already asked for the same content: then the checkout reuses the answer stored on the cart.
The per-client limits are off here, as in `make bench` (one address); with them on, the checkout
adds exactly one UpdateItem, its client's request counter (the last test).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app import app
from chalicelib import clients
from support.delivery import checkout_key, deliver
from support.instrument import Recorder
from tests.conftest import reset_process_state

CHECKOUT = "/tenants/{tenant_id}/carts/{cart_id}/checkout"


@pytest.fixture
def recorder(api, monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    reset_process_state()  # fresh clients, built after the hooks are registered on the session
    recorder = Recorder()
    recorder.install(clients.botocore_session())
    app.middleware_handlers.insert(0, (recorder.middleware, "http"))
    yield recorder
    app.middleware_handlers.remove((recorder.middleware, "http"))
    reset_process_state()


def new_cart(api) -> str:
    cart = api.post(
        "/tenants/acme/carts",
        {"items": [{"product_id": "tent-2p", "quantity": 1}, {"product_id": "headlamp", "quantity": 2}]},
    )
    deliver(api, "acme", cart.data["cart_id"])  # to DE by standard, free over 50.00
    return cart.data["cart_id"]


def checkout_record(api, recorder: Recorder, cart_id: str) -> dict:
    recorder.take()
    response = api.post(f"/tenants/acme/carts/{cart_id}/checkout", headers={"Idempotency-Key": "rt-1"})
    assert response.status_code == 201
    (record,) = recorder.take()
    assert (record["method"], record["route"], record["status"]) == ("POST", CHECKOUT, 201)
    assert record["attempts"] == record["calls"]  # no retries
    return record


def checkout_calls(api, recorder: Recorder) -> dict[str, int]:
    return checkout_record(api, recorder, new_cart(api))["calls"]


def cart_page_record(api, recorder: Recorder, cart_id: str) -> dict:
    recorder.take()
    assert api.get(f"/tenants/acme/carts/{cart_id}/upsell").status_code == 200
    (record,) = recorder.take()
    return record


def upsell_on() -> None:
    clients.ssm().put_parameter(Name="/cartwise/dev/flags/UPSELL_ENABLED", Value="true", Overwrite=True)


def test_checkout_makes_three_dynamodb_round_trips_and_one_write(api, recorder):
    assert checkout_calls(api, recorder) == {
        "dynamodb.GetItem": 1,
        "dynamodb.BatchGetItem": 1,
        "dynamodb.TransactWriteItems": 1,
        "ssm.GetParameters": 1,
    }


def test_the_upsell_adds_its_bounded_reads_and_stores_its_answer(api, recorder):
    upsell_on()
    record = checkout_record(api, recorder, new_cart(api))
    assert record["calls"] == {
        "dynamodb.GetItem": 1,
        "dynamodb.BatchGetItem": 3,  # the checkout's; the cart's products; their hints
        "dynamodb.Query": 2,  # the first products of the cart's two categories (by-category index)
        "dynamodb.UpdateItem": 1,  # the answer, stored on the cart
        "dynamodb.TransactWriteItems": 1,
        "ssm.GetParameters": 1,
    }
    # The up-sell read 2 cart products, their 4 hints, camping's 5 and lighting's 3 products.
    assert record["items_read"] == {
        "dynamodb.GetItem": 1,
        "dynamodb.BatchGetItem": 2 + 2 + 4,
        "dynamodb.Query": 5 + 3,
    }


def test_after_the_cart_page_the_checkout_is_back_to_the_floor(api, recorder):
    upsell_on()
    cart_id = new_cart(api)
    page = cart_page_record(api, recorder, cart_id)
    assert page["calls"] == {
        "dynamodb.GetItem": 1,
        "dynamodb.BatchGetItem": 2,
        "dynamodb.Query": 2,
        "dynamodb.UpdateItem": 1,
        "ssm.GetParameters": 1,
    }
    assert cart_page_record(api, recorder, cart_id)["calls"] == {"dynamodb.GetItem": 1, "ssm.GetParameters": 1}
    assert checkout_record(api, recorder, cart_id)["calls"] == {
        "dynamodb.GetItem": 1,
        "dynamodb.BatchGetItem": 1,
        "dynamodb.TransactWriteItems": 1,
        "ssm.GetParameters": 1,
    }


@pytest.mark.parametrize(
    ("query", "expected_ids"),
    [
        ("category=rare&limit=1", ["rare-0"]),
        ("category=bulk&limit=5", [f"bulk-{n:03}" for n in range(5)]),
        ("limit=3", ["bulk-000", "bulk-001", "bulk-002"]),  # ids sort before the demo catalogue's
    ],
)
def test_a_product_page_is_one_query_whatever_the_catalogue_size(api, recorder, query, expected_ids):
    """300 products of one category before the one of another: a filtered page still reads one page."""
    from chalicelib import catalog
    from chalicelib.models import ProductModel

    with ProductModel.batch_write() as batch:
        for n in range(300):
            batch.save(catalog.product_from_record("acme", bulk_record(f"bulk-{n:03}", "bulk")))
        batch.save(catalog.product_from_record("acme", bulk_record("rare-0", "rare")))
    api.get("/tenants/acme/products?limit=1")  # the tenant's settings are cached from here on
    recorder.take()

    response = api.get(f"/tenants/acme/products?{query}")

    assert response.status_code == 200
    assert [item["product_id"] for item in response.data["items"]] == expected_ids
    (record,) = recorder.take()
    assert {name: n for name, n in record["calls"].items() if name.startswith("dynamodb.")} == {"dynamodb.Query": 1}


def bulk_record(product_id: str, category: str) -> dict:
    return {"product_id": product_id, "name": product_id, "category": category, "price": "1.00", "stock": 1}


def test_a_cart_reads_of_its_products_only_what_prices_it(api):
    """Creating, showing and checking out a cart read each product's name, price and stock, never
    its learned co-purchase counts (up to 50 of them) or its description, tags and complements."""
    from chalicelib.models import ProductModel

    learned = {f"partner-{n:02}": 50 - n for n in range(50)}
    ProductModel("acme", "tent-2p").update(actions=[ProductModel.co_purchases.set(learned)])
    sent: list[dict] = []

    def keep(params: dict, **_: object) -> None:
        sent.extend(params["RequestItems"].values())

    events = clients.dynamodb().client.meta.events
    events.register("before-parameter-build.dynamodb.BatchGetItem", keep)
    try:
        cart_id = new_cart(api)
        shown = api.get(f"/tenants/acme/carts/{cart_id}").data
        placed = api.post(f"/tenants/acme/carts/{cart_id}/checkout", headers=checkout_key()).data
    finally:
        events.unregister("before-parameter-build.dynamodb.BatchGetItem", keep)

    assert len(sent) == 4  # creating the cart, setting its delivery, showing it, checking it out
    for request in sent:
        names = request.get("ExpressionAttributeNames", {})
        paths = request.get("ProjectionExpression", "<the whole item>").split(",")
        projected = {names.get(path.strip(), path.strip()) for path in paths}
        assert projected == {"tenant_id", "product_id", "name", "price", "stock"}
    # 129.00 + 2 * 24.99 = 178.98 (over 50.00: no shipping), plus 20 % VAT: 214.78 (rounded half-up
    # on the VAT, 35.796 → 35.80).
    assert (shown["totals"]["total"], placed["order"]["totals"]["total"]) == ("214.78", "214.78")
    assert [(line["product_id"], line["name"]) for line in placed["order"]["items"]] == [
        ("tent-2p", "Ridgeline 2-Person Tent"),
        ("headlamp", "LED Headlamp 300"),
    ]


def test_the_client_limits_add_one_counter_update_to_the_checkout(api, recorder, monkeypatch):
    monkeypatch.setenv("CLIENT_LIMITS", "on")
    reset_process_state()
    recorder.install(clients.botocore_session())  # the clients were rebuilt by the reset
    sent: list[str] = []
    events = clients.dynamodb().client.meta.events
    events.register("before-parameter-build.dynamodb.UpdateItem", lambda params, **_: sent.append(params["TableName"]))

    assert checkout_calls(api, recorder) == {
        "dynamodb.UpdateItem": 1,
        "dynamodb.GetItem": 1,
        "dynamodb.BatchGetItem": 1,
        "dynamodb.TransactWriteItems": 1,
        "ssm.GetParameters": 1,
    }
    assert sent[-1] == "cartwise-dev-limits"
