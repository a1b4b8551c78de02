"""The up-sell step's log line per LLM call and its metrics (outcome count and latency)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from chalicelib.observability import emit, logger


def log_llm_call(**fields: Any) -> None:
    """ONE structured line per LLM call: tenant_id, cart_id, model, prompt, raw_response or error,
    latency_ms, outcome, source, accepted and dropped ids."""
    logger.info("Up-sell LLM call", **fields)


def record(outcome: str, latency_ms: float, tenant_id: str) -> None:
    """EMF metrics `UpsellOutcome` (count) and `UpsellLatency` (ms) with the dimension `outcome`
    (llm | fallback | disabled); the tenant goes in as metadata, not as a dimension."""
    emit(
        {"UpsellOutcome": (MetricUnit.Count, 1), "UpsellLatency": (MetricUnit.Milliseconds, latency_ms)},
        dimensions={"outcome": outcome},
        metadata={"tenant_id": tenant_id},
    )
