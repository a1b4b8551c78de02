"""The hold sweeper: every minute in the cloud (every few seconds with `make run`), lapsed holds expire."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from chalicelib import orders
from chalicelib.errors import Unavailable
from chalicelib.models import OrderModel
from chalicelib.observability import logger
from chalicelib.payments import gateway, service

# A sweep stops this long before its function's time limit: one more order's Stripe calls fit in it.
SWEEP_MARGIN_SECONDS = 10


def sweep_lapsed_holds(now: datetime | None = None, max_pages: int = 10, time_left: float | None = None) -> int:
    """Expire every lapsed hold, cancelling its PaymentIntent first; returns how many orders expired.

    An intent that succeeded after all is recorded as paid instead. When Stripe cannot be reached the
    hold still lapses (stock must not stay locked by an outage): a payment that completes later is
    taken back into stock or refunded by `settle`. One order failing is logged and skipped, so it
    never holds back the other tenants' holds; `time_left` (the function's, in seconds) stops the run
    in time, and the next run goes on.
    """
    deadline = time.monotonic() + time_left - SWEEP_MARGIN_SECONDS if time_left is not None else None
    expired = 0
    for _ in range(max_pages):
        cutoff = now or datetime.now(UTC)
        page = orders.lapsed_holds(cutoff)
        for order in page:
            if deadline is not None and time.monotonic() > deadline:
                logger.info("Sweep stopped for time", orders=expired)
                return expired
            try:
                if order.payment_intent_id and _paid_meanwhile(order):
                    continue
                expired += orders.expire(order, cutoff)
            except Exception:  # noqa: BLE001 - logged; the next run tries this order again
                logger.exception("Lapsed hold not expired", tenant_id=order.tenant_id, order_id=order.order_id)
        if len(page) < orders.SWEEP_PAGE:
            break
    if expired:
        logger.info("Lapsed holds expired", orders=expired)
    return expired


def _paid_meanwhile(order: OrderModel) -> bool:
    """Cancel a lapsed order's intent; True when it had succeeded (and the order is now recorded as paid).

    Stripe unreachable, or not knowing the intent (a tenant switched to live keys with test orders
    pending): the hold lapses anyway.
    """
    try:
        intent = service.cancel_intent(gateway.connect(order.tenant_id), order)
    except (Unavailable, gateway.Refused) as exc:
        logger.warning("Intent of a lapsed hold not cancelled", order_id=order.order_id, error=type(exc).__name__)
        return False
    if intent.status != "succeeded":
        return False
    service.settle(order.tenant_id, order.order_id, intent.id)
    return True
