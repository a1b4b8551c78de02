"""Order totals in the minor units Stripe counts, per currency."""

from decimal import Decimal

import pytest

from chalicelib.payments import minor_units


@pytest.mark.parametrize(
    ("amount", "currency", "units"),
    [
        ("193.30", "EUR", 19330),
        ("0.01", "usd", 1),
        ("1098", "JPY", 1098),  # counted in whole yen
        ("10.000", "KWD", 10000),  # counted in thousandths
        ("10.125", "BHD", 10125),
    ],
)
def test_totals_become_the_currencys_minor_units(amount, currency, units):
    assert minor_units(Decimal(amount), currency) == units


@pytest.mark.parametrize(("amount", "currency"), [("1098.90", "JPY"), ("19.305", "EUR")])
def test_a_total_that_is_not_a_whole_number_of_minor_units_is_refused(amount, currency):
    with pytest.raises(ValueError, match="not a whole number of minor units"):
        minor_units(Decimal(amount), currency)
