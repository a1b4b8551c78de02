"""Hostile and broken input: always a 4xx in the error envelope, and nothing written anywhere.

Through Chalice's test client on moto; tests/stack/test_bad_input_served.py sends the path and body
cases through the real HTTP stack too. "Nothing written" is checked on every table, not on one item.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib import clients
from chalicelib.api import MAX_BODY_BYTES
from chalicelib.models import ALL_MODELS, LimitCounterModel
from support.delivery import delivery
from tests.admin import admin

MB = 1024 * 1024


def snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every item of every table (a test-only full read; the app itself never scans), but the per-client
    request counters: a bad request still counts against its client's rate, which is the point of it."""
    dynamodb = clients.client("dynamodb")
    tables = {}
    for model in ALL_MODELS:
        if model is LimitCounterModel:
            continue
        name = model.Meta.table_name
        items = []
        for page in dynamodb.get_paginator("scan").paginate(TableName=name, ConsistentRead=True):
            items.extend(page["Items"])
        tables[name] = sorted(items, key=lambda item: json.dumps(item, sort_keys=True))
    return tables


def assert_envelope(status: int, body: Any, expected_status: int, code: str) -> None:
    assert (status, body["error"]["code"]) == (expected_status, code), body
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)


@pytest.fixture
def shop(api):
    """A cart holding one tent, and the state of every table after creating it."""
    cart_id = api.post("/tenants/acme/carts", {"items": [{"product_id": "tent-2p", "quantity": 1}]}).data["cart_id"]
    return api, cart_id, snapshot()


def send(api, method: str, path: str, raw: bytes | str, key: bool = False):
    """`key`: with the admin key. A checkout and a stock adjustment carry the Idempotency-Key they
    require, so what is answered is the body or the path."""
    required = {"Idempotency-Key": "bad-input"} if path.endswith(("/stock", "/checkout")) else {}
    return api.call(method, path, raw=raw, headers={**(admin() if key else {}), **required})


# Every route that reads a body, as (method, path template); {cart} is the shop's cart.
BODY_ROUTES = [
    ("POST", "/tenants/acme/carts"),
    ("PUT", "/tenants/acme/carts/{cart}/items/headlamp"),
    ("PUT", "/tenants/acme/carts/{cart}/promo"),
    ("PUT", "/tenants/acme/carts/{cart}/delivery"),
    ("POST", "/tenants/acme/carts/{cart}/checkout"),
    ("PUT", "/tenants/acme/products/new-lamp"),
    ("POST", "/tenants/acme/products/headlamp/stock"),
]


def admin_route(path: str) -> bool:
    return path.startswith("/tenants/acme/products")


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
@pytest.mark.parametrize(
    "raw",
    [
        '{"items": [',
        "{quantity: 1}",
        "{'code': 'SUMMER10'}",
        '{"a": 1}{"b": 2}',
        "nul",
        '{"quantity": NaN}',
        "\ufeff{}",
        "[" * 20_000 + "]" * 20_000,  # deeper than Python's recursion limit
        '{"a":' * 10_000 + "1" + "}" * 10_000,  # 60 kB: still under the body limit
        "[" * 500 + "]" * 500,  # within it, deeper than any request of ours
    ],
    ids=lambda raw: raw if len(raw) < 40 else f"{raw[:8]}...{len(raw)} chars",
)
def test_malformed_json_is_400(shop, method, path, raw):
    api, cart_id, before = shop
    path = path.format(cart=cart_id)
    response = send(api, method, path, raw, key=admin_route(path))
    assert_envelope(response.status_code, response.data, 400, "BAD_REQUEST")
    assert snapshot() == before


