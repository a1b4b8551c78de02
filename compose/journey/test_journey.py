"""The compose stack used as a shopper and an operator would: only through its published ports.

API on http://127.0.0.1:8000 (the `api` service), AWS on http://127.0.0.1:4566 (LocalStack), a fake
Stripe on http://127.0.0.1:8420 (the `localstripe` service), data from the `provision` service's seed.
Every figure is exact: stock is read before and after.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from email.message import EmailMessage
from pathlib import Path

import httpx
import stripe
from playwright.sync_api import Page, expect

from scripts.local_stack import DEFAULT_STRIPE_PORT, HOST
from support.card_shop import CARDS
from support.delivery import deliver
from tests.browser.harness import EMAIL, Shop, Storefront
from tests.browser.test_payment import PaymentStep
from tests.conftest import TENT_AND_TWO_HEADLAMPS_SUMMER10
from tests.mail import parse, parts

REPO = Path(__file__).resolve().parents[2]
FLAG = "/cartwise/dev/flags/UPSELL_ENABLED"
DEMO_ADMIN_KEY = "cw_acme_local-demo-admin-key-never-use-in-production"  # seeded by data/tenants/, local only
STOREFRONT_TOTALS = {
    "subtotal": "€178.98",
    "discount": "\u2212€17.90",
    "net": "€161.08",
    "vat": "€32.22",
    "total": "€193.30",
}


def test_health_and_readiness_against_localstack(shop: Shop) -> None:
    assert shop.http.get("/health").json() == {"status": "ok"}
    ready = shop.http.get("/health/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ok"


def test_the_catalogue_pages_through_the_seeded_products(shop: Shop) -> None:
    first = shop.http.get("/tenants/acme/products", params={"limit": 3}).json()
    assert len(first["items"]) == 3
    second = shop.http.get("/tenants/acme/products", params={"limit": 3, "cursor": first["next_cursor"]}).json()
    assert len(second["items"]) == 3
    assert not {p["product_id"] for p in first["items"]} & {p["product_id"] for p in second["items"]}
    tent = shop.http.get("/tenants/acme/products/tent-2p").json()
    assert (tent["name"], tent["price"], tent["currency"]) == ("Ridgeline 2-Person Tent", "129.00", "EUR")


def test_the_readme_checkout_totals_193_30_and_its_replay_orders_once(shop: Shop) -> None:
    before = (shop.stock("acme", "tent-2p"), shop.stock("acme", "headlamp"))
    cart = shop.http.post("/tenants/acme/carts", json={"items": [{"product_id": "tent-2p", "quantity": 1}]})
    assert cart.status_code == 201, cart.text
    path = f"/tenants/acme/carts/{cart.json()['cart_id']}"
    assert shop.http.put(f"{path}/items/headlamp", json={"quantity": 2}).status_code == 200
    assert shop.http.put(f"{path}/promo", json={"code": "SUMMER10"}).status_code == 200
    # As the README: to DE by standard, free over 50.00 (the net is 161.08), so the total stays 193.30.
    delivered = deliver(shop.http, "acme", cart.json()["cart_id"]).json()
    assert (delivered["delivery"]["method"]["id"], delivered["totals"]["shipping"]) == ("standard", "0.00")

    key = {"Idempotency-Key": f"order-{uuid.uuid4()}"}
    body = {"expected_total": "193.30"}
    placed = shop.http.post(f"{path}/checkout", headers=key, json=body)
    assert placed.status_code == 201, placed.text
    order = placed.json()["order"]
    assert order["totals"] == TENT_AND_TWO_HEADLAMPS_SUMMER10
    assert placed.headers["Location"].endswith(f"/tenants/acme/orders/{order['order_id']}")

    replay = shop.http.post(f"{path}/checkout", headers=key, json=body)
    assert replay.status_code == 200, replay.text
    assert replay.json()["order"] == order
    assert (shop.stock("acme", "tent-2p"), shop.stock("acme", "headlamp")) == (before[0] - 1, before[1] - 2)


def aws_cli(shop: Shop, *args: str) -> None:
    """The venv's `aws` (installed by `make install`) pointed at LocalStack, as docs/operations.md's shell does it."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env |= {"AWS_ENDPOINT_URL": shop.aws_url, "AWS_DEFAULT_REGION": "us-east-1"}
    env |= {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
    aws = Path(sys.executable).with_name("aws")
    subprocess.run([aws, *args], env=env, check=True, capture_output=True, timeout=60)


def test_the_upsell_flag_set_in_localstack_with_the_aws_cli_is_seen_by_the_next_request(shop: Shop) -> None:
    cart = shop.http.post("/tenants/acme/carts", json={"items": [{"product_id": "headlamp", "quantity": 1}]})
    upsell = f"/tenants/acme/carts/{cart.json()['cart_id']}/upsell"
    assert shop.http.get(upsell).json()["source"] == "fallback"  # provisioned on, no LLM configured
    try:
        aws_cli(shop, "ssm", "put-parameter", "--overwrite", "--type", "String", "--name", FLAG, "--value", "false")
        assert shop.http.get(upsell).json() == {"enabled": False, "source": "disabled", "suggestions": []}
    finally:
        aws_cli(shop, "ssm", "put-parameter", "--overwrite", "--type", "String", "--name", FLAG, "--value", "true")
    answer = shop.http.get(upsell).json()
    assert (answer["enabled"], answer["source"]) == (True, "fallback")
    assert answer["suggestions"]


def test_the_storefront_served_by_localstack_s3_places_an_order_in_chromium(page: Page, shop: Shop) -> None:
    served = httpx.get(shop.page_url())
    assert served.status_code == 200
    assert served.headers["content-type"].startswith("text/html")
    before = (shop.stock("acme", "tent-2p"), shop.stock("acme", "headlamp"))

    storefront = Storefront(page, shop)
    storefront.open("acme")
    expect(page.get_by_role("heading", level=1)).to_have_text("Acme Outdoor")
    storefront.add("tent-2p")
    storefront.add("headlamp")
    storefront.step("headlamp", "+", 2)
    storefront.apply_promo("SUMMER10")
    storefront.expect_totals(**STOREFRONT_TOTALS)
    storefront.fill_delivery("DE", "standard")  # free over 50.00: the totals stay those above
    storefront.checkout_button.click()
    # acme takes cards: the payment step, paid with localstripe's Stripe.js from the compose service.
    PaymentStep(page).pay(CARDS["pays"], "€193.30")
    expect(storefront.confirmation.get_by_role("heading", name="Thank you! Your order is paid.")).to_be_visible()
    storefront.expect_totals("#confirmation .totals", **STOREFRONT_TOTALS)

    order_id = storefront.confirmation.locator(".order-id").inner_text()
    order = shop.http.get(f"/tenants/acme/orders/{order_id}").json()
    assert (order["status"], order["totals"]) == ("paid", TENT_AND_TWO_HEADLAMPS_SUMMER10)
    assert (shop.stock("acme", "tent-2p"), shop.stock("acme", "headlamp")) == (before[0] - 1, before[1] - 2)

    # The confirmation went through the orders-stream and notifier services to LocalStack's SES, once.
    (confirmation,) = sent_by_localstack(shop, f"Acme Outdoor: your order {order_id} is confirmed", wait_for=1)
    time.sleep(3)  # order_paid comes again with the count mark's change: still one e-mail
    assert len(sent_by_localstack(shop, confirmation["Subject"])) == 1
    assert confirmation["From"] == "Acme Outdoor <orders@acme.example>"
    assert confirmation["To"].addresses[0].addr_spec == EMAIL
    text, _ = parts(confirmation)
    assert "Your payment of 193.30 EUR was received" in text
    assert "  Total:     193.30 EUR\n" in text


def sent_by_localstack(shop: Shop, subject: str, wait_for: int = 0, timeout: float = 60.0) -> list[EmailMessage]:
    """The messages LocalStack's SES keeps (GET /_aws/ses, by sender) with this subject, once there are
    `wait_for` of them."""
    deadline = time.monotonic() + timeout
    while True:
        kept = httpx.get(f"{shop.aws_url}/_aws/ses", params={"email": "orders@acme.example"}, timeout=10).json()
        raw = [parse(message["RawData"]) for message in kept["messages"] if "RawData" in message]
        found = [message for message in raw if message["Subject"] == subject]
        if len(found) >= wait_for:
            return found
        assert time.monotonic() < deadline, f"no e-mail {subject!r} in LocalStack's SES within {timeout:.0f} s"
        time.sleep(0.5)


def test_an_admin_route_answers_the_demo_key_only(shop: Shop) -> None:
    newest = shop.buy("acme", "headlamp", 1)
    refused = shop.http.get("/tenants/acme/orders", params={"limit": 1})
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "UNAUTHORIZED"
    listed = shop.http.get("/tenants/acme/orders", params={"limit": 1}, headers={"X-Api-Key": DEMO_ADMIN_KEY})
    assert listed.status_code == 200, listed.text
    assert [order["order_id"] for order in listed.json()["items"]] == [newest["order_id"]]


def test_localstripe_takes_a_card_payment_with_the_demo_secret_key_and_serves_the_storefronts_stripe_js(
    shop: Shop,
) -> None:
    demo = json.loads((REPO / "data" / "tenants" / "acme.json").read_text())["payment"]
    client = stripe.StripeClient(demo["secret_key"], base_addresses={"api": f"http://{HOST}:{DEFAULT_STRIPE_PORT}"})
    card = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}
    method = client.v1.payment_methods.create(params={"type": "card", "card": card})
    intent = client.v1.payment_intents.create(
        params={"amount": 19330, "currency": "eur", "payment_method": method.id, "confirm": True}
    )
    assert (intent.status, intent.amount) == ("succeeded", 19330)

    config = httpx.get(shop.page_url(None).removesuffix("index.html") + "config.js").text
    stripe_js = json.loads(config.split("STRIPE_JS_URL = ", 1)[1].split(";", 1)[0])
    assert stripe_js == f"http://{HOST}:{DEFAULT_STRIPE_PORT}/js.stripe.com/v3/"
    assert "LOCALSTRIPE_BASE_API" in httpx.get(stripe_js).text
