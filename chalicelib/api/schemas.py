"""Request shapes; unknown fields and wrong types are rejected, never coerced."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from chalicelib.carts import MAX_LINES, MAX_QUANTITY

ProductId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]


class Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class CartItemIn(Strict):
    product_id: ProductId
    quantity: int = Field(ge=1, le=MAX_QUANTITY)


class CreateCartBody(Strict):
    items: list[CartItemIn] = Field(default_factory=list, max_length=MAX_LINES)


class SetQuantityBody(Strict):
    quantity: int = Field(ge=0, le=MAX_QUANTITY)


class PromoBody(Strict):
    code: str = Field(min_length=1, max_length=32)


class CheckoutBody(Strict):
    email: Annotated[str, StringConstraints(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None = None


class ProductListQuery(BaseModel):
    # Query strings are text, so numbers are parsed from it (lax), but unknown keys are refused.
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=512)
    category: str | None = Field(default=None, min_length=1, max_length=40)
