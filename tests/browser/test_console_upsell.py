"""The console's up-sell screen in Chromium: the settings it shows and saves, the next cart's up-sell answer
following them, and the last 30 days drawn.

It needs the up-sell routes (admin GET/PUT …/upsell/settings and GET …/upsell/stats), which come with the
up-sell branch: until that is merged this test fails (the console cannot read the settings), it is not
skipped.
"""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.admin import admin
from tests.browser.console_page import KEY, TENANT, Console, console_shop
from tests.browser.harness import Shop

__all__ = ["console_shop"]


def next_cart_upsell(shop: Shop) -> dict:
    """A new cart's up-sell answer at the console's tenant (a tent in it)."""
    cart = shop.http.post(f"/tenants/{TENANT}/carts", json={"items": [{"product_id": "tent-2p", "quantity": 1}]})
    assert cart.status_code == 201, cart.text
    answer = shop.http.get(f"/tenants/{TENANT}/carts/{cart.json()['cart_id']}/upsell")
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_upsell_switch_decides_the_next_carts_answer_and_the_last_30_days_are_drawn(
    page: Page, shop: Shop, console_shop: str, upsell_flag
) -> None:
    upsell_flag(True)  # the global flag on: "follow the global flag" means on
    console = Console(page, shop)
    console.open("#upsell")
    console.sign_in()
    form = page.locator("#upsell-form")
    expect(page.get_by_role("heading", name="Up-sell")).to_be_visible()

    form.get_by_label("Off").check()
    form.get_by_label("Carts held out").fill("0")
    form.get_by_role("button", name="Save").click()
    expect(page.locator("#upsell-message")).to_have_text("Saved: up-sell off, 0% of carts held out.")
    settings = shop.http.get(f"/tenants/{TENANT}/upsell/settings", headers=admin(KEY)).json()
    assert settings == {"enabled": False, "holdout_percent": 0}
    off = next_cart_upsell(shop)
    assert (off["enabled"], off["suggestions"]) == (False, [])

    form.get_by_label("Follow the global flag").check()
    form.get_by_role("button", name="Save").click()
    expect(page.locator("#upsell-message")).to_have_text(
        "Saved: up-sell following the global flag, 0% of carts held out."
    )
    on = next_cart_upsell(shop)
    assert on["enabled"] is True
    assert on["source"] in ("llm", "fallback")
    assert len(on["suggestions"]) >= 1

    form.get_by_label("Carts held out").fill("51")
    form.get_by_role("button", name="Save").click()
    expect(page.locator("#upsell-message")).to_have_text("The holdout share is a whole percentage from 0 to 50.")

    page.reload()  # what the API holds, shown again
    expect(form.get_by_label("Follow the global flag")).to_be_checked()
    expect(form.get_by_label("Carts held out")).to_have_value("0")
    charts = page.locator("#upsell-charts figure")
    expect(charts.locator("figcaption")).to_have_text(
        [
            "Carts shown suggestions, and suggestions added",
            "Up-sell revenue",
            "Average order value, treated and held-out carts",
        ]
    )
    stats = shop.http.get(f"/tenants/{TENANT}/upsell/stats", params={"days": "30"}, headers=admin(KEY)).json()
    expect(charts.first.locator("rect.series-shown")).to_have_count(len(stats["days"]))
    expect(page.locator("#upsell-totals tbody tr").first.locator("td")).to_have_text(
        [str(stats["totals"]["carts_shown"]), str(stats["totals"]["carts_holdout"])]
    )
