"""AI up-sell: the cart page calls `for_cart`; checkout calls `read_flag` first and `suggest` after.

flags.py       UPSELL_ENABLED and HOLDOUT_PERCENT from SSM Parameter Store, per request (read while DynamoDB works)
arms.py        which carts are held out (a stable hash of the cart id)
controls.py    the operator's settings route: the tenant's SSM parameters written and read back
memo.py        the answer kept with the cart: the LLM is paid once per cart content; its set id
stats.py       the counts the stats route reads, kept by the tables' streams
candidates.py  bounded reads of the products worth suggesting, pre-ranked and capped
prompt.py      the Chat Completions messages (shop data delimited, never instructions)
llm.py         the OpenAI-compatible call inside the time budget
validation.py  the answer parsed and checked against the candidates
fallback.py    deterministic suggestions with template reasons
telemetry.py   the log line per LLM call and the metrics
"""

from __future__ import annotations

import time
from collections.abc import Collection
from concurrent.futures import Future

from chalicelib import carts
from chalicelib.config import get_settings
from chalicelib.models import CartModel
from chalicelib.observability import logger
from chalicelib.tenants import Tenant
from chalicelib.upsell import arms, flags, memo, telemetry
from chalicelib.upsell.controls import Controls, read_controls, write_controls
from chalicelib.upsell.flags import MAX_HOLDOUT_PERCENT, FlagState
from chalicelib.upsell.results import DISABLED, HOLDOUT, MAX_SUGGESTIONS, Suggestion, Upsell
from chalicelib.upsell.stats import MAX_STATS_DAYS, add_sale, count_cart_change, count_refund, report

__all__ = [
    "DISABLED",
    "HOLDOUT",
    "MAX_HOLDOUT_PERCENT",
    "MAX_STATS_DAYS",
    "Controls",
    "FlagState",
    "Suggestion",
    "Upsell",
    "add_sale",
    "arm_of",
    "count_cart_change",
    "count_refund",
    "for_cart",
    "read_controls",
    "read_flag",
    "report",
    "reset",
    "suggest",
    "write_controls",
]


def read_flag(tenant_id: str) -> Future[FlagState]:
    """Start reading UPSELL_ENABLED and HOLDOUT_PERCENT now; hand the future to `suggest` once the
    DynamoDB work is done."""
    return flags.read_in_background(tenant_id)


def arm_of(tenant_id: str, cart_id: str, state: FlagState) -> str | None:
    """The cart's arm ("treated", "holdout") while the up-sell is on, else None: what an order records."""
    return arms.arm(tenant_id, cart_id, state)


def for_cart(tenant: Tenant, cart_id: str) -> Upsell:
    """The cart page's suggestions: the flag is read while the cart is (404 if there is no such cart)."""
    flag = read_flag(tenant.tenant_id)
    cart = carts.load_cart(tenant.tenant_id, cart_id)
    return suggest(tenant, cart.cart_id, [line.product_id for line in cart.lines], cart=cart, flag=flag)


def suggest(
    tenant: Tenant,
    cart_id: str,
    cart_product_ids: Collection[str],
    *,
    cart: CartModel | None = None,
    flag: Future[FlagState] | None = None,
    llm_allowed: bool = True,
) -> Upsell:
    """Suggestions for a cart; never raises, so a checkout cannot fail because of it.

    `cart` is the cart as just read (its stored answer is reused for the same content); without it
    the cart is read. `flag` is a started `read_flag`. `llm_allowed=False` (an idempotent replay)
    answers from the stored answer or the fallback, never from a new LLM call.
    """
    started = time.monotonic()
    try:
        state = flag.result() if flag is not None else flags.current(tenant.tenant_id)
        result = _suggest(tenant, cart_id, list(cart_product_ids), state, cart, llm_allowed, started)
    except Exception:  # noqa: BLE001 - the up-sell step must never fail its caller
        logger.exception("Up-sell failed; answering without suggestions", tenant_id=tenant.tenant_id, cart_id=cart_id)
        result = Upsell(enabled=True, source="fallback", suggestions=[])
    try:
        telemetry.record(result.source, round((time.monotonic() - started) * 1000, 1), tenant.tenant_id)
    except Exception:  # noqa: BLE001 - metrics are best effort
        logger.exception("Up-sell metrics failed")
    return result


