"""The up-sell at catalogue scale (issue 14): a 20 000-product tenant beside the demo tenant.

- seeds tenant `bench-scale` straight into DynamoDB Local with BatchWriteItem (not the API):
  SCALE_PRODUCTS products in CATEGORIES categories, each with two complement hints and a top-K
  co-purchase map, and a best-seller map on the tenant, as a shop with a history would have;
- `GET …/upsell` p50/p95 and DynamoDB items read per up-sell, on a new cart each time (so every
  answer is computed, none reused), the two tenants in alternating blocks;
- `GET …/products?category=…` p50 for both;
- LLM calls per cart content: the cart page asked twice, then the checkout;
- the checkout of a cart whose page already asked (LLM stub answering in 0.5 s) against the
  checkout with the up-sell off, and against the floor: the checkout's own three DynamoDB
  requests (recorded from one of its checkouts) replayed by a bare botocore client in this
  process, interleaved.
"""

from __future__ import annotations

import copy
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from bench.load import percentile
from support.delivery import checkout_key, deliver

SCALE_TENANT = "bench-scale"
SCALE_PRODUCTS = 20_000
CATEGORIES = 200  # 100 products each
DEMO_TENANT = "acme"
TABLES = {entity: f"cartwise-dev-{entity}" for entity in ("products", "tenants", "carts", "orders")}
DEMO_CART = ["tent-2p", "headlamp"]
SCALE_CART = ["p-00000", "p-00001"]
UPSELL_ROUTE = "/tenants/{tenant_id}/carts/{cart_id}/upsell"
BLOCKS, BLOCK = 6, 5  # up-sell latency: 30 requests per tenant
PAIRS = 45  # checkout comparisons: rounds of three, each kind first, second and third in turn
THINK_S = 0.3  # a shopper's pause before each checkout, so no checkout lands on the previous request's tail


def product_id(n: int) -> str:
    return f"p-{n % SCALE_PRODUCTS:05}"


def category(n: int) -> str:
    return f"cat-{n % CATEGORIES:03}"


def product_item(n: int) -> dict[str, Any]:
    co_purchases = {product_id(n + 7 * k): {"N": str(50 - k)} for k in range(1, 21)}  # a full top-20 map
    return {
        "tenant_id": {"S": SCALE_TENANT},
        "product_id": {"S": product_id(n)},
        "name": {"S": f"Scale product {n}"},
        "description": {"S": f"Product {n} of a large catalogue, in {category(n)}."},
        "category": {"S": category(n)},
        "category_key": {"S": f"{SCALE_TENANT}/{category(n)}"},
        "price": {"N": "9.99"},
        "stock": {"N": "1000"},
        "reserved": {"N": "0"},
        "sold": {"N": "0"},
        "tags": {"L": [{"S": "scale"}]},
        "complements": {"L": [{"S": product_id(n + CATEGORIES)}, {"S": product_id(n + 2 * CATEGORIES)}]},
        "co_purchases": {"M": co_purchases},
    }


def seed(dynamodb: Any, products_table: str, tenants_table: str) -> dict[str, Any]:
    """The scale tenant, written with BatchWriteItem (25 items a request, 4 writers at once)."""
    started = time.perf_counter()
    dynamodb.put_item(
        TableName=tenants_table,
        Item={
            "tenant_id": {"S": SCALE_TENANT},
            "name": {"S": "Bench Scale"},
            "currency": {"S": "EUR"},
            "vat_rate": {"N": "0.20"},
            "promo_codes": {"L": []},
            "best_sellers": {"M": {product_id(n * 397): {"N": str(1000 - n)} for n in range(50)}},
        },
    )

    def write(first: int) -> None:
        requests = [{"PutRequest": {"Item": product_item(n)}} for n in range(first, min(first + 25, SCALE_PRODUCTS))]
        while requests:
            answer = dynamodb.batch_write_item(RequestItems={products_table: requests})
            requests = answer.get("UnprocessedItems", {}).get(products_table, [])

    with ThreadPoolExecutor(max_workers=4) as writers:
        list(writers.map(write, range(0, SCALE_PRODUCTS, 25)))
    return {"products": SCALE_PRODUCTS, "categories": CATEGORIES, "seconds": round(time.perf_counter() - started, 1)}


