"""The delivery step in the browser: the shop's countries and methods, the API's totals as the shopper
chooses, its refusals beside their fields, then the order paid by card (acme) or on delivery (globex)."""

from __future__ import annotations

import json

from playwright.sync_api import Page, Route, expect

from support.card_shop import CARDS, intents_of
from tests.browser.conftest import ARTIFACTS
from tests.browser.harness import ADDRESSES, EMAIL, Shop, Storefront
from tests.browser.test_payment import PaymentStep

ACME_COUNTRIES = ["Austria", "Belgium", "France", "Germany", "Italy", "Netherlands", "Spain"]


def test_delivery_then_card_payment_at_acme(page: Page, shop: Shop, localstripe_url: str) -> None:
    shop_page = Storefront(page, shop)
    shop_page.open("acme")
    shop_page.add("gift-card")  # 25.00: under standard's free-over 50.00
    form = shop_page.delivery
    expect(form.get_by_label("Country").locator("option")).to_have_text(ACME_COUNTRIES)

    # An address the API refuses: its message beside the field it names, nothing priced.
    shop_page.fill_address("DE", email="not-an-address")
    expect(shop_page.method("standard")).to_contain_text("Standard€4.902\u20134 days \u00b7 free over €50.00")
    expect(shop_page.method("express")).to_contain_text("Express€12.901\u20132 days")
    refused = shop_page.choose_method("standard", expect_status=400)
    assert refused["error"]["code"] == "BAD_REQUEST"
    assert [f["field"] for f in refused["error"]["details"]["fields"]] == ["email"]
    expect(page.locator("#delivery-email-error")).to_have_text(refused["error"]["details"]["fields"][0]["message"])
    expect(form.get_by_label("E-mail")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#cart-totals [data-total='shipping']")).to_have_text("€0.00")
    form.get_by_label("E-mail").fill(EMAIL)
    expect(page.locator("#delivery-email-error")).to_have_text("")

    # Express, then standard: each choice is PUT, and the totals are the API's.
    shop_page.choose_method("express")
    # 25.00 + 12.90 = 37.90; VAT 7.58; total 45.48.
    shop_page.expect_totals(
        subtotal="€25.00", discount="€0.00", net="€25.00", shipping="€12.90", vat="€7.58", total="€45.48"
    )
    shop_page.choose_method("standard")
    # 25.00 + 4.90 = 29.90; VAT 5.98; total 35.88.
    shop_page.expect_totals(
        subtotal="€25.00", discount="€0.00", net="€25.00", shipping="€4.90", vat="€5.98", total="€35.88"
    )
    expect(shop_page.method("standard").locator(".method-price")).to_have_text("€4.90")

    # A second item takes the cart over 50.00: the API re-prices the kept delivery, and standard is free.
    shop_page.add("fleece-pullover")  # 54.99
    shop_page.expect_totals(
        subtotal="€79.99", discount="€0.00", net="€79.99", shipping="€0.00", vat="€16.00", total="€95.99"
    )
    expect(shop_page.method("standard").locator(".method-price")).to_have_text("Free")
    ARTIFACTS.mkdir(exist_ok=True)
    shop_page.cart.screenshot(path=ARTIFACTS / "delivery-step.png")

    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/checkout")) as checkout:
        shop_page.checkout_button.click()
    assert checkout.value.post_data_json == {"expected_total": "95.99"}
    step = PaymentStep(page)
    expect(page.get_by_role("heading", name="Pay for your order")).to_be_focused()
    order_id = shop_page.order_id_in_address()  # the order's page, from the moment the order exists
    expect(step.section.locator("[data-total='shipping']")).to_have_text("€0.00")
    step.pay(CARDS["pays"], "€95.99")

    confirmation = shop_page.confirmation
    expect(confirmation.get_by_role("heading", name="Thank you! Your order is paid.")).to_be_focused()
    expect(confirmation.locator(".order-status")).to_have_text("Status: Paid")
    expect(confirmation.locator(".timeline li")).to_have_count(2)
    expect(confirmation.locator(".timeline li .timeline-event")).to_have_text(["Order placed", "Paid"])
    expect(confirmation.locator(".delivery-address .address-line")).to_have_text(
        [ADDRESSES["DE"]["name"], ADDRESSES["DE"]["line1"], "10117 Berlin", "Germany"]
    )
    expect(confirmation.locator(".delivery-email")).to_have_text(f"E-mail: {EMAIL}")
    stored = shop_page.stored_order(order_id, "acme")
    assert stored is not None
    order = shop.order("acme", order_id, stored["token"])
    assert (order["status"], order["email"], order["totals"]["shipping"], order["totals"]["total"]) == (
        "paid",
        EMAIL,
        "0.00",
        "95.99",
    )
    assert order["delivery"]["address"]["country"] == "DE"
    assert order["delivery"]["method"]["id"] == "standard"
    assert [(i.amount, i.status) for i in intents_of(localstripe_url, order_id)] == [(9599, "succeeded")]


def test_delivery_then_payment_on_delivery_at_globex(page: Page, shop: Shop) -> None:
    shop_page = Storefront(page, shop)
    shop_page.open("globex")
    shop_page.add("desktop-speakers")  # 79.50: under ground's free-over 100.00
    form = shop_page.delivery
    expect(form.get_by_label("Country").locator("option")).to_have_text(["Canada", "United States"])
    expect(form.get_by_label("Country")).to_have_value("US")

    shop_page.fill_address("US")
    expect(page.locator("#delivery-methods .method")).to_have_count(2)
    expect(shop_page.method("ground")).to_contain_text("Ground$6.003\u20135 days \u00b7 free over $100.00")
    expect(shop_page.method("two_day")).to_contain_text("Two-day$14.002 days")
    shop_page.choose_method("two_day")
    # 79.50 + 14.00 = 93.50; VAT 18.70; total 112.20.
    shop_page.expect_totals(
        subtotal="$79.50", discount="$0.00", net="$79.50", shipping="$14.00", vat="$18.70", total="$112.20"
    )

    # Canada: two-day is the US's only, so no method is chosen until the shopper picks ground.
    shop_page.fill_address("CA")
    expect(page.locator("#delivery-methods .method")).to_have_count(1)
    expect(shop_page.method("ground").get_by_role("radio")).not_to_be_checked()
    shop_page.checkout_button.click()
    expect(page.locator("#delivery-method-error")).to_have_text("Choose a delivery method.")
    expect(shop_page.confirmation).to_be_hidden()
    shop_page.choose_method("ground")
    expect(page.locator("#delivery-method-error")).to_have_text("")
    # 79.50 + 6.00 = 85.50; VAT 17.10; total 102.60.
    shop_page.expect_totals(
        subtotal="$79.50", discount="$0.00", net="$79.50", shipping="$6.00", vat="$17.10", total="$102.60"
    )

    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/checkout")) as checkout:
        shop_page.checkout_button.click()
    assert checkout.value.post_data_json == {"expected_total": "102.60"}
    confirmation = shop_page.confirmation
    expect(confirmation.get_by_role("heading", name="Thank you! Your order is confirmed.")).to_be_focused()
    expect(confirmation.locator(".payment-note")).to_have_text("You pay $102.60 on delivery.")
    expect(confirmation.locator(".delivery-method")).to_have_text("Ground (3\u20135 days): $6.00")
    expect(confirmation.locator(".delivery-address .address-line").last).to_have_text("Canada")
    expect(confirmation.get_by_role("button", name="Cancel order")).to_be_visible()
    order_id = shop_page.order_id_in_address()
    order = shop.order("globex", order_id, shop_page.stored_order(order_id, "globex")["token"])
    assert order["status"] == "confirmed"
    address = order["delivery"]["address"]
    assert {field: address[field] for field in ADDRESSES["CA"]} == ADDRESSES["CA"]
    assert address["country"] == "CA"
    assert (order["delivery"]["method"]["id"], order["totals"]["shipping"]) == ("ground", "6.00")


def test_a_country_not_served_and_a_method_not_offered_are_said_in_the_apis_words(page: Page, shop: Shop) -> None:
    """The page offers only what the API lists; a stale list (here: the request rewritten on its way) still
    meets the API's 422, shown beside the country or the methods."""
    shop_page = Storefront(page, shop)
    shop_page.open("globex")
    shop_page.add("gift-card")
    shop_page.fill_address("US")

    def rewrite(changes: dict) -> None:
        def handler(route: Route) -> None:
            body = {**route.request.post_data_json, **changes}
            if "country" in changes:
                body["address"] = {**body["address"], "country": changes["country"]}
                del body["country"]
            route.continue_(post_data=json.dumps(body))

        page.route(f"{shop.api_url}/**/delivery", handler)

    # A method Canada does not get: the API's message beside the methods.
    shop_page.fill_address("CA")
    rewrite({"method": "two_day"})
    answer = shop_page.choose_method("ground", expect_status=422)
    page.unroute(f"{shop.api_url}/**/delivery")
    assert answer["error"]["code"] == "SHIPPING_METHOD_UNAVAILABLE"
    expect(page.locator("#delivery-method-error")).to_have_text(answer["error"]["message"])

    # A country the shop does not serve: the API's message beside the country. (Choosing the United
    # States, with ground still chosen, PUTs the delivery again.)
    rewrite({"country": "JP"})
    with page.expect_response(lambda r: r.request.method == "PUT" and r.url.endswith("/delivery")) as put:
        shop_page.fill_address("US")
    page.unroute(f"{shop.api_url}/**/delivery")
    answer = put.value.json()
    assert (put.value.status, answer["error"]["code"]) == (422, "COUNTRY_NOT_SERVED")
    expect(page.locator("#delivery-country-error")).to_have_text(answer["error"]["message"])
    expect(page.get_by_label("Country")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#delivery-method-error")).to_have_text("")
    expect(shop_page.notice).to_be_hidden()
