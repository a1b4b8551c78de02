"""The order page (#order={id}) in the browser: a reload during the payment step and after it, a link
with the order's token opened in a fresh browser, the carrier's tracking link once shipped, and cancel."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect

from support.card_shop import CARDS, intents_of, units
from tests.browser.harness import TIMEOUT_MS, Shop, Storefront
from tests.browser.test_payment import TENANT, PaymentStep, card_tenant, place_card_order

__all__ = ["card_tenant"]  # the card tenant's fixture, used here as in test_payment.py

HOLD = re.compile(r"^Your items are held for you for 1[45]:\d\d\. Pay before then, or they go back on sale\.$")


def place_globex_order(page: Page, shop: Shop, product_id: str) -> tuple[Storefront, str]:
    """An on-delivery order at globex, delivered by ground to the US; returns the page and the order's id."""
    shop_page = Storefront(page, shop)
    shop_page.open("globex")
    shop_page.add(product_id)
    shop_page.fill_delivery("US", "ground")
    shop_page.checkout_button.click()
    expect(shop_page.confirmation.get_by_role("heading", name="Thank you! Your order is confirmed.")).to_be_visible()
    return shop_page, shop_page.order_id_in_address()


def test_a_reload_during_payment_resumes_the_payment_step_and_paying_works(
    page: Page, shop: Shop, card_tenant: str, localstripe_url: str
) -> None:
    stock, reserved, sold = units(TENANT, "sleeping-bag")
    order_id, token = place_card_order(page, shop, "sleeping-bag")  # 79.95, free standard shipping
    shop_page = Storefront(page, shop)
    assert shop_page.order_id_in_address() == order_id
    assert shop_page.stored_order(order_id, TENANT)["token"] == token
    step = PaymentStep(page)
    expect(step.section.get_by_role("timer")).to_have_text(HOLD)
    # The hold is counted from the checkout, on this device's clock; say the shopper comes back when
    # ten minutes are left (the deadline kept beside the token moved five minutes closer).
    page.evaluate(
        """([tenant, id]) => {
            const key = `cartwise:${tenant}:order:${id}`;
            const kept = JSON.parse(localStorage.getItem(key));
            localStorage.setItem(key, JSON.stringify({ ...kept, holdDeadline: Date.now() + 600000 }));
        }""",
        [TENANT, order_id],
    )

    shop_page.reload()

    # The same order's payment step, with the hold's time left; Stripe.js loaded again.
    expect(page.get_by_role("heading", name="Pay for your order")).to_be_focused()
    expect(step.section.locator(".order-id")).to_have_text(order_id)
    expect(step.section.locator("[data-total='total']")).to_have_text("€95.94")  # 79.95 + 15.99 VAT
    expect(step.section.get_by_role("timer")).to_contain_text(re.compile(r"for (10:00|9:[45]\d)\."))
    assert units(TENANT, "sleeping-bag") == (stock - 1, reserved + 1, sold)  # still held, once
    step.pay(CARDS["pays"], "€95.94")

    confirmation = shop_page.confirmation
    expect(confirmation.get_by_role("heading", name="Thank you! Your order is paid.")).to_be_focused()
    expect(confirmation.locator(".timeline li .timeline-event")).to_have_text(["Order placed", "Paid"])
    assert shop.order(TENANT, order_id)["status"] == "paid"
    assert units(TENANT, "sleeping-bag") == (stock - 1, reserved, sold + 1)
    assert [(i.amount, i.status) for i in intents_of(localstripe_url, order_id)] == [(9594, "succeeded")]


def test_a_reload_after_payment_shows_the_paid_order_and_its_timeline(page: Page, shop: Shop, card_tenant: str) -> None:
    order_id, token = place_card_order(page, shop, "rain-jacket")  # 149.00 + 29.80 VAT
    PaymentStep(page).pay(CARDS["pays"], "€178.80")
    shop_page = Storefront(page, shop)
    expect(shop_page.confirmation.get_by_role("heading", name="Thank you! Your order is paid.")).to_be_visible()

    shop_page.reload()

    confirmation = shop_page.confirmation
    expect(confirmation.get_by_role("heading", name="Thank you! Your order is paid.")).to_be_focused()
    expect(confirmation.locator(".order-id")).to_have_text(order_id)
    expect(confirmation.locator(".order-status")).to_have_text("Status: Paid")
    expect(confirmation.locator(".payment-note")).to_have_text("Paid by card: €178.80.")
    events = confirmation.locator(".timeline li")
    expect(events.locator(".timeline-event")).to_have_text(["Order placed", "Paid"])
    api_order = shop.order(TENANT, order_id, token)
    assert [entry["event"] for entry in api_order["timeline"]] == ["created", "paid"]
    for entry, item in zip(api_order["timeline"], events.all(), strict=True):
        expect(item.locator("time")).to_have_attribute("datetime", entry["at"])
    expect(confirmation.get_by_role("button", name="Cancel order")).to_have_count(0)  # paid: not cancellable
    expect(page.locator("#payment")).to_be_hidden()
    assert shop_page.stored_order(order_id, TENANT) == {"token": token, "holdDeadline": None}


