"""Carts: quantities, promo codes and current prices.

Every edit is read-modify-write guarded by the cart's version attribute, so two
concurrent edits never lose each other: the loser re-reads and applies again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pynamodb.exceptions import PutError

from chalicelib import catalog, contention, limits, pricing, shipping, tenants
from chalicelib.config import get_settings
from chalicelib.errors import (
    BadRequest,
    CartClosed,
    CountryNotServed,
    NotFound,
    OutOfStock,
    ShippingMethodUnavailable,
    Unavailable,
)
from chalicelib.ids import is_product_id, is_ulid, new_ulid
from chalicelib.models import CartLine, CartModel, OfferedSet, ProductModel
from chalicelib.tenants import Tenant

MAX_LINES = 50
MAX_QUANTITY = 99


@dataclass(frozen=True)
class Delivery:
    """Where a cart's order goes, with the shipping method the tenant still offers for it."""

    email: str
    address: dict[str, str]
    method: shipping.Method | None  # None: the tenant no longer ships this way there (choose again)


@dataclass(frozen=True)
class PricedCart:
    cart: CartModel
    lines: list[pricing.PricedLine]
    totals: pricing.Totals
    currency: str
    promo_code: str | None  # the cart's code while the tenant still honours it
    delivery: Delivery | None = None


def delivery_of(tenant: Tenant, cart: CartModel) -> Delivery | None:
    if cart.delivery is None:
        return None
    stored = cart.delivery.as_dict()
    address = {name: str(value) for name, value in stored["address"].items()}
    method = tenant.shipping.method(stored["method"])
    if method is not None and not (
        address["country"] in tenant.shipping.countries and method.serves(address["country"])
    ):
        method = None
    return Delivery(email=stored["email"], address=address, method=method)


def now() -> datetime:
    return datetime.now(UTC)


def load_cart(tenant_id: str, cart_id: str, consistent: bool = False) -> CartModel:
    """The cart under this tenant; another tenant's id, a malformed id or an expired cart is not found."""
    cart = None
    if is_ulid(cart_id):
        with contextlib.suppress(CartModel.DoesNotExist):
            cart = CartModel.get(tenant_id, cart_id, consistent_read=consistent)
    if cart is None or (cart.expires_at is not None and cart.expires_at <= now()):
        raise NotFound(f"Cart {cart_id!r} not found.", {"cart_id": cart_id})
    return cart


def price_cart(tenant: Tenant, cart: CartModel, products: dict[str, ProductModel] | None = None) -> PricedCart:
    if products is None:
        products = catalog.get_products(
            tenant.tenant_id, (line.product_id for line in cart.lines), attributes=catalog.PRICING_READS
        )
    lines = [
        pricing.PricedLine(
            line.product_id, products[line.product_id].name, products[line.product_id].price, line.quantity
        )
        for line in cart.lines
        if line.product_id in products
    ]
    promo_code = cart.promo_code if cart.promo_code in tenant.promo_codes else None
    delivery = delivery_of(tenant, cart)
    totals = pricing.price(
        lines,
        tenant.vat_rate,
        tenant.promo_codes[promo_code] if promo_code else pricing.ZERO,
        delivery.method.pricing if delivery and delivery.method else None,
    )
    return PricedCart(
        cart=cart, lines=lines, totals=totals, currency=tenant.currency, promo_code=promo_code, delivery=delivery
    )


def shortages(requested: dict[str, int], products: dict[str, ProductModel]) -> list[dict[str, int | str]]:
    return [
        {"product_id": product_id, "requested": quantity, "available": int(products[product_id].stock)}
        for product_id, quantity in requested.items()
        if quantity > products[product_id].stock
    ]


