from tests.conftest import TENT_AND_TWO_HEADLAMPS_SUMMER10, set_stock

CARTS = "/tenants/acme/carts"


def new_cart(api, *items):
    response = api.post(CARTS, {"items": [{"product_id": p, "quantity": q} for p, q in items]})
    assert response.status_code == 201, response.data
    return response.data


def test_create_empty_cart(api):
    response = api.post(CARTS)
    assert response.status_code == 201
    cart = response.data
    assert response.headers["Location"] == f"{CARTS}/{cart['cart_id']}"
    assert cart["status"] == "open"
    assert cart["items"] == []
    assert cart["order_id"] is None
    assert cart["totals"] == {
        "subtotal": "0.00",
        "discount": "0.00",
        "net": "0.00",
        "shipping": "0.00",
        "vat_rate": "0.20",
        "vat": "0.00",
        "total": "0.00",
    }
    assert cart["currency"] == "EUR"
    assert api.get(f"{CARTS}/{cart['cart_id']}").data == cart


def test_create_with_items_merges_duplicates_and_prices_lines(api):
    cart = new_cart(api, ("tent-2p", 1), ("headlamp", 2), ("tent-2p", 1))
    assert [(i["product_id"], i["quantity"], i["unit_price"], i["line_total"]) for i in cart["items"]] == [
        ("tent-2p", 2, "129.00", "258.00"),
        ("headlamp", 2, "24.99", "49.98"),
    ]
    assert cart["totals"]["subtotal"] == "307.98"
    assert cart["totals"]["vat"] == "61.60"  # 61.596
    assert cart["totals"]["total"] == "369.58"


def test_set_quantity_adds_updates_and_zero_removes(api):
    cart_id = new_cart(api)["cart_id"]
    item = f"{CARTS}/{cart_id}/items"
    assert api.put(f"{item}/wool-socks", {"quantity": 3}).data["items"][0]["line_total"] == "37.47"
    updated = api.put(f"{item}/wool-socks", {"quantity": 1}).data
    assert [(i["product_id"], i["quantity"]) for i in updated["items"]] == [("wool-socks", 1)]
    assert api.put(f"{item}/wool-socks", {"quantity": 0}).data["items"] == []


def test_delete_line(api):
    cart_id = new_cart(api, ("headlamp", 1), ("sun-hat", 1))["cart_id"]
    response = api.delete(f"{CARTS}/{cart_id}/items/headlamp")
    assert response.status_code == 200
    assert [i["product_id"] for i in response.data["items"]] == ["sun-hat"]
    assert api.delete(f"{CARTS}/{cart_id}/items/headlamp").status_code == 200


def test_quantity_above_stock_is_409_with_available(api):
    cart_id = new_cart(api)["cart_id"]
    response = api.put(f"{CARTS}/{cart_id}/items/sleeping-pad", {"quantity": 4})
    assert response.status_code == 409
    assert response.data["error"]["code"] == "OUT_OF_STOCK"
    assert response.data["error"]["details"] == {
        "items": [{"product_id": "sleeping-pad", "requested": 4, "available": 3}]
    }
    assert api.get(f"{CARTS}/{cart_id}").data["items"] == []


def test_sold_out_product_cannot_be_added(api):
    response = api.post(CARTS, {"items": [{"product_id": "water-filter", "quantity": 1}]})
    assert response.status_code == 409
    assert response.data["error"]["details"]["items"] == [
        {"product_id": "water-filter", "requested": 1, "available": 0}
    ]


def test_unknown_product_is_404(api):
    cart_id = new_cart(api)["cart_id"]
    response = api.put(f"{CARTS}/{cart_id}/items/unicorn", {"quantity": 1})
    assert (response.status_code, response.data["error"]["code"]) == (404, "NOT_FOUND")
    assert api.post(CARTS, {"items": [{"product_id": "unicorn", "quantity": 1}]}).status_code == 404


def test_merged_quantity_above_99_is_rejected(api):
    response = api.post(CARTS, {"items": [{"product_id": "fuel-canister", "quantity": 60}] * 2})
    assert response.status_code == 400


