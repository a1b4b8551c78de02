"""Logs and metrics through the HTTP API: correlation id and tenant on every line, EMF metrics, no secrets."""

from __future__ import annotations

import io
import json
from types import SimpleNamespace

import pytest

from chalicelib.observability import logger
from support.delivery import check_out
from tests.admin import ACME_KEY, GLOBEX_KEY, admin
from tests.conftest import set_stock

CARTS = "/tenants/acme/carts"


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def logs(lines: list[dict]) -> list[dict]:
    return [line for line in lines if "level" in line]


def metrics(lines: list[dict]) -> dict[str, list[dict]]:
    """EMF documents by metric name."""
    found: dict[str, list[dict]] = {}
    for line in lines:
        for directive in line.get("_aws", {}).get("CloudWatchMetrics", []):
            for metric in directive["Metrics"]:
                found.setdefault(metric["Name"], []).append(line)
    return found


@pytest.fixture
def captured(api, capsys):
    """Log lines (the Logger's handler kept the stdout it was created with, so it gets a buffer) and
    EMF documents (printed), in the order each stream received them."""
    buffer = io.StringIO()
    previous = logger.registered_handler.setStream(buffer)
    capsys.readouterr()  # drop the provisioning output

    def read() -> list[dict]:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return json_lines(text) + json_lines(capsys.readouterr().out)

    yield read
    logger.registered_handler.setStream(previous)


def test_every_line_of_a_request_has_its_correlation_id_and_tenant(api, captured, monkeypatch):
    from chalicelib import carts

    original = carts.create_cart

    def noisy(*args, **kwargs):
        logger.info("inside the service")
        return original(*args, **kwargs)

    monkeypatch.setattr(carts, "create_cart", noisy)
    response = api.post(CARTS, {"items": [{"product_id": "headlamp", "quantity": 1}]})
    correlation_id = response.headers["X-Correlation-Id"]

    lines = logs(captured())
    assert [line["message"] for line in lines] == ["inside the service", "Request served"]
    assert {(line["correlation_id"], line["tenant_id"]) for line in lines} == {(correlation_id, "acme")}
    served = lines[-1]
    assert (served["method"], served["route"], served["status"]) == ("POST", "/tenants/{tenant_id}/carts", 201)


def test_keys_are_cleared_after_the_request(api, captured):
    first = api.get("/tenants/acme/products/tent-2p").headers["X-Correlation-Id"]
    second = api.get("/tenants/globex/products/laptop-14").headers["X-Correlation-Id"]
    health = api.get("/health").headers["X-Correlation-Id"]
    logger.info("between requests")

    lines = logs(captured())
    assert len({first, second, health}) == 3
    assert [(line.get("correlation_id"), line.get("tenant_id")) for line in lines] == [
        (first, "acme"),
        (second, "globex"),
        (health, None),  # no tenant in the path, no tenant_id key
        (None, None),
    ]


def test_api_gateway_request_id_is_the_correlation_id(api, captured):
    from chalicelib.api.middleware import request_scope

    request = SimpleNamespace(
        context={"requestId": "apigw-request-1"},
        uri_params={"tenant_id": "acme"},
        method="GET",
        path="/tenants/{tenant_id}/orders",
    )

    def view(request):
        logger.info("in view")
        return SimpleNamespace(status_code=200, headers={}, body="{}")

    assert request_scope(request, view).headers["X-Correlation-Id"] == "apigw-request-1"
    assert {line["correlation_id"] for line in logs(captured())} == {"apigw-request-1"}


def test_a_path_that_is_not_a_tenant_id_is_not_logged_as_one(api, captured):
    api.get("/tenants/NOT%20A%20TENANT/products")
    [line] = logs(captured())
    assert "tenant_id" not in line
    assert line["error_code"] == "TENANT_NOT_FOUND"


def test_no_api_key_reaches_the_logs(api, captured):
    api.get("/tenants/acme/orders", headers=admin(ACME_KEY))
    api.get("/tenants/acme/orders", headers=admin(GLOBEX_KEY))
    api.get("/tenants/acme/orders", headers=admin("cw_acme_" + "s3cret" * 8))
    output = json.dumps(captured())
    assert "Admin key rejected" in output
    assert "cw_acme_***" in output
    for secret in (ACME_KEY, GLOBEX_KEY, "s3cret"):
        assert secret not in output
    assert "local-demo-admin-key" not in output


def test_out_of_stock_rejections_are_counted_per_route(api, captured):
    cart_id = api.post(CARTS, {"items": [{"product_id": "headlamp", "quantity": 2}]}).data["cart_id"]
    set_stock("acme", "headlamp", 1)
    assert check_out(api, "acme", cart_id).status_code == 409
    assert api.put(f"{CARTS}/{cart_id}/items/headlamp", {"quantity": 5}).status_code == 409
    assert api.put(f"{CARTS}/{cart_id}/items/headlamp", {"quantity": 1}).status_code == 200

    rejections = metrics(captured())["OutOfStockRejections"]
    assert [(doc["route"], doc["OutOfStockRejections"], doc["tenant_id"]) for doc in rejections] == [
        ("/tenants/{tenant_id}/carts/{cart_id}/checkout", [1.0], "acme"),
        ("/tenants/{tenant_id}/carts/{cart_id}/items/{product_id}", [1.0], "acme"),
    ]
    assert "Orders" not in metrics(captured())
