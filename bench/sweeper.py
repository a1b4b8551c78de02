"""The hold sweeper's fairness in `make bench`: one tenant's 1 000 lapsed card holds and another
tenant's one (support/lapsed_holds.py), swept run after run as the scheduled function sweeps them
(15 s a run), on the stack's DynamoDB Local, with the orders' PaymentIntents at localstripe cancelled
through the official SDK. The figures: the run after which the other tenant's unit is on sale again,
the runs the 1 000 take, the holds each run expires and how long it lasts.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

from chalicelib import clients, config, tenants
from chalicelib.payments import sweeper
from support.lapsed_holds import FLOOD, LAMBDA_SECONDS, lay, sweep_until_clear

MOST_RUNS = 30


def phase_sweeper(env: Mapping[str, str]) -> dict[str, Any]:
    # This process lays the holds and runs the sweeper itself: point it at the stack and its localstripe.
    os.environ.update(env)
    config.reset()
    clients.reset()
    tenants.clear_cache()
    stamp = int(time.time())
    flooder, other = f"bench-flood-{stamp}", f"bench-other-{stamp}"
    started = time.monotonic()
    lay(flooder, other, FLOOD)
    laid_s = time.monotonic() - started
    runs = sweep_until_clear(flooder, other, FLOOD, max_runs=MOST_RUNS)
    return {
        "holds": FLOOD,
        "stripe": "localstripe",
        "function_time_limit_s": LAMBDA_SECONDS,
        "taking_orders_s": LAMBDA_SECONDS - sweeper.SWEEP_MARGIN_SECONDS,
        "stripe_calls_at_once": sweeper.STRIPE_CALLS_AT_ONCE,
        "per_tenant_at_once": sweeper.PER_TENANT_AT_ONCE,
        "laid_s": round(laid_s, 1),
        "other_back_after_run": runs.other_back_after_run,
        "runs_to_clear": runs.runs_to_clear,
        "most_runs": MOST_RUNS,
        "expired_per_run": runs.expired_per_run,
        "seconds_per_run": runs.seconds_per_run,
    }