def test_at_most_50_lines(api, aws):
    from chalicelib import tenants
    from chalicelib.models import ProductModel

    tenants.set_limits("acme", {"units_per_order": 100})  # 50 lines of one unit each are allowed

    with ProductModel.batch_write() as batch:
        for n in range(51):
            batch.save(ProductModel("acme", f"bulk-{n}", name=f"Bulk {n}", category="bulk", price=1, stock=5))
    items = [{"product_id": f"bulk-{n}", "quantity": 1} for n in range(51)]
    assert api.post(CARTS, {"items": items}).status_code == 400
    cart_id = api.post(CARTS, {"items": items[:50]}).data["cart_id"]
    full = api.put(f"{CARTS}/{cart_id}/items/bulk-50", {"quantity": 1})
    assert full.status_code == 400
    assert len(api.get(f"{CARTS}/{cart_id}").data["items"]) == 50


def test_promo_code_applies_case_insensitively_and_can_be_removed(api):
    cart_id = new_cart(api, ("tent-2p", 1), ("headlamp", 2))["cart_id"]
    applied = api.put(f"{CARTS}/{cart_id}/promo", {"code": "summer10"})
    assert applied.status_code == 200
    assert applied.data["promo_code"] == "SUMMER10"
    assert applied.data["totals"] == TENT_AND_TWO_HEADLAMPS_SUMMER10
    removed = api.delete(f"{CARTS}/{cart_id}/promo")
    assert removed.data["promo_code"] is None
    assert removed.data["totals"]["total"] == "214.78"  # 178.98 + 35.796 -> 35.80


def test_unknown_promo_code_is_422_and_leaves_cart_unchanged(api):
    cart_id = new_cart(api, ("tent-2p", 1))["cart_id"]
    response = api.put(f"{CARTS}/{cart_id}/promo", {"code": "WINTER99"})
    assert response.status_code == 422
    assert response.data["error"]["code"] == "INVALID_PROMO_CODE"
    assert api.get(f"{CARTS}/{cart_id}").data["promo_code"] is None


def test_promo_codes_are_per_tenant(api):
    cart_id = api.post("/tenants/globex/carts").data["cart_id"]
    assert api.put(f"/tenants/globex/carts/{cart_id}/promo", {"code": "TRAIL5"}).status_code == 422
    assert api.put(f"/tenants/globex/carts/{cart_id}/promo", {"code": "WELCOME15"}).status_code == 200


def test_cart_shows_current_prices(api, aws):
    from chalicelib.models import ProductModel

    cart_id = new_cart(api, ("sun-hat", 2))["cart_id"]
    ProductModel("acme", "sun-hat").update(actions=[ProductModel.price.set("21.50")])
    assert api.get(f"{CARTS}/{cart_id}").data["items"][0]["line_total"] == "43.00"


def test_stock_check_uses_current_stock(api, aws):
    cart_id = new_cart(api)["cart_id"]
    set_stock("acme", "headlamp", 1)
    response = api.put(f"{CARTS}/{cart_id}/items/headlamp", {"quantity": 2})
    assert response.data["error"]["details"]["items"][0]["available"] == 1


def test_malformed_cart_id_is_404(api):
    response = api.get(f"{CARTS}/not-a-cart")
    assert (response.status_code, response.data["error"]["code"]) == (404, "NOT_FOUND")


def test_expired_cart_is_not_found(api, aws):
    from datetime import UTC, datetime, timedelta

    from chalicelib.models import CartModel

    cart_id = new_cart(api, ("headlamp", 1))["cart_id"]
    cart = CartModel.get("acme", cart_id)
    cart.update(actions=[CartModel.expires_at.set(datetime.now(UTC) - timedelta(seconds=1))])
    assert api.get(f"{CARTS}/{cart_id}").status_code == 404
    assert api.put(f"{CARTS}/{cart_id}/items/headlamp", {"quantity": 2}).status_code == 404


def test_every_change_refreshes_the_expiry(api, aws):
    from chalicelib.models import CartModel

    cart_id = new_cart(api)["cart_id"]
    created = CartModel.get("acme", cart_id).expires_at
    api.put(f"{CARTS}/{cart_id}/items/headlamp", {"quantity": 1})
    refreshed = CartModel.get("acme", cart_id)
    assert refreshed.expires_at >= created
    # TTL is stored in whole epoch seconds
    assert abs((refreshed.expires_at - refreshed.updated_at).total_seconds() - 7 * 86400) < 1
