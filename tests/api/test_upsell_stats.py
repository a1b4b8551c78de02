"""The up-sell stats: counted from the carts' and orders' stream records (handed to the stream function
as Lambda would, redelivered too), read by the admin stats route with one bounded Query."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from app import order_stream
from chalicelib import clients, config, upsell
from chalicelib.models import UpsellStatsModel
from chalicelib.upsell import arms
from tests.admin import GLOBEX_KEY, admin
from tests.api.test_delivery import ADDRESS
from tests.api.test_payments import pay, shop, stripe  # noqa: F401  (fixtures)
from tests.streams import synthetic_record

GLOBEX = "/tenants/globex"
ACME = "/tenants/acme"
KEY = admin(GLOBEX_KEY)
GLOBAL_FLAG = "/cartwise/dev/flags/UPSELL_ENABLED"
HOLDOUT = "/cartwise/dev/tenants/globex/upsell/HOLDOUT_PERCENT"
CARTS_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/cartwise-dev-carts/stream/1"


@pytest.fixture(autouse=True)
def upsell_on(aws, monkeypatch):
    monkeypatch.delenv("LLM_BASE_URL", raising=False)
    config.reset()
    config.get_settings()
    upsell.reset()
    for name, value in ((GLOBAL_FLAG, "true"), (HOLDOUT, "50")):
        clients.ssm().put_parameter(Name=name, Value=value, Type="String", Overwrite=True)
    yield
    upsell.reset()


class Streams:
    """What the carts' and orders' streams would deliver: a record per change seen between snapshots."""

    def __init__(self, tenant_id: str = "globex") -> None:
        self.tenant_id = tenant_id
        self.seen: dict[tuple[str, str], dict[str, Any]] = {}
        self.carts: list[dict[str, Any]] = []
        self.orders: list[dict[str, Any]] = []
        self.sequence = 0

    def _next(self) -> int:
        self.sequence += 1
        return self.sequence

    def cart(self, cart_id: str) -> None:
        item = item_of(self.tenant_id, "carts", {"cart_id": {"S": cart_id}})
        old = self.seen.get(("cart", cart_id))
        if item == old:
            return
        keys = {"tenant_id": item["tenant_id"], "cart_id": item["cart_id"]}
        images = {"NewImage": item, **({"OldImage": old} if old else {})}
        self.carts.append(
            {
                "eventID": f"cart-{self.sequence}",
                "eventName": "MODIFY" if old else "INSERT",
                "eventSource": "aws:dynamodb",
                "awsRegion": "us-east-1",
                "dynamodb": {
                    "ApproximateCreationDateTime": 1_700_000_000,
                    "Keys": keys,
                    **images,
                    "SequenceNumber": str(self._next()).rjust(21, "0"),
                    "SizeBytes": 512,
                    "StreamViewType": "NEW_AND_OLD_IMAGES",
                },
                "eventSourceARN": CARTS_ARN,
            }
        )
        self.seen[("cart", cart_id)] = item

    def order(self, order_id: str) -> None:
        item = item_of(self.tenant_id, "orders", {"order_id": {"S": order_id}})
        old = self.seen.get(("order", order_id))
        self.orders.append(synthetic_record(item, "MODIFY" if old else "INSERT", self._next()))
        self.seen[("order", order_id)] = item

    def deliver(self, records: list[dict[str, Any]]) -> None:
        assert order_stream({"Records": records}, None) == {"batchItemFailures": []}


def item_of(tenant_id: str, entity: str, key: dict[str, Any]) -> dict[str, Any]:
    return clients.client("dynamodb").get_item(
        TableName=f"cartwise-dev-{entity}", Key={"tenant_id": {"S": tenant_id}, **key}, ConsistentRead=True
    )["Item"]


def new_cart(api, held_out: bool) -> str:
    while True:
        cart_id = api.post(f"{GLOBEX}/carts", {"items": [{"product_id": "laptop-14", "quantity": 1}]}).data["cart_id"]
        if arms.is_held_out("globex", cart_id, 50) == held_out:
            return cart_id


def checkout(api, cart_id: str, key: str) -> dict:
    body = {"email": "ada@example.com", "address": ADDRESS, "method": "ground"}
    assert api.put(f"{GLOBEX}/carts/{cart_id}/delivery", body).status_code == 200
    response = api.post(f"{GLOBEX}/carts/{cart_id}/checkout", headers={"Idempotency-Key": key})
    assert response.status_code == 201
    return response.data["order"]


def stats(api, days: int = 1, tenant: str = GLOBEX) -> dict:
    response = api.get(f"{tenant}/upsell/stats?days={days}", headers=KEY if tenant == GLOBEX else admin())
    assert response.status_code == 200, response.data
    return response.data


ZERO_SPLIT = {"carts_shown": 0, "suggestions_added": 0, "upsell_revenue": "0.00"}


def figures(**given: Any) -> dict[str, Any]:
    empty = {
        "carts_shown": 0,
        "carts_holdout": 0,
        "suggestions_added": 0,
        "orders_treated": 0,
        "orders_holdout": 0,
        "revenue_treated": "0.00",
        "revenue_holdout": "0.00",
        "upsell_revenue": "0.00",
        "by_source": {"llm": ZERO_SPLIT, "fallback": ZERO_SPLIT},
    }
    return {**empty, **given}


def test_exact_counts_and_money_of_both_arms_with_redelivered_records(api):
    streams = Streams()
    treated, browsing, held, held_browsing = (
        new_cart(api, False),
        new_cart(api, False),
        new_cart(api, True),
        new_cart(api, True),
    )
    for cart_id in (treated, browsing, held, held_browsing):
        streams.cart(cart_id)
        api.get(f"{GLOBEX}/carts/{cart_id}/upsell")
        streams.cart(cart_id)
    answer = api.get(f"{GLOBEX}/carts/{treated}/upsell").data
    pick = answer["suggestions"][0]
    added = api.put(
        f"{GLOBEX}/carts/{treated}/items/{pick['product_id']}", {"quantity": 2, "upsell_set_id": answer["set_id"]}
    )
    assert added.status_code == 200
    streams.cart(treated)
    api.get(f"{GLOBEX}/carts/{treated}/upsell")  # the new content's answer: the same cart, the same day
    streams.cart(treated)
    treated_order, held_order = checkout(api, treated, "s-1"), checkout(api, held, "s-2")
    streams.cart(treated)
    streams.cart(held)
    streams.order(treated_order["order_id"])
    streams.order(held_order["order_id"])

    streams.deliver(streams.carts)
    streams.deliver(streams.orders)
    streams.deliver(streams.carts)  # everything again: at-least-once delivery (a batch is of one stream)
    streams.deliver(streams.orders[::-1])

    upsell_line = next(line for line in treated_order["items"] if line["source"] == "upsell")
    assert upsell_line["line_total"] == str(Decimal(pick["price"]) * 2)
    expected = figures(
        carts_shown=2,
        carts_holdout=2,
        suggestions_added=1,
        orders_treated=1,
        orders_holdout=1,
        revenue_treated=treated_order["totals"]["total"],
        revenue_holdout=held_order["totals"]["total"],
        upsell_revenue=upsell_line["line_total"],
        by_source={
            "llm": ZERO_SPLIT,
            "fallback": {"carts_shown": 2, "suggestions_added": 1, "upsell_revenue": upsell_line["line_total"]},
        },
    )
    today = datetime.now(UTC).date().isoformat()
    report = stats(api)
    assert report["currency"] == "USD"
    assert report["days"] == [{"date": today, **expected}]
    laptop = Decimal(held_order["totals"]["total"])
    assert report["totals"] == {
        **expected,
        "aov_treated": treated_order["totals"]["total"],
        "aov_holdout": str(laptop),
        "conversion_treated": 0.5,
        "conversion_holdout": 0.5,
    }


def test_a_card_order_counts_when_paid_and_a_refund_takes_its_upsell_revenue_back_once(shop, stripe):  # noqa: F811
    streams = Streams(tenant_id="acme")
    cart_id = shop.post(ACME + "/carts", {"items": [{"product_id": "tent-2p", "quantity": 1}]}).data["cart_id"]
    answer = shop.get(f"{ACME}/carts/{cart_id}/upsell").data
    pick = answer["suggestions"][0]
    body = {"quantity": 1, "upsell_set_id": answer["set_id"]}
    assert shop.put(f"{ACME}/carts/{cart_id}/items/{pick['product_id']}", body).status_code == 200
    delivery = {"email": "ada@example.com", "address": {**ADDRESS, "country": "DE"}, "method": "standard"}
    assert shop.put(f"{ACME}/carts/{cart_id}/delivery", delivery).status_code == 200
    placed = shop.post(f"{ACME}/carts/{cart_id}/checkout", headers={"Idempotency-Key": "card-1"}).data
    order_id = placed["order"]["order_id"]
    streams.order(order_id)
    streams.deliver(streams.orders)
    assert stats(shop, tenant=ACME)["totals"]["orders_treated"] == 0  # awaiting payment: not a sale yet

    assert pay(shop, order_id, {"X-Order-Token": placed["order_token"]}, stripe.card("pays")).status_code == 200
    streams.order(order_id)
    streams.deliver(streams.orders)
    streams.deliver(streams.orders)
    paid = stats(shop, tenant=ACME)["totals"]
    total, line_total = placed["order"]["totals"]["total"], pick["price"]
    assert (paid["orders_treated"], paid["revenue_treated"], paid["upsell_revenue"]) == (1, total, line_total)
    assert paid["by_source"]["fallback"]["upsell_revenue"] == line_total

    assert shop.post(f"{ACME}/orders/{order_id}/refund", headers=admin()).status_code == 200
    streams.order(order_id)
    streams.deliver(streams.orders[-1:])
    streams.deliver(streams.orders)  # the whole history again

    refunded = stats(shop, tenant=ACME)["totals"]
    assert (refunded["orders_treated"], refunded["revenue_treated"], refunded["upsell_revenue"]) == (1, total, "0.00")
    assert refunded["by_source"]["fallback"]["upsell_revenue"] == "0.00"


def test_days_are_every_day_of_the_window_oldest_first(api):
    today = datetime.now(UTC).date()
    UpsellStatsModel("globex", f"day#{today - timedelta(days=2)}").update(
        actions=[UpsellStatsModel.carts_holdout.add(3), UpsellStatsModel.revenue_holdout.add(Decimal("10.50"))]
    )
    UpsellStatsModel("globex", f"day#{today - timedelta(days=7)}").update(actions=[UpsellStatsModel.carts_shown.add(9)])

    report = stats(api, days=3)

    assert [day["date"] for day in report["days"]] == [str(today - timedelta(days=n)) for n in (2, 1, 0)]
    assert report["days"][0] == {
        "date": str(today - timedelta(days=2)),
        **figures(carts_holdout=3, revenue_holdout="10.50"),
    }
    assert report["totals"]["carts_shown"] == 0  # 7 days ago is outside the window
    assert (report["totals"]["aov_holdout"], report["totals"]["conversion_holdout"]) == (None, 0.0)
    assert stats(api, days=8)["totals"]["carts_shown"] == 9


@pytest.mark.parametrize("query", ["days=0", "days=91", "days=x", "days=7&from=1", "day=7"])
def test_bad_queries_are_400(api, query):
    response = api.get(f"{GLOBEX}/upsell/stats?{query}", headers=KEY)
    assert (response.status_code, response.data["error"]["code"]) == (400, "BAD_REQUEST")


def test_reading_is_one_query_of_at_most_the_days_asked_whatever_the_traffic(api):
    today = datetime.now(UTC).date()
    with UpsellStatsModel.batch_write() as batch:
        for n in range(200):
            batch.save(UpsellStatsModel("globex", f"day#{today - timedelta(days=n)}", carts_shown=1))
        for n in range(300):  # facts of the same partition, sorted after the days: never read
            batch.save(UpsellStatsModel("globex", f"fact#shown#{today}#{n:04}"))
    api.get(f"{GLOBEX}/upsell/stats?days=1", headers=KEY)  # the tenant is cached from here on
    calls: list[tuple[str, int]] = []

    def count(model: Any, parsed: dict, **_: Any) -> None:
        calls.append((model.name, len(parsed.get("Items", []))))

    events = clients.dynamodb().client.meta.events
    events.register("after-call.dynamodb.*", count, unique_id="count-stats")
    try:
        report = stats(api, days=90)
    finally:
        events.unregister("after-call.dynamodb.*", unique_id="count-stats")

    assert calls == [("Query", 90)]
    assert report["totals"]["carts_shown"] == 90


def test_the_day_an_order_counts_on_is_when_it_was_paid(api):
    from chalicelib.models import OrderModel
    from chalicelib.upsell.stats import sale_day

    created = datetime(2026, 3, 1, 23, 59, tzinfo=UTC)
    order = OrderModel("acme", "o", created_at=created)
    assert sale_day(order) == date(2026, 3, 1)
    order.paid_at = created + timedelta(minutes=2)
    assert sale_day(order) == date(2026, 3, 2)
