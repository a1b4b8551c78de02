"""The payment step in the browser: a card order paid through localstripe's Stripe.js, a declined card
and another one, 3-D Secure, a hold that lapses, a cancel; and an on-delivery order's confirmation.

The card tenant is a copy of acme's catalogue in stripe mode (`acme-cards`, made once by `card_tenant`),
so these tests' units and holds never meet those of the journeys that pay at acme itself. What the
shopper sees is checked on the page; the order's status and its units through the API and DynamoDB.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Locator, Page, Request, Route, expect

from chalicelib import payments
from chalicelib.models import OrderModel, TenantModel
from scripts.provision import TENANT_DATA, seed_tenant
from support.card_shop import CARDS, intents_of, units
from tests.browser.conftest import ARTIFACTS
from tests.browser.harness import Shop, Storefront

TENANT = "acme-cards"
STRIPE_JS = "script[src$='/js.stripe.com/v3/']"


@pytest.fixture
def card_tenant(stack_aws: None) -> str:
    """acme's catalogue as a stripe-mode tenant with acme's local demo Stripe keys; seeded once a session
    (seeding again would reset the counters of orders already placed)."""
    try:
        TenantModel.get(TENANT, consistent_read=True)
    except TenantModel.DoesNotExist:
        acme = json.loads((TENANT_DATA / "acme.json").read_text())
        del acme["demo_admin_key"]
        seed_tenant(
            {**acme, "tenant_id": TENANT, "name": "Acme Cards", "payment": {**acme["payment"], "mode": "stripe"}}
        )
    return TENANT


class PaymentStep:
    """The payment step of the storefront, as the shopper sees it."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.section = page.locator("#payment")
        self.message = page.locator("#payment-message")

    def fill_card(self, number: str) -> None:
        """Type a card into localstripe's card field (its inputs are named by their placeholders)."""
        field = self.section.locator("#card-element")
        for placeholder, value in (("number", number), ("exp_month", "12"), ("exp_year", "34"), ("cvc", "123")):
            field.get_by_placeholder(placeholder, exact=True).fill(value)
        field.get_by_placeholder("postal_code", exact=True).fill("75001")

    def pay_button(self, total: str) -> Locator:
        return self.section.get_by_role("button", name=f"Pay {total}")

    def pay(self, card: str, total: str) -> None:
        """Type `card` and press "Pay <total>"."""
        self.fill_card(card)
        self.pay_button(total).click()

    def authenticate(self) -> None:
        """localstripe's 3-D Secure dialog: the shopper passes the bank's check."""
        self.page.get_by_role("button", name="Complete authentication").click()


def place_card_order(page: Page, shop: Shop, *products: str) -> tuple[str, str]:
    """Open the card tenant's shop, add one of each product, deliver to Germany (standard: 4.90, free over
    50.00) and place the order; returns its id and token."""
    shop_page = Storefront(page, shop)
    shop_page.open(TENANT)
    for product_id in products:
        shop_page.add(product_id)
    shop_page.fill_delivery("DE", "standard")
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/checkout")) as checkout:
        shop_page.checkout_button.click()
    answer = checkout.value.json()
    assert answer["order"]["status"] == "pending_payment"
    expect(page.get_by_role("heading", name="Pay for your order")).to_be_focused()
    return answer["order"]["order_id"], answer["order_token"]


def order_of(shop: Shop, order_id: str) -> dict:
    response = shop.http.get(f"/tenants/{TENANT}/orders/{order_id}")
    assert response.status_code == 200, response.text
    return response.json()


def expect_paid(
    page: Page, shop: Shop, order_id: str, total: str, product_id: str, before: tuple[int, int, int]
) -> None:
    """The paid confirmation on the page; the order paid in the API, its one unit of `product_id` sold."""
    confirmation = page.locator("#confirmation")
    expect(confirmation.get_by_role("heading", name="Thank you! Your order is paid.")).to_be_focused()
    expect(confirmation.locator(".payment-note")).to_have_text(f"Paid by card: {total}.")
    expect(confirmation.get_by_role("button", name="Cancel order")).to_have_count(0)  # paid: a refund, not a cancel
    expect(page.locator("#payment")).to_be_hidden()
    assert order_of(shop, order_id)["status"] == "paid"
    stock, reserved, sold = before
    assert units(TENANT, product_id) == (stock - 1, reserved, sold + 1)


