"""Powertools Logger and Metrics shared by every layer."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from chalicelib.ids import is_tenant_id

logger = Logger(service="cartwise")

NAMESPACE = "Cartwise"
CORRELATION_HEADER = "X-Correlation-Id"
REQUEST_KEYS = ("correlation_id", "tenant_id")


def emit(
    values: Mapping[str, tuple[str, float]],
    dimensions: Mapping[str, str] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> None:
    """Write EMF metrics now (one JSON line on stdout, which CloudWatch turns into metrics).

    Ephemeral, so no handler decorator has to flush them. `values` maps name -> (unit, value).
    """
    batch = EphemeralMetrics(namespace=NAMESPACE, service="cartwise")
    for name, value in (dimensions or {}).items():
        batch.add_dimension(name=name, value=value)
    for name, (unit, value) in values.items():
        batch.add_metric(name=name, unit=unit, value=value)
    for key, value in (metadata or {}).items():
        batch.add_metadata(key=key, value=value)
    batch.flush_metrics()


def record_order(tenant_id: str, order_id: str, total: Decimal, currency: str) -> None:
    """`Orders` (count) and `Revenue` (the order total) per currency: totals of different currencies never add up."""
    emit(
        {"Orders": (MetricUnit.Count, 1), "Revenue": (MetricUnit.NoUnit, float(total))},
        dimensions={"currency": currency},
        metadata={"tenant_id": tenant_id, "order_id": order_id},
    )


def record_out_of_stock(route: str, tenant_id: str | None) -> None:
    """`OutOfStockRejections` per route (cart edits, checkout, stock adjustments)."""
    emit(
        {"OutOfStockRejections": (MetricUnit.Count, 1)},
        dimensions={"route": route},
        metadata={"tenant_id": tenant_id or ""},
    )


def _error_code(response: Any) -> str | None:
    body = response.body
    try:
        parsed = json.loads(body) if isinstance(body, (str, bytes)) else body
        return parsed["error"]["code"]
    except (ValueError, TypeError, KeyError):
        return None


def http_request_scope(request: Any, get_response: Callable[[Any], Any]) -> Any:
    """The HTTP middleware: every log line of a request carries its correlation id and tenant id.

    The correlation id is API Gateway's request id (a fresh UUID under `chalice local`), also sent
    back as X-Correlation-Id. Keys are thread-local (chalice local serves requests on threads) and
    removed after the request. One access line per request; headers are never logged.
    """
    correlation_id = (request.context or {}).get("requestId") or str(uuid.uuid4())
    tenant_id = (request.uri_params or {}).get("tenant_id")
    if tenant_id is not None and not is_tenant_id(tenant_id):
        tenant_id = None  # not a tenant id, so not trusted into the logs
    logger.thread_safe_append_keys(correlation_id=correlation_id, tenant_id=tenant_id)
    started = time.perf_counter()
    try:
        response = get_response(request)
        response.headers[CORRELATION_HEADER] = correlation_id
        code = _error_code(response) if response.status_code >= 400 else None
        logger.info(
            "Request served",
            method=request.method,
            route=request.path,
            status=response.status_code,
            error_code=code,
            latency_ms=round((time.perf_counter() - started) * 1000, 1),
        )
        if code == "OUT_OF_STOCK":
            record_out_of_stock(request.path, tenant_id)
        return response
    finally:
        logger.thread_safe_remove_keys(REQUEST_KEYS)