# Wrong types and missing fields per route, each with the field the answer must name.
WRONG = {
    ("POST", "/tenants/acme/carts"): [
        ([], "body"),
        ({"items": "tent-2p"}, "items"),
        ({"items": {"product_id": "tent-2p", "quantity": 1}}, "items"),
        ({"items": [{"product_id": 7, "quantity": 1}]}, "items.0.product_id"),
        ({"items": [{"product_id": "tent-2p", "quantity": "1"}]}, "items.0.quantity"),
        ({"items": [{"product_id": "tent-2p", "quantity": True}]}, "items.0.quantity"),
        ({"items": [{"product_id": "tent-2p", "quantity": 1.5}]}, "items.0.quantity"),
        ({"items": [{"product_id": "tent-2p", "quantity": None}]}, "items.0.quantity"),
        ({"items": [{"product_id": "tent-2p"}]}, "items.0.quantity"),
    ],
    ("PUT", "/tenants/acme/carts/{cart}/items/headlamp"): [
        ({}, "quantity"),
        ({"quantity": "2"}, "quantity"),
        ({"quantity": True}, "quantity"),
        ({"quantity": 2.5}, "quantity"),
        ({"quantity": None}, "quantity"),
        ({"quantity": [2]}, "quantity"),
    ],
    ("PUT", "/tenants/acme/carts/{cart}/promo"): [
        ({}, "code"),
        ({"code": 10}, "code"),
        ({"code": ["SUMMER10"]}, "code"),
        ({"code": ""}, "code"),
    ],
    ("PUT", "/tenants/acme/carts/{cart}/delivery"): [
        ({}, "email"),
        ({"email": "ada@example.com", "method": "standard"}, "address"),
        ({**delivery("acme"), "method": 1}, "method"),
        ({**delivery("acme"), "address": "Berlin"}, "address"),
        ({**delivery("acme"), "address": {**delivery("acme")["address"], "country": 49}}, "address.country"),
        ({**delivery("acme"), "address": {**delivery("acme")["address"], "city": ""}}, "address.city"),
        ({**delivery("acme"), "address": {**delivery("acme")["address"], "line1": " \t "}}, "address.line1"),
    ],
    ("POST", "/tenants/acme/carts/{cart}/checkout"): [
        ({"email": 42}, "email"),
        ({"email": "not-an-email"}, "email"),
        ({"email": None, "x": 1}, "x"),
        ([1, 2], "body"),
    ],
    ("PUT", "/tenants/acme/products/new-lamp"): [
        ({"name": "Lamp", "category": "camping", "price": 9.99, "stock": 1}, "price"),
        ({"name": "Lamp", "category": "camping", "price": "9.99", "stock": "1"}, "stock"),
        ({"name": ["Lamp"], "category": "camping", "price": "9.99", "stock": 1}, "name"),
    ],
    ("POST", "/tenants/acme/products/headlamp/stock"): [
        ({"delta": "5"}, "delta"),
        ({"delta": 1.5}, "delta"),
        ({"delta": True}, "delta"),
        ({}, "delta"),
    ],
}


@pytest.mark.parametrize(
    ("route", "body", "field"), [(route, body, field) for route, cases in WRONG.items() for body, field in cases]
)
def test_wrong_types_are_400_with_the_field(shop, route, body, field):
    api, cart_id, before = shop
    method, path = route[0], route[1].format(cart=cart_id)
    response = send(api, method, path, json.dumps(body), key=admin_route(path))
    assert_envelope(response.status_code, response.data, 400, "BAD_REQUEST")
    assert field in {problem["field"] for problem in response.data["error"]["details"]["fields"]}
    assert snapshot() == before


