"""Readiness: can this function reach DynamoDB and Parameter Store right now?

Each check is one cheap call on a short-timeout client, and touches no tenant's data:
DescribeTable on the tenants table, and GetParameter on the global up-sell flag (a missing
parameter still proves SSM answers).

The answer (ready or not) is reused for CACHE_SECONDS within a function instance, so a load
balancer, a monitor and a curious client probing at once cost DynamoDB and SSM one call each per
few seconds, not one per probe; API Gateway also limits the route (infra/template.yml).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

from chalicelib import clients
from chalicelib.config import get_settings
from chalicelib.errors import Unavailable
from chalicelib.observability import logger


def _dynamodb() -> None:
    clients.probe("dynamodb").describe_table(TableName=get_settings().table_name("tenants"))


def _ssm() -> None:
    ssm = clients.probe("ssm")
    with contextlib.suppress(ssm.exceptions.ParameterNotFound):
        ssm.get_parameter(Name=f"{get_settings().parameter_prefix}/flags/UPSELL_ENABLED")


CHECKS: dict[str, Callable[[], None]] = {"dynamodb": _dynamodb, "ssm": _ssm}
CACHE_SECONDS = 5.0

_clock = time.monotonic
_last: dict[str, tuple[float, dict[str, str]]] = {}  # "checks" -> (monotonic time it expires, results)


def readiness() -> dict[str, str]:
    """ "ok" per dependency; raises Unavailable (503) naming the ones that failed."""
    now = _clock()
    cached = _last.get("checks")
    if cached is not None and now < cached[0]:
        results = cached[1]
    else:
        results = _check()
        _last["checks"] = (now + CACHE_SECONDS, results)
    if any(value != "ok" for value in results.values()):
        raise Unavailable("A dependency is not ready.", {"checks": dict(results)})
    return dict(results)


def clear_cache() -> None:
    """Forget the last answer (tests)."""
    _last.clear()


def _check() -> dict[str, str]:
    results = {}
    for name, check in CHECKS.items():
        try:
            check()
            results[name] = "ok"
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
            logger.warning("Readiness check failed", check=name, error=type(exc).__name__)
            results[name] = "error"
    return results