def test_a_card_order_is_paid_in_the_payment_step_and_confirmed_as_paid(
    page: Page, shop: Shop, card_tenant: str, localstripe_url: str
) -> None:
    stock, reserved, sold = units(TENANT, "tent-2p")
    order_id, _ = place_card_order(page, shop, "tent-2p")
    step = PaymentStep(page)

    # The order's summary, the hold's countdown (15 minutes by default) and Stripe.js, loaded once.
    expect(step.section.locator(".order-id")).to_have_text(order_id)
    expect(step.section.locator("tbody tr[data-product-id='tent-2p'] td")).to_have_text(["1", "€129.00", "€129.00"])
    expect(step.section.locator("[data-total='total']")).to_have_text("€154.80")  # 129.00 + 20 % VAT
    expect(step.section.get_by_role("timer")).to_have_text(
        re.compile(r"^Your items are held for you for 1[45]:\d\d\. Pay before then, or they go back on sale\.$")
    )
    expect(page.locator(STRIPE_JS)).to_have_count(1)
    assert units(TENANT, "tent-2p") == (stock - 1, reserved + 1, sold)  # held while the payment is awaited

    step.fill_card(CARDS["pays"])
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "payment-step.png", full_page=True)
    step.pay_button("€154.80").click()

    expect_paid(page, shop, order_id, "€154.80", "tent-2p", (stock, reserved, sold))
    page.screenshot(path=ARTIFACTS / "paid.png")
    [intent] = intents_of(localstripe_url, order_id)
    assert (intent.amount, intent.currency, intent.status) == (15480, "eur", "succeeded")


def test_a_declined_card_is_said_clearly_and_another_card_pays(
    page: Page, shop: Shop, card_tenant: str, localstripe_url: str
) -> None:
    stock, reserved, sold = units(TENANT, "headlamp")
    order_id, _ = place_card_order(page, shop, "headlamp")
    step = PaymentStep(page)

    step.pay(CARDS["declined"], "€35.87")  # 24.99 + 4.90 shipping + 20 % VAT (5.978)

    expect(step.message).to_have_text(
        "Your card was declined. Nothing was charged: check the card details or use another card, "
        "then press \u201cPay\u201d again."
    )
    expect(step.message).to_have_attribute("role", "alert")
    expect(step.pay_button("€35.87")).to_be_enabled()
    assert order_of(shop, order_id)["status"] == "pending_payment"
    assert units(TENANT, "headlamp") == (stock - 1, reserved + 1, sold)

    step.pay(CARDS["pays"], "€35.87")

    expect_paid(page, shop, order_id, "€35.87", "headlamp", (stock, reserved, sold))
    intents = intents_of(localstripe_url, order_id)
    assert sorted(intent.status for intent in intents) == ["canceled", "succeeded"]  # the declined one is spent
    expect(page.locator(STRIPE_JS)).to_have_count(1)


def test_3d_secure_is_passed_at_setup_and_at_payment(
    page: Page, shop: Shop, card_tenant: str, localstripe_url: str
) -> None:
    stock, reserved, sold = units(TENANT, "camp-stove")
    order_id, _ = place_card_order(page, shop, "camp-stove")
    step = PaymentStep(page)
    step.pay(CARDS["3ds"], "€71.88")  # 59.90 + 20 % VAT

    step.authenticate()  # the bank's check when the card is set up...
    expect(step.section.get_by_role("button", name="Paying\u2026")).to_be_disabled()
    step.authenticate()  # ...and again when it is charged

    expect_paid(page, shop, order_id, "€71.88", "camp-stove", (stock, reserved, sold))
    assert [(i.amount, i.status) for i in intents_of(localstripe_url, order_id)] == [(7188, "succeeded")]


