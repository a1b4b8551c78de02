"""The operator's console in Chromium against the session's local stack: a wrong key, the orders and an
order's detail, a refund whose units come back, shipping (and the shopper's tracking link), delivery,
cancel, a refusal shown as the API said it, and the inventory (an edit, a double-clicked adjustment).

The console's tenant is `console-shop` (tests/browser/console_page.py): acme's catalogue paid by card.
Each test buys products no other test here buys, so its stock figures are exact.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, Request, expect

from support.delivery import EMAIL
from tests.admin import ACME_KEY, admin
from tests.browser.console_page import KEY, SEEDED, TENANT, Console, console_shop, figures, paid_order, place_order
from tests.browser.harness import Shop, Storefront

__all__ = ["console_shop"]  # the fixture, used by every test here


def admin_calls(page: Page) -> list[Request]:
    """Every request the page sends with the admin key (recorded from now on)."""
    calls: list[Request] = []
    page.on("request", lambda r: calls.append(r) if r.headers.get("x-api-key") else None)
    return calls


def test_a_wrong_key_is_refused_and_the_right_one_opens_the_orders_with_one_request(
    page: Page, shop: Shop, console_shop: str
) -> None:
    console = Console(page, shop)
    console.open()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

    console.sign_in("cw_console-shop_not-the-key-of-this-shop-at-all")
    expect(console.sign_in_message).to_have_text(
        "That key was refused: it is not an admin key of this shop (401 UNAUTHORIZED: A valid X-Api-Key is required.)."
    )
    console.sign_in(ACME_KEY)  # another shop's key
    expect(console.sign_in_message).to_have_text(
        "That key was refused: it belongs to another shop (403 FORBIDDEN: This key is not valid for this tenant.)."
    )
    assert console.stored_key() is None
    expect(page.locator("#screens")).to_be_hidden()

    calls = admin_calls(page)
    console.sign_in(KEY)
    expect(page.get_by_role("heading", name="Orders")).to_be_visible()
    expect(page.locator("#orders-page")).to_have_text("Page 1")
    assert [(r.method, r.url.split("/tenants/")[1]) for r in calls] == [("GET", f"{TENANT}/orders?limit=20")]
    assert KEY not in page.url
    assert console.stored_key() == KEY  # sessionStorage, for this tab only
    assert console.local_storage_size() == 0

    page.reload()  # the tab keeps the key: straight to the orders
    expect(page.get_by_role("heading", name="Orders")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    expect(console.sign_in_message).to_have_text("Signed out: this browser tab no longer holds the key.")
    assert console.stored_key() is None
    page.reload()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_the_orders_newest_first_filtered_and_an_orders_detail(
    page: Page, shop: Shop, console_shop: str, localstripe_url: str
) -> None:
    waiting, _ = place_order(shop, {"sun-hat": 1})  # 19.99 + 4.90 shipping, VAT 4.98: 29.87
    paid, _ = paid_order(shop, localstripe_url, {"wool-socks": 2, "fuel-canister": 1})  # 24.98 + 4.45 + 4.90
    console = Console(page, shop)
    console.open()
    console.sign_in()

    expect(console.rows.first).to_have_attribute("data-order-id", paid["order_id"])
    expect(console.rows.nth(1)).to_have_attribute("data-order-id", waiting["order_id"])
    expect(console.order_row(paid["order_id"]).locator("td")).to_have_text(
        [paid["order_id"], re.compile(r"\d"), "Paid", "3 items", "€41.20", EMAIL]
    )
    expect(console.order_row(waiting["order_id"]).locator("td").nth(2)).to_have_text("Awaiting payment")
    expect(console.order_row(waiting["order_id"]).locator("td").nth(4)).to_have_text("€29.87")

    page.get_by_label("Status").select_option("pending_payment")
    expect(console.order_row(paid["order_id"])).to_have_count(0)
    expect(console.rows.first).to_have_attribute("data-order-id", waiting["order_id"])
    expect(console.rows.locator("td:nth-child(3)")).to_have_text(["Awaiting payment"] * console.rows.count())
    page.get_by_label("Status").select_option("")

    console.open_order(paid["order_id"])
    detail = console.detail
    expect(page).to_have_url(re.compile(f"#order={paid['order_id']}$"))
    expect(detail.locator(".order-status")).to_contain_text("Status: Paid")
    expect(detail.locator("table.lines tbody tr")).to_have_count(2)
    expect(detail.locator("table.lines tr[data-product-id='wool-socks'] td")).to_have_text(
        [SEEDED["wool-socks"]["name"], "2", "€12.49", "€24.98"]
    )
    for name, figure in {"subtotal": "€29.43", "shipping": "€4.90", "vat": "€6.87", "total": "€41.20"}.items():
        expect(detail.locator(f"[data-total='{name}']")).to_have_text(figure)
    expect(detail.get_by_role("region", name="Delivery")).to_contain_text(
        "Ada Lovelace, Unter den Linden 1, 10117 Berlin, DE"
    )
    expect(detail.locator("[data-fact='payment-status']")).to_have_text("succeeded")
    expect(detail.get_by_role("region", name="Fulfilment")).to_contain_text("Not shipped yet.")
    expect(detail.locator(".timeline .timeline-event")).to_have_text(["Order placed", "Paid"])
    expect(detail.get_by_role("button")).to_have_text(["Ship…", "Refund…"])

    detail.get_by_role("link", name="← All orders").click()
    expect(console.rows.first).to_have_attribute("data-order-id", paid["order_id"])


def test_a_refund_of_a_paid_order_puts_its_units_back_on_sale(
    page: Page, shop: Shop, console_shop: str, localstripe_url: str
) -> None:
    seeded = SEEDED["sleeping-bag"]["stock"]
    before = figures(shop, "sleeping-bag")
    order, _ = paid_order(shop, localstripe_url, {"sleeping-bag": 2})  # 159.90, free shipping, VAT 31.98
    assert figures(shop, "sleeping-bag") == (before[0] - 2, before[1], before[2] + 2)
    console = Console(page, shop)
    console.open(f"#order={order['order_id']}")
    console.sign_in()

    console.act(
        "Refund…",
        f"Refund €191.88 of order {order['order_id']} to the shopper's card? Its 2 unit(s) go back on sale.",
    )

    expect(console.action_message).to_have_text("Refunded €191.88. Its units are back on sale.")
    expect(console.status()).to_have_text("Refunded")
    expect(console.detail.locator(".timeline .timeline-event")).to_have_text(["Order placed", "Paid", "Refunded"])
    assert shop.http.get(f"/tenants/{TENANT}/orders/{order['order_id']}").json()["status"] == "refunded"
    assert figures(shop, "sleeping-bag") == before  # the 2 units back on sale, no longer sold
    assert before[0] + before[1] + before[2] == seeded

    console.screen("Inventory")
    expect(console.figure("sleeping-bag", "stock")).to_have_text(str(before[0]))
    expect(console.figure("sleeping-bag", "sold")).to_have_text(str(before[2]))


def test_shipping_shows_the_shopper_the_tracking_link_and_the_order_is_marked_delivered(
    page: Page, shop: Shop, console_shop: str, localstripe_url: str
) -> None:
    order, token = paid_order(shop, localstripe_url, {"camp-chair": 1})
    order_id = order["order_id"]
    console = Console(page, shop)
    console.open(f"#order={order_id}")
    console.sign_in()
    ship = console.detail.locator("form.ship")
    ship.get_by_label("Carrier").fill("DHL")
    ship.get_by_label("Tracking number").fill("00340434161094042557")
    ship.get_by_label("Tracking link").fill("http://nolp.dhl.de/track?id=00340434161094042557")
    ship.get_by_role("button", name="Ship…").click()
    expect(console.action_message).to_have_text("The tracking link must start with https://.")
    expect(page.locator("#confirm-dialog")).to_be_hidden()

    tracking_url = "https://nolp.dhl.de/nextt-online-public/set_identcodes.do?idc=00340434161094042557"
    ship.get_by_label("Tracking link").fill(tracking_url)
    console.act(
        "Ship…",
        f"Ship order {order_id} with DHL, tracking number 00340434161094042557? "
        "The shopper sees the tracking link on the order page.",
    )
    expect(console.action_message).to_have_text("Shipped: the order is on its way.")
    expect(console.status()).to_have_text("Shipped")
    expect(console.detail.locator("[data-fact='tracking-link'] a")).to_have_attribute("href", tracking_url)
    assert shop.order(TENANT, order_id, token)["fulfilment"]["tracking_url"] == tracking_url

    shopper = page.context.browser.new_context(locale="en-GB")
    try:
        store = Storefront(shopper.new_page(), shop)
        store.open_order(TENANT, order_id, token)
        expect(store.confirmation.get_by_role("heading", name="Your order is on its way.")).to_be_visible()
        expect(store.confirmation.get_by_role("link", name="Track your parcel with DHL")).to_have_attribute(
            "href", tracking_url
        )
    finally:
        shopper.close()

    console.act("Mark delivered…", f"Mark order {order_id} as delivered?")
    expect(console.action_message).to_have_text("Delivered: the order reached its shopper.")
    expect(console.status()).to_have_text("Delivered")
    expect(console.detail.locator(".timeline .timeline-event")).to_have_text(
        ["Order placed", "Paid", "Shipped", "Delivered"]
    )
    assert shop.order(TENANT, order_id)["status"] == "delivered"
    expect(console.detail.get_by_role("button")).to_have_text(["Refund…"])  # restock asked for delivered goods
    expect(console.detail.get_by_label("The goods came back: put the units on sale again")).not_to_be_checked()


def test_cancel_gives_the_units_back_and_a_refusal_is_shown_as_the_api_said_it(
    page: Page, shop: Shop, console_shop: str, localstripe_url: str
) -> None:
    before = figures(shop, "camp-stove")
    waiting, _ = place_order(shop, {"camp-stove": 2})
    assert figures(shop, "camp-stove") == (before[0] - 2, before[1] + 2, before[2])
    console = Console(page, shop)
    console.open(f"#order={waiting['order_id']}")
    console.sign_in()
    expect(console.detail.get_by_role("button")).to_have_text(["Cancel order…"])

    console.detail.get_by_role("button", name="Cancel order…").click()
    page.locator("#confirm-dialog").get_by_role("button", name="Back").click()  # changed its mind: nothing sent
    assert shop.order(TENANT, waiting["order_id"])["status"] == "pending_payment"
    console.act(
        "Cancel order…",
        f"Cancel order {waiting['order_id']}? Its 2 unit(s) go back on sale. Its payment is cancelled.",
    )
    expect(console.action_message).to_have_text("Cancelled: its units are back on sale.")
    expect(console.status()).to_have_text("Cancelled")
    expect(console.detail.locator(".timeline .timeline-event")).to_have_text(["Order placed", "Cancelled"])
    assert figures(shop, "camp-stove") == before

    # Another operator refunds a paid order while this one looks at it; shipping it is then refused.
    paid, _ = paid_order(shop, localstripe_url, {"cook-set": 1})
    page.goto(console.url(screen=f"#order={paid['order_id']}"))
    expect(console.status()).to_have_text("Paid")
    refunded = shop.http.post(f"/tenants/{TENANT}/orders/{paid['order_id']}/refund", json={}, headers=admin(KEY))
    assert refunded.status_code == 200, refunded.text
    ship = console.detail.locator("form.ship")
    ship.get_by_label("Carrier").fill("UPS")
    ship.get_by_label("Tracking number").fill("1Z999AA10123456784")
    console.act("Ship…")
    expect(console.action_message).to_have_text(
        re.compile(r"^409 ORDER_NOT_SHIPPABLE: .*refunded"),
    )
    assert shop.order(TENANT, paid["order_id"])["status"] == "refunded"


def test_the_inventory_highlights_low_stock_edits_a_product_and_a_double_click_adjusts_once(
    page: Page, shop: Shop, console_shop: str
) -> None:
    console = Console(page, shop)
    console.open("#inventory")
    console.sign_in()
    expect(page.locator("#inventory-threshold")).to_have_text("Low stock: 5 units on sale or fewer.")
    expect(page.locator("#inventory-list li")).to_have_count(len(SEEDED))
    expect(console.product("sleeping-pad")).to_have_class(re.compile(r"\blow-stock\b"))
    expect(console.product("sleeping-pad").locator(".badge")).to_have_text("Low stock")
    expect(console.product("water-filter").locator(".badge")).to_have_text("Sold out")
    expect(console.product("headlamp").locator(".badge")).to_have_count(0)

    stock, reserved, sold = figures(shop, "spare-batteries")
    item = console.product("spare-batteries")
    expect(item.locator("[data-figure]")).to_have_text([str(stock), str(reserved), str(sold)])
    edit = item.locator("form.edit")
    edit.get_by_label("Name").fill("Spare batteries (AAA, 12)")
    edit.get_by_label("Price").fill("7.5")
    edit.get_by_label("Description").fill("Twelve AAA alkaline batteries.")
    with page.expect_request(lambda r: r.method == "PUT") as put:
        edit.get_by_role("button", name="Save").click()
    assert "stock" not in put.value.post_data_json
    assert put.value.post_data_json["tags"] == SEEDED["spare-batteries"]["tags"]  # the rest sent back as it was
    expect(item.locator(".message")).to_have_text("Saved Spare batteries (AAA, 12) at 7.50.")
    product = shop.http.get(f"/tenants/{TENANT}/products/spare-batteries").json()
    assert (product["name"], product["price"], product["description"], product["stock"]) == (
        "Spare batteries (AAA, 12)",
        "7.50",
        "Twelve AAA alkaline batteries.",
        stock,  # an edit never sets the stock
    )
    assert product["category"] == SEEDED["spare-batteries"]["category"]

    adjustments: list[Request] = []
    page.on("request", lambda r: adjustments.append(r) if r.url.endswith("/stock") else None)
    adjust = item.locator("form.adjust")
    adjust.get_by_label("Add or remove units").fill("5")
    adjust.get_by_role("button", name="Adjust").dblclick()
    expect(item.locator(".message")).to_have_text(f"Stock +5: {stock + 5} on sale.")
    expect(item.locator("[data-figure='stock']")).to_have_text(str(stock + 5))
    assert figures(shop, "spare-batteries") == (stock + 5, reserved, sold)  # adjusted once
    # The first click disables the button until the answer: one request, one key.
    assert len(adjustments) == 1

    item.locator("form.adjust").get_by_label("Add or remove units").fill("-2")  # a new adjustment, a new key
    item.locator("form.adjust").get_by_role("button", name="Adjust").click()
    expect(item.locator(".message")).to_have_text(f"Stock -2: {stock + 3} on sale.")
    assert figures(shop, "spare-batteries") == (stock + 3, reserved, sold)
    assert len({r.headers["idempotency-key"] for r in adjustments}) == 2
