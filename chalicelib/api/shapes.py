"""Response shapes of the contract; money leaves as strings with two decimals."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.carts import PricedCart
from chalicelib.lifecycle import OrderStatus
from chalicelib.models import OrderModel, ProductModel
from chalicelib.payments import Payment
from chalicelib.pricing import Totals, format_money
from chalicelib.tenants import Tenant
from chalicelib.upsell import Upsell


def timestamp(value: datetime) -> str:
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def product(item: ProductModel, currency: str) -> dict[str, Any]:
    return {
        "product_id": item.product_id,
        "name": item.name,
        "description": item.description,
        "category": item.category,
        "price": format_money(item.price),
        "currency": currency,
        "stock": int(item.stock),
        "tags": list(item.tags or []),
    }


def totals(value: Totals) -> dict[str, str]:
    return value.as_strings()


def line(product_id: str, name: str, unit_price: Any, quantity: int, line_total: Any) -> dict[str, Any]:
    return {
        "product_id": product_id,
        "name": name,
        "unit_price": format_money(unit_price),
        "quantity": int(quantity),
        "line_total": format_money(line_total),
    }


def cart(priced: PricedCart) -> dict[str, Any]:
    record = priced.cart
    return {
        "cart_id": record.cart_id,
        "status": record.status,
        "items": [line(x.product_id, x.name, x.unit_price, x.quantity, x.line_total) for x in priced.lines],
        "promo_code": record.promo_code,
        "totals": totals(priced.totals),
        "currency": priced.currency,
        "order_id": record.order_id,
        "created_at": timestamp(record.created_at),
        "updated_at": timestamp(record.updated_at),
    }


# What a card order's status says about its payment, in Stripe's words.
PAYMENT_STATUS: dict[str, str] = {
    OrderStatus.PENDING_PAYMENT: "requires_payment",
    OrderStatus.PAID: "succeeded",
    OrderStatus.REFUNDED: "refunded",
    OrderStatus.EXPIRED: "canceled",
    OrderStatus.CANCELLED: "canceled",
}


def order(record: OrderModel, tenant: Tenant, *, with_email: bool = False) -> dict[str, Any]:
    """The order; the shopper's e-mail only for the tenant's operators (admin routes)."""
    saved = record.totals
    shape = {
        "order_id": record.order_id,
        "cart_id": record.cart_id,
        "status": record.status,
        "items": [line(x.product_id, x.name, x.unit_price, x.quantity, x.line_total) for x in record.lines],
        "promo_code": record.promo_code,
        "totals": totals(Totals(saved.subtotal, saved.discount, saved.net, saved.vat_rate, saved.vat, saved.total)),
        "currency": record.currency,
        "created_at": timestamp(record.created_at),
    }
    if record.hold_expires_at is not None:  # an order awaiting payment: when its units go back on sale
        shape["hold_expires_at"] = timestamp(record.hold_expires_at)
    if record.payment_provider:  # a card order: what the storefront's payment step needs
        payment = {
            "provider": record.payment_provider,
            "status": PAYMENT_STATUS.get(record.status, record.status),
            "publishable_key": tenant.stripe_publishable_key,
        }
        if record.refund_reason:
            payment["refund_reason"] = record.refund_reason
        shape["payment"] = payment
    if with_email:
        shape["email"] = record.email
    return shape


def payment(outcome: Payment, tenant: Tenant) -> dict[str, Any]:
    attempt: dict[str, Any] = {"status": outcome.status}
    if outcome.client_secret:
        attempt["client_secret"] = outcome.client_secret  # Stripe.js finishes 3-D Secure with it
    return {"order": order(outcome.order, tenant), "payment": attempt}


def upsell(value: Upsell) -> dict[str, Any]:
    return {
        "enabled": value.enabled,
        "source": value.source,
        "suggestions": [
            {"product_id": s.product_id, "name": s.name, "price": format_money(s.price), "reason": s.reason}
            for s in value.suggestions
        ],
    }