def _timed(http: httpx.Client, method: str, path: str, expected: int = 200, **kwargs: Any) -> float:
    started = time.perf_counter()
    response = http.request(method, path, **kwargs)
    elapsed = time.perf_counter() - started
    assert response.status_code == expected, (response.status_code, response.text[:500])
    return elapsed


def _new_cart(http: httpx.Client, tenant_id: str, product_ids: list[str], delivered: bool = False) -> str:
    """A cart of these products; `delivered`: with the shop's delivery set, as a checkout needs."""
    items = [{"product_id": pid, "quantity": 1} for pid in product_ids]
    response = http.post(f"/tenants/{tenant_id}/carts", json={"items": items})
    assert response.status_code == 201, response.text
    if delivered:
        deliver(http, tenant_id, response.json()["cart_id"])
    return response.json()["cart_id"]


def _latency(samples: list[float]) -> dict[str, float]:
    milliseconds = [s * 1000 for s in samples]
    return {
        "requests": len(milliseconds),
        "p50_ms": round(percentile(milliseconds, 50), 1),
        "p95_ms": round(percentile(milliseconds, 95), 1),
    }


def upsell_at_scale(api_url: str, records: Callable[[], list[dict[str, Any]]]) -> dict[str, Any]:
    """Computed up-sells (a new cart each) and category pages, both tenants in alternating blocks."""
    carts = {DEMO_TENANT: DEMO_CART, SCALE_TENANT: SCALE_CART}
    pages = {DEMO_TENANT: "camping", SCALE_TENANT: category(0)}
    upsell: dict[str, list[float]] = {tenant: [] for tenant in carts}
    items: dict[str, list[int]] = {tenant: [] for tenant in carts}
    listing: dict[str, list[float]] = {tenant: [] for tenant in carts}
    with httpx.Client(base_url=api_url, timeout=30) as http:
        for tenant_id, cart in carts.items():  # warm: tenant cached, index pages touched
            http.get(f"/tenants/{tenant_id}/carts/{_new_cart(http, tenant_id, cart)}/upsell")
        records()
        for _ in range(BLOCKS):
            for tenant_id, cart in carts.items():
                for _ in range(BLOCK):
                    cart_id = _new_cart(http, tenant_id, cart)
                    upsell[tenant_id].append(_timed(http, "GET", f"/tenants/{tenant_id}/carts/{cart_id}/upsell"))
                    path = f"/tenants/{tenant_id}/products?category={pages[tenant_id]}"
                    listing[tenant_id].append(_timed(http, "GET", path))
                items[tenant_id] += [
                    sum(r["items_read"].values())
                    for r in records()
                    if r["route"] == UPSELL_ROUTE and r["status"] == 200
                ]
    result: dict[str, Any] = {
        tenant_id: {
            "upsell": _latency(upsell[tenant_id]),
            "items_read_per_upsell_max": max(items[tenant_id]),
            "items_read_per_upsell_mean": round(statistics.fmean(items[tenant_id]), 1),
            "category_page_p50_ms": round(percentile([s * 1000 for s in listing[tenant_id]], 50), 1),
        }
        for tenant_id in carts
    }
    p50 = {tenant_id: _latency(upsell[tenant_id])["p50_ms"] for tenant_id in carts}
    result["upsell_p50_ratio"] = round(p50[SCALE_TENANT] / p50[DEMO_TENANT], 2)
    return result


