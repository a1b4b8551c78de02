"""The up-sell answer kept with the cart, so the LLM is paid once per cart content.

The cart page and the checkout of an unchanged cart (and any idempotent replay of that
checkout) ask for suggestions for the same content; the first answer is stored on the cart
item (`CartModel.upsell`) under a key of the cart's products and the flag state, and reused
for MAX_AGE. A cart edit changes the key, so a stale answer is never served for new content;
a toggle of the flag is read on every request before the memo is consulted, so it changes
the very next answer.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection
from datetime import datetime, timedelta

from pynamodb.exceptions import UpdateError

from chalicelib.models import CartModel, StoredSuggestion, UpsellMemo
from chalicelib.observability import logger
from chalicelib.upsell.results import Suggestion, Upsell

# Long enough for a shopper to go from the cart page to the checkout; short enough that a
# sold-out suggestion or new co-purchase counts are not served for long.
MAX_AGE = timedelta(minutes=10)


def content_key(cart_product_ids: Collection[str], enabled: bool) -> str:
    """What the answer depends on: the set of products in the cart (not their quantities) and the flag."""
    body = json.dumps({"products": sorted(set(cart_product_ids)), "upsell_enabled": enabled})
    return hashlib.sha256(body.encode()).hexdigest()


def recall(cart: CartModel | None, key: str, now: datetime) -> Upsell | None:
    """The stored answer for this content, if it is recent enough."""
    memo = cart.upsell if cart is not None else None
    if memo is None or memo.content_key != key or not (now - MAX_AGE < memo.computed_at <= now):
        return None
    suggestions = [Suggestion(s.product_id, s.name, s.price, s.reason) for s in memo.suggestions]
    return Upsell(enabled=True, source=memo.source, suggestions=suggestions)


def remember(tenant_id: str, cart_id: str, key: str, answer: Upsell, now: datetime) -> None:
    """Store the answer on the cart; best effort (a lost memo costs one more computation, never an error)."""
    memo = UpsellMemo(
        content_key=key,
        computed_at=now,
        source=answer.source,
        suggestions=[
            StoredSuggestion(product_id=s.product_id, name=s.name, price=s.price, reason=s.reason)
            for s in answer.suggestions
        ],
    )
    try:
        # The table connection, not Model.update: that would bump the cart's version and make a
        # concurrent edit or checkout of the cart retry. The memo is keyed by content, so it needs
        # no version; the condition only keeps a deleted cart from being recreated.
        CartModel._get_connection().update_item(
            tenant_id, cart_id, actions=[CartModel.upsell.set(memo)], condition=CartModel.cart_id.exists()
        )
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            logger.warning(
                "Up-sell answer not stored with the cart", tenant_id=tenant_id, cart_id=cart_id, error=str(exc)
            )