def merge_items(items: Iterable[tuple[str, int]]) -> dict[str, int]:
    merged: dict[str, int] = {}
    for product_id, quantity in items:
        merged[product_id] = merged.get(product_id, 0) + quantity
    too_many = [pid for pid, quantity in merged.items() if quantity > MAX_QUANTITY]
    if too_many:
        raise BadRequest.for_field(
            "items",
            f"At most {MAX_QUANTITY} of one product per cart.",
            *(f"{pid}: quantity above {MAX_QUANTITY}" for pid in too_many),
        )
    if len(merged) > MAX_LINES:
        raise BadRequest.for_field("items", f"A cart holds at most {MAX_LINES} products.", "too many lines")
    return merged


def create_cart(tenant: Tenant, items: Iterable[tuple[str, int]] = ()) -> PricedCart:
    requested = merge_items(items)
    limits.check_quantities(tenant.limits, requested)
    products = catalog.get_products(tenant.tenant_id, requested, attributes=catalog.PRICING_READS)
    missing = [pid for pid in requested if pid not in products]
    if missing:
        raise NotFound(f"Product {missing[0]!r} not found.", {"product_id": missing[0]})
    short = shortages(requested, products)
    if short:
        raise OutOfStock(short)
    created = now()
    cart = CartModel(
        tenant.tenant_id,
        new_ulid(),
        lines=[CartLine(product_id=pid, quantity=quantity) for pid, quantity in requested.items()],
        created_at=created,
        updated_at=created,
        expires_at=created + timedelta(days=get_settings().cart_ttl_days),
    )
    cart.save(condition=CartModel.cart_id.does_not_exist())
    return price_cart(tenant, cart, products)


def get_cart(tenant: Tenant, cart_id: str) -> PricedCart:
    return price_cart(tenant, load_cart(tenant.tenant_id, cart_id))


def _edit(tenant: Tenant, cart_id: str, change: Callable[[CartModel], bool | None]) -> PricedCart:
    """Apply `change` to the open cart and save it; a change that returns False had nothing to do (no write)."""
    for _ in contention.attempts(contention.CART_EDIT_ATTEMPTS):
        cart = load_cart(tenant.tenant_id, cart_id, consistent=True)
        if cart.status != "open":
            raise CartClosed(f"Cart {cart_id!r} is already checked out.", {"order_id": cart.order_id})
        if change(cart) is False:
            return price_cart(tenant, cart)
        cart.updated_at = now()
        cart.expires_at = cart.updated_at + timedelta(days=get_settings().cart_ttl_days)
        try:
            cart.save()
        except PutError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
            continue  # edited concurrently: apply the change again on the fresh cart
        return price_cart(tenant, cart)
    raise Unavailable("The cart is being edited concurrently, please retry.")


def set_quantity(
    tenant: Tenant, cart_id: str, product_id: str, quantity: int, upsell_set_id: str | None = None
) -> PricedCart:
    """Set a line's quantity. With `upsell_set_id` (a suggestion set this cart was shown) a line it
    adds is marked `source: "upsell"`; a line already in the cart keeps its source, whatever its
    quantity becomes (decision 30). A set id that is not this cart's, or a product not in it: 400."""
    if quantity == 0 and upsell_set_id is None:
        return remove_line(tenant, cart_id, product_id)
    product = catalog.get_product(tenant.tenant_id, product_id)
    short = shortages({product_id: quantity}, {product_id: product})
    if short:
        raise OutOfStock(short)
    origins: dict[str, CartModel] = {}  # another cart a set names, read once across retries

    def change(cart: CartModel) -> bool | None:
        offered = offered_set(tenant.tenant_id, cart, upsell_set_id, product_id, origins) if upsell_set_id else None
        if quantity == 0:
            return _without(cart, product_id)
        others = {line.product_id: int(line.quantity) for line in cart.lines if line.product_id != product_id}
        limits.check_quantities(tenant.limits, {**others, product_id: quantity})
        for line in cart.lines:
            if line.product_id == product_id:
                line.quantity = quantity
                return None
        if len(cart.lines) >= MAX_LINES:
            raise BadRequest.for_field("product_id", f"A cart holds at most {MAX_LINES} products.", "cart is full")
        attribution = (
            {"source": "upsell", "upsell_set_id": offered.set_id, "upsell_source": offered.source} if offered else {}
        )
        cart.lines.append(CartLine(product_id=product_id, quantity=quantity, **attribution))
        return None

    return _edit(tenant, cart_id, change)


