"""What follows a new order, driven by the orders table's stream (at-least-once delivery).

For every INSERT of an order:
1. the up-sell's counts are updated exactly once: the products' co-purchases (1 for each pair of
   distinct products of the order) and the tenant's best sellers (units per product), both top-K
   maps (chalicelib/counters.py) so no item grows with the catalogue. The maps are read, added to
   and written back in one TransactWriteItems that also marks the order as counted; each write is
   conditioned on its map being unchanged since the read (another order counted meanwhile: read
   again) and the mark on not being there yet (a redelivered record counts nothing);
   The `Orders` and `Revenue` metrics are emitted by the same first count, so an order is counted
   once however its checkout went: answered, replayed, or committed with its answer lost;
2. an `order_created` event goes to EventBridge. Publishing is at-least-once, so the detail
   carries a deterministic `event_id` for consumers to de-duplicate.

Only a sale counts: a confirmed order (on delivery) at its INSERT, a card order when a MODIFY shows
it paid (an order awaiting payment may never be paid). For every MODIFY that shows an order paid,
cancelled, expired or refunded, an `order_paid`, `order_cancelled`, `order_expired` or
`order_refunded` event goes to the bus.

A record that cannot be handled (an unreadable image, counts not written, an event not accepted)
does not fail the batch: it is reported back to Lambda by sequence number (ReportBatchItemFailures)
and the rest are handled. Lambda retries from the first reported record, gives up on it after the
event source mapping's retries (infra/template.yml), and notes it in the on-failure queue, so one
poisoned record cannot stall the shard.

See docs/decisions/0005-order-events.md.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Protocol

from pynamodb.attributes import MapAttribute
from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.transactions import TransactWrite

from chalicelib import catalog, clients, contention, counters, lifecycle, observability, upsell
from chalicelib.config import get_settings
from chalicelib.lifecycle import OrderStatus
from chalicelib.models import CartModel, OrderModel, ProductModel, TenantModel
from chalicelib.observability import logger
from chalicelib.pricing import format_money

SOURCE = "cartwise.orders"
# Chalice needs a literal stream ARN at import time; the deployed one is the orders table's
# stream, set by infra/'s merge template (see docs/operations.md). Locally nothing consumes it.
ORDERS_STREAM_ARN = "arn:aws:dynamodb:us-east-1:000000000000:table/cartwise-dev-orders/stream/set-by-infra"
PUT_EVENTS_BATCH = 10
# The event a MODIFY publishes when it shows an order in one of these statuses.
STATUS_EVENTS = lifecycle.EVENTS
SALES = lifecycle.SALES
# Top-K kept per map (chalicelib/counters.py): at most ~2 KB per product or tenant item, whatever the catalogue.
CO_PURCHASES_KEPT = 50
BEST_SELLERS_KEPT = 50


class StreamRecord(Protocol):
    event_name: str
    new_image: dict[str, Any] | None
    old_image: dict[str, Any] | None
    sequence_number: str
    table_name: str


def process(records: Iterable[StreamRecord]) -> dict[str, list[dict[str, str]]]:
    """The tables' stream function: a batch comes from one event source mapping, so from one table:
    the carts table's records count the up-sell's exposures and additions, the orders table's the rest."""
    batch = list(records)
    if batch and batch[0].table_name == CartModel.Meta.table_name:
        return process_cart_records(batch)
    return process_records(batch)


def process_cart_records(records: Iterable[StreamRecord]) -> dict[str, list[dict[str, str]]]:
    """Count a batch of carts-table records into the up-sell stats (chalicelib/upsell/stats.py);
    the failed ones are reported back by sequence number, as for orders."""
    sequence_numbers: list[str] = []
    failed: set[str] = set()
    for record in records:
        sequence_numbers.append(record.sequence_number)
        if not record.new_image or record.event_name not in ("INSERT", "MODIFY"):
            continue
        try:
            old = CartModel.from_raw_data(record.old_image) if record.old_image else None
            upsell.count_cart_change(old, CartModel.from_raw_data(record.new_image))
        except Exception as exc:  # noqa: BLE001 - this record alone must not hold the shard back
            logger.exception("Cart stream record failed", sequence_number=record.sequence_number, error=repr(exc))
            failed.add(record.sequence_number)
    return _failures(sequence_numbers, failed)