def _suggest(
    tenant: Tenant,
    cart_id: str,
    cart_product_ids: list[str],
    state: FlagState,
    cart: CartModel | None,
    llm_allowed: bool,
    started: float,
) -> Upsell:
    arm = arms.arm(tenant.tenant_id, cart_id, state)
    if arm is None:
        return DISABLED
    key = memo.content_key(cart_product_ids, arm)
    if cart is None:
        cart = _stored_cart(tenant.tenant_id, cart_id)
    now = carts.now()
    remembered = memo.recall(cart, key, now)
    if remembered is not None:
        return remembered
    # A held-out cart's answer is kept too (once per content): its write is what counts it held out.
    result = HOLDOUT if arm == arms.HOLDOUT else _answer(tenant, cart_id, cart_product_ids, llm_allowed, started)
    if cart is not None:
        result = memo.remember(tenant.tenant_id, cart, key, result, now)
    return result


def _stored_cart(tenant_id: str, cart_id: str) -> CartModel | None:
    try:
        return CartModel.get(tenant_id, cart_id)
    except CartModel.DoesNotExist:
        return None


def _answer(tenant: Tenant, cart_id: str, cart_product_ids: list[str], llm_allowed: bool, started: float) -> Upsell:
    # Imported when an answer is first computed, not at import: the checkout with the up-sell off,
    # a stored answer, the authorizer and the order-stream function never need them (cold start).
    from chalicelib.upsell import candidates, fallback, llm, prompt, validation

    settings = get_settings()
    products = candidates.gather(candidates.TenantCatalogue(tenant.tenant_id), cart_product_ids, tenant.best_sellers)
    ranking = candidates.rank(products, cart_product_ids)
    only_fallback = Upsell(enabled=True, source="fallback", suggestions=fallback.pick(ranking))
    if not ranking.offered or not ranking.cart or not llm_allowed or not llm.is_configured(settings):
        return only_fallback  # nothing to choose from, nothing to complement, a replay, or no LLM
    messages = prompt.build(tenant.name, tenant.currency, ranking)
    # One budget for the whole step: candidate reads and LLM call together (the flag was read meanwhile).
    reply = llm.complete(messages, settings, deadline=started + settings.llm_timeout_seconds)
    checked = validation.Validated()
    outcome = reply.status
    error = reply.error
    if reply.ok:
        try:
            checked = validation.validate(validation.parse(reply.raw), ranking)
        except validation.BadAnswer as exc:
            outcome, error = "bad_json", str(exc)
        else:
            outcome = "accepted" if checked.accepted else "empty"

    if checked.accepted:
        chosen = [fallback.suggestion(candidate, reason) for candidate, reason in checked.accepted]
        top_up = fallback.pick(ranking, MAX_SUGGESTIONS - len(chosen), exclude=set(checked.accepted_ids))
        result = Upsell(enabled=True, source="llm", suggestions=chosen + top_up)
    else:
        result = only_fallback

    telemetry.log_llm_call(
        tenant_id=tenant.tenant_id,
        cart_id=cart_id,
        model=settings.llm_model,
        prompt=messages,
        raw_response=reply.raw,
        error=error,
        latency_ms=reply.latency_ms,
        outcome=outcome,
        source=result.source,
        accepted=checked.accepted_ids,
        dropped=checked.dropped,
        suggested=[s.product_id for s in result.suggestions],
    )
    return result


def reset() -> None:
    """Forget per-process state (the last flag values read); for tests."""
    flags.reset()
