"""The link in the shopper's confirmation e-mail (as MailDev received it) opens the paid order's page in a
browser that never saw the order: the e-mail's own token shows the full order, then leaves the address."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from chalicelib.ids import new_ulid
from support.mail_shop import MailPipe, open_mailing_card_shop, pay_card_order
from tests.browser.harness import Shop, Storefront
from tests.mail import order_link


@pytest.fixture(scope="module")
def pipe(stack, tmp_path_factory):
    with MailPipe(stack, tmp_path_factory.mktemp("mail-pipe")) as running:
        yield running


def test_the_confirmation_link_opens_the_order_page(page: Page, shop: Shop, stack, stack_aws, localstripe_url, pipe):
    tenant = f"mail-{new_ulid().lower()[-10:]}"
    open_mailing_card_shop(tenant)
    shopper = f"ada-{tenant}@example.com"
    order, _ = pay_card_order(stack.api_url, localstripe_url, tenant, shopper, {"stove": 1})  # 25.50 + 4.90 + 6.08
    (arrived,) = pipe.wait_for(shopper)
    link = order_link(pipe.raw(arrived))

    page.goto(link)  # a fresh browser context: nothing of the order in its storage
    shop_page = Storefront(page, shop)
    shop_page.wait_ready()
    expect(page).to_have_url(re.compile(rf"#order={order['order_id']}$"))  # the token left the address
    confirmation = shop_page.confirmation
    expect(confirmation.get_by_role("heading", name="Thank you! Your order is paid.")).to_be_visible()
    expect(confirmation.locator(".order-id")).to_have_text(order["order_id"])
    expect(confirmation.locator(".order-status")).to_have_text("Status: Paid")
    expect(confirmation.locator(".payment-note")).to_have_text("Paid by card: €36.48.")
    # The full order, which only its token (here the e-mail's) shows.
    expect(confirmation.locator(".delivery-email")).to_have_text(f"E-mail: {shopper}")
    expect(confirmation.locator(".timeline li .timeline-event")).to_have_text(["Order placed", "Paid"])
