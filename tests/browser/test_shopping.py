"""A shopper's journey through the storefront in Chromium, against the real local stack."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from support.card_shop import CARDS
from tests.browser.conftest import ARTIFACTS
from tests.browser.harness import Shop, Storefront
from tests.browser.test_payment import PaymentStep
from tests.conftest import TENT_AND_TWO_HEADLAMPS_SUMMER10

ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")

# acme, SUMMER10: tent-2p 129.00 x 1 + headlamp 24.99 x 2, priced by hand with the contract's rule:
# subtotal 178.98; discount round_half_up(17.898) = 17.90; net 161.08;
# vat round_half_up(32.216) = 32.22; total 193.30.
JOURNEY_TOTALS = {
    "subtotal": "€178.98",
    "discount": "\u2212€17.90",
    "net": "€161.08",
    "vat": "€32.22",
    "total": "€193.30",
}


def test_journey_browse_add_promo_checkout_pay_confirmation_and_stock_drop(page: Page, shop: Shop) -> None:
    shop_page = Storefront(page, shop)
    shop_page.open("acme")
    expect(page.get_by_role("heading", level=1)).to_have_text("Acme Outdoor")

    # Browse: names, prices in the tenant's currency, stock states, category filter.
    expect(page.locator("#product-list > li")).to_have_count(16)
    tent, headlamp = shop_page.product("tent-2p"), shop_page.product("headlamp")
    expect(tent.locator(".product-name")).to_have_text("Ridgeline 2-Person Tent")
    expect(tent.locator(".product-price")).to_have_text("€129.00")
    expect(tent.locator(".stock")).to_have_text("In stock (10)")
    expect(headlamp.locator(".stock")).to_have_text("In stock (30)")
    expect(shop_page.product("sleeping-pad").locator(".stock")).to_have_text("Only 3 left")
    page.get_by_label("Category").select_option("lighting")
    expect(page.locator("#product-list > li")).to_have_count(3)
    expect(page.locator("#product-list .product-category")).to_have_text(["lighting"] * 3)
    page.get_by_label("Category").select_option("")
    expect(page.locator("#product-list > li")).to_have_count(16)

    # Two products, one of them twice (with the stepper), then the promo code.
    shop_page.add("tent-2p")
    shop_page.add("headlamp")
    shop_page.step("headlamp", "+", 2)
    expect(shop_page.line("tent-2p").locator(".line-total")).to_have_text("€129.00")
    expect(shop_page.line("headlamp").locator(".line-total")).to_have_text("€49.98")
    expect(page.locator("#cart-link")).to_have_text("Cart (3)")
    shop_page.apply_promo("summer10")
    expect(page.locator("#promo-applied")).to_contain_text("SUMMER10")
    expect(page.locator("#cart-totals dt")).to_have_text(
        ["Subtotal", "Discount", "Net", "Shipping (no method yet)", "VAT (20%)", "Total"]
    )
    shop_page.expect_totals(**JOURNEY_TOTALS, shipping="€0.00")

    # The delivery: express first (12.90 on top, VAT on net + shipping), then standard, free over 50.00.
    shop_page.fill_address("DE")
    express = shop_page.choose_method("express")
    assert express["totals"]["shipping"] == "12.90"
    # net 161.08 + 12.90 = 173.98; VAT round_half_up(34.796) = 34.80; total 208.78.
    shop_page.expect_totals(**{**JOURNEY_TOTALS, "vat": "€34.80", "total": "€208.78"}, shipping="€12.90")
    expect(page.locator("#cart-totals dt")).to_have_text(
        ["Subtotal", "Discount", "Net", "Shipping", "VAT (20%)", "Total"]
    )
    shop_page.choose_method("standard")
    expect(shop_page.method("standard").locator(".method-price")).to_have_text("Free")
    shop_page.expect_totals(**JOURNEY_TOTALS, shipping="€0.00")

    # The cart id is kept per tenant: a reload shows the same cart, and its delivery in the form.
    cart_id = shop_page.stored_cart_id("acme")
    assert cart_id
    assert ULID.match(cart_id)
    shop_page.reload()
    expect(shop_page.quantity("headlamp")).to_have_text("2")
    shop_page.expect_totals(**JOURNEY_TOTALS, shipping="€0.00")
    expect(page.get_by_label("Full name")).to_have_value("Ada Lovelace")
    expect(page.get_by_label("Country")).to_have_value("DE")
    expect(shop_page.method("standard").get_by_role("radio")).to_be_checked()

    # Check out, with an Idempotency-Key and the total on screen (the delivery is the cart's already).
    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/checkout")) as checkout:
        shop_page.checkout_button.click()
    assert re.fullmatch(r"[0-9a-f-]{36}", checkout.value.headers["idempotency-key"])
    assert checkout.value.post_data_json == {"expected_total": "193.30"}

    # acme takes cards: the payment step with the order's total, paid with a test card.
    step = PaymentStep(page)
    expect(page.get_by_role("heading", name="Pay for your order")).to_be_focused()
    expect(step.section.locator("[data-total='total']")).to_have_text("€193.30")
    step.pay(CARDS["pays"], "€193.30")

    confirmation = shop_page.confirmation
    expect(confirmation.get_by_role("heading", name="Thank you! Your order is paid.")).to_be_focused()
    expect(confirmation.locator(".payment-note")).to_have_text("Paid by card: €193.30.")
    order_id = confirmation.locator(".order-id").inner_text()
    assert ULID.match(order_id)
    assert shop_page.order_id_in_address() == order_id  # the order's page
    expect(confirmation.locator("tbody tr")).to_have_count(2)
    expect(confirmation.locator("tbody tr[data-product-id='headlamp'] td")).to_have_text(["2", "€24.99", "€49.98"])
    expect(confirmation.locator("tbody tr[data-product-id='tent-2p'] td")).to_have_text(["1", "€129.00", "€129.00"])
    shop_page.expect_totals("#confirmation .totals", **JOURNEY_TOTALS)

    # A fresh empty cart, and the stock has dropped on the page and in the API.
    expect(page.locator("#cart-empty")).to_be_visible()
    expect(page.locator("#cart-lines > li")).to_have_count(0)
    expect(shop_page.checkout_button).to_be_disabled()
    assert shop_page.stored_cart_id("acme") is None
    expect(tent.locator(".stock")).to_have_text("In stock (9)")
    expect(headlamp.locator(".stock")).to_have_text("In stock (28)")
    assert (shop.stock("acme", "tent-2p"), shop.stock("acme", "headlamp")) == (9, 28)
    order = shop.http.get(f"/tenants/acme/orders/{order_id}").json()
    assert order["totals"] == TENT_AND_TWO_HEADLAMPS_SUMMER10
    assert (order["status"], order["payment"]["status"]) == ("paid", "succeeded")

    ARTIFACTS.mkdir(exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=ARTIFACTS / "confirmation.png")

    # "Continue shopping" closes the confirmation; the next add starts a new cart.
    confirmation.get_by_role("button", name="Continue shopping").click()
    expect(confirmation).to_be_hidden()
    shop_page.add("spare-batteries")
    assert shop_page.stored_cart_id("acme") not in (None, cart_id)


def test_sold_out_product_cannot_be_added(page: Page, shop: Shop) -> None:
    shop_page = Storefront(page, shop)
    shop_page.open("acme")
    filter_card = shop_page.product("water-filter")
    expect(filter_card.locator(".stock")).to_have_text("Sold out")
    expect(shop_page.add_button("water-filter")).to_be_disabled()
    expect(shop_page.add_button("water-filter")).to_have_text("Sold out")

    shop_page.open("globex")
    expect(shop_page.add_button("mechanical-keyboard")).to_be_disabled()
    expect(page.locator("#cart-empty")).to_be_visible()
    assert shop_page.stored_cart_id("globex") is None


def test_low_stock_caps_the_quantity(page: Page, shop: Shop) -> None:
    shop_page = Storefront(page, shop)
    shop_page.open("acme")
    expect(shop_page.product("sleeping-pad").locator(".stock")).to_have_text("Only 3 left")
    shop_page.add("sleeping-pad")
    shop_page.step("sleeping-pad", "+", 2)
    shop_page.step("sleeping-pad", "+", 3)
    expect(shop_page.line("sleeping-pad").get_by_role("button", name="Increase quantity")).to_be_disabled()
    expect(shop_page.add_button("sleeping-pad")).to_have_text("All in cart")
    expect(shop_page.add_button("sleeping-pad")).to_be_disabled()
    shop_page.step("sleeping-pad", "-", 2)
    shop_page.line("sleeping-pad").get_by_role("button", name="Remove").click()
    expect(shop_page.line("sleeping-pad")).to_have_count(0)
    expect(page.locator("#cart-empty")).to_be_visible()


def test_unknown_promo_code_shows_a_readable_error(page: Page, shop: Shop) -> None:
    shop_page = Storefront(page, shop)
    shop_page.open("acme")
    shop_page.add("wool-socks")
    shop_page.apply_promo("WINTER99")

    message = page.locator("#promo-message")
    expect(message).to_have_text("The promo code \u201cWINTER99\u201d is not valid.")
    expect(page.get_by_label("Promo code")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#promo-applied")).to_be_hidden()
    expect(page.locator("#cart-totals [data-total='discount']")).to_have_text("€0.00")
    expect(page.locator("#cart-totals [data-total='total']")).to_have_text("€14.99")  # 12.49 + 2.50 VAT (2.498)

    # Typing clears the error; a valid code then applies, and can be removed again.
    page.get_by_label("Promo code").fill("TRAIL5")
    expect(message).to_have_text("")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#promo-applied")).to_contain_text("TRAIL5")
    expect(page.locator("#cart-totals [data-total='discount']")).to_have_text("\u2212€0.62")  # 0.6245 -> 0.62
    page.get_by_role("button", name="Remove code").click()
    expect(page.locator("#cart-totals [data-total='discount']")).to_have_text("€0.00")
    expect(page.get_by_label("Promo code")).to_be_focused()


def test_tenant_switcher_changes_shop_currency_and_cart(page: Page, shop: Shop) -> None:
    shop_page = Storefront(page, shop)
    shop_page.open(None)  # no ?tenant= : the first demo shop
    expect(page.get_by_role("heading", level=1)).to_have_text("Acme Outdoor")
    shop_page.add("fuel-canister")

    shops = page.get_by_role("navigation", name="Demo shops")
    expect(shops.get_by_role("link", name="Acme Outdoor")).to_have_attribute("aria-current", "page")
    shops.get_by_role("link", name="Globex Home Office").click()
    page.wait_for_url(re.compile(r"[?&]tenant=globex"))
    shop_page.wait_ready()
    expect(page.get_by_role("heading", level=1)).to_have_text("Globex Home Office")
    expect(shop_page.product("desk-mat").locator(".product-price")).to_have_text("$19.99")
    expect(page.locator("#cart-empty")).to_be_visible()
    shop_page.add("desk-mat")
    expect(page.locator("#cart-totals [data-total='total']")).to_have_text("$23.99")  # 19.99 + 4.00 (3.998)

    expect(shops.get_by_role("link", name="Globex Home Office")).to_have_attribute("aria-current", "page")
    shops.get_by_role("link", name="Acme Outdoor").click()
    page.wait_for_url(re.compile(r"[?&]tenant=acme"))
    shop_page.wait_ready()
    expect(page.locator("#cart-lines > li")).to_have_count(1)
    expect(shop_page.quantity("fuel-canister")).to_have_text("1")


def test_a_lost_cart_is_replaced_silently(page: Page, shop: Shop) -> None:
    shop_page = Storefront(page, shop)
    # A stored cart id the API does not know (say it expired): the page starts empty, without a word.
    shop_page.open("acme")
    page.evaluate("localStorage.setItem('cartwise:acme:cart', '01ARZ3NDEKTSV4RRFFQ69G5FAV')")
    shop_page.reload()
    expect(page.locator("#cart-empty")).to_be_visible()
    expect(shop_page.notice).to_be_hidden()
    assert shop_page.stored_cart_id("acme") is None
    shop_page.add("sun-hat")
    shop_page.step("sun-hat", "+", 2)

    # The cart disappears while the page shows it: the next edit goes to a fresh cart.
    cart_id = shop_page.stored_cart_id("acme")
    shop.aws_client("dynamodb", shop.stack.dynamodb_url).delete_item(
        TableName="cartwise-dev-carts", Key={"tenant_id": {"S": "acme"}, "cart_id": {"S": cart_id}}
    )
    shop_page.step("sun-hat", "+", 1)  # 0 + 1 in the fresh cart, not 2 + 1
    expect(shop_page.notice).to_be_hidden()
    assert shop_page.stored_cart_id("acme") not in (None, cart_id)


def test_api_errors_and_network_failures_are_told_in_words(page: Page, shop: Shop) -> None:
    shop_page = Storefront(page, shop)
    shop_page.open("no-such-shop")
    expect(page.locator("#products-status")).to_have_text("This shop does not exist. Choose one of the shops above.")

    # The API unreachable while loading: said so, with a way to try again.
    page.route(f"{shop.api_url}/**", lambda route: route.abort("connectionrefused"))
    shop_page.open("acme")
    status = page.locator("#products-status")
    expect(status).to_contain_text("Could not reach the shop. Check your internet connection and try again.")
    page.unroute(f"{shop.api_url}/**")
    status.get_by_role("button", name="Try again").click()
    expect(page.locator("#product-list > li")).to_have_count(16)

    # An edit that cannot reach the API.
    page.route(f"{shop.api_url}/**", lambda route: route.abort("internetdisconnected"))
    shop_page.add_button("cook-set").click()
    expect(shop_page.notice).to_have_text("Could not reach the shop. Check your internet connection and try again.")
    page.unroute(f"{shop.api_url}/**")

    # A server error with an unexpected body is still a sentence, never the raw answer.
    page.route(
        f"{shop.api_url}/**/items/**",
        lambda route: route.fulfill(status=502, content_type="text/html", body="<h1>Bad gateway</h1>"),
    )
    shop_page.add_button("cook-set").click()
    expect(shop_page.notice).to_have_text("Something went wrong on the shop's side. Please try again.")
    for text in (shop_page.notice.inner_text(), page.locator("#products-status").inner_text()):
        assert "{" not in text
        assert "<" not in text


def test_text_from_the_api_is_never_parsed_as_html(page: Page, shop: Shop) -> None:
    hostile = '<img src=x onerror="document.body.dataset.pwned=1">Evil <b>lamp</b> & co'
    shop.aws_client("dynamodb", shop.stack.dynamodb_url).put_item(
        TableName="cartwise-dev-products",
        Item={
            "tenant_id": {"S": "globex"},
            "product_id": {"S": "zz-hostile"},
            "name": {"S": hostile},
            "description": {"S": "<script>document.body.dataset.pwned = 1</script>"},
            "category": {"S": "<i>desk</i>"},
            "price": {"N": "1.00"},
            "stock": {"N": "5"},
            "reserved": {"N": "0"},
            "tags": {"L": []},
            "complements": {"L": []},
        },
    )
    shop_page = Storefront(page, shop)
    shop_page.open("globex")
    card = shop_page.product("zz-hostile")
    expect(card.locator(".product-name")).to_have_text(hostile)
    expect(card.locator(".product-description")).to_have_text("<script>document.body.dataset.pwned = 1</script>")
    shop_page.add("zz-hostile")
    expect(shop_page.line("zz-hostile").locator(".line-name")).to_have_text(hostile)
    expect(page.locator("#category-select option[value='<i>desk</i>']")).to_have_text("<i>desk</i>")
    assert page.locator("img, script:not([src]), b, i").count() == 0
    assert page.evaluate("document.body.dataset.pwned") is None


def test_phone_width_keyboard_and_labels(phone: Page, shop: Shop) -> None:
    shop_page = Storefront(phone, shop)
    shop_page.open("acme")

    # The header's cart link takes a phone user from the product list down to the cart.
    shop_page.add("camp-chair")
    phone.get_by_role("link", name="Cart (1)").click()
    expect(phone.get_by_role("heading", name="Your cart")).to_be_in_viewport()
    shop_page.line("camp-chair").get_by_role("button", name="Remove").click()
    expect(phone.locator("#cart-empty")).to_be_visible()

    # Keyboard only: add with Enter, step up twice with the focus kept on "+" across re-renders.
    shop_page.add_button("camp-chair").focus()
    phone.keyboard.press("Enter")
    expect(shop_page.quantity("camp-chair")).to_have_text("1")
    plus = shop_page.line("camp-chair").get_by_role("button", name="Increase quantity")
    plus.focus()
    phone.keyboard.press("Enter")
    expect(shop_page.quantity("camp-chair")).to_have_text("2")
    expect(plus).to_be_focused()
    phone.keyboard.press("Space")
    expect(shop_page.quantity("camp-chair")).to_have_text("3")
    phone.get_by_label("Promo code").focus()
    phone.keyboard.type("SUMMER10")
    phone.keyboard.press("Enter")
    expect(phone.locator("#promo-applied")).to_contain_text("SUMMER10")

    # Nothing is wider than the phone, and every control has a label.
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    unlabeled = phone.evaluate(
        """[...document.querySelectorAll('input, select')]
            .filter((c) => c.labels.length === 0 && !c.getAttribute('aria-label')).map((c) => c.id)"""
    )
    assert unlabeled == []
    ARTIFACTS.mkdir(exist_ok=True)
    shop_page.cart.screenshot(path=ARTIFACTS / "phone-cart.png")
