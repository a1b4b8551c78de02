"""The up-sell answer kept with the cart, so the LLM is paid once per cart content.

The cart page and the checkout of an unchanged cart (and any idempotent replay of that
checkout) ask for suggestions for the same content; the first answer is stored on the cart
item (`CartModel.upsell`) under a key of the cart's products and the flag state, and reused
for MAX_AGE. A cart edit changes the key, so a stale answer is never served for new content;
a toggle of the flag is read on every request before the memo is consulted, so it changes
the very next answer.

An answer with suggestions gets its `set_id` when it is kept: derived from the cart and the
memo (so the cart page and the checkout of the same content serve the same id), and listed with
its products in the cart's `offered_sets` (the last OFFERED_SETS_KEPT), which is what a line
added with `upsell_set_id` is checked against (chalicelib/carts.py). A held-out cart's answer is
kept too (no suggestions, no set): its write is what the stats count as the cart held out, as the
write of a treated cart's answer is what they count as shown (chalicelib/upsell/stats.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection
from dataclasses import replace
from datetime import datetime, timedelta

from pynamodb.exceptions import UpdateError

from chalicelib.models import CartModel, OfferedSet, StoredSuggestion, UpsellMemo
from chalicelib.observability import logger
from chalicelib.upsell.results import HOLDOUT, Suggestion, Upsell

# Long enough for a shopper to go from the cart page to the checkout; short enough that a
# sold-out suggestion or new co-purchase counts are not served for long.
MAX_AGE = timedelta(minutes=10)
OFFERED_SETS_KEPT = 5  # a shopper clicking a suggestion shown a few answers ago is still attributed


def content_key(cart_product_ids: Collection[str], arm: str) -> str:
    """What the answer depends on: the set of products in the cart (not their quantities) and the arm
    (treated or held out: with the flag off nothing is kept)."""
    body = json.dumps({"products": sorted(set(cart_product_ids)), "arm": arm})
    return hashlib.sha256(body.encode()).hexdigest()


def set_id_of(cart_id: str, key: str, computed_at: datetime) -> str:
    """The id of the suggestion set kept for this content at this time: "{cart_id}-{16 hex}".

    It names its cart, so a suggestion of a checked-out cart's answer (the order confirmation) can
    be checked when it is added to the shopper's next cart.
    """
    digest = hashlib.sha256(f"{cart_id}|{key}|{computed_at.isoformat()}".encode()).hexdigest()
    return f"{cart_id}-{digest[:16]}"


def recall(cart: CartModel | None, key: str, now: datetime) -> Upsell | None:
    """The stored answer for this content, if it is recent enough."""
    memo = cart.upsell if cart is not None else None
    if memo is None or memo.content_key != key or not (now - MAX_AGE < memo.computed_at <= now):
        return None
    if memo.source == HOLDOUT.source:
        return HOLDOUT
    suggestions = [Suggestion(s.product_id, s.name, s.price, s.reason) for s in memo.suggestions]
    return Upsell(enabled=True, source=memo.source, suggestions=suggestions, set_id=memo.set_id)


def remember(tenant_id: str, cart: CartModel, key: str, answer: Upsell, now: datetime) -> Upsell:
    """Store the answer on the cart, with its set id if it has suggestions; returns it with that id.

    Best effort: a lost memo costs one more computation, never an error (the answer then has no
    set id, so a suggestion added from it is an ordinary line, never a 400).
    """
    set_id = set_id_of(cart.cart_id, key, now) if answer.suggestions else None
    memo = UpsellMemo(
        content_key=key,
        computed_at=now,
        source=answer.source,
        suggestions=[
            StoredSuggestion(product_id=s.product_id, name=s.name, price=s.price, reason=s.reason)
            for s in answer.suggestions
        ],
        set_id=set_id,
    )
    actions = [CartModel.upsell.set(memo)]
    if set_id is not None:
        offered = OfferedSet(
            set_id=set_id, source=answer.source, product_ids=[s.product_id for s in answer.suggestions]
        )
        kept = [*(cart.offered_sets or []), offered][-OFFERED_SETS_KEPT:]
        actions.append(CartModel.offered_sets.set(kept))
    try:
        # The table connection, not Model.update: that would bump the cart's version and make a
        # concurrent edit or checkout of the cart retry. The memo is keyed by content, so it needs
        # no version; the condition only keeps a deleted cart from being recreated.
        CartModel._get_connection().update_item(
            tenant_id, cart.cart_id, actions=actions, condition=CartModel.cart_id.exists()
        )
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            logger.warning(
                "Up-sell answer not stored with the cart", tenant_id=tenant_id, cart_id=cart.cart_id, error=str(exc)
            )
        return answer
    return replace(answer, set_id=set_id)
