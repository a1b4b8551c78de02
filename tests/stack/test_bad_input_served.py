"""Hostile paths and broken bodies through the real HTTP stack (`chalice local` on DynamoDB Local),
as raw request lines, since an HTTP client would normalise them: always a 4xx in the error envelope,
and nothing written on any table (tests/api/test_bad_input.py has the rest, on moto)."""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit

import pytest

from support.delivery import delivery
from tests.api.test_bad_input import MB, assert_envelope, snapshot


def raw_request(base_url: str, method: str, path: str, body: bytes | None = None) -> tuple[int, Any]:
    """Send exactly this request line (no client-side normalisation or quoting); a checkout with the
    Idempotency-Key it requires, so what is answered is the path or the body."""
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Content-Length", str(len(body or b"")))
        if path.endswith("/checkout"):
            connection.putheader("Idempotency-Key", "bad-input-served")
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


@pytest.fixture
def live_shop(local_stack, stack_aws):
    import httpx

    with httpx.Client(base_url=local_stack.api_url, timeout=30) as http:
        response = http.post("/tenants/acme/carts", json={"items": [{"product_id": "gift-card", "quantity": 1}]})
        assert response.status_code == 201
    return local_stack.api_url, response.json()["cart_id"], snapshot()


ENCODED_IDS = [
    "..%2F..%2Fetc%2Fpasswd",
    "%2e%2e",
    "%2E%2E%2F%2E%2E%2F",
    "caf%C3%A9",
    "%E2%80%AEtent",
    "tent%002p",
    "%FF%FE",
    "%",
    "%F0%9F%8F%95",
    "a" * 3000,
]


@pytest.mark.parametrize("hostile", ENCODED_IDS)
def test_hostile_paths_through_chalice_local_are_404(live_shop, hostile):
    base_url, cart_id, before = live_shop
    cases = [
        ("GET", f"/tenants/{hostile}/products", None, "TENANT_NOT_FOUND"),
        ("GET", f"/tenants/acme/products/{hostile}", None, "NOT_FOUND"),
        ("GET", f"/tenants/acme/carts/{hostile}", None, "NOT_FOUND"),
        ("PUT", f"/tenants/acme/carts/{cart_id}/items/{hostile}", b'{"quantity": 1}', "NOT_FOUND"),
        ("POST", f"/tenants/acme/carts/{hostile}/checkout", None, "NOT_FOUND"),
        ("PUT", f"/tenants/acme/carts/{hostile}/delivery", json.dumps(delivery("acme")).encode(), "NOT_FOUND"),
        ("GET", f"/tenants/acme/orders/{hostile}", None, "NOT_FOUND"),
    ]
    for method, path, body, code in cases:
        status, answer = raw_request(base_url, method, path, body)
        assert_envelope(status, answer, 404, code)
    assert snapshot() == before


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/tenants/acme/carts", b'{"items": []' + b" " * MB + b"}", 413, "PAYLOAD_TOO_LARGE"),
        (
            "/tenants/acme/carts/{cart}/checkout",
            b'{"email": "' + b"a" * MB + b'@example.com"}',
            413,
            "PAYLOAD_TOO_LARGE",
        ),
        ("/tenants/acme/carts", b'{"items": [{"product_id": "gift-card", "quantity": 1}]}\xff', 400, "BAD_REQUEST"),
        ("/tenants/acme/carts/{cart}/checkout", b'{"email": "\xc3\x28@example.com"}', 400, "BAD_REQUEST"),
        ("/tenants/acme/carts/{cart}/checkout", b'{"email": "ann@example.com", "total": "0.00"}', 400, "BAD_REQUEST"),
    ],
)
def test_bad_bodies_through_chalice_local(live_shop, path, body, status, code):
    base_url, cart_id, before = live_shop
    answer_status, answer = raw_request(base_url, "POST", path.format(cart=cart_id), body)
    assert_envelope(answer_status, answer, status, code)
    assert snapshot() == before
