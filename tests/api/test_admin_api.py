"""Admin routes through the HTTP API (moto): order list, product upsert, stock adjustments.

acme is paid on delivery here (`acme_on_delivery`): the orders placed are confirmed, their units sold.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from chalicelib.models import IdempotencyKeyModel, OrderModel, ProductModel
from support.delivery import check_out
from tests.admin import GLOBEX_KEY, admin
from tests.conftest import product_record, set_stock

ORDERS = "/tenants/acme/orders"
PRODUCTS = "/tenants/acme/products"
pytestmark = pytest.mark.usefixtures("acme_on_delivery")
MUG = {
    "name": "Blue mug",
    "description": "A 350 ml stoneware mug.",
    "category": "kitchen",
    "price": "12.50",
    "stock": 40,
    "tags": ["mug", "gift"],
    "complements": ["coffee-beans"],
}
MUG_OUT = {k: v for k, v in MUG.items() if k != "complements"} | {"product_id": "mug-blue", "currency": "EUR"}


def place_order(api, product_id: str, quantity: int = 1) -> str:
    cart_id = api.post("/tenants/acme/carts", {"items": [{"product_id": product_id, "quantity": quantity}]}).data[
        "cart_id"
    ]
    response = check_out(api, "acme", cart_id)
    assert response.status_code == 201
    return response.data["order"]["order_id"]


# --- GET /tenants/{t}/orders -------------------------------------------------------------------


def test_orders_are_listed_newest_first_with_a_cursor(api):
    placed = [place_order(api, product) for product in ("headlamp", "sun-hat", "wool-socks", "tent-2p", "cook-set")]
    newest_first = placed[::-1]

    first = api.get(f"{ORDERS}?limit=2", headers=admin())
    assert first.status_code == 200
    assert [o["order_id"] for o in first.data["items"]] == newest_first[:2]
    assert first.data["next_cursor"]
    second = api.get(f"{ORDERS}?limit=2&cursor={first.data['next_cursor']}", headers=admin())
    assert [o["order_id"] for o in second.data["items"]] == newest_first[2:4]
    last = api.get(f"{ORDERS}?limit=2&cursor={second.data['next_cursor']}", headers=admin())
    assert [o["order_id"] for o in last.data["items"]] == newest_first[4:]
    assert last.data["next_cursor"] is None


def test_the_list_filters_by_status_through_its_index_newest_first(api):
    placed = [place_order(api, product) for product in ("headlamp", "sun-hat", "wool-socks", "tent-2p", "cook-set")]
    for order_id in (placed[0], placed[3]):
        assert api.post(f"{ORDERS}/{order_id}/cancel", headers=admin()).status_code == 200

    cancelled = api.get(f"{ORDERS}?status=cancelled", headers=admin())
    assert [o["order_id"] for o in cancelled.data["items"]] == [placed[3], placed[0]]
    assert {o["status"] for o in cancelled.data["items"]} == {"cancelled"}
    first = api.get(f"{ORDERS}?status=confirmed&limit=2", headers=admin())
    assert [o["order_id"] for o in first.data["items"]] == [placed[4], placed[2]]
    rest = api.get(f"{ORDERS}?status=confirmed&limit=2&cursor={first.data['next_cursor']}", headers=admin())
    assert ([o["order_id"] for o in rest.data["items"]], rest.data["next_cursor"]) == ([placed[1]], None)
    assert api.get(f"{ORDERS}?status=paid", headers=admin()).data == {"items": [], "next_cursor": None}
    assert api.get("/tenants/globex/orders?status=cancelled", headers=admin(GLOBEX_KEY)).data["items"] == []


def test_orders_written_before_the_status_index_are_listed_after_the_backfill(api, aws):
    from scripts.provision import backfill_index_keys

    order_id = place_order(api, "headlamp")
    OrderModel("acme", order_id).update(actions=[OrderModel.status_key.remove()])  # as an older version wrote it
    assert api.get(f"{ORDERS}?status=confirmed", headers=admin()).data["items"] == []

    assert backfill_index_keys("acme") == 1
    assert [o["order_id"] for o in api.get(f"{ORDERS}?status=confirmed", headers=admin()).data["items"]] == [order_id]


def test_order_list_items_are_full_orders_and_a_full_page_has_no_cursor(api):
    order_id = place_order(api, "headlamp", 2)
    response = api.get(ORDERS, headers=admin())
    assert response.data["next_cursor"] is None
    [order] = response.data["items"]
    assert order == api.get(f"{ORDERS}/{order_id}", headers=admin()).data  # the full shape, as with a key
    public = api.get(f"{ORDERS}/{order_id}").data
    assert {key: value for key, value in order.items() if key in public} == public
    assert set(order) - set(public) == {"email", "delivery", "fulfilment", "timeline"}
    # 2 x 24.99 = 49.98, under standard's free_over 50.00: shipping 4.90; VAT on 54.88 is 10.976 -> 10.98;
    # total 54.88 + 10.98 = 65.86 (59.98 before shipping was charged).
    assert (order["totals"]["shipping"], order["totals"]["total"]) == ("4.90", "65.86")
    exact = api.get(f"{ORDERS}?limit=1", headers=admin())
    assert (len(exact.data["items"]), exact.data["next_cursor"]) == (1, None)


def test_orders_of_another_tenant_are_never_listed(api):
    place_order(api, "headlamp")
    response = api.get("/tenants/globex/orders", headers=admin(GLOBEX_KEY))
    assert response.data == {"items": [], "next_cursor": None}


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=101", "limit=ten", "cursor=bm9wZQ", "cursor=", "sort=asc", "status=sent", "status="]
)
def test_bad_list_parameters_are_400(api, query):
    response = api.get(f"{ORDERS}?{query}", headers=admin())
    assert (response.status_code, response.data["error"]["code"]) == (400, "BAD_REQUEST")


def test_limits_of_1_and_100_are_accepted(api):
    for limit in (1, 100):
        assert api.get(f"{ORDERS}?limit={limit}", headers=admin()).status_code == 200


# --- PUT /tenants/{t}/products/{product_id} ----------------------------------------------------


def test_upsert_creates_201_then_replaces_200(api):
    created = api.put(f"{PRODUCTS}/mug-blue", MUG, headers=admin())
    assert created.status_code == 201
    assert created.headers["Location"] == "/tenants/acme/products/mug-blue"
    assert created.data == MUG_OUT
    assert api.get(f"{PRODUCTS}/mug-blue").data == MUG_OUT

    replaced = api.put(f"{PRODUCTS}/mug-blue", {"name": "Red mug", "category": "kitchen", "price": "9.90"})
    assert replaced.status_code == 401  # no key, nothing changed
    replaced = api.put(
        f"{PRODUCTS}/mug-blue", {"name": "Red mug", "category": "kitchen", "price": "9.90"}, headers=admin()
    )
    assert replaced.status_code == 200
    assert "Location" not in replaced.headers
    expected = {**MUG_OUT, "name": "Red mug", "price": "9.90", "stock": 40, "description": "", "tags": []}
    assert replaced.data == expected
    assert api.get(f"{PRODUCTS}/mug-blue").data == expected
    record = product_record("acme", "mug-blue")
    assert (record.price, record.complements, record.reserved) == (Decimal("9.90"), [], 0)


def test_upsert_keeps_sold_and_co_purchase_counts(api, aws):
    place_order(api, "tent-2p", 2)
    ProductModel("acme", "tent-2p").update(actions=[ProductModel.co_purchases["headlamp"].set(7)])
    before = product_record("acme", "tent-2p")
    assert before.sold == 2

    body = {"name": "Tent v2", "category": "camping", "price": "139.00"}
    assert api.put(f"{PRODUCTS}/tent-2p", body, headers=admin()).status_code == 200

    after = product_record("acme", "tent-2p")
    assert (after.name, after.price, after.stock, after.sold) == ("Tent v2", Decimal("139.00"), 8, 2)
    assert after.co_purchases.as_dict() == {"headlamp": 7}


def test_an_upsert_without_stock_leaves_the_stock_alone(api):
    place_order(api, "tent-2p", 3)  # a sale is on: 7 left to sell, 3 held
    body = {"name": "Tent 2P (typo fixed)", "category": "camping", "price": "129.00"}

    response = api.put(f"{PRODUCTS}/tent-2p", body, headers=admin())

    assert (response.status_code, response.data["stock"], response.data["name"]) == (200, 7, "Tent 2P (typo fixed)")
    record = product_record("acme", "tent-2p")
    assert (record.stock, record.sold) == (7, 3)
    created = api.put(f"{PRODUCTS}/mug-blue", {k: v for k, v in MUG.items() if k != "stock"}, headers=admin())
    assert (created.status_code, created.data["stock"], product_record("acme", "mug-blue").stock) == (201, 0, 0)


def test_a_put_with_stock_of_an_existing_product_is_400_and_writes_nothing(api):
    place_order(api, "tent-2p", 3)  # 10 seeded: 7 left to sell, 3 sold
    before = api.get(f"{PRODUCTS}/tent-2p").data
    body = {"name": "Tent v2", "category": "camping", "price": "139.00", "stock": 10}

    response = api.put(f"{PRODUCTS}/tent-2p", body, headers=admin())

    assert (response.status_code, response.data["error"]["code"]) == (400, "BAD_REQUEST")
    assert [field["field"] for field in response.data["error"]["details"]["fields"]] == ["stock"]
    assert api.get(f"{PRODUCTS}/tent-2p").data == before  # not the name either: nothing was written
    record = product_record("acme", "tent-2p")
    assert (record.stock, record.reserved, record.sold) == (7, 0, 3)
    # ... a stock of 0 is a stock too, and the same body without it goes through
    assert api.put(f"{PRODUCTS}/tent-2p", {**body, "stock": 0}, headers=admin()).status_code == 400
    assert product_record("acme", "tent-2p").stock == 7
    without = {k: v for k, v in body.items() if k != "stock"}
    assert api.put(f"{PRODUCTS}/tent-2p", without, headers=admin()).data["stock"] == 7


def test_a_new_product_starts_with_nothing_reserved_or_sold_and_no_counts(api):
    api.put(f"{PRODUCTS}/mug-blue", MUG, headers=admin())
    record = product_record("acme", "mug-blue")
    assert (record.reserved, record.sold, record.co_purchases.as_dict()) == (0, 0, {})


def test_upserted_product_can_be_bought(api):
    api.put(f"{PRODUCTS}/mug-blue", {**MUG, "stock": 1}, headers=admin())
    place_order(api, "mug-blue")
    record = product_record("acme", "mug-blue")
    assert (record.stock, record.sold) == (0, 1)


INVALID_BODIES = {
    "price-zero": {**MUG, "price": "0.00"},
    "price-one-decimal": {**MUG, "price": "12.5"},
    "price-three-decimals": {**MUG, "price": "12.500"},
    "price-too-big": {**MUG, "price": "123456789.00"},
    "stock-float": {**MUG, "stock": 4.0},
    "name-empty": {**MUG, "name": ""},
    "name-121": {**MUG, "name": "x" * 121},
    "description-2001": {**MUG, "description": "x" * 2001},
    "category-empty": {**MUG, "category": ""},
    "category-41": {**MUG, "category": "x" * 41},
    "tags-11": {**MUG, "tags": [f"t{i}" for i in range(11)]},
    "tag-empty": {**MUG, "tags": [""]},
    "complements-11": {**MUG, "complements": [f"p{i}" for i in range(11)]},
    "complement-bad-id": {**MUG, "complements": ["Not An Id"]},
    "missing-name": {k: v for k, v in MUG.items() if k != "name"},
    "missing-price": {k: v for k, v in MUG.items() if k != "price"},
}


@pytest.mark.parametrize("body", INVALID_BODIES.values(), ids=INVALID_BODIES.keys())
def test_invalid_products_are_400_and_not_written(api, body):
    response = api.put(f"{PRODUCTS}/mug-blue", body, headers=admin())
    assert (response.status_code, response.data["error"]["code"]) == (400, "BAD_REQUEST")
    assert response.data["error"]["details"]["fields"]
    assert api.get(f"{PRODUCTS}/mug-blue").status_code == 404


def test_limits_themselves_are_accepted(api):
    body = {
        "name": "x" * 120,
        "description": "y" * 2000,
        "category": "c" * 40,
        "price": "0.01",
        "stock": 0,
        "tags": [f"t{i}" for i in range(10)],
        "complements": [f"p{i}" for i in range(10)],
    }
    assert api.put(f"{PRODUCTS}/edge", body, headers=admin()).status_code == 201
    replaced = {k: v for k, v in body.items() if k != "stock"} | {"price": "99999999.99"}
    assert api.put(f"{PRODUCTS}/edge", replaced, headers=admin()).status_code == 200


def test_invalid_product_id_is_400(api):
    response = api.put(f"{PRODUCTS}/Bad_Id", MUG, headers=admin())
    assert response.status_code == 400
    assert response.data["error"]["details"]["fields"][0]["field"] == "product_id"


def test_the_key_of_a_deleted_tenant_is_401(api, aws):
    from chalicelib.models import TenantModel

    TenantModel("globex").delete()
    response = api.put("/tenants/globex/products/mug-blue", MUG, headers=admin(GLOBEX_KEY))
    assert response.status_code == 401  # its key went with it


# --- POST /tenants/{t}/products/{product_id}/stock ----------------------------------------------


def adjust(api, product_id, delta, key=None):
    """One adjustment, under a key of its own."""
    headers = {**(admin(key) if key else admin()), "Idempotency-Key": f"adjust-{uuid.uuid4()}"}
    return api.post(f"{PRODUCTS}/{product_id}/stock", {"delta": delta}, headers=headers)


def test_restock_and_remove(api):
    set_stock("acme", "headlamp", 5)
    response = adjust(api, "headlamp", 20)
    assert response.status_code == 200
    assert (response.data["product_id"], response.data["stock"]) == ("headlamp", 25)
    assert adjust(api, "headlamp", -25).data["stock"] == 0
    assert product_record("acme", "headlamp").stock == 0


def test_stock_never_goes_below_zero(api):
    set_stock("acme", "headlamp", 3)
    response = adjust(api, "headlamp", -4)
    assert response.status_code == 409
    assert response.data["error"]["code"] == "OUT_OF_STOCK"
    assert response.data["error"]["details"] == {"items": [{"product_id": "headlamp", "requested": 4, "available": 3}]}
    assert product_record("acme", "headlamp").stock == 3


def test_adjusting_stock_leaves_sold_alone(api):
    place_order(api, "tent-2p", 2)
    adjust(api, "tent-2p", 5)
    record = product_record("acme", "tent-2p")
    assert (record.stock, record.sold) == (13, 2)


@pytest.mark.parametrize("product_id", ["no-such-product", "Bad_Id"])
def test_adjusting_an_unknown_product_is_404_and_creates_nothing(api, product_id):
    response = adjust(api, product_id, 5)
    assert (response.status_code, response.data["error"]["code"]) == (404, "NOT_FOUND")
    assert api.get(f"{PRODUCTS}/no-such-product").status_code == 404


@pytest.mark.parametrize("body", [{"delta": 0}, {"delta": 100_001}])
def test_invalid_deltas_are_400(api, body):
    response = api.post(f"{PRODUCTS}/headlamp/stock", body, headers={**admin(), "Idempotency-Key": "k-invalid"})
    assert (response.status_code, response.data["error"]["code"]) == (400, "BAD_REQUEST")


def test_an_adjustment_without_a_key_is_400_and_changes_nothing(api):
    set_stock("acme", "headlamp", 5)
    for body in ({"delta": 20}, {"delta": -5}, {"delta": 0}):
        response = api.post(f"{PRODUCTS}/headlamp/stock", body, headers=admin())
        assert (response.status_code, response.data["error"]["code"]) == (400, "IDEMPOTENCY_KEY_REQUIRED")
        assert "Idempotency-Key" in response.data["error"]["message"]
    assert product_record("acme", "headlamp").stock == 5
    assert list(IdempotencyKeyModel.query("acme", consistent_read=True)) == []


def test_a_lost_answer_retried_with_its_key_adjusts_once(api, monkeypatch):
    """The adjustment commits, then its answer is lost (here: the view fails after the write, a 500);
    the operator sends it again with the same key: 20 units added once, not twice."""
    from chalicelib.api import admin as admin_routes

    set_stock("acme", "headlamp", 5)
    answer = admin_routes.shapes.product
    lost = []

    def lose_the_first_answer(product, currency):
        if not lost:
            lost.append(product.product_id)
            raise ConnectionResetError("the answer never reached the operator")
        return answer(product, currency)

    monkeypatch.setattr(admin_routes.shapes, "product", lose_the_first_answer)
    first = adjust_with_key(api, "headlamp", 20, "restock-lost")
    assert (first.status_code, lost) == (500, ["headlamp"])
    assert product_record("acme", "headlamp").stock == 25  # it was applied

    again = adjust_with_key(api, "headlamp", 20, "restock-lost")

    assert (again.status_code, again.data["stock"]) == (200, 25)
    assert product_record("acme", "headlamp").stock == 25  # once: 5 + 20, not 45
    assert adjust_with_key(api, "headlamp", 20, "restock-lost").data["stock"] == 25
    assert product_record("acme", "headlamp").stock == 25


def test_an_adjustment_retried_with_its_key_is_applied_once_and_answered_the_same(api):
    set_stock("acme", "headlamp", 5)
    first = adjust_with_key(api, "headlamp", 20, "restock-1")
    set_stock("acme", "headlamp", 24)  # a sale since: the replay still answers what the adjustment did
    again = adjust_with_key(api, "headlamp", 20, "restock-1")

    assert (first.status_code, first.data["stock"]) == (200, 25)
    assert (again.status_code, again.data) == (200, first.data)
    assert product_record("acme", "headlamp").stock == 24


def test_an_adjustment_key_reused_for_another_body_is_422_and_writes_nothing(api):
    set_stock("acme", "headlamp", 5)
    assert adjust_with_key(api, "headlamp", 20, "restock-2").status_code == 200
    for product_id, delta in (("headlamp", 21), ("sun-hat", 20)):
        response = adjust_with_key(api, product_id, delta, "restock-2")
        assert (response.status_code, response.data["error"]["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")
    assert (product_record("acme", "headlamp").stock, product_record("acme", "sun-hat").stock) == (25, 22)


def test_a_replay_is_answered_even_when_applying_again_would_be_refused(api):
    set_stock("acme", "headlamp", 4)
    assert adjust_with_key(api, "headlamp", -4, "clear-out").data["stock"] == 0
    again = adjust_with_key(api, "headlamp", -4, "clear-out")  # applying -4 to 0 would be OUT_OF_STOCK
    assert (again.status_code, again.data["stock"]) == (200, 0)
    assert product_record("acme", "headlamp").stock == 0


def test_keys_are_kept_per_operation_so_a_checkout_cannot_take_an_operators_key(api):
    cart_id = api.post("/tenants/acme/carts", {"items": [{"product_id": "sun-hat", "quantity": 1}]}).data["cart_id"]
    assert check_out(api, "acme", cart_id, key="k-any").status_code == 201
    response = adjust_with_key(api, "sun-hat", 1, "k-any")
    assert (response.status_code, response.data["stock"]) == (200, 22)
    assert product_record("acme", "sun-hat").stock == 22


def test_stock_never_exceeds_the_maximum_through_adjustments(api):
    set_stock("acme", "headlamp", 999_990)
    response = adjust(api, "headlamp", 11)
    assert (response.status_code, response.data["error"]["code"]) == (400, "BAD_REQUEST")
    assert response.data["error"]["details"]["fields"] == [
        {"field": "delta", "message": "at most 10 more for this product"}
    ]
    assert product_record("acme", "headlamp").stock == 999_990
    assert adjust(api, "headlamp", 10).data["stock"] == 1_000_000


def adjust_with_key(api, product_id, delta, key):
    return api.post(f"{PRODUCTS}/{product_id}/stock", {"delta": delta}, headers={**admin(), "Idempotency-Key": key})


def test_another_tenants_key_is_forbidden_and_its_own_tenant_has_no_such_product(api):
    response = adjust(api, "tent-2p", 5, key=GLOBEX_KEY).status_code
    assert response == 403
    response = api.post(
        "/tenants/globex/products/tent-2p/stock",
        {"delta": 5},
        headers={**admin(GLOBEX_KEY), "Idempotency-Key": "globex-1"},
    )
    assert response.status_code == 404