HUGE_OR_NEGATIVE = [
    ("POST", "/tenants/acme/carts", '{"items": [{"product_id": "tent-2p", "quantity": 1e400}]}'),
    ("POST", "/tenants/acme/carts", '{"items": [{"product_id": "tent-2p", "quantity": 1e2}]}'),
    ("POST", "/tenants/acme/carts", '{"items": [{"product_id": "tent-2p", "quantity": 100000000000000000000000000}]}'),
    ("POST", "/tenants/acme/carts", '{"items": [{"product_id": "tent-2p", "quantity": 9223372036854775808}]}'),
    ("POST", "/tenants/acme/carts", '{"items": [{"product_id": "tent-2p", "quantity": -5}]}'),
    ("POST", "/tenants/acme/carts", '{"items": [{"product_id": "tent-2p", "quantity": 0}]}'),
    (
        "POST",
        "/tenants/acme/carts",
        '{"items": [{"product_id": "tent-2p", "quantity": 60}, {"product_id": "tent-2p", "quantity": 60}]}',
    ),
    ("PUT", "/tenants/acme/carts/{cart}/items/headlamp", '{"quantity": -1}'),
    ("PUT", "/tenants/acme/carts/{cart}/items/headlamp", '{"quantity": 100}'),
    ("PUT", "/tenants/acme/carts/{cart}/items/headlamp", '{"quantity": 1e308}'),
    ("PUT", "/tenants/acme/carts/{cart}/items/headlamp", '{"quantity": -1e400}'),
    ("PUT", "/tenants/acme/products/new-lamp", '{"name": "L", "category": "c", "price": "99999999999.99", "stock": 1}'),
    ("PUT", "/tenants/acme/products/new-lamp", '{"name": "L", "category": "c", "price": "-1.00", "stock": 1}'),
    ("PUT", "/tenants/acme/products/new-lamp", '{"name": "L", "category": "c", "price": "1.00", "stock": -1}'),
    ("PUT", "/tenants/acme/products/new-lamp", '{"name": "L", "category": "c", "price": "1.00", "stock": 1e30}'),
    ("POST", "/tenants/acme/products/headlamp/stock", '{"delta": 100000000000000000000}'),
    ("POST", "/tenants/acme/products/headlamp/stock", '{"delta": -100000000000000000000}'),
]


@pytest.mark.parametrize(("method", "path", "raw"), HUGE_OR_NEGATIVE)
def test_huge_and_negative_numbers_are_400(shop, method, path, raw):
    api, cart_id, before = shop
    path = path.format(cart=cart_id)
    response = send(api, method, path, raw, key=admin_route(path))
    assert_envelope(response.status_code, response.data, 400, "BAD_REQUEST")
    assert snapshot() == before


@pytest.mark.parametrize("query", ["limit=100000000000000000000", "limit=-1", "limit=1e2", "limit=0", "sort=price"])
def test_bad_query_strings_are_400(shop, query):
    api, _, before = shop
    response = api.get(f"/tenants/acme/products?{query}")
    assert_envelope(response.status_code, response.data, 400, "BAD_REQUEST")
    assert snapshot() == before


UNKNOWN_FIELDS = [
    ("POST", "/tenants/acme/carts", {"items": [], "total": "0.00"}),
    ("POST", "/tenants/acme/carts", {"items": [{"product_id": "tent-2p", "quantity": 1, "price": "0.01"}]}),
    ("PUT", "/tenants/acme/carts/{cart}/items/headlamp", {"quantity": 1, "unit_price": "0.01"}),
    ("PUT", "/tenants/acme/carts/{cart}/promo", {"code": "SUMMER10", "rate": "0.90"}),
    ("PUT", "/tenants/acme/carts/{cart}/delivery", {**delivery("acme"), "shipping": "0.00"}),
    ("POST", "/tenants/acme/carts/{cart}/checkout", {"email": "ann@example.com", "discount": "100.00"}),
    ("POST", "/tenants/acme/carts/{cart}/checkout", {"status": "confirmed"}),
    (
        "PUT",
        "/tenants/acme/products/new-lamp",
        {"name": "L", "category": "c", "price": "1.00", "stock": 1, "reserved": 0},
    ),
    ("POST", "/tenants/acme/products/headlamp/stock", {"delta": 1, "stock": 1000}),
]


@pytest.mark.parametrize(("method", "path", "body"), UNKNOWN_FIELDS)
def test_unknown_fields_are_400_naming_the_field(shop, method, path, body):
    api, cart_id, before = shop
    path = path.format(cart=cart_id)
    response = send(api, method, path, json.dumps(body), key=admin_route(path))
    assert_envelope(response.status_code, response.data, 400, "BAD_REQUEST")
    assert any("Extra inputs" in field["message"] for field in response.data["error"]["details"]["fields"])
    assert snapshot() == before


