from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.pricing import PricedLine, format_money, format_rate, price, round_money

D = Decimal


def line(unit: str, quantity: int, product_id: str = "p") -> PricedLine:
    return PricedLine(product_id, product_id, D(unit), quantity)


def test_contract_example_with_promo():
    totals = price([line("129.00", 2), line("4.45", 3)], vat_rate=D("0.20"), promo_rate=D("0.10"))
    assert totals.subtotal == D("271.35")
    assert totals.discount == D("27.14")  # 27.135 rounds half up
    assert totals.net == D("244.21")
    assert totals.vat == D("48.84")  # 48.842
    assert totals.total == D("293.05")


def test_without_promo_discount_is_zero():
    totals = price([line("19.99", 1)], vat_rate=D("0.20"))
    assert (totals.subtotal, totals.discount, totals.net, totals.vat, totals.total) == (
        D("19.99"),
        D("0.00"),
        D("19.99"),
        D("4.00"),  # 3.998
        D("23.99"),
    )


def test_half_cent_rounds_up_not_to_even():
    # 0.25 * 0.10 = 0.025 -> 0.03 (banker's rounding would give 0.02)
    assert price([line("0.25", 1)], vat_rate=D("0"), promo_rate=D("0.10")).discount == D("0.03")
    # net 2.25 * 0.20 = 0.45 exactly; 2.125 * 0.2 = 0.425 -> 0.43
    assert round_money(D("0.425")) == D("0.43")


def test_empty_cart_is_all_zero():
    totals = price([], vat_rate=D("0.20"), promo_rate=D("0.10"))
    assert totals.total == D("0.00")
    assert totals.subtotal == D("0.00")


def test_line_total_is_unit_price_times_quantity():
    assert line("4.45", 3).line_total == D("13.35")


@pytest.mark.parametrize(("value", "text"), [(D("5"), "5.00"), (D("0.1"), "0.10"), (D("12.345"), "12.35")])
def test_format_money(value, text):
    assert format_money(value) == text


def test_format_rate_keeps_two_decimals():
    assert format_rate(D("0.2")) == "0.20"
    assert format_rate(D("0.075")) == "0.075"


money = st.decimals(min_value=D("0.01"), max_value=D("9999.99"), places=2)
lines = st.lists(st.tuples(money, st.integers(min_value=1, max_value=99)), max_size=50)
rates = st.decimals(min_value=D("0"), max_value=D("1"), places=3)


@given(lines=lines, vat_rate=rates, promo_rate=rates)
def test_totals_add_up_for_any_cart(lines, vat_rate, promo_rate):
    totals = price([PricedLine(str(i), "x", unit, q) for i, (unit, q) in enumerate(lines)], vat_rate, promo_rate)
    assert totals.subtotal == sum((unit * q for unit, q in lines), D("0"))
    assert totals.net == totals.subtotal - totals.discount
    assert totals.total == totals.net + totals.vat
    assert D("0") <= totals.discount <= totals.subtotal
    for amount in (totals.subtotal, totals.discount, totals.net, totals.vat, totals.total):
        assert amount == amount.quantize(D("0.01"))
    # rounding never moves a figure by more than half a cent
    assert abs(totals.discount - totals.subtotal * promo_rate) <= D("0.005")
    assert abs(totals.vat - totals.net * vat_rate) <= D("0.005")