def offered_set(
    tenant_id: str, cart: CartModel, set_id: str, product_id: str, origins: dict[str, CartModel]
) -> OfferedSet:
    """The suggestion set `set_id` as `cart` may use it, holding `product_id`; else 400 (nothing written).

    A set belongs to the cart it was shown to. The one exception is the order confirmation: its set
    was shown to the cart just checked out, and its suggestions go to the shopper's next cart, so a
    checked-out cart's set is accepted on a cart opened after that checkout (one more GetItem).
    """
    origin_id = set_id.rpartition("-")[0]
    origin: CartModel | None = cart
    if origin_id != cart.cart_id:
        if origin_id not in origins:
            with contextlib.suppress(NotFound):
                origins[origin_id] = load_cart(tenant_id, origin_id)
        origin = origins.get(origin_id)
        if origin is not None and not (origin.status == "checked_out" and cart.created_at >= origin.updated_at):
            origin = None  # an open cart's set, or an order placed after this cart was opened
    found = next((s for s in (origin.offered_sets or []) if s.set_id == set_id), None) if origin else None
    if found is None:
        raise BadRequest.for_field(
            "upsell_set_id",
            f"Up-sell set {set_id!r} is not a suggestion set shown to this cart.",
            "unknown suggestion set",
        )
    if product_id not in found.product_ids:
        raise BadRequest.for_field(
            "upsell_set_id",
            f"Product {product_id!r} is not among the suggestions of up-sell set {set_id!r}.",
            "product not in the suggestion set",
        )
    return found


def _without(cart: CartModel, product_id: str) -> bool:
    kept = [line for line in cart.lines if line.product_id != product_id]
    if len(kept) == len(cart.lines):
        return False
    cart.lines = kept
    return True


def remove_line(tenant: Tenant, cart_id: str, product_id: str) -> PricedCart:
    """Remove a product's line; an id that cannot exist is 404, a product not in the cart changes nothing."""
    if not is_product_id(product_id):
        raise NotFound(f"Product {product_id!r} not found.", {"product_id": product_id})

    return _edit(tenant, cart_id, lambda cart: _without(cart, product_id))


def set_delivery(tenant: Tenant, cart_id: str, email: str, address: dict[str, str], method_id: str) -> PricedCart:
    """Where the cart's order goes and how: a country the shop serves, a method it offers there."""
    country = address["country"]
    if country not in tenant.shipping.countries:
        raise CountryNotServed(
            f"This shop does not deliver to {country}.",
            {"country": country, "countries": list(tenant.shipping.countries)},
        )
    method = tenant.shipping.method(method_id)
    if method is None or not method.serves(country):
        offered = [m.id for m in tenant.shipping.methods_for(country)]
        raise ShippingMethodUnavailable(
            f"Shipping method {method_id!r} is not offered for {country}.", {"method": method_id, "methods": offered}
        )

    def change(cart: CartModel) -> None:
        cart.delivery = {"email": email, "address": address, "method": method_id}

    return _edit(tenant, cart_id, change)


def apply_promo(tenant: Tenant, cart_id: str, code: str) -> PricedCart:
    def change(cart: CartModel) -> None:
        cart.promo_code = tenants.normalise_promo_code(tenant, code)

    return _edit(tenant, cart_id, change)


def remove_promo(tenant: Tenant, cart_id: str) -> PricedCart:
    def change(cart: CartModel) -> None:
        cart.promo_code = None

    return _edit(tenant, cart_id, change)
