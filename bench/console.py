"""The operator's console in `make bench`: Chromium opens the console's orders screen over and over, as an
operator whose tab already holds the admin key (sessionStorage) does, against the bench's API and the
stack's S3 (the console published as `make run` publishes it). The figures: first paint and "orders
listed" (the view's performance mark once the first page is on screen), both from navigation start,
p50 over the runs; and how many admin API requests opening the screen took, with the tenant's orders
more than one page (the number must not grow with them).
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Mapping
from typing import Any

import httpx
from playwright.sync_api import Request, sync_playwright

from chalicelib import clients, config, tenants
from scripts.chromium import CHROMIUM_ARGS, ensure_chromium
from scripts.local_stack import STAGE
from scripts.provision import publish_storefront

RUNS = 15
TENANT = "acme"
PAGE = 20  # the console's page of orders (console/controller.js ORDERS_PAGE)
MEASURE = """() => {
  const paint = performance.getEntriesByName("first-paint")[0];
  const listed = performance.getEntriesByName("cartwise:orders-listed")[0];
  return { paint: paint ? paint.startTime : null, listed: listed.startTime };
}"""


def phase_console(api_url: str, aws_url: str, env: Mapping[str, str], admin_key: str) -> dict[str, Any]:
    # Publish the storefront and console to the stack's bucket, pointing at the bench's API.
    os.environ.update(env)
    config.reset()
    clients.reset()
    tenants.clear_cache()
    publish_storefront(api_url)
    first = httpx.get(f"{api_url}/tenants/{TENANT}/orders", params={"limit": PAGE}, headers={"X-Api-Key": admin_key})
    first.raise_for_status()
    url = f"{aws_url}/cartwise-{STAGE}-storefront/console/index.html?tenant={TENANT}"
    paints, listed, calls = [], [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=ensure_chromium(), args=CHROMIUM_ARGS)
        for _ in range(RUNS):
            context = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
            # A returning operator: the tab holds the key (the console keeps it in sessionStorage only).
            context.add_init_script(f"sessionStorage.setItem('cartwise-console:{TENANT}:admin-key', {admin_key!r})")
            page = context.new_page()
            admin: list[Request] = []
            page.on("request", admin.append)
            page.goto(url)
            page.wait_for_function("performance.getEntriesByName('cartwise:orders-listed').length > 0")
            page.locator("#orders-rows tr").first.wait_for()
            timing = page.evaluate(MEASURE)
            if timing["paint"] is not None:
                paints.append(timing["paint"])
            listed.append(timing["listed"])
            calls.append(sum(1 for request in admin if request.headers.get("x-api-key")))
            context.close()
        browser.close()
    return {
        "runs": RUNS,
        "first_paint_p50_ms": round(statistics.median(paints)) if paints else None,
        "orders_listed_p50_ms": round(statistics.median(listed)),
        "paint_to_listed_p50_ms": round(statistics.median(listed) - statistics.median(paints)) if paints else None,
        "admin_calls_per_open": sorted(set(calls)),
        "orders_first_page": len(first.json()["items"]),
        "more_orders_than_a_page": first.json()["next_cursor"] is not None,
    }
