"""Checkout in the browser: idempotent retries, out-of-stock and changed-price answers, the up-sell display."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, Request, Route, expect

from support.card_shop import CARDS
from tests.browser.harness import Shop, Storefront
from tests.browser.test_payment import PaymentStep

RETRY_HINT = "Press \u201cPlace order\u201d again: it will not be ordered twice."


def place_order_losing_the_answer(page: Page, shop: Shop) -> tuple[dict, Request]:
    """Press "Place order": the checkout reaches the API and is placed, but its answer never reaches the page.

    Returns the API's answer and the request the page sent.
    """
    answers: list[dict] = []
    sent: list[Request] = []

    def lose_the_answer(route: Route) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        sent.append(route.request)
        response = route.fetch()
        answers.append({"status": response.status, **response.json()})
        route.abort("connectionreset")

    page.route(f"{shop.api_url}/**/checkout", lose_the_answer)
    shop_page = Storefront(page, shop)
    shop_page.checkout_button.click()
    expect(shop_page.checkout_message).to_contain_text(RETRY_HINT)
    page.unroute(f"{shop.api_url}/**/checkout")
    assert [answer["status"] for answer in answers] == [201]  # the API did place it
    return answers[0], sent[0]


def checkout_posts(page: Page) -> list[Request]:
    posts: list[Request] = []
    page.on("request", lambda r: posts.append(r) if r.method == "POST" and r.url.endswith("/checkout") else None)
    return posts


def test_retry_after_a_lost_answer_reuses_the_key_and_orders_once(page: Page, shop: Shop) -> None:
    shop_page = Storefront(page, shop)
    shop_page.open("globex")
    shop_page.add("usb-c-dock")
    shop_page.step("usb-c-dock", "+", 2)
    shop_page.fill_delivery("US", "ground")  # free over 100.00
    before = shop.stock("globex", "usb-c-dock")

    placed, lost = place_order_losing_the_answer(page, shop)
    expect(shop_page.checkout_message).to_contain_text("Could not reach the shop.")
    expect(shop_page.checkout_button).to_be_enabled()
    expect(shop_page.checkout_button).to_have_text("Place order")

    # The shopper tries again, impatiently: one request, the same key and body, answered 200 with the same order.
    posts = checkout_posts(page)
    shop_page.checkout_button.dblclick()
    expect(shop_page.confirmation).to_be_visible()
    expect(shop_page.confirmation.locator(".order-id")).to_have_text(placed["order"]["order_id"])
    assert len(posts) == 1
    assert posts[0].headers["idempotency-key"] == lost.headers["idempotency-key"]
    assert posts[0].post_data_json == lost.post_data_json == {"expected_total": "455.98"}  # 2 x 189.99 + 20%
    assert posts[0].response().status == 200
    assert shop.stock("globex", "usb-c-dock") == before - 2


def test_a_throttled_retry_after_a_lost_answer_keeps_the_key(page: Page, shop: Shop) -> None:
    """API Gateway's 429 says nothing about the unanswered send: the next press still finds that order."""
    shop_page = Storefront(page, shop)
    shop_page.open("globex")
    shop_page.add("usb-c-dock")
    shop_page.fill_delivery("US", "ground")
    before = shop.stock("globex", "usb-c-dock")
    placed, lost = place_order_losing_the_answer(page, shop)

    throttled: list[Request] = []

    def throttle(route: Route) -> None:
        throttled.append(route.request)
        body = '{"error": {"code": "RATE_LIMITED", "message": "Too many requests.", "details": {}}}'
        route.fulfill(status=429, body=body, headers={"Content-Type": "application/json"})

    page.route(f"{shop.api_url}/**/checkout", throttle)
    shop_page.checkout_button.click()
    expect(shop_page.checkout_button).to_be_enabled()
    page.unroute(f"{shop.api_url}/**/checkout")
    assert [r.headers["idempotency-key"] for r in throttled] == [lost.headers["idempotency-key"]]

    posts = checkout_posts(page)
    shop_page.checkout_button.click()
    expect(shop_page.confirmation.locator(".order-id")).to_have_text(placed["order"]["order_id"])
    assert [r.headers["idempotency-key"] for r in posts] == [lost.headers["idempotency-key"]]
    assert posts[0].response().status == 200
    assert shop.stock("globex", "usb-c-dock") == before - 1


