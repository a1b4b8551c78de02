"""The pricing rule of the contract: pure functions over Decimal, no I/O.

subtotal = sum(unit_price * quantity)
discount = round_half_up(subtotal * promo_rate, 2)
net      = subtotal - discount
shipping = 0.00 without a method; 0.00 when the method's free_over <= net; else the method's price
vat      = round_half_up((net + shipping) * vat_rate, 2)    # shipping bears VAT
total    = net + shipping + vat
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def round_money(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class PricedLine:
    product_id: str
    name: str
    unit_price: Decimal
    quantity: int

    @property
    def line_total(self) -> Decimal:
        return round_money(self.unit_price * self.quantity)


@dataclass(frozen=True)
class Shipping:
    """A shipping method's price, and the net from which it ships free (None: never)."""

    price: Decimal
    free_over: Decimal | None = None

    def cost(self, net: Decimal) -> Decimal:
        return ZERO if self.free_over is not None and self.free_over <= net else self.price


@dataclass(frozen=True)
class Totals:
    subtotal: Decimal
    discount: Decimal
    net: Decimal
    vat_rate: Decimal
    vat: Decimal
    total: Decimal
    shipping: Decimal = ZERO

    def as_strings(self) -> dict[str, str]:
        """The totals as the API shows them: money with two decimals, the rate as given."""
        return {
            "subtotal": format_money(self.subtotal),
            "discount": format_money(self.discount),
            "net": format_money(self.net),
            "shipping": format_money(self.shipping),
            "vat_rate": format_rate(self.vat_rate),
            "vat": format_money(self.vat),
            "total": format_money(self.total),
        }


def price(
    lines: Iterable[PricedLine], vat_rate: Decimal, promo_rate: Decimal = ZERO, shipping: Shipping | None = None
) -> Totals:
    subtotal = round_money(sum((line.line_total for line in lines), ZERO))
    discount = round_money(subtotal * promo_rate)
    net = subtotal - discount
    shipped = shipping.cost(net) if shipping is not None else ZERO
    vat = round_money((net + shipped) * vat_rate)
    return Totals(
        subtotal=subtotal,
        discount=discount,
        net=net,
        vat_rate=vat_rate,
        vat=vat,
        total=net + shipped + vat,
        shipping=shipped,
    )


def format_money(amount: Decimal) -> str:
    return str(round_money(amount))


def format_rate(rate: Decimal) -> str:
    return str(rate.quantize(CENT) if rate == rate.quantize(CENT) else rate.normalize())
