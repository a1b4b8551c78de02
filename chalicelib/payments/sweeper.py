"""The hold sweeper: every minute in the cloud (every few seconds with `make run`), lapsed holds expire.

Fair across tenants: each tenant's unpaid orders are a partition of the pending-holds index of their
own, and a run takes the tenants in turns, the oldest lapsed hold of each, then the next of each, so
one tenant's thousands of lapsed holds delay another tenant's by a few orders, not by runs.

Quick: cancelling an order's PaymentIntent is a round trip to Stripe, the slow part. Those run in a
thread pool, at most STRIPE_CALLS_AT_ONCE at once and PER_TENANT_AT_ONCE of one tenant (one Stripe
account's rate limit), one call per order unless Stripe says the intent moved on. Everything
DynamoDB stays on the run's own thread: each listed order read again consistently, and each expiry
still one transaction conditioned on the order's status and hold.

Resumable: a run stops taking orders when its time is up and finishes those under way. Nothing is
kept between runs: the next one reads each tenant's queue from its oldest lapsed hold again, and an
order expired by the last run has left the index. See decision 28 (docs/decisions/).
"""

from __future__ import annotations

import random
import time
from collections import Counter, deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chalicelib import orders, tenants
from chalicelib.errors import NotFound, Unavailable
from chalicelib.lifecycle import OrderStatus
from chalicelib.models import SHARED_HOLD_QUEUE, OrderModel, hold_queue
from chalicelib.observability import logger
from chalicelib.payments import gateway, service
from chalicelib.payments.gateway import Gateway, Intent

# A run stops taking orders this long before its function's time limit: the Stripe calls under way
# (at most one order's each, all at once) finish in it.
SWEEP_MARGIN_SECONDS = 10
# Stripe calls under way at once, and at once for one tenant: Stripe limits each account to 25
# requests a second in test mode and 100 live; a cancel takes a few tenths of a second.
STRIPE_CALLS_AT_ONCE = 16
PER_TENANT_AT_ONCE = 8
# Lapsed holds read from a tenant's queue per Query.
QUEUE_PAGE = 100


@dataclass
class Sweep:
    """What a run did."""

    expired: int = 0
    paid: int = 0  # the intent had succeeded after all: recorded as paid instead
    failed: int = 0  # logged and left for the next run
    stopped_for_time: bool = False  # lapsed holds may be left: the next run goes on
    tenants: int = 0  # the tenants whose queues were read
    expired_by_tenant: Counter[str] = field(default_factory=Counter)


def sweep_lapsed_holds(now: datetime | None = None, time_left: float | None = None) -> int:
    """Expire the lapsed holds, cancelling their PaymentIntents first; returns how many orders expired.

    `time_left` is the function's, in seconds: the run stops in time and the next one goes on.
    """
    return sweep(now, time_left).expired


