"""Delivery and fulfilment through the API on moto: shipping methods, a cart's delivery priced into
its totals, the order's snapshot, who sees what, and shipped / delivered with their timeline."""

from __future__ import annotations

import pytest

from support.card_shop import units
from support.delivery import ADDRESSES
from tests.admin import GLOBEX_KEY, admin
from tests.api.test_payments import pay, place, shop, stripe  # noqa: F401  (fixtures)

GLOBEX = "/tenants/globex"
ADDRESS = ADDRESSES["globex"]


def globex_cart(api, product_id: str = "wireless-mouse", quantity: int = 1) -> str:
    items = [{"product_id": product_id, "quantity": quantity}]
    return api.post(f"{GLOBEX}/carts", {"items": items}).data["cart_id"]


def deliver_to(api, cart_id: str, method: str = "ground", **address: str):
    body = {"email": "ada@example.com", "address": {**ADDRESS, **address}, "method": method}
    return api.put(f"{GLOBEX}/carts/{cart_id}/delivery", body)


def test_the_shipping_methods_of_a_shop_and_of_one_country(api):
    everything = api.get(f"{GLOBEX}/shipping-methods").data
    canada = api.get(f"{GLOBEX}/shipping-methods?country=CA").data
    elsewhere = api.get(f"{GLOBEX}/shipping-methods?country=DE").data

    assert everything["countries"] == ["US", "CA"]
    assert [(m["id"], m["price"], m["free_over"], m["days"], m["countries"]) for m in everything["items"]] == [
        ("ground", "6.00", "100.00", {"min": 3, "max": 5}, None),
        ("two_day", "14.00", None, {"min": 2, "max": 2}, ["US"]),
    ]
    assert [m["id"] for m in canada["items"]] == ["ground"]
    assert elsewhere["items"] == []
    assert api.get(f"{GLOBEX}/shipping-methods?country=usa").status_code == 400


def test_a_delivery_prices_shipping_into_the_cart_and_the_order_keeps_it(api):
    mouse = api.get(f"{GLOBEX}/products/wireless-mouse").data["price"]
    cart_id = globex_cart(api)

    cart = deliver_to(api, cart_id, method="two_day").data

    assert cart["delivery"] == {
        "email": "ada@example.com",
        "address": ADDRESS,
        "method": {"id": "two_day", "name": "Two-day", "price": "14.00", "days": {"min": 2, "max": 2}},
    }
    assert cart["totals"]["shipping"] == "14.00"
    placed = api.post(f"{GLOBEX}/carts/{cart_id}/checkout", headers={"Idempotency-Key": "ship-1"}).data
    order = placed["order"]
    assert order["totals"] == cart["totals"]
    assert order["email"] == "ada@example.com"
    assert order["delivery"] == {"address": ADDRESS, "method": cart["delivery"]["method"]}
    assert mouse  # priced from the catalogue: the totals above are the cart's own


def test_free_shipping_over_the_threshold_and_charged_again_below_it(api):
    cart_id = globex_cart(api, "standing-desk")  # 349.00: over ground's 100.00
    free = deliver_to(api, cart_id).data["totals"]
    assert free["shipping"] == "0.00"
    # The delivery stays when the cart changes, and shipping is priced again: a mouse alone is under 100.00.
    api.put(f"{GLOBEX}/carts/{cart_id}/items/wireless-mouse", {"quantity": 1})
    charged = api.put(f"{GLOBEX}/carts/{cart_id}/items/standing-desk", {"quantity": 0}).data
    assert (charged["delivery"]["method"]["id"], charged["totals"]["shipping"]) == ("ground", "6.00")


@pytest.mark.parametrize(
    ("method", "country", "code", "details"),
    [
        ("ground", "DE", "COUNTRY_NOT_SERVED", {"country": "DE", "countries": ["US", "CA"]}),
        ("two_day", "CA", "SHIPPING_METHOD_UNAVAILABLE", {"method": "two_day", "methods": ["ground"]}),
        ("teleport", "US", "SHIPPING_METHOD_UNAVAILABLE", {"method": "teleport", "methods": ["ground", "two_day"]}),
    ],
)
def test_a_country_or_method_the_shop_does_not_offer_is_422_and_nothing_set(api, method, country, code, details):
    cart_id = globex_cart(api)
    refused = deliver_to(api, cart_id, method=method, country=country)
    assert (refused.status_code, refused.data["error"]["code"], refused.data["error"]["details"]) == (
        422,
        code,
        details,
    )
    assert api.get(f"{GLOBEX}/carts/{cart_id}").data["delivery"] is None


