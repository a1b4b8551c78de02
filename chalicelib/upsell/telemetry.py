"""The up-sell step's log line per LLM call and its metrics (outcome count and latency)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from chalicelib.observability import logger

NAMESPACE = "Cartwise"


def log_llm_call(**fields: Any) -> None:
    """ONE structured line per LLM call: tenant_id, cart_id, model, prompt, raw_response or error,
    latency_ms, outcome, source, accepted and dropped ids."""
    logger.info("Up-sell LLM call", **fields)


def record(outcome: str, latency_ms: float, tenant_id: str) -> None:
    """EMF metrics `UpsellOutcome` (count) and `UpsellLatency` (ms), dimension `outcome`
    (llm | fallback | disabled). Ephemeral: flushed here, independent of any handler decorator."""
    metrics = EphemeralMetrics(namespace=NAMESPACE, service="cartwise")
    metrics.add_dimension(name="outcome", value=outcome)
    metrics.add_metric(name="UpsellOutcome", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="UpsellLatency", unit=MetricUnit.Milliseconds, value=latency_ms)
    metrics.add_metadata(key="tenant_id", value=tenant_id)
    metrics.flush_metrics()