@pytest.mark.parametrize("size", [MAX_BODY_BYTES + 1, MB], ids=["limit+1", "1MB"])
@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
def test_bodies_over_64_kib_are_413(shop, method, path, size):
    api, cart_id, before = shop
    path = path.format(cart=cart_id)
    raw = '{"padding": "' + "x" * (size - len('{"padding": ""}')) + '"}'
    assert len(raw.encode()) == size
    response = send(api, method, path, raw, key=admin_route(path))
    assert_envelope(response.status_code, response.data, 413, "PAYLOAD_TOO_LARGE")
    assert snapshot() == before


# Ids a client could put in one path segment and in a JSON body. Not in paths: a literal "/" (that
# is another route, which chalice local and API Gateway answer with their own 403), and ";" (chalice
# local's emulation cuts a segment at ";" as urlparse does; API Gateway does not).
HOSTILE_IDS = [
    "café",
    "\uff34\uff25\uff2e\uff34-2P",  # fullwidth letters
    "tent-2p\u202e",  # right-to-left override
    "tent\u00002p",
    "\U0001f3d5\ufe0f",  # camping emoji
    "..",
    "..%2F..%2Fetc%2Fpasswd",
    "%2e%2e%2f",
    "..\\..\\windows",
    "a" * 2000,
]


@pytest.mark.parametrize("hostile", [*HOSTILE_IDS, "../../etc/passwd", "....//....//etc", "tent-2p;drop"])
def test_hostile_ids_in_bodies_are_400(shop, hostile):
    api, _, before = shop
    for path, body in (
        ("/tenants/acme/carts", {"items": [{"product_id": hostile, "quantity": 1}]}),
        (
            "/tenants/acme/products/new-lamp",
            {"name": "L", "category": "c", "price": "1.00", "stock": 1, "complements": [hostile]},
        ),
    ):
        response = send(
            api, "POST" if path.endswith("carts") else "PUT", path, json.dumps(body), key="products" in path
        )
        assert_envelope(response.status_code, response.data, 400, "BAD_REQUEST")
    assert snapshot() == before


@pytest.mark.parametrize("hostile", HOSTILE_IDS)
def test_hostile_ids_in_paths_are_404(shop, hostile):
    api, cart_id, before = shop
    cases = [
        ("GET", f"/tenants/{hostile}/products", None, "TENANT_NOT_FOUND"),
        ("GET", f"/tenants/acme/products/{hostile}", None, "NOT_FOUND"),
        ("GET", f"/tenants/acme/carts/{hostile}", None, "NOT_FOUND"),
        ("PUT", f"/tenants/acme/carts/{cart_id}/items/{hostile}", '{"quantity": 1}', "NOT_FOUND"),
        ("PUT", f"/tenants/acme/carts/{hostile}/items/headlamp", '{"quantity": 1}', "NOT_FOUND"),
        ("DELETE", f"/tenants/acme/carts/{hostile}/items/headlamp", None, "NOT_FOUND"),
        ("DELETE", f"/tenants/acme/carts/{cart_id}/items/{hostile}", None, "NOT_FOUND"),
        ("POST", f"/tenants/acme/carts/{hostile}/checkout", None, "NOT_FOUND"),
        ("PUT", f"/tenants/acme/carts/{hostile}/delivery", json.dumps(delivery("acme")), "NOT_FOUND"),
        ("GET", f"/tenants/acme/orders/{hostile}", None, "NOT_FOUND"),
        ("POST", f"/tenants/acme/products/{hostile}/stock", '{"delta": 1}', "NOT_FOUND"),
    ]
    for method, path, raw, code in cases:
        response = send(api, method, path, raw or "", key="/stock" in path)
        assert_envelope(response.status_code, response.data, 404, code)
    response = send(
        api,
        "PUT",
        f"/tenants/acme/products/{hostile}",
        '{"name": "L", "category": "c", "price": "1.00", "stock": 1}',
        key=True,
    )
    assert_envelope(response.status_code, response.data, 400, "BAD_REQUEST")
    assert snapshot() == before


def test_removing_a_product_that_is_not_in_the_cart_changes_nothing(shop):
    api, cart_id, before = shop
    response = api.delete(f"/tenants/acme/carts/{cart_id}/items/headlamp")
    assert response.status_code == 200
    assert [item["product_id"] for item in response.data["items"]] == ["tent-2p"]
    assert snapshot() == before  # not even the cart's version or updated_at
