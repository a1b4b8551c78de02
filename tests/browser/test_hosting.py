"""Hosting: the storefront in the emulated S3 bucket, readable anonymously, and CORS on the API."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, Route, expect

from tests.browser.conftest import REPO
from tests.browser.harness import Shop, Storefront

STOREFRONT = REPO / "storefront"
CONTENT_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}


def test_storefront_files_are_in_the_bucket_with_their_content_types(shop: Shop) -> None:
    bucket = f"{shop.aws_url}/cartwise-dev-storefront"
    files = sorted(p for p in STOREFRONT.rglob("*") if p.is_file() and p.name != "config.js")
    assert {p.name for p in files} >= {"index.html", "main.js", "api.js", "render.js", "styles.css"}
    with httpx.Client(timeout=10) as anonymous:  # no credentials, no signature
        for path in files:
            response = anonymous.get(f"{bucket}/{path.relative_to(STOREFRONT).as_posix()}")
            assert response.status_code == 200, path
            assert response.headers["content-type"].split(";")[0] == CONTENT_TYPES[path.suffix], path
            assert response.content == path.read_bytes(), path
        config = anonymous.get(f"{bucket}/config.js")
    assert config.headers["content-type"].split(";")[0] == "text/javascript"
    assert config.text == (
        f'export const API_BASE_URL = "{shop.api_url}";\n'
        f'export const STRIPE_JS_URL = "{shop.stack.stripe_url}/js.stripe.com/v3/";\n'  # localstripe's fake
    )


def test_api_allows_the_storefront_origin(shop: Shop) -> None:
    origin = shop.aws_url
    preflight = shop.http.options(
        "/tenants/acme/carts/01ARZ3NDEKTSV4RRFFQ69G5FAV/checkout",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,idempotency-key",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"
    allowed = {h.strip().lower() for h in preflight.headers["access-control-allow-headers"].split(",")}
    assert {"content-type", "idempotency-key"} <= allowed
    # Answers, errors included, are readable from the page's origin.
    for path in ("/tenants/acme/products?limit=1", "/tenants/no-such-shop/products"):
        answer = shop.http.get(path, headers={"Origin": origin})
        assert answer.headers["access-control-allow-origin"] == "*", path


def test_without_config_js_the_page_uses_the_local_api_default(page: Page, shop: Shop) -> None:
    """Opened without a deployed config.js, the page calls http://127.0.0.1:8000 (forwarded here to the test API)."""
    called: list[str] = []

    def forward(route: Route) -> None:
        called.append(route.request.url)
        url = re.sub(r"^http://127\.0\.0\.1:8000", shop.api_url, route.request.url)
        route.fulfill(response=route.fetch(url=url))

    page.route("**/config.js", lambda route: route.fulfill(status=404, body="not found"))
    page.route("http://127.0.0.1:8000/**", forward)
    Storefront(page, shop).open("acme")
    expect(page.locator("#product-list > li")).to_have_count(16)
    assert called
    assert called[0].startswith("http://127.0.0.1:8000/tenants/acme/products?")
