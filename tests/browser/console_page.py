"""The operator's console in the browser: its tenant (a card shop with acme's catalogue and an admin key of
its own, so the storefront tests' counts of acme's catalogue never see it), orders placed and paid
straight through the API as shoppers would, and a page object for the console."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from scripts.local_stack import STAGE
from scripts.provision import TENANT_DATA, seed_tenant
from support.card_shop import card, save_card
from support.delivery import check_out
from tests.admin import admin
from tests.browser.harness import Shop

TENANT = "console-shop"
KEY = "cw_console-shop_browser-tests-only-admin-key"
SEEDED = {p["product_id"]: p for p in json.loads((TENANT_DATA / "acme.json").read_text())["products"]}


@pytest.fixture
def console_shop(stack_aws: None) -> str:
    return open_console_shop()


def open_console_shop() -> str:
    """acme's catalogue, paid by card, with its own demo admin key; seeded once per stack (seeding again
    would reset the stock of orders already placed). This process must talk to the stack."""
    from chalicelib.models import TenantModel

    try:
        TenantModel.get(TENANT, consistent_read=True)
    except TenantModel.DoesNotExist:
        acme = json.loads((TENANT_DATA / "acme.json").read_text())
        seed_tenant(
            {
                **acme,
                "tenant_id": TENANT,
                "name": "Console Outdoor",
                "demo_admin_key": KEY,
                "payment": {**acme["payment"], "mode": "stripe"},
            }
        )
    return TENANT


def place_order(shop: Shop, items: dict[str, int]) -> tuple[dict, str]:
    """A shopper's card order (awaiting payment), delivered to Germany by standard shipping: (order, token)."""
    lines = [{"product_id": product_id, "quantity": quantity} for product_id, quantity in items.items()]
    cart = shop.http.post(f"/tenants/{TENANT}/carts", json={"items": lines})
    assert cart.status_code == 201, cart.text
    cart_id = cart.json()["cart_id"]
    placed = check_out(shop.http, TENANT, cart_id, json={}, method="standard")
    assert placed.status_code == 201, placed.text
    assert placed.json()["order"]["status"] == "pending_payment"
    return placed.json()["order"], placed.json()["order_token"]


def pay(shop: Shop, localstripe_url: str, order_id: str, token: str) -> dict:
    """Pay the order as the storefront does: the card set up for the order's customer, then the payment."""
    headers = {"X-Order-Token": token}
    method = card(localstripe_url, "pays", TENANT)
    setup = shop.http.post(
        f"/tenants/{TENANT}/orders/{order_id}/payment/setup", json={"attempt": f"attempt-{order_id}"}, headers=headers
    )
    assert setup.status_code == 200, setup.text
    save_card(localstripe_url, method, setup.json()["client_secret"])
    paid = shop.http.post(
        f"/tenants/{TENANT}/orders/{order_id}/payment", json={"payment_method": method}, headers=headers
    )
    assert paid.status_code == 200, paid.text
    assert paid.json()["order"]["status"] == "paid"
    return paid.json()["order"]


def paid_order(shop: Shop, localstripe_url: str, items: dict[str, int]) -> tuple[dict, str]:
    order, token = place_order(shop, items)
    return pay(shop, localstripe_url, order["order_id"], token), token


def inventory(shop: Shop) -> dict[str, dict[str, Any]]:
    """The admin inventory of the console's tenant (every page), by product id."""
    items: dict[str, dict[str, Any]] = {}
    cursor = None
    while True:
        params = {"limit": "100", **({"cursor": cursor} if cursor else {})}
        response = shop.http.get(f"/tenants/{TENANT}/inventory", params=params, headers=admin(KEY))
        assert response.status_code == 200, response.text
        items.update({item["product_id"]: item for item in response.json()["items"]})
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return items


def figures(shop: Shop, product_id: str) -> tuple[int, int, int]:
    """(stock, reserved, sold) of a product, as the admin inventory says."""
    item = inventory(shop)[product_id]
    return item["stock"], item["reserved"], item["sold"]


class Console:
    """The console's page, as the operator sees it."""

    def __init__(self, page: Page, shop: Shop) -> None:
        self.page = page
        self.shop = shop

    def url(self, tenant: str = TENANT, screen: str = "") -> str:
        return f"{self.shop.aws_url}/cartwise-{STAGE}-storefront/console/index.html?tenant={tenant}{screen}"

    def open(self, screen: str = "", tenant: str = TENANT) -> None:
        self.page.goto(self.url(tenant, screen))
        expect(self.page.locator("body")).to_have_attribute("data-ready", "true")

    def sign_in(self, key: str = KEY) -> None:
        self.page.get_by_label("Admin key").fill(key)
        self.page.get_by_role("button", name="Sign in").click()

    @property
    def sign_in_message(self) -> Locator:
        return self.page.locator("#sign-in-message")

    def stored_key(self) -> str | None:
        return self.page.evaluate(f"sessionStorage.getItem('cartwise-console:{TENANT}:admin-key')")

    def local_storage_size(self) -> int:
        return self.page.evaluate("localStorage.length")

    def screen(self, name: str) -> None:
        self.page.locator("#screens").get_by_role("link", name=name).click()

    # ---- orders ----

    def order_row(self, order_id: str) -> Locator:
        return self.page.locator(f"#orders-rows tr[data-order-id='{order_id}']")

    @property
    def rows(self) -> Locator:
        return self.page.locator("#orders-rows tr")

    @property
    def detail(self) -> Locator:
        return self.page.locator("#order-detail")

    def open_order(self, order_id: str) -> None:
        self.order_row(order_id).get_by_role("link", name=order_id).click()
        expect(self.detail.locator(".order-id")).to_have_text(order_id)

    def act(self, button: str, expect_question: str | None = None) -> None:
        """Press an action's button and confirm it in the dialog (whose question is checked when given)."""
        self.detail.get_by_role("button", name=button).click()
        dialog = self.page.locator("#confirm-dialog")
        expect(dialog).to_be_visible()
        if expect_question is not None:
            expect(dialog.locator("#confirm-question")).to_have_text(expect_question)
        dialog.get_by_role("button", name="Confirm").click()
        expect(dialog).to_be_hidden()

    @property
    def action_message(self) -> Locator:
        return self.page.locator("#action-message")

    def status(self) -> Locator:
        return self.detail.locator(".order-status .status")

    # ---- inventory ----

    def product(self, product_id: str) -> Locator:
        return self.page.locator(f"#inventory-list li[data-product-id='{product_id}']")

    def figure(self, product_id: str, name: str) -> Locator:
        return self.product(product_id).locator(f"[data-figure='{name}']")
