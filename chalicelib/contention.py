"""Pauses between attempts of an optimistic write that lost a race to a concurrent one.

Full-jitter exponential backoff (AWS's recommendation) spreads the losers out, so a burst
of edits to one cart or checkouts of one product converges instead of colliding again.
"""

from __future__ import annotations

import random
import time

BASE_SECONDS = 0.01
CAP_SECONDS = 0.25


def pause(attempt: int) -> None:
    time.sleep(random.uniform(0, min(CAP_SECONDS, BASE_SECONDS * 2**attempt)))
