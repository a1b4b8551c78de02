"""Test harness: the running stack (`Shop`) and a page object for the storefront (`Storefront`)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import httpx
from playwright.sync_api import Locator, Page, expect

from scripts.local_stack import REGION, STAGE, LocalStack
from support.delivery import check_out
from tests.admin import DATA, KEYS, admin

TIMEOUT_MS = 10_000
TOTALS = ("subtotal", "discount", "net", "shipping", "vat", "total")

# Where the tests' shoppers live: one address per country the demo shops serve in these tests.
ADDRESSES = {
    "DE": {"name": "Ada Lovelace", "line1": "Unter den Linden 1", "city": "Berlin", "postal_code": "10117"},
    "FR": {"name": "Marie Curie", "line1": "12 rue Cuvier", "city": "Paris", "postal_code": "75005"},
    "NL": {"name": "Anna Schuurman", "line1": "Dam 1", "city": "Amsterdam", "postal_code": "1012 JS"},
    "US": {"name": "Grace Hopper", "line1": "1 Main Street", "city": "Arlington", "postal_code": "22201"},
    "CA": {"name": "Donna Strickland", "line1": "200 University Ave W", "city": "Waterloo", "postal_code": "N2L 3G1"},
}
EMAIL = "shopper@example.com"


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
        """Another shopper's order, straight through the API, delivered within the shop's own countries."""
        cart = self.http.post(
            f"/tenants/{tenant}/carts", json={"items": [{"product_id": product_id, "quantity": quantity}]}
        )
        assert cart.status_code == 201, cart.text
        # Each demo shop's own shopper: acme's to DE by standard, globex's to the US by ground.
        order = check_out(self.http, tenant, cart.json()["cart_id"], json={})
        assert order.status_code == 201, order.text
        return order.json()["order"]

    def order(self, tenant: str, order_id: str, token: str | None = None) -> dict:
        """The order as the API shows it: the public shape, or with `token` the token holder's."""
        response = self.http.get(
            f"/tenants/{tenant}/orders/{order_id}", headers={"X-Order-Token": token} if token else {}
        )
        assert response.status_code == 200, response.text
        return response.json()

    def ship(self, tenant: str, order_id: str, carrier: str, tracking_number: str, tracking_url: str) -> dict:
        """The shop owner hands the order to a carrier (admin route): it is `shipped`."""
        body = {"carrier": carrier, "tracking_number": tracking_number, "tracking_url": tracking_url}
        response = self.http.post(
            f"/tenants/{tenant}/orders/{order_id}/shipment", json=body, headers=admin(KEYS[tenant])
        )
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "shipped"
        return response.json()

    def deliver(self, tenant: str, order_id: str) -> dict:
        """The carrier delivered it (admin route): it is `delivered`."""
        response = self.http.post(f"/tenants/{tenant}/orders/{order_id}/delivered", headers=admin(KEYS[tenant]))
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "delivered"
        return response.json()


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
        """Each figure of the totals (shipping only when given: without it, it is not looked at)."""
        for name in TOTALS:
            if name == "shipping" and name not in figures:
                continue
            expect(self.page.locator(f"{scope} [data-total='{name}']")).to_have_text(figures[name])

    # ---- delivery ----

    @property
    def delivery(self) -> Locator:
        return self.page.locator("#delivery-form")

    def method(self, method_id: str) -> Locator:
        return self.page.locator(f"#delivery-methods .method[data-method-id='{method_id}']")

    def fill_address(self, country: str, email: str = EMAIL) -> None:
        """Type the contact and the test address of `country`, and choose the country."""
        form = self.delivery
        address = ADDRESSES[country]
        form.get_by_label("E-mail").fill(email)
        form.get_by_label("Full name").fill(address["name"])
        form.get_by_label("Address", exact=True).fill(address["line1"])
        form.get_by_label("Postal code").fill(address["postal_code"])
        form.get_by_label("City").fill(address["city"])
        with self.page.expect_response(lambda r: f"/shipping-methods?country={country}" in r.url):
            form.get_by_label("Country").select_option(country)

    def choose_method(self, method_id: str, expect_status: int = 200) -> Any:
        """Choose a shipping method: the page PUTs the delivery; returns the API's answer."""
        radio = self.method(method_id).get_by_role("radio")
        with self.page.expect_response(lambda r: r.request.method == "PUT" and r.url.endswith("/delivery")) as answer:
            radio.check()
        assert answer.value.status == expect_status, answer.value.text()
        expect(radio).to_be_checked()
        return answer.value.json()

    def fill_delivery(self, country: str, method_id: str, email: str = EMAIL) -> dict:
        """The delivery step: contact, address, country and method; returns the cart the API priced with it."""
        self.fill_address(country, email)
        cart = self.choose_method(method_id)
        expect(self.page.locator("#cart-totals")).not_to_contain_text("no method yet")
        return cart

    # ---- the order page ----

    def order_id_in_address(self) -> str:
        """The order the address names (#order=…)."""
        fragment = self.page.evaluate("window.location.hash")
        assert fragment.startswith("#order="), fragment
        return fragment.removeprefix("#order=")

    def stored_order(self, order_id: str, tenant: str = "acme") -> dict | None:
        """What the page keeps of an order in localStorage: {token, holdDeadline}, or None."""
        return self.page.evaluate(
            "([tenant, id]) => JSON.parse(localStorage.getItem(`cartwise:${tenant}:order:${id}`))", [tenant, order_id]
        )

    def open_order(self, tenant: str, order_id: str, token: str | None = None) -> None:
        fragment = f"#order={order_id}" + (f"&token={token}" if token else "")
        self.page.goto(self.shop.page_url(tenant) + fragment)
        self.wait_ready()

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
