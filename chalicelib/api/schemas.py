"""Request shapes; unknown fields and wrong types are rejected, never coerced."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, EmailStr, Field, StringConstraints, field_validator
from pydantic_core import PydanticCustomError

from chalicelib.carts import MAX_LINES, MAX_QUANTITY
from chalicelib.catalog import MAX_STOCK
from chalicelib.ids import PRODUCT_ID, ULID, anchored
from chalicelib.upsell import MAX_HOLDOUT_PERCENT, MAX_STATS_DAYS

ProductId = Annotated[str, StringConstraints(pattern=anchored(PRODUCT_ID))]


def integral_float_to_int(value: object) -> object:
    """JSON has one number type: 2.0 is the integer 2 (as JSON Schema says), 2.5 is not."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


WholeNumber = Annotated[int, BeforeValidator(integral_float_to_int)]


# Exactly two decimals, a string, never a float: an amount (a cart's total may exceed any one price)...
Money = Annotated[str, StringConstraints(pattern=r"^(0|[1-9]\d{0,11})\.\d{2}$")]
# ... and a price: greater than zero, at most 8 integer digits.
PositiveMoney = Annotated[str, StringConstraints(pattern=r"^(0\.(0[1-9]|[1-9]\d)|[1-9]\d{0,7}\.\d{2})$")]


class Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", defer_build=True)


class CartItemIn(Strict):
    product_id: ProductId
    quantity: WholeNumber = Field(ge=1, le=MAX_QUANTITY)


class CreateCartBody(Strict):
    items: list[CartItemIn] = Field(default_factory=list, max_length=MAX_LINES)


class SetQuantityBody(Strict):
    quantity: WholeNumber = Field(ge=0, le=MAX_QUANTITY)
    # The `set_id` of the up-sell answer the product was suggested in (chalicelib/upsell/memo.py).
    upsell_set_id: Annotated[str, StringConstraints(pattern=anchored(ULID + "-[0-9a-f]{16}"))] | None = None


class PromoBody(Strict):
    code: str = Field(min_length=1, max_length=32)


class CheckoutBody(Strict):
    email: EmailStr | None = None
    expected_total: Money | None = None  # the total the shopper was shown; another current total is 409


def printable(value: object) -> object:
    """Trimmed, and only printable characters: no control characters, no line breaks."""
    if isinstance(value, str):
        value = value.strip()
        if not value.isprintable():
            raise PydanticCustomError("not_printable", "must be printable text on one line")
    return value


def filled(label: str, max_length: int = 100) -> BeforeValidator:
    """A required one-line field, trimmed, printable and bounded. Empty (or only spaces) or too long, it
    is refused in words the storefront can show beside the field: pydantic's own, on a value a
    validator has trimmed, say "Value should have at least 1 item after validation, not 0"."""

    def check(value: object) -> object:
        value = printable(value)
        if value == "":
            raise PydanticCustomError("blank", "{label} is required: it is empty or only spaces.", {"label": label})
        if isinstance(value, str) and len(value) > max_length:
            raise PydanticCustomError(
                "too_long", "{label} is at most {max_length} characters.", {"label": label, "max_length": max_length}
            )
        return value

    return BeforeValidator(check)


COUNTRY_PATTERN = r"^[A-Z]{2}$"  # ISO 3166-1 alpha-2
OptionalLine = Annotated[str, BeforeValidator(printable), StringConstraints(max_length=100)]
Country = Annotated[str, BeforeValidator(printable), StringConstraints(pattern=COUNTRY_PATTERN)]
Phone = Annotated[str, BeforeValidator(printable), StringConstraints(pattern=r"^\+?[0-9 ()./-]{3,32}$")]


class AddressIn(Strict):
    name: Annotated[str, filled("The name")]
    line1: Annotated[str, filled("The address")]
    line2: OptionalLine | None = None
    city: Annotated[str, filled("The city", 64)]
    postal_code: Annotated[str, filled("The postal code", 16)]
    country: Annotated[str, filled("The country"), StringConstraints(pattern=COUNTRY_PATTERN)]
    phone: Phone | None = None


class DeliveryBody(Strict):
    email: Annotated[EmailStr, StringConstraints(max_length=254)]
    address: AddressIn
    method: str = Field(pattern=r"^[a-z0-9_]{1,32}$")


class ShippingMethodsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    country: Country | None = None


class ShipmentBody(Strict):
    carrier: Annotated[str, filled("The carrier")]
    tracking_number: Annotated[str, BeforeValidator(printable), StringConstraints(pattern=r"^[A-Za-z0-9 -]{1,64}$")]
    # A link the shopper opens from the order page and the e-mail: https only.
    tracking_url: Annotated[str, StringConstraints(pattern=r"^https://[^\s<>\"']{1,500}$")] | None = None


class RefundBody(Strict):
    restock: bool = False  # a shipped or delivered order's goods came back: put its units on sale


class PaymentBody(Strict):
    # A PaymentMethod id made by Stripe.js in the shopper's browser.
    payment_method: str = Field(pattern=r"^pm_[A-Za-z0-9_]{1,120}$")


class CardSetupBody(Strict):
    # The browser's id for this card attempt: a retried request gets the same SetupIntent back.
    attempt: str = Field(pattern=r"^[A-Za-z0-9_-]{8,64}$")


class ProductListQuery(BaseModel):
    # Query strings are text, so numbers are parsed from it (lax), but unknown keys are refused.
    model_config = ConfigDict(extra="forbid", defer_build=True)

    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(default=None, min_length=1, max_length=512)
    category: str | None = Field(default=None, min_length=1, max_length=40)


class OrderListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(default=None, min_length=1, max_length=512)
    status: (
        Literal["pending_payment", "paid", "confirmed", "shipped", "delivered", "expired", "cancelled", "refunded"]
        | None
    ) = None


class InventoryQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    limit: int = Field(default=50, ge=1, le=100)
    cursor: str | None = Field(default=None, min_length=1, max_length=512)


Tag = Annotated[str, StringConstraints(min_length=1, max_length=40)]
MAX_STOCK_DELTA = 100_000


class ProductUpsertBody(Strict):
    name: str = Field(min_length=1, max_length=120)
    description: str = Field(default="", max_length=2000)
    category: str = Field(min_length=1, max_length=40)
    price: PositiveMoney
    stock: int | None = Field(default=None, ge=0, le=MAX_STOCK)  # omitted: the stock is left as it is
    tags: list[Tag] = Field(default_factory=list, max_length=10)
    complements: list[ProductId] = Field(default_factory=list, max_length=10)


class UpsellSettingsBody(Strict):
    enabled: bool | None  # None: follow the global flag (the tenant's parameter is deleted)
    holdout_percent: int = Field(ge=0, le=MAX_HOLDOUT_PERCENT)


class UpsellStatsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    days: int = Field(default=30, ge=1, le=MAX_STATS_DAYS)


class StockAdjustBody(Strict):
    delta: int = Field(ge=-MAX_STOCK_DELTA, le=MAX_STOCK_DELTA)

    @field_validator("delta")
    @classmethod
    def not_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("must not be 0")
        return value