@pytest.mark.parametrize(
    ("field", "value"),
    [("email", "not-an-email"), ("name", "Ada\nLovelace"), ("city", "x" * 65), ("country", "us"), ("phone", "call me")],
)
def test_bad_delivery_fields_are_400_naming_the_field(api, field, value):
    cart_id = globex_cart(api)
    body = {"email": "ada@example.com", "address": dict(ADDRESS), "method": "ground"}
    if field == "email":
        body["email"] = value
    else:
        body["address"][field] = value
    refused = api.put(f"{GLOBEX}/carts/{cart_id}/delivery", body)
    assert (refused.status_code, refused.data["error"]["code"]) == (400, "BAD_REQUEST")
    assert [f["field"].split(".")[-1] for f in refused.data["error"]["details"]["fields"]] == [field]


@pytest.mark.parametrize(
    ("field", "label"),
    [("name", "The name"), ("line1", "The address"), ("city", "The city"), ("postal_code", "The postal code"),
     ("country", "The country")],
)  # fmt: skip
@pytest.mark.parametrize("blank", ["", "   ", "\t \u00a0"])
def test_an_empty_or_blank_address_field_is_400_naming_it_in_words(api, field, label, blank):
    cart_id = globex_cart(api)
    refused = deliver_to(api, cart_id, **{field: blank})
    assert (refused.status_code, refused.data["error"]["code"]) == (400, "BAD_REQUEST")
    assert refused.data["error"]["details"]["fields"] == [
        {"field": f"address.{field}", "message": f"{label} is required: it is empty or only spaces."}
    ]
    assert api.get(f"{GLOBEX}/carts/{cart_id}").data["delivery"] is None


def test_an_address_field_too_long_is_400_saying_its_limit(api):
    refused = deliver_to(api, globex_cart(api), postal_code="1" * 17)
    assert refused.data["error"]["details"]["fields"] == [
        {"field": "address.postal_code", "message": "The postal code is at most 16 characters."}
    ]


def test_fields_are_trimmed(api):
    cart_id = globex_cart(api)
    cart = deliver_to(api, cart_id, name="  Ada Lovelace  ", city=" Springfield ").data
    assert (cart["delivery"]["address"]["name"], cart["delivery"]["address"]["city"]) == ("Ada Lovelace", "Springfield")


def on_delivery_order(api) -> tuple[str, dict[str, str]]:
    cart_id = globex_cart(api, "wireless-mouse", 2)
    deliver_to(api, cart_id)
    placed = api.post(f"{GLOBEX}/carts/{cart_id}/checkout", headers={"Idempotency-Key": f"od-{cart_id}"}).data
    return placed["order"]["order_id"], {"X-Order-Token": placed["order_token"]}


def test_an_on_delivery_order_is_shipped_then_delivered_once_each_with_its_timeline(api):
    order_id, token = on_delivery_order(api)
    shipment = {"carrier": "UPS", "tracking_number": "1Z999AA10123456784", "tracking_url": "https://ups.example/1Z9"}

    shipped = api.post(f"{GLOBEX}/orders/{order_id}/shipment", shipment, headers=admin(GLOBEX_KEY))
    again = api.post(f"{GLOBEX}/orders/{order_id}/shipment", shipment, headers=admin(GLOBEX_KEY))
    cancel = api.post(f"{GLOBEX}/orders/{order_id}/cancel", headers=token)
    delivered = api.post(f"{GLOBEX}/orders/{order_id}/delivered", headers=admin(GLOBEX_KEY))
    delivered_again = api.post(f"{GLOBEX}/orders/{order_id}/delivered", headers=admin(GLOBEX_KEY))

    assert (shipped.status_code, shipped.data["status"], again.status_code, again.data["status"]) == (
        200,
        "shipped",
        200,
        "shipped",
    )
    assert shipped.data["fulfilment"]["carrier"] == "UPS"
    assert (cancel.status_code, cancel.data["error"]["code"]) == (409, "ORDER_NOT_CANCELLABLE")
    assert (delivered.data["status"], delivered_again.status_code) == ("delivered", 200)
    shopper_view = api.get(f"{GLOBEX}/orders/{order_id}", headers=token).data
    assert [step["event"] for step in shopper_view["timeline"]] == ["created", "shipped", "delivered"]
    assert shopper_view["fulfilment"]["tracking_url"] == "https://ups.example/1Z9"
    assert shopper_view["fulfilment"]["delivered_at"] == shopper_view["timeline"][-1]["at"]
    public = api.get(f"{GLOBEX}/orders/{order_id}").data
    assert (public["status"], "fulfilment" in public, "timeline" in public) == ("delivered", False, False)
    assert units("globex", "wireless-mouse")[2] >= 2  # sold at checkout; shipping moves no counter


