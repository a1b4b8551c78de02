"""Pauses between attempts of an optimistic write that lost a race to a concurrent one.

Full-jitter exponential backoff (AWS's recommendation) spreads the losers out, so a burst
of edits to one cart or checkouts of one product converges instead of colliding again.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator

from pynamodb.exceptions import TransactWriteError

BASE_SECONDS = 0.01
CAP_SECONDS = 0.25
# How often an optimistic write is tried before the client is told to retry (503 with Retry-After).
ATTEMPTS = 6
# A cart is edited in bursts (one shopper's clicks, several tabs): a little more patience.
CART_EDIT_ATTEMPTS = 8
# A stock adjustment writes the exact figure it read plus its delta (so its answer and a replay are
# exact), and loses to every adjustment of the same product in between: an operator's burst of
# restocks to one product needs more patience than a checkout (it goes on for about 2 s at most).
STOCK_ADJUST_ATTEMPTS = 12
# The orders stream's counting: a failed batch is retried by Lambda, so fewer, longer pauses.
STREAM_ATTEMPTS = 5
STREAM_BASE_SECONDS = 0.05


def pause(attempt: int, base_seconds: float = BASE_SECONDS) -> None:
    time.sleep(random.uniform(0, min(CAP_SECONDS, base_seconds * 2**attempt)))


def attempts(limit: int = ATTEMPTS, base_seconds: float = BASE_SECONDS) -> Iterator[int]:
    """The attempts of an optimistic write: 0, 1, … `limit - 1`, with a jittered pause before each
    retry. The loop body returns when its write went through; after the loop, every attempt lost
    a race, and the caller says so (usually `Unavailable`, a 503 with Retry-After)."""
    for attempt in range(limit):
        if attempt:
            pause(attempt - 1, base_seconds)
        yield attempt


# Cancellation reasons a fresh read cannot cure: the request itself is wrong (an item too large,
# an invalid update), so retrying would only turn a logged 500 into a misleading 503.
PERMANENT_REASONS = frozenset({"ValidationError", "ItemCollectionSizeLimitExceeded"})


def raise_if_permanent(exc: TransactWriteError) -> None:
    """Re-raise a cancelled transaction whose reasons no retry can change."""
    if any(reason and reason.code in PERMANENT_REASONS for reason in exc.cancellation_reasons or []):
        raise exc