def test_a_reload_after_a_lost_answer_shows_the_order_placed(page: Page, shop: Shop) -> None:
    shop_page = Storefront(page, shop)
    shop_page.open("globex")
    shop_page.add("webcam-hd")
    shop_page.fill_delivery("US", "ground")
    before = shop.stock("globex", "webcam-hd")

    placed, lost = place_order_losing_the_answer(page, shop)

    # The reload replays the checkout with the same key and body: the API answers with the order it placed.
    posts = checkout_posts(page)
    shop_page.reload()
    expect(shop_page.confirmation.locator(".order-id")).to_have_text(placed["order"]["order_id"])
    assert [(p.headers["idempotency-key"], p.post_data_json) for p in posts] == [
        (lost.headers["idempotency-key"], {"expected_total": "84.54"})  # 64.45 + 6.00 ground + 14.09 VAT
    ]
    assert posts[0].response().status == 200
    expect(page.locator("#cart-empty")).to_be_visible()
    assert shop.stock("globex", "webcam-hd") == before - 1


def test_an_edit_after_a_lost_answer_shows_the_order_placed_instead_of_a_new_cart(page: Page, shop: Shop) -> None:
    shop_page = Storefront(page, shop)
    shop_page.open("globex")
    shop_page.add("usb-microphone")
    shop_page.fill_delivery("US", "ground")
    cart_id = shop_page.stored_cart_id("globex")
    before = shop.stock("globex", "usb-microphone")

    placed, lost = place_order_losing_the_answer(page, shop)

    # The shopper presses "+" instead of "Place order": the cart is closed by the page's own order,
    # so the page finishes that checkout (same key and body) rather than starting a second cart.
    posts = checkout_posts(page)
    shop_page.line("usb-microphone").get_by_role("button", name="Increase quantity").click()
    expect(shop_page.confirmation.locator(".order-id")).to_have_text(placed["order"]["order_id"])
    assert [(p.headers["idempotency-key"], p.post_data_json) for p in posts] == [
        # 99.99 + 6.00 ground (under 100.00) + 21.20 VAT (21.198)
        (lost.headers["idempotency-key"], {"expected_total": "127.19"})
    ]
    expect(page.locator("#cart-empty")).to_be_visible()
    expect(shop_page.notice).to_be_hidden()
    assert shop_page.stored_cart_id("globex") is None
    assert shop.http.get(f"/tenants/globex/carts/{cart_id}").json()["status"] == "checked_out"
    assert shop.stock("globex", "usb-microphone") == before - 1


def test_the_shopper_cancels_the_order_from_its_confirmation(page: Page, shop: Shop) -> None:
    shop_page = Storefront(page, shop)
    shop_page.open("globex")
    shop_page.add("usb-c-dock")
    shop_page.fill_delivery("US", "ground")
    before = shop.stock("globex", "usb-c-dock")
    shop_page.checkout_button.click()
    expect(shop_page.confirmation.locator("h2")).to_have_text("Thank you! Your order is confirmed.")
    assert shop.stock("globex", "usb-c-dock") == before - 1
    order_id = shop_page.confirmation.locator(".order-id").inner_text()

    with page.expect_request(lambda r: r.url.endswith(f"/orders/{order_id}/cancel")) as sent:
        shop_page.confirmation.get_by_role("button", name="Cancel order").click()
    expect(shop_page.confirmation.locator("h2")).to_have_text("Your order is cancelled.")
    expect(shop_page.confirmation).to_contain_text("Nothing will be delivered or charged.")
    expect(shop_page.confirmation.get_by_role("button", name="Cancel order")).to_have_count(0)
    expect(shop_page.confirmation).not_to_contain_text("null")  # no promo, no suggestions: nothing shown
    assert sent.value.headers["x-order-token"]  # the token from the checkout's answer, nothing else
    assert sent.value.response().status == 200
    assert shop.stock("globex", "usb-c-dock") == before


def test_busy_state_while_the_order_is_placed(page: Page, shop: Shop) -> None:
    shop_page = Storefront(page, shop)
    shop_page.open("globex")
    shop_page.add("wireless-mouse")
    shop_page.fill_delivery("US", "ground")

    seen_while_in_flight: list[dict] = []

    def look_at_the_button(route: Route) -> None:
        button = shop_page.checkout_button
        seen_while_in_flight.append(
            {
                "text": button.inner_text(),
                "disabled": button.is_disabled(),
                "aria-busy": button.get_attribute("aria-busy"),
            }
        )
        route.continue_()

    page.route(f"{shop.api_url}/**/checkout", look_at_the_button)
    shop_page.checkout_button.click()
    expect(shop_page.confirmation).to_be_visible()
    assert seen_while_in_flight == [{"text": "Placing order\u2026", "disabled": True, "aria-busy": "true"}]
    expect(shop_page.checkout_button).to_have_text("Place order")
    expect(shop_page.checkout_button).to_have_attribute("aria-busy", "false")


