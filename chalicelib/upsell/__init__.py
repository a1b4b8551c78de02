"""AI up-sell: checkout and the cart page call `suggest` and nothing else.

flags.py       UPSELL_ENABLED from SSM Parameter Store, per request
candidates.py  the tenant's in-stock catalogue minus the cart, pre-ranked and capped
prompt.py      the Chat Completions messages (shop data delimited, never instructions)
llm.py         the OpenAI-compatible call inside the time budget
validation.py  the answer parsed and checked against the candidates
fallback.py    deterministic suggestions with template reasons
telemetry.py   the log line per LLM call and the metrics
"""

from __future__ import annotations

import time
from collections.abc import Collection

from chalicelib.config import get_settings
from chalicelib.observability import logger
from chalicelib.tenants import Tenant
from chalicelib.upsell import candidates, fallback, flags, llm, prompt, telemetry, validation
from chalicelib.upsell.results import DISABLED, MAX_SUGGESTIONS, Suggestion, Upsell

__all__ = ["DISABLED", "Suggestion", "Upsell", "reset", "suggest"]


def suggest(tenant: Tenant, cart_id: str, cart_product_ids: Collection[str]) -> Upsell:
    """Suggestions for a cart; never raises, so a checkout cannot fail because of it."""
    started = time.monotonic()
    try:
        result = _suggest(tenant, cart_id, list(cart_product_ids), started)
    except Exception:  # noqa: BLE001 - the up-sell step must never fail its caller
        logger.exception("Up-sell failed; answering without suggestions", tenant_id=tenant.tenant_id, cart_id=cart_id)
        result = Upsell(enabled=True, source="fallback", suggestions=[])
    try:
        telemetry.record(result.source, round((time.monotonic() - started) * 1000, 1), tenant.tenant_id)
    except Exception:  # noqa: BLE001 - metrics are best effort
        logger.exception("Up-sell metrics failed")
    return result


def _suggest(tenant: Tenant, cart_id: str, cart_product_ids: list[str], started: float) -> Upsell:
    settings = get_settings()
    if not flags.is_enabled(tenant.tenant_id):
        return DISABLED
    ranking = candidates.rank(candidates.load_catalogue(tenant.tenant_id), cart_product_ids)
    only_fallback = Upsell(enabled=True, source="fallback", suggestions=fallback.pick(ranking))
    if not ranking.offered or not ranking.cart or not llm.is_configured(settings):
        return only_fallback  # nothing to choose from, nothing to complement, or no LLM
    messages = prompt.build(tenant.name, tenant.currency, ranking)
    # One budget for the whole step: flag read, catalogue query and LLM call together.
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
