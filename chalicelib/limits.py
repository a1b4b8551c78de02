"""Abuse limits of a public checkout: quantities per tenant, rates and holds per (tenant, client).

A client is the source IP API Gateway reports (`chalice local` reports the peer address:
chalicelib/api/local_gateway.py). Its counters are items of the limits table, each read and
written by its key, in one conditional UpdateItem (or inside the checkout's own transaction for
the unpaid orders it holds), and deleted by DynamoDB's TTL once they no longer count; never
scanned. Defaults are below; a tenant sets its own in its record (the tenants CLI).
`CLIENT_LIMITS=off` switches the per-client limits off, for load tests from one address.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.transactions import TransactWrite

from chalicelib.config import get_settings
from chalicelib.errors import QuantityLimit, RateLimited
from chalicelib.models import LimitCounterModel


@dataclasses.dataclass(frozen=True)
class Limits:
    units_per_line: int = 10
    units_per_order: int = 30
    unpaid_orders_per_client: int = 3  # card orders holding stock at once
    card_attempts_per_order: int = 10  # card setups and payments alike
    card_attempts_per_client_hour: int = 20
    # Requests per minute per (tenant, client), by the routes they go to.
    cart_writes_per_minute: int = 60
    upsell_per_minute: int = 60
    checkouts_per_minute: int = 10
    order_requests_per_minute: int = 60

    @classmethod
    def of(cls, overrides: Mapping[str, Any] | None) -> Limits:
        """The defaults with a tenant's own values (unknown names are ignored, so an old record still loads)."""
        known = {field.name for field in dataclasses.fields(cls)}
        return dataclasses.replace(cls(), **{k: int(v) for k, v in (overrides or {}).items() if k in known})


NAMES = tuple(field.name for field in dataclasses.fields(Limits))
# The route groups whose requests are counted per client, and the limit of each.
RATES = {
    "cart": "cart_writes_per_minute",
    "upsell": "upsell_per_minute",
    "checkout": "checkouts_per_minute",
    "order": "order_requests_per_minute",
}
MINUTE, HOUR = 60, 3600
# An unpaid orders counter outlives the holds it counts (each order releases its own when it leaves
# pending_payment); this only bounds how long a forgotten one lingers.
HOLDS_KEPT_SECONDS = 24 * HOUR


def client_of(source_ip: str | None) -> str | None:
    """The client the per-client limits count, from the source IP; None when they are switched off."""
    if not get_settings().client_limits:
        return None
    try:
        return str(ipaddress.ip_address(source_ip or ""))
    except ValueError:
        return "unknown"  # never a client's own choice of key


def check_quantities(limits: Limits, quantities: Mapping[str, int]) -> None:
    """422 QUANTITY_LIMIT when a line or the whole cart holds more units than the tenant sells at once."""
    over = {product_id: q for product_id, q in quantities.items() if q > limits.units_per_line}
    if over:
        product_id, quantity = next(iter(over.items()))
        raise QuantityLimit(
            f"At most {limits.units_per_line} units of a product per order.",
            {"product_id": product_id, "requested": quantity, "limit": limits.units_per_line},
        )
    total = sum(quantities.values())
    if total > limits.units_per_order:
        raise QuantityLimit(
            f"At most {limits.units_per_order} units per order.", {"requested": total, "limit": limits.units_per_order}
        )


def count_request(tenant_id: str, limits: Limits, client: str | None, group: str) -> None:
    """Count one request of a route group for the client; 429 RATE_LIMITED past the minute's limit."""
    if client is not None:
        _count(tenant_id, f"rate:{group}#{client}", getattr(limits, RATES[group]), MINUTE)


def count_card_attempt(tenant_id: str, limits: Limits, client: str | None) -> None:
    """Count a card setup or payment for the client; 429 RATE_LIMITED past the hour's limit."""
    if client is not None:
        _count(tenant_id, f"cards#{client}", limits.card_attempts_per_client_hour, HOUR)


def _count(tenant_id: str, name: str, limit: int, window: int) -> None:
    now = int(time.time())
    start = now - now % window
    counter = LimitCounterModel(tenant_id, f"{name}#{start}")
    try:
        counter.update(
            actions=[LimitCounterModel.hits.add(1), LimitCounterModel.expires_at.set(_at(start + 2 * window))],
            condition=LimitCounterModel.hits.does_not_exist() | (LimitCounterModel.hits < limit),
        )
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        retry_after = start + window - now
        raise RateLimited(
            "Too many requests from this address, please retry later.", retry_after, {"retry_after": retry_after}
        ) from None


def _at(epoch_seconds: float) -> datetime:
    return datetime.fromtimestamp(epoch_seconds, UTC)


def holds_counter(client: str | None) -> str | None:
    return None if client is None else f"holds#{client}"


def take_hold(transaction: TransactWrite, tenant_id: str, limits: Limits, counter: str) -> None:
    """In the checkout's transaction: one more unpaid order of the client holds stock, unless it has
    as many as the tenant allows (the transaction is then cancelled on this item: `is_holds_refusal`)."""
    item = LimitCounterModel(tenant_id, counter)
    room: Condition = LimitCounterModel.hits.does_not_exist() | (
        LimitCounterModel.hits < limits.unpaid_orders_per_client
    )
    transaction.update(
        item,
        actions=[
            LimitCounterModel.hits.add(1),
            LimitCounterModel.expires_at.set(_at(time.time() + HOLDS_KEPT_SECONDS)),
        ],
        condition=room,
        return_values="ALL_OLD",
    )


def release_hold(transaction: TransactWrite, tenant_id: str, counter: str) -> None:
    """In a transition out of pending_payment: the order no longer holds stock. Unconditioned: an
    order must always be able to leave pending_payment, whatever became of its client's counter."""
    transaction.update(
        LimitCounterModel(tenant_id, counter),
        actions=[
            LimitCounterModel.hits.add(-1),
            LimitCounterModel.expires_at.set(_at(time.time() + HOLDS_KEPT_SECONDS)),
        ],
    )


def is_holds_refusal(old_item: dict[str, Any] | None) -> bool:
    """True for the old image of a holds counter whose condition failed in a cancelled transaction."""
    return bool(old_item) and str(old_item.get("counter", {}).get("S", "")).startswith("holds#")  # type: ignore[union-attr]


def holds_refusal(limits: Limits) -> RateLimited:
    return RateLimited(
        f"This address has {limits.unpaid_orders_per_client} unpaid orders holding stock; pay or cancel one first.",
        MINUTE,
        {"limit": limits.unpaid_orders_per_client},
    )
