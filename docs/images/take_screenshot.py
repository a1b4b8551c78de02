"""Take the README's storefront screenshot (docs/images/storefront.png) from a running local stack.

    .venv/bin/python docs/images/take_screenshot.py

Starts the local stack on free ports (like the tests), turns the up-sell flag on, and drives
Debian's Chromium with Playwright: the acme shop with a tent and two headlamps in the cart, the
promo code applied and the up-sell suggestions showing. The PNG is kept under 300 KB (checked by
tests/docs/test_readme.py).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from playwright.sync_api import expect, sync_playwright  # noqa: E402

from scripts.chromium import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from scripts.local_stack import LocalStack, free_port  # noqa: E402
from tests.browser.harness import Shop, Storefront  # noqa: E402

TARGET = REPO / "docs" / "images" / "storefront.png"
VIEWPORT = {"width": 1280, "height": 1040}


def main() -> int:
    subprocess.run(["bash", str(REPO / "scripts" / "ensure_chromium.sh")], check=True)  # noqa: S603, S607
    with (
        tempfile.TemporaryDirectory(prefix="screenshot-logs-") as logs,
        LocalStack(
            dynamodb_port=free_port(),
            aws_port=free_port(),
            api_port=free_port(),
            stripe_port=free_port(),
            log_dir=Path(logs),
        ) as stack,
    ):
        shop = Shop(stack)
        shop.set_upsell_flag(True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_context(locale="en-GB", viewport=VIEWPORT).new_page()
            store = Storefront(page, shop)
            store.open("acme")
            store.add("tent-2p")
            store.add("headlamp")
            store.step("headlamp", "+", 2)
            store.apply_promo("SUMMER10")
            store.expect_totals(
                subtotal="€178.98", discount="\u2212€17.90", net="€161.08", vat="€32.22", total="€193.30"
            )
            expect(store.cart_upsell.locator("li")).to_have_count(3)
            page.evaluate("document.activeElement.blur(); window.scrollTo(0, 0)")
            page.screenshot(path=TARGET)
            browser.close()
        shop.http.close()
    print(f"{TARGET.relative_to(REPO)}: {TARGET.stat().st_size // 1024} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