def test_a_link_with_the_token_opens_the_order_in_a_fresh_browser_and_the_token_leaves_the_address(
    page: Page, shop: Shop, browser: Browser
) -> None:
    shop_page, order_id = place_globex_order(page, shop, "gift-card")
    token = shop_page.stored_order(order_id, "globex")["token"]

    fresh = browser.new_context(locale="en-GB")  # another browser: nothing in its localStorage
    fresh.set_default_timeout(TIMEOUT_MS)
    try:
        other = Storefront(fresh.new_page(), shop)
        other.open_order("globex", order_id, token)
        expect(other.page).to_have_url(re.compile(rf"#order={order_id}$"))
        assert token not in other.page.url
        assert other.stored_order(order_id, "globex") == {"token": token, "holdDeadline": None}
        confirmation = other.confirmation
        expect(confirmation.get_by_role("heading", name="Thank you! Your order is confirmed.")).to_be_focused()
        # 50.00 + 6.00 ground (under 100.00) + 11.20 VAT.
        expect(confirmation.locator(".payment-note")).to_have_text("You pay $67.20 on delivery.")
        expect(confirmation.locator(".delivery-email")).to_have_text("E-mail: shopper@example.com")
        expect(confirmation.locator(".timeline li .timeline-event")).to_have_text(["Order placed"])
        expect(confirmation.get_by_role("button", name="Cancel order")).to_be_visible()

        # The token is kept: a reload without it in the address still shows the token holder's order.
        other.reload()
        expect(confirmation.locator(".delivery-email")).to_have_text("E-mail: shopper@example.com")

        # Without the token (this browser's storage emptied, the bare address): the public order only.
        other.page.evaluate("localStorage.clear()")
        other.reload()
        expect(confirmation.locator(".order-status")).to_have_text("Status: Confirmed")
        expect(confirmation.locator(".delivery-email")).to_have_count(0)
        expect(confirmation.locator(".timeline")).to_have_count(0)
        expect(confirmation.locator(".order-public-note")).to_be_visible()
        expect(confirmation.get_by_role("button", name="Cancel order")).to_have_count(0)
    finally:
        fresh.close()


def test_the_tracking_link_once_the_order_is_shipped_then_delivered(page: Page, shop: Shop) -> None:
    shop_page, order_id = place_globex_order(page, shop, "monitor-27")
    tracking_url = "https://www.ups.com/track?tracknum=1Z999AA10123456784"
    shop.ship("globex", order_id, "UPS", "1Z999AA10123456784", tracking_url)

    shop_page.reload()
    confirmation = shop_page.confirmation
    expect(confirmation.get_by_role("heading", name="Your order is on its way.")).to_be_focused()
    expect(confirmation.locator(".order-status")).to_have_text("Status: Shipped")
    link = confirmation.get_by_role("link", name="Track your parcel with UPS")
    expect(link).to_have_attribute("href", tracking_url)
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    expect(confirmation.locator(".order-tracking")).to_contain_text("tracking number 1Z999AA10123456784.")
    expect(confirmation.locator(".timeline li .timeline-event")).to_have_text(["Order placed", "Shipped"])
    expect(confirmation.get_by_role("button", name="Cancel order")).to_have_count(0)  # on its way: not cancellable

    shop.deliver("globex", order_id)
    shop_page.reload()
    expect(confirmation.get_by_role("heading", name="Your order has been delivered.")).to_be_focused()
    expect(confirmation.locator(".timeline li .timeline-event")).to_have_text(["Order placed", "Shipped", "Delivered"])
    expect(confirmation.get_by_role("link", name="Track your parcel with UPS")).to_be_visible()


def test_the_shopper_cancels_from_the_order_page(page: Page, shop: Shop) -> None:
    shop_page, order_id = place_globex_order(page, shop, "ergonomic-chair")
    before = shop.stock("globex", "ergonomic-chair")

    # Later, from the order page (a reload: the token comes from localStorage).
    shop_page.reload()
    confirmation = shop_page.confirmation
    with page.expect_request(lambda r: r.url.endswith(f"/orders/{order_id}/cancel")) as sent:
        confirmation.get_by_role("button", name="Cancel order").click()
    expect(confirmation.get_by_role("heading", name="Your order is cancelled.")).to_be_focused()
    expect(confirmation).to_contain_text("Nothing will be delivered or charged.")
    expect(confirmation.locator(".timeline li .timeline-event")).to_have_text(["Order placed", "Cancelled"])
    expect(confirmation.get_by_role("button", name="Cancel order")).to_have_count(0)
    assert sent.value.headers["x-order-token"] == shop_page.stored_order(order_id, "globex")["token"]
    assert shop.order("globex", order_id)["status"] == "cancelled"
    assert shop.stock("globex", "ergonomic-chair") == before + 1

    # "Continue shopping" leaves the order's page for the shop; Back opens it again.
    confirmation.get_by_role("button", name="Continue shopping").click()
    expect(confirmation).to_be_hidden()
    expect(page).not_to_have_url(re.compile("#order="))
    page.go_back()
    expect(confirmation.get_by_role("heading", name="Your order is cancelled.")).to_be_visible()
