"""Test harness: the running stack (`Shop`) and a page object for the storefront (`Storefront`)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import httpx
from playwright.sync_api import Locator, Page, expect

from scripts.local_stack import REGION, STAGE, LocalStack
from tests.admin import DATA, KEYS, admin

TIMEOUT_MS = 10_000
TOTALS = ("subtotal", "discount", "net", "vat", "total")


class Shop:
    """The running stack as the tests need it: page URLs, direct API calls and the up-sell flag."""

    def __init__(self, stack: LocalStack) -> None:
        assert stack.api_url is not None
        self.stack = stack
        self.api_url = stack.api_url
        self.aws_url = stack.aws_url
        self.http = httpx.Client(base_url=stack.api_url, timeout=10)

    def page_url(self, tenant: str | None = "acme") -> str:
        query = f"?tenant={tenant}" if tenant is not None else ""
        return f"{self.aws_url}/cartwise-{STAGE}-storefront/index.html{query}"

    def aws_client(self, service: str, endpoint: str | None = None) -> Any:
        return boto3.client(
            service,
            endpoint_url=endpoint or self.aws_url,
            region_name=REGION,
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )

    def stock(self, tenant: str, product_id: str) -> int:
        response = self.http.get(f"/tenants/{tenant}/products/{product_id}")
        response.raise_for_status()
        return response.json()["stock"]

    def set_price(self, tenant: str, product_id: str, price: str) -> None:
        """An operator reprices a product through the admin API (the rest as seeded; the stock, omitted, stays)."""
        seeded = json.loads((DATA / f"{tenant}.json").read_text())["products"]
        product = next(p for p in seeded if p["product_id"] == product_id)
        body = {field: product[field] for field in ("name", "description", "category", "tags", "complements")}
        response = self.http.put(
            f"/tenants/{tenant}/products/{product_id}", json={**body, "price": price}, headers=admin(KEYS[tenant])
        )
        assert response.status_code == 200, response.text
        assert response.json()["price"] == price

    def set_upsell_flag(self, enabled: bool) -> None:
        self.aws_client("ssm").put_parameter(
            Name=f"/cartwise/{STAGE}/flags/UPSELL_ENABLED",
            Value="true" if enabled else "false",
            Type="String",
            Overwrite=True,
        )

    def buy(self, tenant: str, product_id: str, quantity: int) -> dict:
        """Another shopper's order, straight through the API."""
        cart = self.http.post(
            f"/tenants/{tenant}/carts", json={"items": [{"product_id": product_id, "quantity": quantity}]}
        )
        assert cart.status_code == 201, cart.text
        order = self.http.post(f"/tenants/{tenant}/carts/{cart.json()['cart_id']}/checkout", json={})
        assert order.status_code == 201, order.text
        return order.json()["order"]


class Storefront:
    def __init__(self, page: Page, shop: Shop) -> None:
        self.page = page
        self.shop = shop

    def open(self, tenant: str | None = "acme") -> None:
        self.page.goto(self.shop.page_url(tenant))
        self.wait_ready()

    def reload(self) -> None:
        self.page.reload()
        self.wait_ready()

    def wait_ready(self) -> None:
        expect(self.page.locator("body")).to_have_attribute("data-ready", "true")

    # ---- catalogue ----

    def product(self, product_id: str) -> Locator:
        return self.page.locator(f"#product-list li[data-product-id='{product_id}']")

    def add_button(self, product_id: str) -> Locator:
        return self.product(product_id).get_by_role("button")

    def add(self, product_id: str, expect_quantity: int = 1) -> None:
        self.product(product_id).get_by_role("button", name="Add to cart").click()
        expect(self.quantity(product_id)).to_have_text(str(expect_quantity))

    # ---- cart ----

    @property
    def cart(self) -> Locator:
        return self.page.locator("#cart")

    def line(self, product_id: str) -> Locator:
        return self.page.locator(f"#cart-lines li[data-product-id='{product_id}']")

    def quantity(self, product_id: str) -> Locator:
        return self.line(product_id).locator(".quantity-value")

    def step(self, product_id: str, direction: str, expect_quantity: int) -> None:
        name = "Increase quantity" if direction == "+" else "Decrease quantity"
        self.line(product_id).get_by_role("button", name=name).click()
        expect(self.quantity(product_id)).to_have_text(str(expect_quantity))

    def apply_promo(self, code: str) -> None:
        self.page.get_by_label("Promo code").fill(code)
        self.page.get_by_role("button", name="Apply").click()

    def expect_totals(self, scope: str = "#cart-totals", **figures: str) -> None:
        for name in TOTALS:
            expect(self.page.locator(f"{scope} [data-total='{name}']")).to_have_text(figures[name])

    @property
    def checkout_button(self) -> Locator:
        return self.page.locator("#checkout-button")

    @property
    def checkout_message(self) -> Locator:
        return self.page.locator("#checkout-message")

    @property
    def notice(self) -> Locator:
        return self.page.locator("#notice")

    @property
    def confirmation(self) -> Locator:
        return self.page.locator("#confirmation")

    @property
    def cart_upsell(self) -> Locator:
        return self.page.locator("#cart-upsell")

    def stored_cart_id(self, tenant: str = "acme") -> str | None:
        return self.page.evaluate("tenant => localStorage.getItem(`cartwise:${tenant}:cart`)", tenant)
