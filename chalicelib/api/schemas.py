"""Request shapes; unknown fields and wrong types are rejected, never coerced."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, field_validator

from chalicelib.carts import MAX_LINES, MAX_QUANTITY

ProductId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]


def integral_float_to_int(value: object) -> object:
    """JSON has one number type: 2.0 is the integer 2 (as JSON Schema says), 2.5 is not."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


WholeNumber = Annotated[int, BeforeValidator(integral_float_to_int)]


class Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", defer_build=True)


class CartItemIn(Strict):
    product_id: ProductId
    quantity: WholeNumber = Field(ge=1, le=MAX_QUANTITY)


class CreateCartBody(Strict):
    items: list[CartItemIn] = Field(default_factory=list, max_length=MAX_LINES)


class SetQuantityBody(Strict):
    quantity: WholeNumber = Field(ge=0, le=MAX_QUANTITY)


class PromoBody(Strict):
    code: str = Field(min_length=1, max_length=32)


class CheckoutBody(Strict):
    email: Annotated[str, StringConstraints(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None = None


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


# Greater than zero, exactly two decimals, at most 8 integer digits; a string, never a float.
PositiveMoney = Annotated[str, StringConstraints(pattern=r"^(0\.(0[1-9]|[1-9]\d)|[1-9]\d{0,7}\.\d{2})$")]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=40)]
MAX_STOCK = 1_000_000
MAX_STOCK_DELTA = 100_000


class ProductUpsertBody(Strict):
    name: str = Field(min_length=1, max_length=120)
    description: str = Field(default="", max_length=2000)
    category: str = Field(min_length=1, max_length=40)
    price: PositiveMoney
    stock: int = Field(ge=0, le=MAX_STOCK)
    tags: list[Tag] = Field(default_factory=list, max_length=10)
    complements: list[ProductId] = Field(default_factory=list, max_length=10)


class StockAdjustBody(Strict):
    delta: int = Field(ge=-MAX_STOCK_DELTA, le=MAX_STOCK_DELTA)

    @field_validator("delta")
    @classmethod
    def not_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("must not be 0")
        return value