def sweep(
    now: datetime | None = None,
    time_left: float | None = None,
    stripe_calls: int = STRIPE_CALLS_AT_ONCE,
    per_tenant: int = PER_TENANT_AT_ONCE,
) -> Sweep:
    """One run over every tenant's lapsed holds, the tenants in turns (see the module's docstring).

    An intent that succeeded after all is recorded as paid instead. When Stripe cannot be reached the
    hold still lapses (stock must not stay locked by an outage): a payment that completes later is
    taken back into stock or refunded by `settle`. One order failing is logged and skipped.
    """
    cutoff = now or datetime.now(UTC)
    deadline = time.monotonic() + time_left - SWEEP_MARGIN_SECONDS if time_left is not None else None
    report = Sweep()
    queues = deque(_queues(cutoff))
    report.tenants = len(queues) - 1
    queues.rotate(random.randrange(len(queues)))  # no tenant is always first in a run
    accounts: dict[str, Gateway | None] = {}
    under_way: dict[Future[Intent | None], tuple[_Queue, OrderModel]] = {}

    def out_of_time() -> bool:
        return deadline is not None and time.monotonic() > deadline

    def account_of(tenant_id: str) -> Gateway | None:
        if tenant_id not in accounts:
            try:
                accounts[tenant_id] = gateway.connect(tenant_id)  # its Stripe secret key, read here
            except Unavailable:
                logger.warning("Stripe key of a tenant with lapsed holds unreadable", tenant_id=tenant_id)
                accounts[tenant_id] = None
        return accounts[tenant_id]

    with ThreadPoolExecutor(max_workers=stripe_calls, thread_name_prefix="sweeper") as pool:
        while True:
            # Take turns: the next lapsed hold of each tenant with room, until the pool is full.
            turns_without_one = 0
            while queues and len(under_way) < stripe_calls and turns_without_one < len(queues):
                if out_of_time():
                    break
                queue = queues[0]
                queues.rotate(-1)
                if queue.under_way >= per_tenant:
                    turns_without_one += 1
                    continue
                try:
                    listed = queue.next()
                    order = _still_pending(listed) if listed is not None else None
                except Exception:  # noqa: BLE001 - logged; one tenant's failure never holds back another's
                    logger.exception("Lapsed holds of a tenant not read", queue=queue.partition)
                    report.failed += 1
                    queues.remove(queue)
                    continue
                if listed is None:
                    queues.remove(queue)
                    continue
                turns_without_one = 0
                if order is None:
                    continue
                account = account_of(order.tenant_id) if order.payment_intent_id else None
                if account is None:  # nothing to cancel at Stripe, or no way to: the hold lapses now
                    _finish(report, order, cutoff, None)
                    continue
                queue.under_way += 1
                under_way[pool.submit(_cancel_at_stripe, account, order)] = (queue, order)
            if not under_way:
                break
            done, _ = wait(under_way, return_when=FIRST_COMPLETED)
            for future in done:
                queue, order = under_way.pop(future)
                queue.under_way -= 1
                _finish(report, order, cutoff, future.result())
    if queues:  # some not read to their end
        report.stopped_for_time = True
        logger.info("Sweep stopped for time", orders=report.expired, paid=report.paid)
    if report.expired or report.paid or report.failed:
        logger.info("Lapsed holds expired", orders=report.expired, paid=report.paid, failed=report.failed)
    return report


class _Queue:
    """One tenant's lapsed holds, oldest first, read a page at a time as the run takes them."""

    def __init__(self, partition: str, cutoff: datetime) -> None:
        self.partition = partition
        self.cutoff = cutoff
        self.page: deque[OrderModel] = deque()
        self.start: dict[str, Any] | None = None
        self.read_all = False
        self.under_way = 0

    def next(self) -> OrderModel | None:
        if not self.page and not self.read_all:
            lapsed, self.start = orders.lapsed_page(self.partition, self.cutoff, QUEUE_PAGE, self.start)
            self.page.extend(lapsed)
            self.read_all = self.start is None
        return self.page.popleft() if self.page else None


def _queues(cutoff: datetime) -> list[_Queue]:
    """A queue per tenant that takes cards (or took them), and the one shared by orders placed before
    each tenant had its own."""
    partitions = [SHARED_HOLD_QUEUE, *(hold_queue(tenant_id) for tenant_id in tenants.card_tenants())]
    return [_Queue(partition, cutoff) for partition in partitions]


def _still_pending(listed: OrderModel) -> OrderModel | None:
    """The order as it is now (the index is eventually consistent): None once paid, cancelled or gone."""
    try:
        order = orders.get_order(listed.tenant_id, listed.order_id, consistent=True)
    except NotFound:
        return None
    return order if order.status == OrderStatus.PENDING_PAYMENT else None


def _cancel_at_stripe(account: Gateway, order: OrderModel) -> Intent | None:
    """On a pool thread: cancel the lapsed order's intent; it as Stripe has it now, or None when Stripe
    could not be asked or does not know it (a tenant switched to live keys with test orders pending):
    the hold lapses anyway."""
    try:
        return service.cancel_lapsed_intent(account, order)
    except (Unavailable, gateway.Refused) as exc:
        logger.warning("Intent of a lapsed hold not cancelled", order_id=order.order_id, error=type(exc).__name__)
        return None


def _finish(report: Sweep, order: OrderModel, cutoff: datetime, intent: Intent | None) -> None:
    """On the run's thread: expire the order (one conditioned transaction), or record its payment when
    its intent had succeeded after all."""
    try:
        if intent is not None and intent.status == "succeeded":
            service.settle(order.tenant_id, order.order_id, intent.id)
            report.paid += 1
            return
        if orders.expire(order, cutoff):
            report.expired += 1
            report.expired_by_tenant[order.tenant_id] += 1
    except Exception:  # noqa: BLE001 - logged; the next run tries this order again
        report.failed += 1
        logger.exception("Lapsed hold not expired", tenant_id=order.tenant_id, order_id=order.order_id)