def test_a_payment_whose_answer_was_lost_is_retried_with_the_same_card_and_charged_once(
    page: Page, shop: Shop, card_tenant: str, localstripe_url: str
) -> None:
    before = units(TENANT, "fuel-canister")
    order_id, _ = place_card_order(page, shop, "fuel-canister")
    step = PaymentStep(page)
    sent: list[Request] = []
    setups: list[Request] = []
    page.on("request", lambda r: setups.append(r) if r.url.endswith("/payment/setup") else None)

    def lose_the_answer(route: Route) -> None:
        sent.append(route.request)
        assert route.fetch().status == 200  # the API did take the payment
        route.abort("connectionreset")

    page.route(f"{shop.api_url}/**/payment", lose_the_answer)
    step.pay(CARDS["pays"], "€11.22")  # 4.45 + 4.90 shipping + 20 % VAT
    expect(step.message).to_have_text(
        "Could not reach the shop. Check your internet connection and try again. "
        "Press \u201cPay\u201d again: your card will not be charged twice."
    )
    page.unroute(f"{shop.api_url}/**/payment")

    with page.expect_request(lambda r: r.url.endswith("/payment")) as retry:
        step.pay_button("€11.22").click()

    expect_paid(page, shop, order_id, "€11.22", "fuel-canister", before)
    assert retry.value.post_data_json == sent[0].post_data_json  # the same PaymentMethod, no second card setup
    assert len(setups) == 1
    assert [(i.amount, i.status) for i in intents_of(localstripe_url, order_id)] == [(1122, "succeeded")]


def test_stripe_js_that_did_not_load_is_loaded_again_by_the_next_press(
    page: Page, shop: Shop, card_tenant: str
) -> None:
    before = units(TENANT, "wool-socks")
    page.route("**/js.stripe.com/v3/", lambda route: route.abort("connectionrefused"))
    order_id, _ = place_card_order(page, shop, "wool-socks")
    step = PaymentStep(page)
    expect(step.message).to_have_text(
        "The card form could not be loaded. Check your internet connection and press \u201cPay\u201d to try again."
    )
    expect(page.locator(STRIPE_JS)).to_have_count(0)  # the failed tag is gone, for a fresh one
    page.unroute("**/js.stripe.com/v3/")

    step.pay_button("€20.87").click()  # 12.49 + 4.90 shipping + 20 % VAT (3.478)

    expect(step.section.locator("#card-element input")).to_have_count(5)  # the card field, to type in
    expect(step.message).to_be_hidden()
    expect(page.locator(STRIPE_JS)).to_have_count(1)
    step.pay(CARDS["pays"], "€20.87")
    expect_paid(page, shop, order_id, "€20.87", "wool-socks", before)


def lapse_hold(order_id: str) -> None:
    """Let the order's hold lapse now, as ORDER_HOLD_SECONDS after its checkout would."""
    OrderModel(TENANT, order_id).update(
        actions=[OrderModel.hold_expires_at.set(datetime.now(UTC) - timedelta(seconds=1))]
    )


