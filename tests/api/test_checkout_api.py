from decimal import Decimal

import pytest

from chalicelib import catalog
from support.delivery import checkout_key, deliver
from tests.admin import admin
from tests.conftest import TENT_AND_TWO_HEADLAMPS_SUMMER10, orders_of, product_record, set_stock

CARTS = "/tenants/acme/carts"


def cart_with(api, *items, promo=None):
    """A deliverable cart: delivered to DE by `standard` (4.90, free over 50.00)."""
    cart_id = api.post(CARTS, {"items": [{"product_id": p, "quantity": q} for p, q in items]}).data["cart_id"]
    if promo:
        assert api.put(f"{CARTS}/{cart_id}/promo", {"code": promo}).status_code == 200
    deliver(api, "acme", cart_id)
    return cart_id


def checkout(api, cart_id, key=None, body=None):
    """Under `key`, or a fresh one (each checkout is a request of its own unless it reuses a key)."""
    headers = {"Idempotency-Key": key} if key else checkout_key()
    return api.post(f"{CARTS}/{cart_id}/checkout", body, headers=headers)


@pytest.mark.usefixtures("acme_on_delivery")  # a card order's checkout: test_payments.py
def test_checkout_prices_reserves_stock_and_persists_the_order(api):
    cart_id = cart_with(api, ("tent-2p", 1), ("headlamp", 2), promo="SUMMER10")
    response = checkout(api, cart_id, key="order-1", body={"email": "ada@example.com"})

    assert response.status_code == 201
    order = response.data["order"]
    assert response.headers["Location"] == f"/tenants/acme/orders/{order['order_id']}"
    assert order["status"] == "confirmed"
    assert order["cart_id"] == cart_id
    assert order["email"] == "ada@example.com"  # the checkout's answer goes to the holder of its token
    public = api.get(f"/tenants/acme/orders/{order['order_id']}").data
    assert {"email", "delivery", "fulfilment", "timeline"}.isdisjoint(public)  # personal data: token or key only
    assert order["promo_code"] == "SUMMER10"
    assert order["currency"] == "EUR"
    assert [(i["product_id"], i["unit_price"], i["quantity"], i["line_total"]) for i in order["items"]] == [
        ("tent-2p", "129.00", 1, "129.00"),
        ("headlamp", "24.99", 2, "49.98"),
    ]
    assert order["totals"] == TENT_AND_TWO_HEADLAMPS_SUMMER10
    assert response.data["upsell"] == {"enabled": False, "source": "disabled", "suggestions": []}

    tent, headlamp = product_record("acme", "tent-2p"), product_record("acme", "headlamp")
    assert (tent.stock, tent.reserved, tent.sold) == (9, 0, 1)  # paid on delivery: sold at once
    assert (headlamp.stock, headlamp.reserved, headlamp.sold) == (28, 0, 2)
    cart = api.get(f"{CARTS}/{cart_id}").data
    assert (cart["status"], cart["order_id"]) == ("checked_out", order["order_id"])
    token = {"X-Order-Token": response.data["order_token"]}
    assert api.get(f"/tenants/acme/orders/{order['order_id']}", headers=token).data == order
    (listed,) = api.get("/tenants/acme/orders", headers=admin()).data["items"]
    assert listed == order


def test_order_keeps_its_price_snapshot(api, aws):
    from chalicelib.models import ProductModel

    cart_id = cart_with(api, ("sun-hat", 1))
    order = checkout(api, cart_id).data["order"]
    ProductModel("acme", "sun-hat").update(actions=[ProductModel.price.set(Decimal("99.00"))])
    assert api.get(f"/tenants/acme/orders/{order['order_id']}").data["items"][0]["unit_price"] == "19.99"


def test_empty_cart_is_422(api):
    response = checkout(api, cart_with(api))
    assert (response.status_code, response.data["error"]["code"]) == (422, "EMPTY_CART")
    assert orders_of("acme") == []


