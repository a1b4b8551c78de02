"""Every route, called with one tenant's ids under the other tenant: 404 and nothing written."""

import pytest

from chalicelib.models import CartModel
from support.delivery import check_out, checkout_key, delivery
from tests.conftest import orders_of, product_record


@pytest.fixture
def acme_state(api):
    open_cart = api.post("/tenants/acme/carts", {"items": [{"product_id": "tent-2p", "quantity": 1}]}).data
    closed_cart = api.post("/tenants/acme/carts", {"items": [{"product_id": "headlamp", "quantity": 1}]}).data
    order = check_out(api, "acme", closed_cart["cart_id"]).data["order"]
    return {"cart": open_cart["cart_id"], "closed_cart": closed_cart["cart_id"], "order": order["order_id"]}


def cross_tenant_calls(ids):
    cart = f"/tenants/globex/carts/{ids['cart']}"
    return [
        ("GET", cart, None),
        ("PUT", f"{cart}/items/gift-card", {"quantity": 1}),
        ("DELETE", f"{cart}/items/tent-2p", None),
        ("PUT", f"{cart}/promo", {"code": "SUMMER10"}),
        ("DELETE", f"{cart}/promo", None),
        ("GET", f"{cart}/upsell", None),
        ("PUT", f"{cart}/delivery", delivery("globex")),
        ("POST", f"{cart}/checkout", None),
        ("POST", f"/tenants/globex/carts/{ids['closed_cart']}/checkout", None),
        ("GET", f"/tenants/globex/orders/{ids['order']}", None),
    ]


def test_every_cart_and_order_route_refuses_another_tenants_ids(api, acme_state):
    before = CartModel.get("acme", acme_state["cart"], consistent_read=True)
    for method, path, body in cross_tenant_calls(acme_state):
        response = api.call(method, path, body=body, headers=checkout_key())  # the checkout needs a key
        assert response.status_code == 404, (method, path, response.data)
        assert response.data["error"]["code"] == "NOT_FOUND", (method, path)
        assert "tent-2p" not in str(response.data)
    after = CartModel.get("acme", acme_state["cart"], consistent_read=True)
    assert after.version == before.version
    assert after.status == "open"
    assert [line.product_id for line in after.lines] == ["tent-2p"]
    assert list(CartModel.query("globex", consistent_read=True)) == []
    assert orders_of("globex") == []
    assert len(orders_of("acme")) == 1
    assert product_record("acme", "tent-2p").stock == 10


def test_products_are_only_visible_inside_their_tenant(api):
    assert api.get("/tenants/globex/products/tent-2p").status_code == 404
    globex_ids = {p["product_id"] for p in api.get("/tenants/globex/products?limit=100").data["items"]}
    assert "tent-2p" not in globex_ids
    assert "gift-card" in globex_ids


def test_a_cart_cannot_hold_another_tenants_product(api):
    response = api.post("/tenants/globex/carts", {"items": [{"product_id": "tent-2p", "quantity": 1}]})
    assert (response.status_code, response.data["error"]["code"]) == (404, "NOT_FOUND")
    cart_id = api.post("/tenants/globex/carts").data["cart_id"]
    assert api.put(f"/tenants/globex/carts/{cart_id}/items/tent-2p", {"quantity": 1}).status_code == 404


def test_shared_product_id_is_priced_by_its_own_tenant(api):
    acme_price = api.get("/tenants/acme/products/gift-card").data["price"]
    globex_price = api.get("/tenants/globex/products/gift-card").data["price"]
    cart = api.post("/tenants/globex/carts", {"items": [{"product_id": "gift-card", "quantity": 1}]}).data
    assert cart["items"][0]["unit_price"] == globex_price != acme_price
    assert cart["currency"] == "USD"


@pytest.mark.parametrize(
    "path", ["/tenants/initech/products", "/tenants/initech/carts/01ARZ3NDEKTSV4RRFFQ69G5FAV", "/tenants/ACME/products"]
)
def test_unknown_tenant_is_tenant_not_found(api, path):
    response = api.get(path)
    assert (response.status_code, response.data["error"]["code"]) == (404, "TENANT_NOT_FOUND")


def test_unknown_tenant_cannot_create_carts(api):
    response = api.post("/tenants/initech/carts")
    assert (response.status_code, response.data["error"]["code"]) == (404, "TENANT_NOT_FOUND")
    assert list(CartModel.query("initech")) == []
