"""Retake the operator's console screenshots (docs/images/console-*.png) from a fresh local stack.

    .venv/bin/python docs/images/take_console_screenshots.py      (or: make screenshots)

Starts the local stack on free ports (like the tests), opens the console's test tenant (acme's
catalogue, paid by card: tests/browser/console_page.py), places and pays a few orders as shoppers
would, ships one, and drives Debian's Chromium with Playwright through the console's screens: the
orders, one order's detail, the inventory and the up-sell. The up-sell screenshot is taken only when
the API answers the up-sell settings route; otherwise the script says so and leaves the old file.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from playwright.sync_api import expect, sync_playwright  # noqa: E402

from chalicelib import clients, config, tenants  # noqa: E402
from scripts.chromium import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from scripts.local_stack import LocalStack, free_port  # noqa: E402
from tests.admin import admin  # noqa: E402
from tests.browser.console_page import KEY, TENANT, Console, open_console_shop, paid_order, place_order  # noqa: E402
from tests.browser.harness import Shop  # noqa: E402

IMAGES = REPO / "docs" / "images"
VIEWPORT = {"width": 1280, "height": 900}


def shoot(page, name: str) -> None:
    page.evaluate("document.activeElement?.blur(); window.scrollTo(0, 0)")
    page.screenshot(path=IMAGES / f"console-{name}.png")
    print(f"docs/images/console-{name}.png", flush=True)


def main() -> int:
    subprocess.run(["bash", str(REPO / "scripts" / "ensure_chromium.sh")], check=True)  # noqa: S603, S607
    with (
        tempfile.TemporaryDirectory(prefix="screenshot-logs-") as logs,
        LocalStack(
            dynamodb_port=free_port(),
            aws_port=free_port(),
            api_port=free_port(),
            stripe_port=free_port(),
            client_limits=False,
            log_dir=Path(logs),
        ) as stack,
    ):
        os.environ.update({k: v for k, v in stack.env.items() if k.startswith(("AWS_", "CARTWISE_", "STRIPE_"))})
        config.reset()
        clients.reset()
        tenants.clear_cache()
        open_console_shop()
        shop = Shop(stack)
        place_order(shop, {"sun-hat": 1})
        paid_order(shop, stack.stripe_url, {"sleeping-bag": 1, "headlamp": 2})
        paid_order(shop, stack.stripe_url, {"wool-socks": 3})
        shipped, _ = paid_order(shop, stack.stripe_url, {"tent-2p": 1, "camp-lantern": 1})
        shipment = {
            "carrier": "DHL",
            "tracking_number": "00340434161094042557",
            "tracking_url": "https://nolp.dhl.de/nextt-online-public/set_identcodes.do?idc=00340434161094042557",
        }
        shipping = f"/tenants/{TENANT}/orders/{shipped['order_id']}/shipment"
        shop.http.post(shipping, json=shipment, headers=admin(KEY)).raise_for_status()
        upsell_routes = shop.http.get(f"/tenants/{TENANT}/upsell/settings", headers=admin(KEY)).status_code == 200

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_context(locale="en-GB", viewport=VIEWPORT).new_page()
            console = Console(page, shop)
            console.open()
            console.sign_in()
            expect(console.rows).to_have_count(4)
            shoot(page, "orders")
            console.open_order(shipped["order_id"])
            shoot(page, "order")
            console.screen("Inventory")
            expect(page.locator("#inventory-list li").first).to_be_visible()
            shoot(page, "inventory")
            if upsell_routes:
                console.screen("Up-sell")
                expect(page.locator("#upsell-charts figure")).to_have_count(3)
                shoot(page, "upsell")
            else:
                print("the API has no up-sell settings route: docs/images/console-upsell.png not retaken", flush=True)
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
