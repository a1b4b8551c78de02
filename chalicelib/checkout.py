"""Checkout: one DynamoDB transaction reserves stock, writes the order and closes the cart.

Idempotency costs no extra round trip on the happy path: the key is written onto the
cart in the same transaction, so a retry finds the cart closed under its own key and
is answered with the order that key created.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib import carts, catalog, clients, contention, observability, upsell
from chalicelib.errors import CartClosed, EmptyCart, IdempotencyKeyReused, NotFound, OutOfStock, Unavailable
from chalicelib.ids import new_ulid
from chalicelib.models import CartModel, OrderLine, OrderModel, OrderTotals, ProductModel
from chalicelib.observability import logger
from chalicelib.orders import get_order
from chalicelib.tenants import Tenant

# A transaction loses to a concurrent one touching the same items (TransactionConflict)
# or finds a price changed between read and write; both are retried on fresh reads.
ATTEMPTS = 6


@dataclass(frozen=True)
class CheckoutResult:
    order: OrderModel
    created: bool
    upsell: upsell.Upsell


def request_fingerprint(cart_id: str, email: str | None) -> str:
    body = json.dumps({"cart_id": cart_id, "email": email}, sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()


def checkout(tenant: Tenant, cart_id: str, email: str | None, idempotency_key: str | None) -> CheckoutResult:
    """Place the order for a cart, then ask for up-sell suggestions (which never fail it)."""
    order, created = _place_order(tenant, cart_id, email, idempotency_key)
    if created:
        observability.record_order(tenant.tenant_id, order.order_id, order.totals.total, order.currency)
    suggestions = upsell.suggest(tenant, cart_id, [line.product_id for line in order.lines])
    return CheckoutResult(order=order, created=created, upsell=suggestions)


def _place_order(
    tenant: Tenant, cart_id: str, email: str | None, idempotency_key: str | None
) -> tuple[OrderModel, bool]:
    fingerprint = request_fingerprint(cart_id, email)
    for attempt in range(ATTEMPTS):
        cart = carts.load_cart(tenant.tenant_id, cart_id, consistent=True)
        if cart.status != "open":
            return _replay(tenant, cart, idempotency_key, fingerprint), False
        if not cart.lines:
            raise EmptyCart("The cart is empty.", {"cart_id": cart_id})
        order = _commit(tenant, cart, email, idempotency_key, fingerprint)
        if order is not None:
            return order, True
        contention.pause(attempt)
    raise Unavailable("Checkout is contended, please retry.")


def _replay(tenant: Tenant, cart: CartModel, idempotency_key: str | None, fingerprint: str) -> OrderModel:
    if idempotency_key is None or cart.idempotency_key != idempotency_key:
        raise CartClosed(f"Cart {cart.cart_id!r} is already checked out.", {"order_id": cart.order_id})
    order = get_order(tenant.tenant_id, cart.order_id, consistent=True)
    if order.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused("This Idempotency-Key was used with a different request.")
    return order


def _commit(
    tenant: Tenant, cart: CartModel, email: str | None, idempotency_key: str | None, fingerprint: str
) -> OrderModel | None:
    """Run the transaction; None means "read again and retry", OutOfStock is final."""
    products = catalog.get_products(tenant.tenant_id, (line.product_id for line in cart.lines), consistent=True)
    missing = [line.product_id for line in cart.lines if line.product_id not in products]
    if missing:
        raise NotFound(f"Product {missing[0]!r} no longer exists.", {"product_id": missing[0]})
    requested = {line.product_id: int(line.quantity) for line in cart.lines}
    short = carts.shortages(requested, products)
    if short:
        raise OutOfStock(short)
    priced = carts.price_cart(tenant, cart, products)
    order = _new_order(tenant, priced, email, idempotency_key, fingerprint)
    try:
        with TransactWrite(connection=clients.dynamodb()) as transaction:
            for line in priced.lines:
                transaction.update(
                    ProductModel(tenant.tenant_id, line.product_id),
                    actions=[ProductModel.stock.add(-line.quantity), ProductModel.reserved.add(line.quantity)],
                    condition=(ProductModel.stock >= line.quantity) & (ProductModel.price == line.unit_price),
                    return_values="ALL_OLD",
                )
            transaction.save(order, condition=OrderModel.order_id.does_not_exist())
            transaction.update(
                cart,
                actions=[
                    CartModel.status.set("checked_out"),
                    CartModel.order_id.set(order.order_id),
                    CartModel.updated_at.set(order.created_at),
                    *([CartModel.idempotency_key.set(idempotency_key)] if idempotency_key else []),
                ],
                condition=CartModel.status == "open",
            )
    except TransactWriteError as exc:
        if exc.cause_response_code != "TransactionCanceledException":
            raise
        short = _shortages_from(exc, requested)
        if short:
            raise OutOfStock(short) from None
        logger.info(
            "Checkout transaction cancelled, retrying", reasons=[r and r.code for r in exc.cancellation_reasons]
        )
        return None
    return order


def _shortages_from(exc: TransactWriteError, requested: dict[str, int]) -> list[dict[str, Any]]:
    """Short lines named by the cancelled transaction.

    The failed product updates return their old item (ALL_OLD), so each reason is
    matched to its product by key, not by position (PynamoDB reorders actions).
    """
    short = []
    for reason in exc.cancellation_reasons:
        item = reason.raw_item if reason and reason.code == "ConditionalCheckFailed" else None
        if not item or "stock" not in item or "product_id" not in item:
            continue
        product_id = item["product_id"]["S"]
        available = int(item["stock"]["N"])
        if product_id in requested and available < requested[product_id]:
            short.append({"product_id": product_id, "requested": requested[product_id], "available": available})
    return short


def _new_order(
    tenant: Tenant, priced: carts.PricedCart, email: str | None, idempotency_key: str | None, fingerprint: str
) -> OrderModel:
    totals = priced.totals
    return OrderModel(
        tenant.tenant_id,
        new_ulid(),
        cart_id=priced.cart.cart_id,
        status="confirmed",
        lines=[
            OrderLine(
                product_id=line.product_id,
                name=line.name,
                unit_price=line.unit_price,
                quantity=line.quantity,
                line_total=line.line_total,
            )
            for line in priced.lines
        ],
        totals=OrderTotals(
            subtotal=totals.subtotal,
            discount=totals.discount,
            net=totals.net,
            vat_rate=totals.vat_rate,
            vat=totals.vat,
            total=totals.total,
        ),
        promo_code=priced.promo_code,
        currency=tenant.currency,
        email=email,
        idempotency_key=idempotency_key,
        request_fingerprint=fingerprint,
        created_at=carts.now(),
    )
