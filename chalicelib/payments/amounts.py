"""Money as Stripe counts it: whole minor units of the currency (EUR 193.30 → 19330)."""

from __future__ import annotations

from decimal import Decimal

# Currencies Stripe counts in thousandths.
THREE_DECIMAL_CURRENCIES = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})
# Currencies Stripe counts in whole units (no minor unit); every other one has 100 minor units.
ZERO_DECIMAL_CURRENCIES = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"}
)


def minor_units(amount: Decimal, currency: str) -> int:
    """The amount in the currency's minor units, as Stripe counts it (EUR 193.30 → 19330)."""
    code = currency.upper()
    scaled = amount if code in ZERO_DECIMAL_CURRENCIES else amount * (1000 if code in THREE_DECIMAL_CURRENCIES else 100)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} {currency} is not a whole number of minor units")
    return int(scaled)