def llm_calls_per_cart_content(api_url: str, llm_calls: Callable[[], int], product: str, carts: int = 10) -> float:
    """Each cart: its page asked twice, then checked out; the LLM should be called once."""
    before = llm_calls()
    with httpx.Client(base_url=api_url, timeout=30) as http:
        for _ in range(carts):
            cart_id = _new_cart(http, DEMO_TENANT, [product], delivered=True)
            for _ in range(2):
                assert http.get(f"/tenants/{DEMO_TENANT}/carts/{cart_id}/upsell").json()["source"] == "llm"
            checkout = http.post(f"/tenants/{DEMO_TENANT}/carts/{cart_id}/checkout", json={}, headers=checkout_key())
            assert checkout.status_code == 201, checkout.text
            assert checkout.json()["upsell"]["source"] == "llm", checkout.text
    return round((llm_calls() - before) / carts, 2)


# The floor's three requests, by botocore operation name, in the order the checkout makes them.
FLOOR_OPERATIONS = {
    "GetItem": "get_item",
    "BatchGetItem": "batch_get_item",
    "TransactWriteItems": "transact_write_items",
}


@contextmanager
def recording_dynamodb_calls(client: Any) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """(operation, parameters) of every DynamoDB call `client` makes inside the block, as sent."""
    calls: list[tuple[str, dict[str, Any]]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.append((model.name, copy.deepcopy(params)))

    client.meta.events.register("before-parameter-build.dynamodb", record)
    try:
        yield calls
    finally:
        client.meta.events.unregister("before-parameter-build.dynamodb", record)


@dataclass(frozen=True)
class RecordedCheckout:
    """The floor: the DynamoDB requests of one checkout the app made (the cart GetItem, the products
    BatchGetItem and the TransactWriteItems, exactly as sent: the same items, conditions and options),
    replayed by a bare botocore client on another cart, with a fresh order id, Idempotency-Key (its
    record is claimed in the transaction) and transaction token.

    Replaying what the app sent keeps the floor the same calls as the checkout's whatever the order
    item grows into; only the Python around them (PynamoDB, Chalice, the flag read) is left out.
    """

    calls: tuple[tuple[str, dict[str, Any]], ...]
    cart_id: str
    order_id: str
    idempotency_key: str

    @classmethod
    def of(
        cls, calls: list[tuple[str, dict[str, Any]]], cart_id: str, order_id: str, idempotency_key: str
    ) -> RecordedCheckout:
        names = [name for name, _ in calls]
        if names != list(FLOOR_OPERATIONS):
            raise ValueError(f"the checkout made {names}, not the floor's {list(FLOOR_OPERATIONS)}")
        return cls(tuple(calls), cart_id, order_id, idempotency_key)

    def as_json(self) -> dict[str, Any]:
        return {
            "calls": [list(call) for call in self.calls],
            "cart_id": self.cart_id,
            "order_id": self.order_id,
            "idempotency_key": self.idempotency_key,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RecordedCheckout:
        calls = [(name, params) for name, params in data["calls"]]
        return cls.of(calls, data["cart_id"], data["order_id"], data["idempotency_key"])

    def requests_for(self, cart_id: str) -> list[tuple[str, dict[str, Any]]]:
        """The recorded requests for another open cart of the same content: new ids, the same bytes otherwise.
        The key is new too: its record (`checkout#KEY`, claimed only if free) and the order's copy of it."""
        key = str(uuid.uuid4())
        ids = {
            self.cart_id: cart_id,
            self.order_id: uuid.uuid4().hex,
            self.idempotency_key: key,
            f"checkout#{self.idempotency_key}": f"checkout#{key}",
        }
        requests = []
        for name, params in self.calls:
            params = _replace_strings(params, ids)
            if "ClientRequestToken" in params:  # DynamoDB answers a reused token with the first outcome
                params["ClientRequestToken"] = str(uuid.uuid4())
            requests.append((FLOOR_OPERATIONS[name], params))
        return requests

    def checkout(self, dynamodb: Any, cart_id: str) -> float:
        """Seconds the three calls take, one after the other, on `dynamodb` (a bare boto3 client)."""
        requests = self.requests_for(cart_id)
        started = time.perf_counter()
        for method, params in requests:
            getattr(dynamodb, method)(**params)
        return time.perf_counter() - started


def _replace_strings(value: Any, replacements: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {key: _replace_strings(item, replacements) for key, item in value.items()}
    if isinstance(value, list):
        return [_replace_strings(item, replacements) for item in value]
    if isinstance(value, str):
        return replacements.get(value, value)
    return value


def server_split(records: list[dict[str, Any]]) -> dict[str, float]:
    """Medians, inside the server, of the checkouts' total time and their waits on DynamoDB and SSM (ms)."""
    checkouts = [r for r in records if r["method"] == "POST" and r["route"].endswith("/checkout")]

    def median_ms(values: list[float]) -> float:
        return round(statistics.median(values) * 1000, 1)

    return {
        "total_ms": median_ms([r["total_s"] for r in checkouts]),
        "dynamodb_wait_ms": median_ms([r["wait_s"].get("dynamodb", 0.0) for r in checkouts]),
        "ssm_wait_ms": median_ms([r["wait_s"].get("ssm", 0.0) for r in checkouts]),
        "cpu_ms": median_ms([r["cpu_s"] for r in checkouts]),
    }


def checkout_comparison(
    api_url: str,
    flag: Callable[[bool], None],
    recorded: RecordedCheckout,
    dynamodb: Any,
    product: str,
    records: Callable[[], list[dict[str, Any]]],
) -> dict[str, Any]:
    """Per round, one client: the bare floor, a checkout with the up-sell off, and a checkout of a cart
    whose page already asked (flag on); medians of PAIRS rounds. The three take turns at going first,
    second and third (a busy machine drifts; no kind always follows the same one). Each checkout
    follows a pause of THINK_S, as a shopper's would, so none is measured on the tail of the previous
    request (the cart page's LLM call, the server's log lines)."""
    floor: list[float] = []
    off: list[float] = []
    after_page: list[float] = []
    off_records: list[dict[str, Any]] = []
    page_records: list[dict[str, Any]] = []
    with httpx.Client(base_url=api_url, timeout=30) as http:
        checkout = f"/tenants/{DEMO_TENANT}/carts/{{}}/checkout"

        def measure_floor() -> None:
            cart_id = _new_cart(http, DEMO_TENANT, [product], delivered=True)
            time.sleep(THINK_S)
            floor.append(recorded.checkout(dynamodb, cart_id))

        def measure_off() -> None:
            flag(False)
            cart_id = _new_cart(http, DEMO_TENANT, [product], delivered=True)
            records()
            time.sleep(THINK_S)
            off.append(_timed(http, "POST", checkout.format(cart_id), 201, json={}, headers=checkout_key()))
            off_records.extend(records())

        def measure_after_page() -> None:
            flag(True)
            cart_id = _new_cart(http, DEMO_TENANT, [product], delivered=True)
            assert http.get(f"/tenants/{DEMO_TENANT}/carts/{cart_id}/upsell").json()["source"] == "llm"
            records()
            time.sleep(THINK_S)
            after_page.append(_timed(http, "POST", checkout.format(cart_id), 201, json={}, headers=checkout_key()))
            page_records.extend(records())

        kinds = [measure_floor, measure_off, measure_after_page]
        for round_ in range(PAIRS):
            turn = round_ % len(kinds)
            for measure in kinds[turn:] + kinds[:turn]:
                measure()
    floor_ms, off_ms, page_ms = (round(statistics.median(s) * 1000, 1) for s in (floor, off, after_page))
    return {
        "rounds": PAIRS,
        "floor_median_ms": floor_ms,
        "upsell_off_median_ms": off_ms,
        "after_cart_page_median_ms": page_ms,
        "after_cart_page_to_off": round(page_ms / off_ms, 2),
        "off_to_floor": round(off_ms / floor_ms, 2),
        "upsell_off_inside_server": server_split(off_records),
        "after_cart_page_inside_server": server_split(page_records),
    }
