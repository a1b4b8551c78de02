"""Shipping in the pricing rule, computed by hand: free exactly at free_over, judged after the promo,
VAT on net + shipping rounded half-up."""

from __future__ import annotations

from decimal import Decimal as D

from chalicelib.pricing import PricedLine, Shipping, price

STANDARD = Shipping(D("4.90"), D("50.00"))


def totals(lines, promo=D("0"), shipping=STANDARD):
    return price(lines, D("0.20"), promo, shipping).as_strings()


def test_no_method_ships_for_nothing_and_changes_nothing():
    assert price([PricedLine("a", "A", D("10.00"), 1)], D("0.20")).as_strings() == {
        "subtotal": "10.00",
        "discount": "0.00",
        "net": "10.00",
        "shipping": "0.00",
        "vat_rate": "0.20",
        "vat": "2.00",
        "total": "12.00",
    }


def test_free_exactly_at_free_over_and_charged_a_cent_below():
    at = totals([PricedLine("a", "A", D("25.00"), 2)])
    below = totals([PricedLine("a", "A", D("49.99"), 1)])
    assert (at["net"], at["shipping"], at["vat"], at["total"]) == ("50.00", "0.00", "10.00", "60.00")
    # (49.99 + 4.90) x 0.20 = 10.978 -> 10.98; 49.99 + 4.90 + 10.98 = 65.87
    assert (below["net"], below["shipping"], below["vat"], below["total"]) == ("49.99", "4.90", "10.98", "65.87")


def test_the_threshold_is_judged_after_the_promo():
    # 55.00 - 10 % = 49.50 net: under 50.00, so shipping is charged although the subtotal is over it.
    after = totals([PricedLine("a", "A", D("55.00"), 1)], promo=D("0.10"))
    # VAT (49.50 + 4.90) x 0.20 = 10.88; total 49.50 + 4.90 + 10.88 = 65.28
    assert after == {
        "subtotal": "55.00",
        "discount": "5.50",
        "net": "49.50",
        "shipping": "4.90",
        "vat_rate": "0.20",
        "vat": "10.88",
        "total": "65.28",
    }


def test_vat_on_net_plus_shipping_rounds_half_up():
    # (0.03 + 12.90) x 0.20 = 2.586 -> 2.59 ; with a method that is never free
    express = Shipping(D("12.90"))
    result = price([PricedLine("a", "A", D("0.03"), 1)], D("0.20"), D("0"), express).as_strings()
    assert (result["shipping"], result["vat"], result["total"]) == ("12.90", "2.59", "15.52")
    # (0.05 + 0.00) x 0.30 = 0.015 -> 0.02, exactly half a cent rounds up
    half = price([PricedLine("a", "A", D("0.05"), 1)], D("0.30"), D("0"), Shipping(D("0.00"))).as_strings()
    assert (half["vat"], half["total"]) == ("0.02", "0.07")