def test_when_the_countdown_ends_the_hold_has_lapsed_and_the_items_can_go_back_in_the_cart(
    page: Page, shop: Shop, card_tenant: str
) -> None:
    page.clock.install()  # the page's clock, moved on below as 15 minutes passing would
    stock, reserved, sold = units(TENANT, "camp-lantern")
    order_id, token = place_card_order(page, shop, "camp-lantern")
    step = PaymentStep(page)
    shop_page = Storefront(page, shop)
    expect(shop_page.product("camp-lantern").locator(".stock")).to_have_text(f"In stock ({stock - 1})")

    page.clock.fast_forward("14:01")
    expect(step.section.get_by_role("timer")).to_contain_text(re.compile(r"for 0:5\d\."))
    expect(page.locator("#status")).to_have_text("One minute left to pay for your order.")  # said once, politely

    lapse_hold(order_id)
    page.clock.fast_forward("01:00")

    expect(step.message).to_have_text(
        "The hold on your items has lapsed, so this order can no longer be paid, and nothing was charged. "
        "\u201cBack to the cart\u201d puts the items in your cart again."
    )
    expect(step.message).to_be_focused()
    expect(step.section.get_by_role("button", name=re.compile("^Pay"))).to_be_hidden()
    expect(step.section.get_by_role("button", name="Cancel order")).to_be_hidden()
    # The API agrees: the order cannot be paid any more.
    refused = shop.http.post(
        f"/tenants/{TENANT}/orders/{order_id}/payment/setup",
        json={"attempt": "after-the-hold"},
        headers={"X-Order-Token": token},
    )
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "ORDER_NOT_PAYABLE")

    assert payments.sweep_lapsed_holds() >= 1  # the sweeper's run: the units go back on sale
    assert order_of(shop, order_id)["status"] == "expired"
    assert units(TENANT, "camp-lantern") == (stock, reserved, sold)

    step.section.get_by_role("button", name="Back to the cart").click()

    expect(step.section).to_be_hidden()
    expect(shop_page.quantity("camp-lantern")).to_have_text("1")
    expect(page.get_by_role("heading", name="Your cart")).to_be_focused()
    # The new cart gets the delivery chosen before: 32.50 + 4.90 standard, VAT 7.48 on 37.40.
    shop_page.expect_totals(
        subtotal="€32.50", discount="€0.00", net="€32.50", shipping="€4.90", vat="€7.48", total="€44.88"
    )
    expect(page).not_to_have_url(re.compile("#order="))


def test_a_payment_the_api_refuses_because_the_hold_lapsed_says_so(page: Page, shop: Shop, card_tenant: str) -> None:
    """The device's clock may be behind the API's: the API's 409 ends the step just as the countdown would."""
    order_id, _ = place_card_order(page, shop, "sun-hat")
    step = PaymentStep(page)
    lapse_hold(order_id)

    step.pay(CARDS["pays"], "€29.87")  # 19.99 + 4.90 shipping + 20 % VAT (4.978)

    expect(step.message).to_contain_text("The hold on your items has lapsed, so this order can no longer be paid")
    expect(step.section.get_by_role("button", name="Back to the cart")).to_be_visible()
    assert order_of(shop, order_id)["status"] == "pending_payment"  # until the sweeper expires it


def test_the_shopper_cancels_from_the_payment_step(page: Page, shop: Shop, card_tenant: str) -> None:
    stock, reserved, sold = units(TENANT, "cook-set")
    order_id, _ = place_card_order(page, shop, "cook-set")
    step = PaymentStep(page)

    step.section.get_by_role("button", name="Cancel order").click()

    confirmation = page.locator("#confirmation")
    expect(confirmation.get_by_role("heading", name="Your order is cancelled.")).to_be_focused()
    expect(confirmation).to_contain_text("Nothing will be delivered or charged.")
    expect(step.section).to_be_hidden()
    assert order_of(shop, order_id)["status"] == "cancelled"
    assert units(TENANT, "cook-set") == (stock, reserved, sold)


def test_an_on_delivery_order_is_confirmed_as_paid_on_delivery_without_loading_stripe_js(
    page: Page, shop: Shop
) -> None:
    shop_page = Storefront(page, shop)
    shop_page.open("globex")
    shop_page.add("external-ssd-1tb")
    shop_page.fill_delivery("US", "ground")
    shop_page.checkout_button.click()

    confirmation = page.locator("#confirmation")
    expect(confirmation.get_by_role("heading", name="Thank you! Your order is confirmed.")).to_be_focused()
    total = confirmation.locator("[data-total='total']").inner_text()
    expect(confirmation.locator(".payment-note")).to_have_text(f"You pay {total} on delivery.")
    expect(page.locator("#payment")).to_be_hidden()
    expect(page.locator(STRIPE_JS)).to_have_count(0)
