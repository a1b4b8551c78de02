"""Secrets that are stored only as digests: admin API keys and order tokens.

A SHA-256 of a high-entropy secret is enough (no salt or slow hash needed: the secrets are random,
not passwords), and the comparison runs over every stored digest in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def matches(secret: str, digests: Iterable[str]) -> bool:
    """Constant-time comparison against every stored digest (no early exit on a match)."""
    candidate = digest(secret)
    found = False
    for stored in digests:
        found |= hmac.compare_digest(candidate, stored)
    return found
