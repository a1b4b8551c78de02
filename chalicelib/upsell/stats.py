"""The up-sell's figures per tenant and day: counted from the tables' streams, read with one Query.

Counted off the request path, exactly once under at-least-once delivery (decision 30):

- from the carts stream (`count_cart_change`): a cart whose kept up-sell answer changed is
  counted on the answer's day as shown (source llm or fallback) or held out, once per cart and
  day; a line that became `source: "upsell"` is a suggestion added, once per cart, product and
  set. Each fact's mark ("fact#...") is put, on condition it is not there, in the same
  transaction as its counts: a redelivered record finds the mark and counts nothing.
- from the orders stream: a sale (paid, or confirmed on delivery) adds its order and total to
  its arm (`upsell_arm`, decided at checkout) and its up-sell lines' totals to `upsell_revenue`,
  in the transaction that marks the order counted (chalicelib/orders_stream.py); a refund takes
  those lines' totals back once (`upsell_refund_counted_at`), on the sale's day.

Every count lands on the tenant's item of that UTC day ("day#YYYY-MM-DD", ADD), so reading N days
is one Query of at most N items, whatever the traffic.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib import clients, contention
from chalicelib.models import CartModel, OrderModel, UpsellStatsModel
from chalicelib.observability import logger
from chalicelib.pricing import format_money
from chalicelib.upsell import arms

MAX_STATS_DAYS = 90
SOURCES = ("llm", "fallback")
FACT_TTL = timedelta(days=3)  # a stream redelivers for 24 h at most
COUNTS = ("carts_shown", "carts_holdout", "suggestions_added", "orders_treated", "orders_holdout")
MONEY = ("revenue_treated", "revenue_holdout", "upsell_revenue")
SPLIT = ("carts_shown", "suggestions_added", "upsell_revenue")  # by the answer's source
UPSELL = "upsell"
CENT = Decimal("0.01")

Amounts = dict[str, int | Decimal]


def day_key(day: date) -> str:
    return f"day#{day.isoformat()}"


def _add(transaction: TransactWrite, tenant_id: str, day: date, amounts: Mapping[str, int | Decimal]) -> None:
    transaction.update(
        UpsellStatsModel(tenant_id, day_key(day)),
        actions=[getattr(UpsellStatsModel, name).add(value) for name, value in sorted(amounts.items())],
    )


def _count_fact(tenant_id: str, fact: str, day: date, amounts: Amounts) -> bool:
    """Add `amounts` to the day once for `fact`; False when the fact was counted already."""

    def mark(transaction: TransactWrite) -> None:
        record = UpsellStatsModel(tenant_id, f"fact#{fact}", expires_at=datetime.now(UTC) + FACT_TTL)
        transaction.save(record, condition=UpsellStatsModel.entry.does_not_exist())

    return _count_once(mark, tenant_id, day, amounts, f"up-sell fact {fact} of {tenant_id}")


def _count_once(
    mark: Callable[[TransactWrite], None], tenant_id: str, day: date, amounts: Mapping[str, int | Decimal], what: str
) -> bool:
    """Add `amounts` to the day in ONE transaction with `mark`, the only conditioned write (the fact
    not counted yet), so a redelivered stream record counts nothing: False then. Conflicts are retried."""
    for _ in contention.attempts(contention.STREAM_ATTEMPTS, contention.STREAM_BASE_SECONDS):
        try:
            with TransactWrite(connection=clients.dynamodb()) as transaction:
                mark(transaction)
                _add(transaction, tenant_id, day, amounts)
            return True
        except TransactWriteError as exc:
            if _already_counted(exc):
                return False
            contention.raise_if_permanent(exc)
            if exc.cause_response_code not in ("TransactionCanceledException", "TransactionConflictException"):
                raise
            logger.info("Up-sell stats count retried", tenant_id=tenant_id, what=what)
    raise RuntimeError(f"{what} not counted after {contention.STREAM_ATTEMPTS} attempts")


def _already_counted(exc: TransactWriteError) -> bool:
    # Only the mark carries a condition, so a failed condition is the mark being there already.
    return any(reason and reason.code == "ConditionalCheckFailed" for reason in exc.cancellation_reasons or [])


# ---- the carts stream --------------------------------------------------------------------------


def count_cart_change(old: CartModel | None, new: CartModel) -> int:
    """Count what this change of a cart adds to the stats; how many facts it counted (redelivered: 0)."""
    counted = 0
    memo = new.upsell
    before = old.upsell if old is not None else None
    if memo is not None and (
        before is None or (before.content_key, before.computed_at) != (memo.content_key, memo.computed_at)
    ):
        day = memo.computed_at.astimezone(UTC).date()
        if memo.source == arms.HOLDOUT:
            amounts: Amounts = {"carts_holdout": 1}
        else:
            amounts = {"carts_shown": 1, **({f"carts_shown_{memo.source}": 1} if memo.source in SOURCES else {})}
        counted += _count_fact(new.tenant_id, f"shown#{day.isoformat()}#{new.cart_id}", day, amounts)
    had = {(line.product_id, line.upsell_set_id) for line in (old.lines if old is not None else []) if line.source}
    for line in new.lines:
        if line.source != UPSELL or (line.product_id, line.upsell_set_id) in had:
            continue
        day = new.updated_at.astimezone(UTC).date()
        split = {f"suggestions_added_{line.upsell_source}": 1} if line.upsell_source in SOURCES else {}
        fact = f"added#{new.cart_id}#{line.product_id}#{line.upsell_set_id}"
        counted += _count_fact(new.tenant_id, fact, day, {"suggestions_added": 1, **split})
    return counted


# ---- the orders stream -------------------------------------------------------------------------


def sale_day(order: OrderModel) -> date:
    """The UTC day an order counts on: when it was paid (card), else when it was placed (on delivery)."""
    return (order.paid_at or order.created_at).astimezone(UTC).date()


def _upsell_revenue(order: OrderModel) -> Amounts:
    amounts: Amounts = {}
    for line in order.lines:
        if line.source != UPSELL:
            continue
        names = ["upsell_revenue"] + ([f"upsell_revenue_{line.upsell_source}"] if line.upsell_source in SOURCES else [])
        for name in names:
            amounts[name] = Decimal(amounts.get(name, 0)) + line.line_total
    return amounts


def add_sale(transaction: TransactWrite, order: OrderModel) -> bool:
    """Add a sale to its day in `transaction`, the one that marks the order counted (exactly once)."""
    amounts = _upsell_revenue(order)
    if order.upsell_arm in (arms.TREATED, arms.HOLDOUT):
        amounts[f"orders_{order.upsell_arm}"] = 1
        amounts[f"revenue_{order.upsell_arm}"] = order.totals.total
    if amounts:
        _add(transaction, order.tenant_id, sale_day(order), amounts)
    return bool(amounts)


def count_refund(order: OrderModel) -> bool:
    """Take a refunded order's up-sell revenue back from its sale's day, once; False if nothing to do
    (no up-sell line, counted already, or never counted as a sale: a payment refunded at once)."""
    amounts = {name: -Decimal(value) for name, value in _upsell_revenue(order).items()}
    if not amounts:
        return False

    def mark(transaction: TransactWrite) -> None:
        transaction.update(
            OrderModel(order.tenant_id, order.order_id),
            actions=[OrderModel.upsell_refund_counted_at.set(datetime.now(UTC))],
            condition=OrderModel.upsell_refund_counted_at.does_not_exist()
            & OrderModel.co_purchases_counted_at.exists(),
        )

    return _count_once(mark, order.tenant_id, sale_day(order), amounts, f"refund of order {order.order_id}")


# ---- reading -------------------------------------------------------------------------------------


def report(tenant_id: str, currency: str, days: int, today: date | None = None) -> dict[str, Any]:
    """The last `days` UTC days up to today, oldest first, every day present; and their totals."""
    last = today or datetime.now(UTC).date()
    first = last - timedelta(days=days - 1)
    stored = {
        item.entry: item
        for item in UpsellStatsModel.query(
            tenant_id, UpsellStatsModel.entry.between(day_key(first), day_key(last)), limit=days
        )
    }
    rows = [_figures(stored.get(day_key(first + timedelta(days=n)))) for n in range(days)]
    totals = {name: sum((row[name] for row in rows), start=_zero(name)) for name in (*COUNTS, *MONEY)}
    split_totals = {
        source: {name: sum((row["by_source"][source][name] for row in rows), start=_zero(name)) for name in SPLIT}
        for source in SOURCES
    }
    return {
        "currency": currency,
        "days": [{"date": (first + timedelta(days=n)).isoformat(), **_shaped(row)} for n, row in enumerate(rows)],
        "totals": {
            **_shaped({**totals, "by_source": split_totals}),
            "aov_treated": _money_or_none(_ratio(totals["revenue_treated"], totals["orders_treated"], CENT)),
            "aov_holdout": _money_or_none(_ratio(totals["revenue_holdout"], totals["orders_holdout"], CENT)),
            "conversion_treated": _number_or_none(_ratio(totals["orders_treated"], totals["carts_shown"])),
            "conversion_holdout": _number_or_none(_ratio(totals["orders_holdout"], totals["carts_holdout"])),
        },
    }


def _zero(name: str) -> int | Decimal:
    return Decimal("0.00") if name in MONEY or name.startswith("upsell_revenue") else 0


def _figures(item: UpsellStatsModel | None) -> dict[str, Any]:
    def value(name: str) -> int | Decimal:
        found = getattr(item, name) if item is not None else None
        return found if found is not None else _zero(name)

    figures: dict[str, Any] = {name: value(name) for name in (*COUNTS, *MONEY)}
    figures["by_source"] = {source: {name: value(f"{name}_{source}") for name in SPLIT} for source in SOURCES}
    return figures


def _shaped(figures: Mapping[str, Any]) -> dict[str, Any]:
    shaped: dict[str, Any] = {name: int(figures[name]) for name in COUNTS}
    shaped |= {name: format_money(figures[name]) for name in MONEY}
    shaped["by_source"] = {
        source: {
            name: format_money(value) if name == "upsell_revenue" else int(value)
            for name, value in figures["by_source"][source].items()
        }
        for source in SOURCES
    }
    return shaped


def _ratio(
    numerator: int | Decimal, denominator: int | Decimal, quantum: Decimal = Decimal("0.0001")
) -> Decimal | None:
    if not denominator:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(quantum, rounding=ROUND_HALF_UP)


def _money_or_none(value: Decimal | None) -> str | None:
    return format_money(value) if value is not None else None


def _number_or_none(value: Decimal | None) -> float | None:
    return float(value) if value is not None else None
