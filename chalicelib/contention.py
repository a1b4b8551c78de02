"""Pauses between attempts of an optimistic write that lost a race to a concurrent one.

Full-jitter exponential backoff (AWS's recommendation) spreads the losers out, so a burst
of edits to one cart or checkouts of one product converges instead of colliding again.
"""

from __future__ import annotations

import random
import time

from pynamodb.exceptions import TransactWriteError

BASE_SECONDS = 0.01
CAP_SECONDS = 0.25


def pause(attempt: int) -> None:
    time.sleep(random.uniform(0, min(CAP_SECONDS, BASE_SECONDS * 2**attempt)))


# Cancellation reasons a fresh read cannot cure: the request itself is wrong (an item too large,
# an invalid update), so retrying would only turn a logged 500 into a misleading 503.
PERMANENT_REASONS = frozenset({"ValidationError", "ItemCollectionSizeLimitExceeded"})


def raise_if_permanent(exc: TransactWriteError) -> None:
    """Re-raise a cancelled transaction whose reasons no retry can change."""
    if any(reason and reason.code in PERMANENT_REASONS for reason in exc.cancellation_reasons or []):
        raise exc
