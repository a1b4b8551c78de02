"""What follows a new order, driven by the orders table's stream (at-least-once delivery).

For every INSERT of an order:
1. the tenant's co-purchase counts (used by the up-sell ranking) are updated exactly once: one
   TransactWriteItems adds 1 to `co_purchases[B]` of every product A for each other product B of
   the order, and marks the order as counted (condition: not counted yet); a redelivered record
   finds the mark and counts nothing;
2. an `order_created` event goes to EventBridge. Publishing is at-least-once, so the detail
   carries a deterministic `event_id` for consumers to de-duplicate.

A record that cannot be handled (an unreadable image, counts not written, an event not accepted)
does not fail the batch: it is reported back to Lambda by sequence number (ReportBatchItemFailures)
and the rest are handled. Lambda retries from the first reported record, gives up on it after the
event source mapping's retries (infra/template.yml), and notes it in the on-failure queue, so one
poisoned record cannot stall the shard.

See docs/decisions/0005-order-events.md.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Protocol

from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib import clients
from chalicelib.config import get_settings
from chalicelib.models import OrderModel, ProductModel
from chalicelib.observability import logger
from chalicelib.pricing import format_money

SOURCE = "cartwise.orders"
DETAIL_TYPE = "order_created"
# Chalice needs a literal stream ARN at import time; the deployed one is the orders table's
# stream, set by infra/'s merge template (see docs/operations.md). Locally nothing consumes it.
ORDERS_STREAM_ARN = "arn:aws:dynamodb:us-east-1:000000000000:table/cartwise-dev-orders/stream/set-by-infra"
PUT_EVENTS_BATCH = 10
ATTEMPTS = 5
BACKOFF_SECONDS = 0.05


class StreamRecord(Protocol):
    event_name: str
    new_image: dict[str, Any] | None
    sequence_number: str


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
        if record.event_name != "INSERT" or not record.new_image:
            continue
        try:
            order = OrderModel.from_raw_data(record.new_image)
            count_co_purchases(order)
            entries.append((record.sequence_number, order_created(order)))
        except Exception as exc:  # noqa: BLE001 - whatever it is, this record alone must not hold the shard back
            logger.exception("Order stream record failed", sequence_number=record.sequence_number, error=repr(exc))
            failed.add(record.sequence_number)
    failed.update(publish(entries))
    reported = [number for number in dict.fromkeys(sequence_numbers) if number in failed]  # a redelivery may repeat one
    return {"batchItemFailures": [{"itemIdentifier": number} for number in reported]}


def event_id(order: OrderModel) -> str:
    return f"order_created:{order.tenant_id}:{order.order_id}"


def order_created(order: OrderModel) -> dict[str, Any]:
    """The EventBridge entry; no e-mail address (consumers get the order id to look it up)."""
    detail = {
        "event_id": event_id(order),
        "tenant_id": order.tenant_id,
        "order_id": order.order_id,
        "cart_id": order.cart_id,
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
        "DetailType": DETAIL_TYPE,
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
                logger.error("order_created event not published", event_id=event, error=result["ErrorCode"])
                not_published.append(number)
            else:
                logger.info("order_created event published", event_id=event)
    return not_published


def count_co_purchases(order: OrderModel) -> bool:
    """Count each pair of distinct products of the order once; False when there was nothing (more) to count."""
    product_ids = sorted({line.product_id for line in order.lines})
    for attempt in range(ATTEMPTS):
        if len(product_ids) < 2:
            return False
        try:
            _count_once(order, product_ids)
            return True
        except TransactWriteError as exc:
            # Every action is an update, so PynamoDB keeps their order: one reason per product, then the order's.
            codes = [reason.code if reason else None for reason in exc.cancellation_reasons or []]
            if codes and codes[-1] == "ConditionalCheckFailed":
                logger.info("Co-purchases already counted", order_id=order.order_id)
                return False
            gone = {pid for pid, code in zip(product_ids, codes, strict=False) if code == "ConditionalCheckFailed"}
            if gone:
                product_ids = [pid for pid in product_ids if pid not in gone]  # deleted since: count the rest
            elif exc.cause_response_code == "ValidationException" or "ValidationError" in codes:
                _ensure_maps(order.tenant_id, product_ids)  # items written before co_purchases existed
            elif not _is_contention(exc, codes):
                raise
            logger.info("Co-purchase update retried", order_id=order.order_id, reasons=codes, attempt=attempt)
            time.sleep(random.uniform(0, BACKOFF_SECONDS * 2**attempt))
    raise RuntimeError(f"co-purchases of order {order.order_id} not counted after {ATTEMPTS} attempts")


def _count_once(order: OrderModel, product_ids: list[str]) -> None:
    with TransactWrite(connection=clients.dynamodb()) as transaction:
        for product_id in product_ids:
            actions = [
                ProductModel.co_purchases[other].set((ProductModel.co_purchases[other] | 0) + 1)
                for other in product_ids
                if other != product_id
            ]
            transaction.update(
                ProductModel(order.tenant_id, product_id),
                actions=actions,
                condition=ProductModel.product_id.exists(),
            )
        transaction.update(
            OrderModel(order.tenant_id, order.order_id),
            actions=[OrderModel.co_purchases_counted_at.set(datetime.now(UTC))],
            condition=OrderModel.order_id.exists() & OrderModel.co_purchases_counted_at.does_not_exist(),
        )


def _is_contention(exc: TransactWriteError, codes: list[str | None]) -> bool:
    transient = {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}
    return exc.cause_response_code in {"TransactionConflictException", "TransactionInProgressException"} or bool(
        transient & set(codes)
    )


def _ensure_maps(tenant_id: str, product_ids: list[str]) -> None:
    for product_id in product_ids:
        try:
            ProductModel(tenant_id, product_id).update(
                actions=[ProductModel.co_purchases.set(ProductModel.co_purchases | {})],
                condition=ProductModel.product_id.exists(),
            )
        except UpdateError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
