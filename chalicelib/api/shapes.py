"""Response shapes of the contract; money leaves as strings with two decimals."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib import orders, shipping
from chalicelib.carts import Delivery, PricedCart
from chalicelib.lifecycle import OrderStatus
from chalicelib.models import OrderModel, ProductModel
from chalicelib.payments import Payment
from chalicelib.pricing import ZERO, Totals, format_money
from chalicelib.tenants import Tenant
from chalicelib.upsell import Controls, Upsell


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


def inventory_item(item: ProductModel, low_stock_threshold: int) -> dict[str, Any]:
    """A product as the operator's inventory shows it: its stock counters, and the fields an edit sends back."""
    stock = int(item.stock)
    return {
        "product_id": item.product_id,
        "name": item.name,
        "description": item.description,
        "category": item.category,
        "price": format_money(item.price),
        "stock": stock,
        "reserved": int(item.reserved),
        "sold": int(item.sold),
        "low_stock": stock <= low_stock_threshold,
        "tags": list(item.tags or []),
        "complements": list(item.complements or []),
    }


def totals(value: Totals) -> dict[str, str]:
    return value.as_strings()


def line(
    product_id: str, name: str, unit_price: Any, quantity: int, line_total: Any, source: str | None
) -> dict[str, Any]:
    return {
        "product_id": product_id,
        "name": name,
        "unit_price": format_money(unit_price),
        "quantity": int(quantity),
        "line_total": format_money(line_total),
        "source": source,  # "upsell": added from a suggestion set the cart was shown
    }


def method(value: shipping.Method) -> dict[str, Any]:
    return {
        "id": value.id,
        "name": value.name,
        "price": format_money(value.price),
        "days": {"min": value.days_min, "max": value.days_max},
    }


def shipping_methods(plan: shipping.Plan, country: str | None) -> dict[str, Any]:
    return {
        "countries": list(plan.countries),
        "items": [
            {
                **method(m),
                "free_over": format_money(m.free_over) if m.free_over is not None else None,
                "countries": list(m.countries) if m.countries is not None else None,
            }
            for m in plan.methods_for(country)
        ],
    }


def delivery(value: Delivery | None) -> dict[str, Any] | None:
    if value is None:
        return None
    return {"email": value.email, "address": value.address, "method": method(value.method) if value.method else None}


def cart(priced: PricedCart) -> dict[str, Any]:
    record = priced.cart
    sources = {stored.product_id: stored.source for stored in record.lines}
    return {
        "cart_id": record.cart_id,
        "status": record.status,
        "items": [
            line(x.product_id, x.name, x.unit_price, x.quantity, x.line_total, sources.get(x.product_id))
            for x in priced.lines
        ],
        "promo_code": record.promo_code,
        "totals": totals(priced.totals),
        "currency": priced.currency,
        "delivery": delivery(priced.delivery),
        "order_id": record.order_id,
        "created_at": timestamp(record.created_at),
        "updated_at": timestamp(record.updated_at),
    }


# What a card order's status says about its payment, in Stripe's words.
PAYMENT_STATUS: dict[str, str] = {
    OrderStatus.PENDING_PAYMENT: "requires_payment",
    OrderStatus.PAID: "succeeded",
    OrderStatus.SHIPPED: "succeeded",
    OrderStatus.DELIVERED: "succeeded",
    OrderStatus.REFUNDED: "refunded",
    OrderStatus.EXPIRED: "canceled",
    OrderStatus.CANCELLED: "canceled",
}


def order(record: OrderModel, tenant: Tenant, *, full: bool = False) -> dict[str, Any]:
    """The order: its status, lines and totals for anyone; with `full` (the order's token or an
    admin key) also where it goes, the shopper's e-mail, its fulfilment and its timeline."""
    saved = record.totals
    shape: dict[str, Any] = {
        "order_id": record.order_id,
        "cart_id": record.cart_id,
        "status": record.status,
        "items": [line(x.product_id, x.name, x.unit_price, x.quantity, x.line_total, x.source) for x in record.lines],
        "promo_code": record.promo_code,
        "totals": totals(
            Totals(
                saved.subtotal,
                saved.discount,
                saved.net,
                saved.vat_rate,
                saved.vat,
                saved.total,
                saved.shipping or ZERO,
            )
        ),
        "currency": record.currency,
        "created_at": timestamp(record.created_at),
    }
    if record.hold_expires_at is not None:  # an order awaiting payment: when its units go back on sale
        shape["hold_expires_at"] = timestamp(record.hold_expires_at)
    if record.payment_provider:  # a card order: what the storefront's payment step needs
        payment: dict[str, Any] = {
            "provider": record.payment_provider,
            "status": PAYMENT_STATUS.get(record.status, record.status),
            "publishable_key": tenant.stripe_publishable_key,
        }
        if record.refund_reason:
            payment["refund_reason"] = record.refund_reason
        if full and record.dispute:  # what Stripe reported afterwards: for the order's holder and operators
            dispute = record.dispute
            payment["dispute"] = {
                "dispute_id": dispute.dispute_id,
                "reason": dispute.reason,
                "status": dispute.status,
                "disputed_at": timestamp(dispute.disputed_at),
            }
        if full and record.refund_failure:
            failure = record.refund_failure
            payment["refund_failure"] = {
                "refund_id": failure.refund_id,
                "reason": failure.reason,
                "failed_at": timestamp(failure.failed_at),
            }
        shape["payment"] = payment
    if full:
        shape["email"] = record.email
        shape["delivery"] = record.delivery.as_dict() if record.delivery else None
        shape["fulfilment"] = fulfilment(record)
        shape["timeline"] = [{"event": m["event"], "at": timestamp(m["at"])} for m in orders.timeline(record)]
    return shape


def fulfilment(record: OrderModel) -> dict[str, Any] | None:
    if record.shipped_at is None:
        return None
    return {
        "carrier": record.carrier,
        "tracking_number": record.tracking_number,
        "tracking_url": record.tracking_url,
        "shipped_at": timestamp(record.shipped_at),
        "delivered_at": timestamp(record.delivered_at) if record.delivered_at else None,
    }


def payment(outcome: Payment, tenant: Tenant) -> dict[str, Any]:
    attempt: dict[str, Any] = {"status": outcome.status}
    if outcome.client_secret:
        attempt["client_secret"] = outcome.client_secret  # Stripe.js finishes 3-D Secure with it
    return {"order": order(outcome.order, tenant, full=True), "payment": attempt}  # the shopper's, by token


def upsell(value: Upsell) -> dict[str, Any]:
    shape: dict[str, Any] = {"enabled": value.enabled, "source": value.source}
    if value.set_id is not None:  # an answer with suggestions: what adding one of them passes along
        shape["set_id"] = value.set_id
    return {
        **shape,
        "suggestions": [
            {"product_id": s.product_id, "name": s.name, "price": format_money(s.price), "reason": s.reason}
            for s in value.suggestions
        ],
    }


def upsell_controls(value: Controls) -> dict[str, Any]:
    return {"enabled": value.enabled, "holdout_percent": value.holdout_percent}
