"""Powertools Logger and Metrics shared by every layer (the per-request log scope is chalicelib.api.middleware)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

logger = Logger(service="cartwise")

NAMESPACE = "Cartwise"


def emit(
    values: Mapping[str, tuple[MetricUnit, float]],
    dimensions: Mapping[str, str] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> None:
    """Write EMF metrics now (one JSON line on stdout, which CloudWatch turns into metrics).

    Ephemeral, so no handler decorator has to flush them. `values` maps name -> (unit, value).
    """
    batch = EphemeralMetrics(namespace=NAMESPACE, service="cartwise")
    for name, dimension in (dimensions or {}).items():
        batch.add_dimension(name=name, value=dimension)
    for name, (unit, figure) in values.items():
        batch.add_metric(name=name, unit=unit, value=figure)
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