def process_records(records: Iterable[StreamRecord]) -> dict[str, list[dict[str, str]]]:
    """Handle a batch of orders-table stream records; returns Lambda's partial batch response.

    `{"batchItemFailures": [{"itemIdentifier": <SequenceNumber>}, ...]}` names the records that
    failed, in batch order; every other record was handled. Records after a failed one are
    delivered again with it: their counts are exactly once anyway, their events carry `event_id`.
    """
    sequence_numbers: list[str] = []  # in batch order
    failed: set[str] = set()
    entries: list[tuple[str, dict[str, Any]]] = []
    for record in records:
        sequence_numbers.append(record.sequence_number)
        if not record.new_image or record.event_name not in ("INSERT", "MODIFY"):
            continue
        try:
            order = OrderModel.from_raw_data(record.new_image)
            # Only a sale counts (an unpaid order may never be paid); True once per order.
            if order.status in SALES and order.co_purchases_counted_at is None and count_co_purchases(order):
                observability.record_order(order.tenant_id, order.order_id, order.totals.total, order.currency)
            if order.status == OrderStatus.REFUNDED and order.upsell_refund_counted_at is None:
                upsell.count_refund(order)  # once: its up-sell lines' revenue taken back from the stats
            if record.event_name == "INSERT":
                entries.append((record.sequence_number, order_event(order, "order_created")))
            elif order.status in STATUS_EVENTS:
                # Any later change of the order (its count mark, say) repeats the event with the
                # same event_id; consumers de-duplicate on it, as for every redelivery.
                entries.append((record.sequence_number, order_event(order, STATUS_EVENTS[order.status])))
        except Exception as exc:  # noqa: BLE001 - whatever it is, this record alone must not hold the shard back
            logger.exception("Order stream record failed", sequence_number=record.sequence_number, error=repr(exc))
            failed.add(record.sequence_number)
    failed.update(publish(entries))
    return _failures(sequence_numbers, failed)


def _failures(sequence_numbers: list[str], failed: set[str]) -> dict[str, list[dict[str, str]]]:
    reported = [number for number in dict.fromkeys(sequence_numbers) if number in failed]  # a redelivery may repeat one
    return {"batchItemFailures": [{"itemIdentifier": number} for number in reported]}


def event_id(order: OrderModel, detail_type: str) -> str:
    return f"{detail_type}:{order.tenant_id}:{order.order_id}"


def order_event(order: OrderModel, detail_type: str) -> dict[str, Any]:
    """The EventBridge entry (order_created, order_cancelled); no e-mail address (consumers look the order up)."""
    detail = {
        "event_id": event_id(order, detail_type),
        "tenant_id": order.tenant_id,
        "order_id": order.order_id,
        "cart_id": order.cart_id,
        "status": order.status,
        "created_at": order.created_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "total": format_money(order.totals.total),
        "currency": order.currency,
        "lines": [
            {
                "product_id": line.product_id,
                "name": line.name,
                "unit_price": format_money(line.unit_price),
                "quantity": int(line.quantity),
                "line_total": format_money(line.line_total),
            }
            for line in order.lines
        ],
    }
    return {
        "Source": SOURCE,
        "DetailType": detail_type,
        "Detail": json.dumps(detail, separators=(",", ":")),
        "EventBusName": get_settings().event_bus_name,
        "Time": order.created_at,
        "Resources": [],
    }


