"""A flood of lapsed card holds: one tenant's 1 000 and another tenant's one, swept run after run as
the scheduled function sweeps them (its 15 s, `time_left`), for the sweeper's fairness and pace.

tests/stack/test_sweeper_fairness.py runs it on DynamoDB Local with the in-memory Stripe in-process;
`make bench` (bench/sweeper.py) against localstripe through the real SDK. Whichever Stripe
`chalicelib.payments.gateway.connect` reaches makes the orders' PaymentIntents and cancels them.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from chalicelib import ids
from chalicelib.lifecycle import OrderStatus
from chalicelib.models import OrderLine, OrderModel, OrderTotals, ProductModel, TenantModel, hold_queue, status_key
from chalicelib.payments import gateway, minor_units, sweeper
from support.card_shop import accept_cards, units

FLOOD = 1000
PRODUCT = "lamp"
PRICE = Decimal("10.00")  # + 20 % VAT: 12.00 a hold
LAMBDA_SECONDS = 15.0  # the ExpireHolds function's time limit (.chalice/config.json, prod)


@dataclass
class Runs:
    """What the runs did: per run, the flood's holds expired and its seconds; when the other tenant's
    unit was on sale again; the runs it took to clear the flood (None: not within the runs allowed)."""

    holds: int
    expired_per_run: list[int] = field(default_factory=list)
    seconds_per_run: list[float] = field(default_factory=list)
    other_back_after_run: int | None = None
    runs_to_clear: int | None = None


def open_shop(tenant_id: str, held: int) -> None:
    """A card tenant whose one product has `held` units, all reserved by orders awaiting payment."""
    TenantModel(tenant_id, name=tenant_id, currency="EUR", vat_rate=Decimal("0.20")).save()
    accept_cards(tenant_id)
    ProductModel(tenant_id, PRODUCT, name="Lamp", category="camping", price=PRICE, stock=0, reserved=held).save()


def lay(flooder: str, other: str, holds: int = FLOOD, stripe_calls: int = 8) -> None:
    """`holds` lapsed card holds of `flooder`, oldest first, then one of `other`, lapsed last: unpaid
    orders as the checkout writes them (their units reserved), each with a PaymentIntent of its own
    at Stripe that a declined card left waiting (`requires_payment_method`)."""
    open_shop(flooder, holds)
    open_shop(other, 1)
    lapsed = datetime.now(UTC) - timedelta(minutes=10)
    when = [(flooder, lapsed + timedelta(milliseconds=i)) for i in range(holds)] + [
        (other, lapsed + timedelta(minutes=9))
    ]
    with ThreadPoolExecutor(max_workers=stripe_calls) as pool:
        placed = list(pool.map(lambda args: _order(*args), when))
    with OrderModel.batch_write() as batch:
        for order in placed:
            batch.save(order)


def _order(tenant_id: str, hold_expires_at: datetime) -> OrderModel:
    order_id = ids.new_ulid()
    total = PRICE * Decimal("1.20")
    metadata = {"tenant_id": tenant_id, "order_id": order_id}
    key = f"cartwise/{tenant_id}/{order_id}/intent"
    intent = gateway.connect(tenant_id).create_intent(minor_units(total, "EUR"), "eur", metadata, key)
    return OrderModel(
        tenant_id,
        order_id,
        cart_id=ids.new_ulid(),
        status=OrderStatus.PENDING_PAYMENT.value,
        status_key=status_key(tenant_id, OrderStatus.PENDING_PAYMENT),
        hold_queue=hold_queue(tenant_id),
        hold_expires_at=hold_expires_at,
        lines=[OrderLine(product_id=PRODUCT, name="Lamp", unit_price=PRICE, quantity=1, line_total=PRICE)],
        totals=OrderTotals(
            subtotal=PRICE,
            discount=Decimal("0.00"),
            net=PRICE,
            vat_rate=Decimal("0.20"),
            vat=total - PRICE,
            total=total,
        ),
        currency="EUR",
        created_at=hold_expires_at - timedelta(seconds=900),
        payment_provider="stripe",
        payment_intent_id=intent.id,
    )


def sweep_until_clear(flooder: str, other: str, holds: int = FLOOD, max_runs: int = 30) -> Runs:
    """Run the sweeper as its schedule does, one run after another with the function's time limit,
    until the flood's units are all back on sale (or `max_runs`)."""
    runs = Runs(holds)
    for run in range(1, max_runs + 1):
        started = time.monotonic()
        report = sweeper.sweep(time_left=LAMBDA_SECONDS)
        runs.seconds_per_run.append(round(time.monotonic() - started, 2))
        runs.expired_per_run.append(report.expired_by_tenant[flooder])
        if runs.other_back_after_run is None and units(other, PRODUCT) == (1, 0, 0):
            runs.other_back_after_run = run
        if units(flooder, PRODUCT) == (holds, 0, 0):
            runs.runs_to_clear = run
            break
    return runs