def test_out_of_stock_names_the_short_items_and_lets_the_shopper_fix_them(page: Page, shop: Shop) -> None:
    shop_page = Storefront(page, shop)
    shop_page.open("globex")
    shop_page.add("headphones-anc")
    shop_page.step("headphones-anc", "+", 2)
    shop_page.step("headphones-anc", "+", 3)
    shop_page.add("cable-organizer")
    shop_page.fill_delivery("US", "ground")

    shop.buy("globex", "headphones-anc", 2)  # another shopper takes two of the three
    shop_page.checkout_button.click()

    message = shop_page.checkout_message
    expect(message.locator("li")).to_have_count(1)
    expect(message.locator("li[data-product-id='headphones-anc']")).to_contain_text(
        "Noise Cancelling Headphones: you asked for 3, only 1 left."
    )
    expect(message).to_be_focused()
    expect(shop_page.line("headphones-anc").locator(".line-warning")).to_have_text("Only 1 left")
    expect(shop_page.product("headphones-anc").locator(".stock")).to_have_text("Only 1 left")
    expect(shop_page.confirmation).to_be_hidden()

    message.get_by_role("button", name="Change to 1").click()
    expect(shop_page.quantity("headphones-anc")).to_have_text("1")
    expect(message).to_be_hidden()
    shop_page.checkout_button.click()
    confirmation = shop_page.confirmation
    expect(confirmation.locator("tbody tr[data-product-id='headphones-anc'] td").first).to_have_text("1")
    expect(confirmation.locator("tbody tr")).to_have_count(2)
    expect(shop_page.add_button("headphones-anc")).to_have_text("Sold out")


def test_a_changed_price_is_shown_and_the_order_is_placed_at_the_new_total(page: Page, shop: Shop) -> None:
    shop_page = Storefront(page, shop)
    shop_page.open("globex")
    shop_page.add("monitor-arm")
    shop_page.step("monitor-arm", "+", 2)
    shop_page.fill_delivery("US", "ground")
    # 2 x 119.00 = 238.00; ground free over 100.00; VAT 20% 47.60; total 285.60.
    shop_page.expect_totals(
        subtotal="$238.00", discount="$0.00", net="$238.00", shipping="$0.00", vat="$47.60", total="$285.60"
    )
    cart_id = shop_page.stored_cart_id("globex")
    before = shop.stock("globex", "monitor-arm")

    # The operator raises the price while the shopper looks at the cart.
    shop.set_price("globex", "monitor-arm", "124.99")
    try:
        posts = checkout_posts(page)
        shop_page.checkout_button.click()
        message = shop_page.checkout_message
        expect(message).to_have_text(
            "The total changed from $285.60 to $299.98 since your cart was shown. Nothing was ordered: check your "
            "cart and press \u201cPlace order\u201d again to order at the new total."
        )
        expect(message).to_be_focused()
        refused = posts[0].response()
        assert refused.status == 409
        assert refused.json()["error"]["code"] == "PRICE_CHANGED"
        assert posts[0].post_data_json == {"expected_total": "285.60"}
        # 2 x 124.99 = 249.98; VAT 49.996 -> 50.00; total 299.98: the cart, its line and the catalogue say so.
        shop_page.expect_totals(subtotal="$249.98", discount="$0.00", net="$249.98", vat="$50.00", total="$299.98")
        expect(shop_page.line("monitor-arm").locator(".line-unit")).to_have_text("$124.99 each")
        expect(shop_page.product("monitor-arm").locator(".product-price")).to_have_text("$124.99")
        expect(shop_page.confirmation).to_be_hidden()
        assert shop.stock("globex", "monitor-arm") == before  # nothing was ordered
        assert shop.http.get(f"/tenants/globex/carts/{cart_id}").json()["status"] == "open"

        # Placed again, at the total now on screen, with a new key (the refused attempt wrote nothing).
        shop_page.checkout_button.click()
        expect(shop_page.confirmation).to_be_visible()
        assert len(posts) == 2
        assert posts[1].post_data_json == {"expected_total": "299.98"}
        assert posts[1].headers["idempotency-key"] != posts[0].headers["idempotency-key"]
        assert posts[1].response().status == 201
        expect(message).to_be_hidden()
        shop_page.expect_totals(
            "#confirmation .totals", subtotal="$249.98", discount="$0.00", net="$249.98", vat="$50.00", total="$299.98"
        )
        order_id = shop_page.confirmation.locator(".order-id").inner_text()
        order = shop.http.get(f"/tenants/globex/orders/{order_id}").json()
        assert order["totals"]["total"] == "299.98"
        assert [(line["unit_price"], line["quantity"]) for line in order["items"]] == [("124.99", 2)]
        assert shop.stock("globex", "monitor-arm") == before - 2
    finally:
        shop.set_price("globex", "monitor-arm", "119.00")


