"""Checkout: one DynamoDB transaction takes the stock, writes the order, closes the cart and claims the key.

Idempotency costs no extra round trip on the happy path: the Idempotency-Key's record is written
in that same transaction (chalicelib/idempotency.py). Whenever a checkout is refused (cart closed
or gone, stock short, price changed) or its transaction fails on the key, the key is looked up:
a same-key request that won the race is answered with its order, never with the refusal it caused.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib import carts, catalog, clients, contention, idempotency, lifecycle, limits, orders, upsell
from chalicelib.config import get_settings
from chalicelib.errors import (
    CartClosed,
    DeliveryRequired,
    EmptyCart,
    NotFound,
    OutOfStock,
    PriceChanged,
    ShippingMethodUnavailable,
)
from chalicelib.ids import new_ulid
from chalicelib.lifecycle import OrderStatus
from chalicelib.models import CartModel, OrderLine, OrderModel, OrderTotals, ProductModel, hold_queue, status_key
from chalicelib.observability import logger
from chalicelib.pricing import format_money
from chalicelib.tenants import Tenant

# Refusals a same-key request that won the race can cause, or that a key used for another cart meets:
# the key is looked up before answering them (its own order 200, another cart's key 422 REUSED).
REFUSALS = (NotFound, CartClosed, EmptyCart, OutOfStock, PriceChanged, DeliveryRequired, ShippingMethodUnavailable)


@dataclass(frozen=True)
class CheckoutRequest:
    cart_id: str
    # Required: a shopper who loses the answer gets the order and its token back only with the key.
    idempotency_key: str
    email: str | None = None
    expected_total: Decimal | None = None  # the total the shopper was quoted
    client: str | None = None  # who checks out, for the per-client limits (None: they are off)

    def key_use(self, tenant_id: str) -> idempotency.KeyUse:
        """What the key records: this cart with this body (another cart or body under the key is 422)."""
        return idempotency.KeyUse.of(
            tenant_id,
            "checkout",
            self.idempotency_key,
            cart_id=self.cart_id,
            email=self.email,
            expected_total=self.expected_total,
        )


@dataclass(frozen=True)
class Placed:
    order: OrderModel
    cart: CartModel | None  # the cart as read before the transaction; None when the order is replayed
    order_token: str | None  # the shopper's token for this order (None: a replay past the token cap)


@dataclass(frozen=True)
class CheckoutResult:
    order: OrderModel
    created: bool
    upsell: upsell.Upsell
    order_token: str | None


def checkout(tenant: Tenant, request: CheckoutRequest) -> CheckoutResult:
    """Place the order for a cart, then ask for up-sell suggestions (which never fail it).

    The up-sell flag is read from SSM while the order is placed. The cart as read carries the
    up-sell answer of its content (from the cart page), so an unchanged cart pays no second LLM
    call; a replay never calls the LLM.
    """
    flag = upsell.read_flag(tenant.tenant_id)
    placed, created = _place_order(tenant, request, flag)
    order = placed.order
    suggestions = upsell.suggest(
        tenant,
        request.cart_id,
        [line.product_id for line in order.lines],
        cart=placed.cart,
        flag=flag,
        llm_allowed=created,
    )
    return CheckoutResult(order=order, created=created, upsell=suggestions, order_token=placed.order_token)


def _place_order(tenant: Tenant, request: CheckoutRequest, flag: Future[upsell.FlagState]) -> tuple[Placed, bool]:
    return idempotency.perform(
        attempt=lambda: _attempt(tenant, request, flag),
        replay=lambda: _replay(tenant, request),
        refusals=REFUSALS,
    )


def _replay(tenant: Tenant, request: CheckoutRequest) -> Placed | None:
    """The order this same request placed before under its key; 422 if the key did something else."""
    record = idempotency.recorded(request.key_use(tenant.tenant_id), carts.now())
    if not record or not record.order_id:
        return None
    order = orders.get_order(tenant.tenant_id, record.order_id, consistent=True)
    return Placed(order, cart=None, order_token=orders.issue_another_token(order))


def _attempt(tenant: Tenant, request: CheckoutRequest, flag: Future[upsell.FlagState]) -> Placed | None:
    """Read, check and commit once; None means "read again and retry", a raised refusal is final.

    The order records the cart's up-sell arm (treated, held out, or none with the up-sell off), so
    the stats compare the two groups by what was decided for this very checkout: the flag read,
    started with the request, is awaited here (after the reads it overlapped), not after the commit.
    """
    cart = carts.load_cart(tenant.tenant_id, request.cart_id, consistent=True)
    if cart.status != "open":
        raise CartClosed(f"Cart {cart.cart_id!r} is already checked out.", {"order_id": cart.order_id})
    if not cart.lines:
        raise EmptyCart("The cart is empty.", {"cart_id": cart.cart_id})
    _require_delivery(tenant, cart)
    products = catalog.get_products(
        tenant.tenant_id, (line.product_id for line in cart.lines), consistent=True, attributes=catalog.PRICING_READS
    )
    missing = [line.product_id for line in cart.lines if line.product_id not in products]
    if missing:
        raise NotFound(f"Product {missing[0]!r} no longer exists.", {"product_id": missing[0]})
    requested = {line.product_id: int(line.quantity) for line in cart.lines}
    limits.check_quantities(tenant.limits, requested)  # a cart filled before the tenant lowered them
    short = carts.shortages(requested, products)
    if short:
        raise OutOfStock(short)
    priced = carts.price_cart(tenant, cart, products)
    if request.expected_total is not None and priced.totals.total != request.expected_total:
        raise PriceChanged(
            f"The total is now {format_money(priced.totals.total)}, not {format_money(request.expected_total)}.",
            {"expected_total": format_money(request.expected_total), "totals": priced.totals.as_strings()},
        )
    order_token, token_digest = orders.new_token()
    arm = upsell.arm_of(tenant.tenant_id, cart.cart_id, flag.result())
    order = _new_order(tenant, priced, request, token_digest, arm)
    # Where the order's units go: held (reserved) while a card payment is awaited, sold at once on delivery.
    taken_into = getattr(ProductModel, lifecycle.CREATED_UNITS[order.status][1])
    try:
        with TransactWrite(connection=clients.dynamodb()) as transaction:
            for line in priced.lines:
                transaction.update(
                    ProductModel(tenant.tenant_id, line.product_id),
                    actions=[ProductModel.stock.add(-line.quantity), taken_into.add(line.quantity)],
                    condition=(ProductModel.stock >= line.quantity) & (ProductModel.price == line.unit_price),
                    return_values="ALL_OLD",
                )
            transaction.save(order, condition=OrderModel.order_id.does_not_exist())
            # PynamoDB adds the cart's version to this condition: an edit since the read fails it.
            transaction.update(
                cart,
                actions=[
                    CartModel.status.set("checked_out"),
                    CartModel.order_id.set(order.order_id),
                    CartModel.updated_at.set(order.created_at),
                ],
                condition=CartModel.status == "open",
                return_values="ALL_OLD",
            )
            idempotency.claim(transaction, request.key_use(tenant.tenant_id), order.created_at, order_id=order.order_id)
            if order.hold_counter:
                limits.take_hold(transaction, tenant.tenant_id, tenant.limits, order.hold_counter)
    except TransactWriteError as exc:
        if exc.cause_response_code != "TransactionCanceledException":
            raise
        idempotency.raise_if_key_taken(exc)
        contention.raise_if_permanent(exc)
        failed = [r.raw_item for r in exc.cancellation_reasons if r and r.code == "ConditionalCheckFailed"]
        if any(limits.is_holds_refusal(item) for item in failed):
            raise limits.holds_refusal(tenant.limits) from None
        # A changed cart (closed, or edited since the read) is read again before any shortage is answered.
        cart_changed = any(item and "version" in item for item in failed)
        short = [] if cart_changed else _shortages_from(failed, requested)
        if short:
            raise OutOfStock(short) from None
        logger.info(
            "Checkout transaction cancelled, retrying", reasons=[r and r.code for r in exc.cancellation_reasons]
        )
        return None
    return Placed(order, cart, order_token)


def _shortages_from(failed_items: list[dict[str, Any] | None], requested: dict[str, int]) -> list[dict[str, Any]]:
    """Short lines named by a cancelled transaction's failed conditions.

    The failed product updates return their old item (ALL_OLD), so each is matched to its
    product by key, not by position (PynamoDB reorders actions).
    """
    short = []
    for item in failed_items:
        if not item or "stock" not in item or "product_id" not in item:
            continue
        product_id = item["product_id"]["S"]
        available = int(item["stock"]["N"])
        if product_id in requested and available < requested[product_id]:
            short.append({"product_id": product_id, "requested": requested[product_id], "available": available})
    return short


def _require_delivery(tenant: Tenant, cart: CartModel) -> None:
    """An order the shop cannot deliver is never placed: the cart needs a delivery (where to, which
    method, whom to tell), and its method must still be one the shop offers for that address, as
    the owner may have dropped it or a country since the shopper chose it (docs/decisions/0026)."""
    delivery = carts.delivery_of(tenant, cart)
    if delivery is None:
        raise DeliveryRequired(
            "The cart has no delivery: set the e-mail, address and shipping method "
            f"(PUT /tenants/{tenant.tenant_id}/carts/{cart.cart_id}/delivery) before the checkout.",
            {"cart_id": cart.cart_id},
        )
    if delivery.method is None:
        raise ShippingMethodUnavailable(
            "The chosen shipping method is no longer offered for this address; choose another.",
            {"methods": [m.id for m in tenant.shipping.methods_for(delivery.address["country"])]},
        )


def delivery_snapshot(delivery: carts.Delivery) -> dict[str, Any]:
    """The order keeps where it goes and the method as it was sold: its name, price and days."""
    assert delivery.method is not None
    method = delivery.method
    return {
        "address": delivery.address,
        "method": {
            "id": method.id,
            "name": method.name,
            "price": str(method.price),
            "days": {"min": method.days_min, "max": method.days_max},
        },
    }


def _new_order(
    tenant: Tenant, priced: carts.PricedCart, request: CheckoutRequest, token_digest: str, arm: str | None
) -> OrderModel:
    totals = priced.totals
    cart_lines = {line.product_id: line for line in priced.cart.lines}
    created_at = carts.now()
    pays_by_card = tenant.payment_mode == "stripe"
    status = OrderStatus.PENDING_PAYMENT if pays_by_card else OrderStatus.CONFIRMED
    return OrderModel(
        tenant.tenant_id,
        new_ulid(),
        cart_id=priced.cart.cart_id,
        status=status,
        status_key=status_key(tenant.tenant_id, status),
        payment_provider="stripe" if pays_by_card else None,
        hold_queue=hold_queue(tenant.tenant_id) if pays_by_card else None,
        hold_counter=limits.holds_counter(request.client) if pays_by_card else None,
        hold_expires_at=created_at + timedelta(seconds=get_settings().order_hold_seconds) if pays_by_card else None,
        lines=[
            OrderLine(
                product_id=line.product_id,
                name=line.name,
                unit_price=line.unit_price,
                quantity=line.quantity,
                line_total=line.line_total,
                source=cart_lines[line.product_id].source,
                upsell_source=cart_lines[line.product_id].upsell_source,
            )
            for line in priced.lines
        ],
        upsell_arm=arm,
        totals=OrderTotals(
            subtotal=totals.subtotal,
            discount=totals.discount,
            net=totals.net,
            vat_rate=totals.vat_rate,
            vat=totals.vat,
            total=totals.total,
            shipping=totals.shipping,
        ),
        promo_code=priced.promo_code,
        currency=tenant.currency,
        email=priced.delivery.email if priced.delivery else request.email,
        delivery=delivery_snapshot(priced.delivery) if priced.delivery else None,
        idempotency_key=request.idempotency_key,
        token_hashes={token_digest},
        created_at=created_at,
    )