def test_only_paid_or_confirmed_orders_ship_and_only_shipped_ones_are_delivered(api):
    order_id, token = on_delivery_order(api)
    not_shipped = api.post(f"{GLOBEX}/orders/{order_id}/delivered", headers=admin(GLOBEX_KEY))
    assert (not_shipped.status_code, not_shipped.data["error"]["code"]) == (409, "ORDER_NOT_DELIVERABLE")
    api.post(f"{GLOBEX}/orders/{order_id}/cancel", headers=token)
    refused = api.post(
        f"{GLOBEX}/orders/{order_id}/shipment", {"carrier": "UPS", "tracking_number": "1"}, headers=admin(GLOBEX_KEY)
    )
    assert (refused.status_code, refused.data["error"]["details"]) == (409, {"status": "cancelled"})


@pytest.mark.parametrize("url", ["http://ups.example/1", "javascript:alert(1)", "https://x y"])
def test_a_tracking_link_is_https_or_nothing(api, url):
    order_id, _ = on_delivery_order(api)
    body = {"carrier": "UPS", "tracking_number": "1Z", "tracking_url": url}
    refused = api.post(f"{GLOBEX}/orders/{order_id}/shipment", body, headers=admin(GLOBEX_KEY))
    assert (refused.status_code, refused.data["error"]["code"]) == (400, "BAD_REQUEST")


@pytest.mark.parametrize(("restock", "expected"), [(False, (9, 0, 1)), (True, (10, 0, 0))])
def test_a_refund_of_a_shipped_card_order_restocks_only_when_asked(shop, stripe, restock, expected):  # noqa: F811
    order_id, token = place(shop, ("tent-2p", 1))
    assert pay(shop, order_id, token, stripe.card("pays")).data["order"]["status"] == "paid"
    shipped = shop.post(
        f"/tenants/acme/orders/{order_id}/shipment", {"carrier": "DHL", "tracking_number": "JD1"}, headers=admin()
    )
    assert shipped.data["status"] == "shipped"

    refunded = shop.post(f"/tenants/acme/orders/{order_id}/refund", {"restock": restock}, headers=admin())

    assert (refunded.status_code, refunded.data["status"]) == (200, "refunded")
    assert units("acme", "tent-2p") == expected
    [intent] = stripe.intents_of(order_id)
    assert [refund["amount"] for refund in stripe.refunds_of(intent["id"])] == [intent["amount"]]


def test_the_cli_replaces_a_tenants_shipping_and_refuses_a_bad_plan(aws, tmp_path, capsys):
    import json

    from chalicelib import tenants
    from scripts import tenants as cli

    plan = tmp_path / "plan.json"
    plan.write_text(
        json.dumps(
            {
                "countries": ["FR"],
                "methods": [{"id": "post", "name": "La Poste", "price": "3.00", "days": {"min": 3, "max": 6}}],
            }
        )
    )
    assert cli.main(["set-shipping", "--tenant-id", "acme", "--file", str(plan)]) == 0
    assert [m.id for m in tenants.get_tenant("acme", fresh=True).shipping.methods_for("FR")] == ["post"]
    plan.write_text(
        json.dumps(
            {"countries": ["FR"], "methods": [{"id": "post", "name": "x", "price": "-1", "days": {"min": 1, "max": 2}}]}
        )
    )
    assert cli.main(["set-shipping", "--tenant-id", "acme", "--file", str(plan)]) == 1
    assert "non-negative amount" in capsys.readouterr().err
    assert tenants.get_tenant("acme", fresh=True).shipping.countries == ("FR",)
