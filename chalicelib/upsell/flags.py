"""The UPSELL_ENABLED flag and the tenant's holdout share, read from SSM Parameter Store on every request.

Resolution: the tenant override `/cartwise/{stage}/tenants/{tenant_id}/flags/UPSELL_ENABLED`,
else the global `/cartwise/{stage}/flags/UPSELL_ENABLED`, else off. The holdout share is
`/cartwise/{stage}/tenants/{tenant_id}/upsell/HOLDOUT_PERCENT` (0-50, absent: 0; anything else
is 0 and logged). The three names are read with ONE GetParameters call on the flag's botocore
client, so a toggle with `aws ssm put-parameter --overwrite` (or the settings route) is seen by
the very next request.

With UPSELL_FLAG_MAX_AGE_SECONDS > 0 the resolved value of a tenant is reused for that
long (most tenants have no override, so the resolution itself is what is cached).

If SSM fails (throttling, outage), the last value read for the tenant is used, else off,
and a warning is logged: the flag never fails a request. For FAILURE_BACKOFF_SECONDS after
a failure SSM is not asked again, so a throttled account is not hammered by every request.
"""

from __future__ import annotations

import contextvars
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from chalicelib import clients
from chalicelib.config import get_settings
from chalicelib.observability import logger

FLAG = "UPSELL_ENABLED"
HOLDOUT = "HOLDOUT_PERCENT"
MAX_HOLDOUT_PERCENT = 50  # at least half the carts keep the up-sell: a holdout measures it, never replaces it
FAILURE_BACKOFF_SECONDS = 1.0


@dataclass(frozen=True)
class FlagState:
    """What the up-sell does for a tenant now: on or off, and the share of its carts held out (0-50)."""

    enabled: bool
    holdout_percent: int = 0


OFF = FlagState(enabled=False)

_clock = time.monotonic
_lock = threading.Lock()
_last: dict[str, tuple[FlagState, float]] = {}  # tenant_id -> (state, monotonic time read)
_backoff_until = [0.0]  # monotonic time before which SSM is not asked after a failure
_readers: list[ThreadPoolExecutor] = []  # built on first use: no thread at import time


def parameter_names(tenant_id: str) -> tuple[str, str]:
    prefix = get_settings().parameter_prefix
    return f"{prefix}/tenants/{tenant_id}/flags/{FLAG}", f"{prefix}/flags/{FLAG}"


def holdout_parameter_name(tenant_id: str) -> str:
    return f"{get_settings().parameter_prefix}/tenants/{tenant_id}/upsell/{HOLDOUT}"


def current(tenant_id: str) -> FlagState:
    """The flag and holdout share for this tenant now; never raises."""
    max_age = get_settings().upsell_flag_max_age_seconds
    now = _clock()
    with _lock:
        last = _last.get(tenant_id)
    if last is not None and max_age > 0 and now - last[1] < max_age:
        return last[0]
    fallback = last[0] if last is not None else OFF
    if now < _backoff_until[0]:
        return fallback  # SSM failed moments ago; the failure was logged then
    try:
        value = _read(tenant_id)
    except Exception as exc:  # noqa: BLE001 - any SSM failure degrades to the last value, never to an error
        _backoff_until[0] = _clock() + FAILURE_BACKOFF_SECONDS
        logger.warning(
            "UPSELL_ENABLED could not be read from SSM; using the last value read, else off",
            tenant_id=tenant_id,
            flag_value=fallback.enabled,
            last_value_known=last is not None,
            error=f"{type(exc).__name__}: {exc}",
            retry_after_seconds=FAILURE_BACKOFF_SECONDS,
        )
        return fallback
    with _lock:
        _last[tenant_id] = (value, now)
    return value


def read_in_background(tenant_id: str) -> Future[FlagState]:
    """Start `current` on a worker thread, so the SSM round trip overlaps the caller's DynamoDB work.

    The future always completes with a FlagState (`current` never raises). It runs in a copy of the
    caller's context, so whatever the request keeps in context variables follows it.
    """
    with _lock:
        if not _readers:
            # A handful of threads: Lambda serves one request at a time, `chalice local` a few.
            _readers.append(ThreadPoolExecutor(max_workers=8, thread_name_prefix="upsell-flag"))
        reader = _readers[0]
    return reader.submit(contextvars.copy_context().run, current, tenant_id)


def _read(tenant_id: str) -> FlagState:
    # botocore directly, not Powertools Parameters: get_parameters_by_name added about 0.3 ms of CPU
    # to botocore's 1.5 ms per read, and reported an SSM error like a missing name, so both names
    # missing took a second call. GetParameters lists names it lacks in InvalidParameters and raises on any
    # failure, so "not there" (off) and "SSM is failing" (last value) are told apart by one call.
    tenant_name, global_name = parameter_names(tenant_id)
    holdout_name = holdout_parameter_name(tenant_id)
    answer = clients.flag_ssm().get_parameters(Names=[tenant_name, global_name, holdout_name])
    values: dict[str, Any] = {parameter["Name"]: parameter["Value"] for parameter in answer["Parameters"]}
    enabled = next((parse_flag(name, values[name]) for name in (tenant_name, global_name) if name in values), False)
    holdout = parse_holdout(holdout_name, values[holdout_name]) if holdout_name in values else 0
    return FlagState(enabled=enabled, holdout_percent=holdout)


def parse_holdout(name: str, value: Any) -> int:
    """A whole number of percent, 0 to 50; anything else holds no cart out (and is logged)."""
    text = str(value).strip()
    if text.isascii() and text.isdigit() and int(text) <= MAX_HOLDOUT_PERCENT:
        return int(text)
    logger.warning(
        "HOLDOUT_PERCENT has an invalid value; holding no cart out",
        parameter=name,
        value=text[:50],
        allowed=f"0-{MAX_HOLDOUT_PERCENT}",
    )
    return 0


def parse_flag(name: str, value: Any) -> bool:
    text = str(value).strip().lower()
    if text in ("true", "false"):
        return text == "true"
    logger.warning("UPSELL_ENABLED has an invalid value; treating it as off", parameter=name, value=str(value)[:50])
    return False


def forget(tenant_id: str) -> None:
    """Drop the value kept for a tenant, so this process reads its parameters on the next request."""
    with _lock:
        _last.pop(tenant_id, None)


def reset() -> None:
    """Forget the last values read (tests)."""
    with _lock:
        _last.clear()
        _backoff_until[0] = 0.0
