"""What a tenant ships where: the countries it serves and its shipping methods, read from its record.

Kept in the tenant record as plain data (`shipping`: countries and methods) and checked by
`parse` when an operator sets it (tenants CLI, demo data), so a record never holds a method the
storefront cannot show or the pricing cannot price.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from chalicelib.pricing import Shipping

COUNTRY = re.compile(r"^[A-Z]{2}$")  # ISO 3166-1 alpha-2
METHOD_ID = re.compile(r"^[a-z0-9_]{1,32}$")


@dataclass(frozen=True)
class Method:
    id: str
    name: str
    price: Decimal
    free_over: Decimal | None
    days_min: int
    days_max: int
    countries: tuple[str, ...] | None  # None: every country the shop serves

    def serves(self, country: str) -> bool:
        return self.countries is None or country in self.countries

    @property
    def pricing(self) -> Shipping:
        return Shipping(self.price, self.free_over)


@dataclass(frozen=True)
class Plan:
    countries: tuple[str, ...] = ()
    methods: tuple[Method, ...] = ()

    def methods_for(self, country: str | None = None) -> tuple[Method, ...]:
        if country is None:
            return self.methods
        return tuple(m for m in self.methods if country in self.countries and m.serves(country))

    def method(self, method_id: str) -> Method | None:
        return next((m for m in self.methods if m.id == method_id), None)


def _money(value: Any, what: str) -> Decimal:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{what} is not a decimal number: {value!r}") from None
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise ValueError(f"{what} must be a non-negative amount with at most 2 decimals: {value!r}")
    return amount.quantize(Decimal("0.01"))


def parse(data: Mapping[str, Any] | None) -> Plan:
    """A shipping plan from a record or an operator's JSON; ValueError names what is wrong."""
    if not data:
        return Plan()
    countries = tuple(str(c) for c in data.get("countries") or ())
    bad = [c for c in countries if not COUNTRY.match(c)]
    if bad or len(set(countries)) != len(countries):
        raise ValueError(f"countries must be distinct ISO 3166-1 alpha-2 codes: {list(countries)}")
    methods = []
    for raw in data.get("methods") or ():
        method_id = str(raw.get("id", ""))
        if not METHOD_ID.match(method_id):
            raise ValueError(f"a method id is 1-32 of a-z, 0-9, _: {method_id!r}")
        name = str(raw.get("name", "")).strip()
        if not name or len(name) > 64:
            raise ValueError(f"method {method_id}: a name of 1-64 characters")
        days = raw.get("days") or {}
        days_min, days_max = int(days.get("min", 0)), int(days.get("max", 0))
        if not 0 < days_min <= days_max <= 60:
            raise ValueError(f"method {method_id}: days {{min, max}} with 0 < min <= max <= 60")
        served = raw.get("countries")
        method_countries = tuple(str(c) for c in served) if served is not None else None
        if method_countries is not None and not set(method_countries) <= set(countries):
            raise ValueError(f"method {method_id}: countries outside the shop's {list(countries)}")
        free_over = raw.get("free_over")
        methods.append(
            Method(
                id=method_id,
                name=name,
                price=_money(raw.get("price"), f"method {method_id}: price"),
                free_over=None if free_over is None else _money(free_over, f"method {method_id}: free_over"),
                days_min=days_min,
                days_max=days_max,
                countries=method_countries,
            )
        )
    if len({m.id for m in methods}) != len(methods):
        raise ValueError("method ids must be distinct")
    return Plan(countries, tuple(methods))


def as_record(plan: Plan) -> dict[str, Any]:
    """The plan as it is stored in the tenant record (and given to the CLI)."""
    return {
        "countries": list(plan.countries),
        "methods": [
            {
                "id": m.id,
                "name": m.name,
                "price": str(m.price),
                **({"free_over": str(m.free_over)} if m.free_over is not None else {}),
                "days": {"min": m.days_min, "max": m.days_max},
                **({"countries": list(m.countries)} if m.countries is not None else {}),
            }
            for m in plan.methods
        ],
    }