def test_upsell_is_hidden_when_the_flag_is_off(page: Page, shop: Shop, upsell_flag: Callable[[bool], None]) -> None:
    upsell_flag(False)
    shop_page = Storefront(page, shop)
    shop_page.open("acme")
    with page.expect_response(lambda r: r.url.endswith("/upsell")) as answer:
        shop_page.add("rain-jacket")
    assert answer.value.json() == {"enabled": False, "source": "disabled", "suggestions": []}
    shop_page.fill_delivery("DE", "standard")  # free over 50.00
    expect(shop_page.cart_upsell).to_have_attribute("data-status", "off")
    expect(shop_page.cart_upsell).to_be_hidden()

    with page.expect_response(lambda r: r.url.endswith("/checkout")) as checkout:
        shop_page.checkout_button.click()
    assert checkout.value.json()["upsell"]["enabled"] is False
    PaymentStep(page).pay(CARDS["pays"], "€178.80")  # acme takes cards: 149.00 + 20 % VAT
    expect(shop_page.confirmation.get_by_role("heading", name="Thank you! Your order is paid.")).to_be_visible()
    expect(shop_page.confirmation.locator(".upsell")).to_have_count(0)
    expect(page.get_by_text("You might also like")).to_be_hidden()


def test_upsell_suggestions_with_reasons_when_the_flag_is_on(
    page: Page, shop: Shop, upsell_flag: Callable[[bool], None]
) -> None:
    upsell_flag(True)
    shop_page = Storefront(page, shop)
    shop_page.open("acme")
    with page.expect_response(lambda r: r.url.endswith("/upsell")) as answer:
        shop_page.add("camp-stove")
    suggested = answer.value.json()["suggestions"]
    assert 1 <= len(suggested) <= 3

    # In the cart before checkout: each suggestion with its name, price and reason, and an "Add" button.
    upsell = shop_page.cart_upsell
    expect(upsell).to_have_attribute("data-status", "shown")
    expect(upsell.get_by_role("heading", name="You might also like")).to_be_visible()
    cards = upsell.locator("li.suggestion")
    expect(cards).to_have_count(len(suggested))
    for card, suggestion in zip(cards.all(), suggested, strict=True):
        assert suggestion["product_id"] != "camp-stove"
        assert suggestion["reason"].strip()
        expect(card.locator(".suggestion-name")).to_have_text(suggestion["name"])
        expect(card.locator(".suggestion-reason")).to_have_text(suggestion["reason"])
        expect(card.get_by_role("button", name="Add")).to_be_enabled()
    first = suggested[0]["product_id"]
    cards.first.get_by_role("button", name="Add").click()
    expect(shop_page.quantity(first)).to_have_text("1")
    shop_page.line(first).get_by_role("button", name="Remove").click()
    expect(shop_page.line(first)).to_have_count(0)
    shop_page.fill_delivery("DE", "standard")  # free over 50.00

    # On the confirmation (acme takes cards: once paid), the checkout answer's suggestions; "Add" puts
    # one in the fresh cart.
    with page.expect_response(lambda r: r.url.endswith("/checkout")) as checkout:
        shop_page.checkout_button.click()
    after = checkout.value.json()["upsell"]
    assert after["enabled"] is True
    assert after["suggestions"]
    PaymentStep(page).pay(CARDS["pays"], "€71.88")  # 59.90 + 20 % VAT
    expect(shop_page.confirmation.get_by_role("heading", name="Thank you! Your order is paid.")).to_be_visible()
    confirmation_cards = shop_page.confirmation.locator(".upsell li.suggestion")
    expect(confirmation_cards).to_have_count(len(after["suggestions"]))
    expect(confirmation_cards.first.locator(".suggestion-reason")).to_have_text(after["suggestions"][0]["reason"])
    confirmation_cards.first.get_by_role("button", name="Add").click()
    expect(shop_page.quantity(after["suggestions"][0]["product_id"])).to_have_text("1")
    expect(page.locator("#cart-lines > li")).to_have_count(1)
