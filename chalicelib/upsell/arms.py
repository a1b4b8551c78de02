"""Which arm of the up-sell's comparison a cart is in: treated (suggestions), held out, or neither.

A cart's place is a stable hash of its tenant and id, so the cart page, the checkout, every
process and every replay agree without storing anything: sha256("{tenant_id}/{cart_id}") read as
a number, modulo 100, below the tenant's HOLDOUT_PERCENT = held out. Raising the share from 10 to
20 keeps the first 10 % held out and adds the next 10 % (the buckets do not move).
"""

from __future__ import annotations

import hashlib

from chalicelib.upsell.flags import FlagState

TREATED = "treated"
HOLDOUT = "holdout"


def bucket(tenant_id: str, cart_id: str) -> int:
    """The cart's bucket, 0-99."""
    digest = hashlib.sha256(f"{tenant_id}/{cart_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100


def is_held_out(tenant_id: str, cart_id: str, holdout_percent: int) -> bool:
    return holdout_percent > 0 and bucket(tenant_id, cart_id) < holdout_percent


def arm(tenant_id: str, cart_id: str, state: FlagState) -> str | None:
    """TREATED, HOLDOUT, or None when the up-sell is off for the tenant (the cart is in no comparison)."""
    if not state.enabled:
        return None
    return HOLDOUT if is_held_out(tenant_id, cart_id, state.holdout_percent) else TREATED