def test_a_cart_without_delivery_is_422_delivery_required_and_nothing_is_written(api):
    cart_id = api.post(CARTS, {"items": [{"product_id": "tent-2p", "quantity": 1}]}).data["cart_id"]

    response = checkout(api, cart_id, key="no-delivery")

    assert (response.status_code, response.data["error"]["code"]) == (422, "DELIVERY_REQUIRED")
    assert response.data["error"]["details"] == {"cart_id": cart_id}
    assert f"/carts/{cart_id}/delivery" in response.data["error"]["message"]
    assert_nothing_written(api, cart_id)
    assert product_record("acme", "tent-2p").reserved == 0
    # Nothing was recorded under the key either: once delivered, the same key places the order.
    deliver(api, "acme", cart_id)
    assert checkout(api, cart_id, key="no-delivery").status_code == 201


def test_a_checkout_without_an_idempotency_key_is_400_and_nothing_is_written(api):
    cart_id = cart_with(api, ("tent-2p", 1))

    response = api.post(f"{CARTS}/{cart_id}/checkout", {"email": "ada@example.com"})

    assert (response.status_code, response.data["error"]["code"]) == (400, "IDEMPOTENCY_KEY_REQUIRED")
    assert "Idempotency-Key" in response.data["error"]["message"]
    assert_nothing_written(api, cart_id)
    assert product_record("acme", "tent-2p").reserved == 0