def publish(entries: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Put (sequence number, entry) pairs on the bus; returns the sequence numbers whose event was not accepted."""
    events = clients.events()
    not_published: list[str] = []
    for start in range(0, len(entries), PUT_EVENTS_BATCH):
        batch = entries[start : start + PUT_EVENTS_BATCH]
        try:
            results = events.put_events(Entries=[entry for _, entry in batch])["Entries"]
        except Exception as exc:  # noqa: BLE001 - the call failed after botocore's retries: none went out
            results = [{"ErrorCode": type(exc).__name__}] * len(batch)
        for (number, entry), result in zip(batch, results, strict=True):
            event = json.loads(entry["Detail"])["event_id"]
            if result.get("ErrorCode"):
                logger.error("Order event not published", event_id=event, error=result["ErrorCode"])
                not_published.append(number)
            else:
                logger.info("Order event published", event_id=event)
    return not_published


def count_co_purchases(order: OrderModel) -> bool:
    """Count the order once: its pairs into the products' co-purchases, its units into the tenant's
    best sellers (both top-K maps, chalicelib/counters.py), its arm and up-sell lines into the
    up-sell stats. False when it was counted already."""
    for attempt in contention.attempts(contention.STREAM_ATTEMPTS, contention.STREAM_BASE_SECONDS):
        try:
            _count_once(order)
            return True
        except TransactWriteError as exc:
            # Every action is an update, so PynamoDB keeps their order: the order's mark comes last.
            codes = [reason.code if reason else None for reason in exc.cancellation_reasons or []]
            if codes and codes[-1] == "ConditionalCheckFailed":
                logger.info("Order already counted", order_id=order.order_id)
                return False
            # A map changed since it was read (another order counted at the same time), a product was
            # deleted, or a plain conflict: read again and count on fresh maps.
            if "ConditionalCheckFailed" not in codes and not _is_contention(exc, codes):
                raise
            logger.info("Order counting retried", order_id=order.order_id, reasons=codes, attempt=attempt)
    raise RuntimeError(f"order {order.order_id} not counted after {contention.STREAM_ATTEMPTS} attempts")


def _count_once(order: OrderModel) -> None:
    """Read the maps, add this order, write them back unless they changed meanwhile (compare and set)."""
    units: dict[str, int] = {}
    for line in order.lines:
        units[line.product_id] = units.get(line.product_id, 0) + int(line.quantity)
    # A product deleted since the order is skipped, never recreated by the update.
    products = catalog.get_products(order.tenant_id, units, consistent=True) if len(units) > 1 else {}
    try:
        tenant: TenantModel | None = TenantModel.get(order.tenant_id, consistent_read=True)
    except TenantModel.DoesNotExist:
        tenant = None  # a removed tenant's late orders still count their pairs
    with TransactWrite(connection=clients.dynamodb()) as transaction:
        for product_id, product in sorted(products.items()):
            together = {other: 1 for other in products if other != product_id}
            transaction.update(
                product,
                actions=[
                    ProductModel.co_purchases.set(
                        counters.add_top_k(counters.as_counts(product.co_purchases), together, CO_PURCHASES_KEPT)
                    )
                ],
                condition=ProductModel.product_id.exists()
                & _unchanged(ProductModel.co_purchases, product.co_purchases),
            )
        if tenant is not None:
            transaction.update(
                tenant,
                actions=[
                    TenantModel.best_sellers.set(
                        counters.add_top_k(counters.as_counts(tenant.best_sellers), units, BEST_SELLERS_KEPT)
                    )
                ],
                condition=TenantModel.tenant_id.exists() & _unchanged(TenantModel.best_sellers, tenant.best_sellers),
            )
        upsell.add_sale(transaction, order)  # the up-sell stats of its day, counted with the same mark
        transaction.update(
            OrderModel(order.tenant_id, order.order_id),
            actions=[OrderModel.co_purchases_counted_at.set(datetime.now(UTC))],
            condition=OrderModel.order_id.exists() & OrderModel.co_purchases_counted_at.does_not_exist(),
        )


def _unchanged(attribute: MapAttribute, as_read: Any) -> Condition:
    """The map still holds what was read (DynamoDB compares maps by value).

    PynamoDB reads a missing map as its default ({}), so an empty map also matches a missing one.
    """
    value = as_read.as_dict() if isinstance(as_read, MapAttribute) else dict(as_read or {})
    return (attribute == value) | attribute.does_not_exist() if not value else attribute == value


def _is_contention(exc: TransactWriteError, codes: list[str | None]) -> bool:
    transient = {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}
    return exc.cause_response_code in {"TransactionConflictException", "TransactionInProgressException"} or bool(
        transient & set(codes)
    )
