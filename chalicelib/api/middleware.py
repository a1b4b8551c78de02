"""The HTTP middleware of app.py: one scope per request for the logs, and one access line."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from chalicelib.ids import is_tenant_id
from chalicelib.observability import logger, record_out_of_stock

CORRELATION_HEADER = "X-Correlation-Id"
REQUEST_KEYS = ("correlation_id", "tenant_id")


def _error_code(response: Any) -> str | None:
    body = response.body
    try:
        parsed = json.loads(body) if isinstance(body, (str, bytes)) else body
        return parsed["error"]["code"]
    except (ValueError, TypeError, KeyError):
        return None


def request_scope(request: Any, get_response: Callable[[Any], Any]) -> Any:
    """Every log line of a request carries its correlation id and tenant id.

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