def test_a_key_of_an_order_sent_with_a_cart_without_delivery_is_key_reused_not_delivery_required(api):
    order = checkout(api, cart_with(api, ("camp-stove", 1)), key="used-once").data["order"]
    undelivered = api.post(CARTS, {"items": [{"product_id": "tent-2p", "quantity": 1}]}).data["cart_id"]

    response = checkout(api, undelivered, key="used-once")

    assert (response.status_code, response.data["error"]["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")
    assert [o.order_id for o in orders_of("acme")] == [order["order_id"]]


EXPRESS = {"id": "express", "name": "Express", "price": "12.90", "days": {"min": 1, "max": 2}}
STANDARD = {"id": "standard", "name": "Standard", "price": "4.90", "days": {"min": 2, "max": 4}}


@pytest.mark.parametrize(
    "plan",
    [{"countries": ["DE"], "methods": [EXPRESS]}, {"countries": ["FR"], "methods": [STANDARD]}],
    ids=["method-dropped", "country-dropped"],
)
def test_a_method_the_shop_no_longer_offers_there_is_422_at_checkout_and_nothing_is_written(api, plan):
    from chalicelib import tenants

    cart_id = cart_with(api, ("tent-2p", 1))  # to DE by standard
    tenants.set_shipping("acme", plan)
    tenants.clear_cache()

    response = checkout(api, cart_id, key="lapsed-method")

    assert (response.status_code, response.data["error"]["code"]) == (422, "SHIPPING_METHOD_UNAVAILABLE")
    offered_in_de = [m["id"] for m in plan["methods"]] if plan["countries"] == ["DE"] else []
    assert response.data["error"]["details"] == {"methods": offered_in_de}
    assert_nothing_written(api, cart_id)
    assert product_record("acme", "tent-2p").reserved == 0


def test_second_checkout_without_the_key_is_cart_closed(api):
    cart_id = cart_with(api, ("sun-hat", 1))
    order_id = checkout(api, cart_id, key="k-1").data["order"]["order_id"]
    for key in (None, "k-2"):  # None: a fresh key
        response = checkout(api, cart_id, key=key)
        assert (response.status_code, response.data["error"]["code"]) == (409, "CART_CLOSED")
        assert response.data["error"]["details"] == {"order_id": order_id}
    assert product_record("acme", "sun-hat").stock == 21


def test_retry_with_the_same_key_returns_the_same_order_and_reserves_once(api):
    cart_id = cart_with(api, ("camp-stove", 2))
    first = checkout(api, cart_id, key="retry-me", body={"email": "x@example.com"})
    again = checkout(api, cart_id, key="retry-me", body={"email": "x@example.com"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.data["order"] == first.data["order"]
    assert product_record("acme", "camp-stove").stock == 13
    assert len(orders_of("acme")) == 1


@pytest.mark.parametrize(
    "second_body", [{"email": "b@example.com"}, {"email": "a@example.com", "expected_total": "23.99"}, None]
)
def test_same_key_with_a_different_body_is_422(api, second_body):
    cart_id = cart_with(api, ("camp-stove", 1))
    assert checkout(api, cart_id, key="k", body={"email": "a@example.com"}).status_code == 201
    response = checkout(api, cart_id, key="k", body=second_body)
    assert (response.status_code, response.data["error"]["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")


def test_the_key_belongs_to_the_tenant_another_cart_with_it_is_422_and_nothing_is_written(api):
    first_cart = cart_with(api, ("camp-stove", 1))
    order = checkout(api, first_cart, key="shared-key").data["order"]
    second_cart = cart_with(api, ("tent-2p", 1))

    response = checkout(api, second_cart, key="shared-key")

    assert (response.status_code, response.data["error"]["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")
    assert [o.order_id for o in orders_of("acme")] == [order["order_id"]]
    assert (product_record("acme", "tent-2p").stock, product_record("acme", "tent-2p").sold) == (10, 0)
    assert api.get(f"{CARTS}/{second_cart}").data["status"] == "open"
    # Another tenant's identical key is another key.
    globex_cart = api.post("/tenants/globex/carts", {"items": [{"product_id": "usb-c-dock", "quantity": 1}]})
    deliver(api, "globex", globex_cart.data["cart_id"])
    other = api.post(
        f"/tenants/globex/carts/{globex_cart.data['cart_id']}/checkout", headers={"Idempotency-Key": "shared-key"}
    )
    assert other.status_code == 201


def test_a_replay_outlives_its_cart(api, aws):
    from chalicelib.models import CartModel

    cart_id = cart_with(api, ("sun-hat", 2))
    first = checkout(api, cart_id, key="after-ttl", body={"email": "a@example.com"})
    CartModel.get("acme", cart_id).delete()  # what DynamoDB's TTL does to a checked-out cart

    again = checkout(api, cart_id, key="after-ttl", body={"email": "a@example.com"})

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.data["order"] == first.data["order"]
    assert product_record("acme", "sun-hat").stock == 20
    another_key = checkout(api, cart_id)
    assert (another_key.status_code, another_key.data["error"]["code"]) == (404, "NOT_FOUND")


def test_a_key_is_kept_24_hours_and_free_again_after(api, aws):
    from datetime import UTC, datetime, timedelta

    from chalicelib.models import IdempotencyKeyModel

    cart_id = cart_with(api, ("sun-hat", 1))
    checkout(api, cart_id, key="day-old")
    record = IdempotencyKeyModel.get("acme", "checkout#day-old")
    assert timedelta(hours=24) <= record.expires_at - record.created_at < timedelta(hours=24, seconds=1)

    record.update(actions=[IdempotencyKeyModel.expires_at.set(datetime.now(UTC) - timedelta(seconds=1))])
    later_cart = cart_with(api, ("headlamp", 1))
    assert checkout(api, later_cart, key="day-old").status_code == 201
    assert len(orders_of("acme")) == 2


def test_a_quoted_total_that_still_holds_places_the_order(api):
    cart_id = cart_with(api, ("tent-2p", 1), ("headlamp", 2), promo="SUMMER10")
    response = checkout(api, cart_id, body={"expected_total": "193.30"})
    assert (response.status_code, response.data["order"]["totals"]["total"]) == (201, "193.30")


def test_a_price_changed_since_the_quote_is_409_with_the_new_totals_and_nothing_written(api, aws):
    from chalicelib.models import ProductModel

    cart_id = cart_with(api, ("tent-2p", 1), ("headlamp", 2), promo="SUMMER10")
    ProductModel("acme", "headlamp").update(actions=[ProductModel.price.set(Decimal("25.99"))])

    response = checkout(api, cart_id, key="quoted", body={"expected_total": "193.30"})

    # 129.00 + 2 x 25.99 = 180.98; discount 18.098 -> 18.10; net 162.88; VAT 32.576 -> 32.58; total 195.46.
    assert (response.status_code, response.data["error"]["code"]) == (409, "PRICE_CHANGED")
    assert response.data["error"]["details"] == {
        "expected_total": "193.30",
        "totals": {
            "subtotal": "180.98",
            "discount": "18.10",
            "net": "162.88",
            "shipping": "0.00",
            "vat_rate": "0.20",
            "vat": "32.58",
            "total": "195.46",
        },
    }
    assert_nothing_written(api, cart_id)
    # The shopper accepts the new total: the same key may be used, since nothing was recorded.
    accepted = checkout(api, cart_id, key="quoted", body={"expected_total": "195.46"})
    assert (accepted.status_code, accepted.data["order"]["totals"]["total"]) == (201, "195.46")


def test_a_promo_withdrawn_since_the_quote_is_price_changed(api, aws):
    from chalicelib import tenants
    from chalicelib.models import TenantModel

    cart_id = cart_with(api, ("tent-2p", 1), ("headlamp", 2), promo="SUMMER10")
    TenantModel("acme").update(actions=[TenantModel.promo_codes.set([])])
    tenants.clear_cache()

    response = checkout(api, cart_id, body={"expected_total": "193.30"})

    assert (response.status_code, response.data["error"]["code"]) == (409, "PRICE_CHANGED")
    assert response.data["error"]["details"]["totals"]["total"] == "214.78"  # 178.98 + 35.80 VAT, no discount
    assert_nothing_written(api, cart_id)


def test_a_price_changed_between_read_and_commit_is_price_changed_for_a_quoted_checkout(api, monkeypatch):
    cart_id = cart_with(api, ("sun-hat", 1))
    # The shopper was quoted 15.00 + shipping 4.90 (under 50.00) = 19.90; VAT 3.98; total 23.88.
    stale_reads(monkeypatch, sun_hat={"price": Decimal("15.00")})
    response = checkout(api, cart_id, body={"expected_total": "23.88"})
    assert (response.status_code, response.data["error"]["code"]) == (409, "PRICE_CHANGED")
    # 19.99 + shipping 4.90 = 24.89; VAT 4.978 -> 4.98; total 29.87.
    assert response.data["error"]["details"]["totals"]["total"] == "29.87"
    assert product_record("acme", "sun-hat").stock == 22
    assert orders_of("acme") == []


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9", "tab\there"])
def test_malformed_idempotency_key_is_400_and_writes_nothing(api, key):
    cart_id = cart_with(api, ("tent-2p", 1))
    response = api.post(f"{CARTS}/{cart_id}/checkout", headers={"Idempotency-Key": key})
    assert (response.status_code, response.data["error"]["code"]) == (400, "BAD_REQUEST")
    assert_nothing_written(api, cart_id)


def test_short_stock_found_before_the_transaction_writes_nothing(api):
    cart_id = cart_with(api, ("tent-2p", 1), ("headlamp", 3), ("sun-hat", 2))
    set_stock("acme", "headlamp", 2)
    set_stock("acme", "sun-hat", 0)
    response = checkout(api, cart_id, key="k")
    assert response.status_code == 409
    assert response.data["error"]["code"] == "OUT_OF_STOCK"
    assert response.data["error"]["details"]["items"] == [
        {"product_id": "headlamp", "requested": 3, "available": 2},
        {"product_id": "sun-hat", "requested": 2, "available": 0},
    ]
    assert_nothing_written(api, cart_id)


def assert_nothing_written(api, cart_id):
    assert product_record("acme", "tent-2p").stock == 10
    assert product_record("acme", "tent-2p").sold == 0
    assert orders_of("acme") == []
    assert api.get(f"{CARTS}/{cart_id}").data["status"] == "open"


def stale_reads(monkeypatch, **overrides):
    """Make checkout's product read see older figures than DynamoDB holds (a lost race)."""
    real = catalog.get_products
    calls = []

    def get_products(tenant_id, product_ids, consistent=False, attributes=None):
        products = real(tenant_id, product_ids, consistent, attributes)
        if not calls:
            for product_id, fields in overrides.items():
                for name, value in fields.items():
                    setattr(products[product_id.replace("_", "-")], name, value)
        calls.append(product_ids)
        return products

    monkeypatch.setattr(catalog, "get_products", get_products)
    return calls


def test_cancelled_transaction_names_each_short_line(api, monkeypatch):
    cart_id = cart_with(api, ("tent-2p", 1), ("headlamp", 3), ("sun-hat", 2))
    set_stock("acme", "headlamp", 2)
    set_stock("acme", "sun-hat", 1)
    stale_reads(monkeypatch, headlamp={"stock": 30}, sun_hat={"stock": 22})
    response = checkout(api, cart_id)
    assert response.status_code == 409
    assert sorted(response.data["error"]["details"]["items"], key=lambda i: i["product_id"]) == [
        {"product_id": "headlamp", "requested": 3, "available": 2},
        {"product_id": "sun-hat", "requested": 2, "available": 1},
    ]
    assert_nothing_written(api, cart_id)
    assert product_record("acme", "headlamp").stock == 2


def test_price_change_between_read_and_commit_reprices_and_retries(api, monkeypatch):
    cart_id = cart_with(api, ("sun-hat", 1))
    calls = stale_reads(monkeypatch, sun_hat={"price": Decimal("15.00")})
    response = checkout(api, cart_id)
    assert response.status_code == 201
    assert response.data["order"]["items"][0]["unit_price"] == "19.99"
    assert len(calls) == 2
    assert product_record("acme", "sun-hat").stock == 21


def test_edits_after_checkout_are_cart_closed(api):
    cart_id = cart_with(api, ("sun-hat", 1))
    checkout(api, cart_id)
    for response in (
        api.put(f"{CARTS}/{cart_id}/items/headlamp", {"quantity": 1}),
        api.delete(f"{CARTS}/{cart_id}/items/sun-hat"),
        api.put(f"{CARTS}/{cart_id}/promo", {"code": "SUMMER10"}),
        api.delete(f"{CARTS}/{cart_id}/promo"),
    ):
        assert (response.status_code, response.data["error"]["code"]) == (409, "CART_CLOSED")


@pytest.mark.parametrize(
    "body",
    [
        '{"email": "<img/src=x/onerror=alert(1)>@x.io"}',
        '{"email": "a\\u0000b@example.com"}',
        '{"email": "a\\u001bb@example.com"}',
        '{"email": "ada@example.com\\n"}',
        '{"expected_total": 193.3}',
        '{"expected_total": "193.3"}',
        '{"expected_total": "-1.00"}',
        '{"expected_total": "1e3"}',
    ],
)
def test_bad_checkout_body_is_400_and_writes_nothing(api, body):
    cart_id = cart_with(api, ("tent-2p", 1))
    response = api.post(f"{CARTS}/{cart_id}/checkout", raw=body, headers=checkout_key())
    assert (response.status_code, response.data["error"]["code"]) == (400, "BAD_REQUEST")
    assert_nothing_written(api, cart_id)


def test_unknown_order_is_404(api):
    assert api.get("/tenants/acme/orders/01ARZ3NDEKTSV4RRFFQ69G5FAV").status_code == 404
    assert api.get("/tenants/acme/orders/..%2F..%2Fetc").status_code == 404
