"""`make bench` section 11's pure parts: the truth held to the route, figure by figure, and the uplift."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bench import upsell_worth
from bench.upsell_worth import Truth


def day(**changes: Any) -> dict[str, Any]:
    figures = upsell_worth._money_as_text(upsell_worth._empty_day())
    return figures | changes


def test_equal_figures_differ_in_nothing_and_a_cent_of_one_source_is_named():
    truth = {"2026-12-06": day(carts_shown=3, revenue_treated="10.00")}
    assert upsell_worth.differences(truth, {"2026-12-06": day(carts_shown=3, revenue_treated="10.00")}) == []
    route = day(carts_shown=3, revenue_treated="10.00")
    route["by_source"] = route["by_source"] | {"llm": route["by_source"]["llm"] | {"upsell_revenue": "0.01"}}
    assert upsell_worth.differences(truth, {"2026-12-06": route}) == [
        "2026-12-06 llm upsell_revenue: truth 0.00, route 0.01"
    ]
    assert upsell_worth.differences(truth, {})[0] == "2026-12-06 carts_shown: truth 3, route None"


def test_the_truth_is_shaped_as_the_route_shapes_a_day_and_summed_over_days():
    truth = Truth()
    truth.add("carts_shown", source="fallback")
    truth.add("upsell_revenue", Decimal("12.5"), source="fallback")
    truth.add("revenue_treated", Decimal("40.10"))
    (shaped,) = truth.shaped().values()
    assert (shaped["carts_shown"], shaped["upsell_revenue"]) == (1, "12.50")
    assert shaped["by_source"]["fallback"] == {"carts_shown": 1, "suggestions_added": 0, "upsell_revenue": "12.50"}
    assert shaped["by_source"]["llm"]["carts_shown"] == 0
    totals = upsell_worth.summed([shaped, shaped])
    assert (totals["carts_shown"], totals["revenue_treated"], totals["orders_holdout"]) == ("2", "80.20", "0")


def test_a_complement_of_the_cart_is_likelier_taken_than_any_ranked_suggestion():
    assert upsell_worth.accept_probability("usb-c-dock", 2, {"laptop-14"}) == upsell_worth.ACCEPT_COMPLEMENT
    ranked = [upsell_worth.accept_probability("gift-card", rank, {"laptop-14"}) for rank in range(4)]
    assert ranked == [0.2, 0.12, 0.06, 0.06]


def test_the_uplift_of_equal_arms_is_zero_inside_an_interval_around_it():
    truth = Truth()
    truth.order_totals = {
        "treated": [Decimal(v) for v in ("10", "20", "30")],
        "holdout": [Decimal(v) for v in ("10", "20", "30")],
    }
    truth.carts = {"treated": 6, "holdout": 6}
    figures = upsell_worth.uplift(truth)
    # sd 10 in each arm: standard error sqrt(100/3 + 100/3) = 8.165, Welch df 4, t(0.975, 4) = 2.776
    assert (figures["aov"]["difference"], figures["aov"]["ci95"]) == (0, [-22.67, 22.67])
    conversion = figures["conversion"]
    assert (conversion["treated"], conversion["holdout"], conversion["difference"]) == (0.5, 0.5, 0)
    assert conversion["ci95"][0] < 0 < conversion["ci95"][1]
