"""The checkout's two preconditions served by `chalice local` on DynamoDB Local: a delivery on the cart
(422 DELIVERY_REQUIRED) and an Idempotency-Key (400 IDEMPOTENCY_KEY_REQUIRED), each refused with
nothing written; the same cart then delivered and keyed is placed with its shipping.
tests/api/test_checkout_api.py has the cases on moto."""

from __future__ import annotations

import httpx

from chalicelib.models import CartModel, IdempotencyKeyModel, OrderModel
from support.card_shop import units
from support.delivery import checkout_key, deliver
from tests.stack.test_concurrency import new_race_product


def orders_of(cart_id: str) -> list[str]:
    return [o.order_id for o in OrderModel.query("globex", consistent_read=True) if o.cart_id == cart_id]


def test_a_checkout_needs_a_delivery_and_a_key_and_writes_nothing_without_them(local_stack, stack_aws):
    product_id = new_race_product(local_stack, "globex")  # 10 units at 10.00, paid on delivery
    items = {"items": [{"product_id": product_id, "quantity": 1}]}
    key = checkout_key()
    with httpx.Client(base_url=local_stack.api_url, timeout=30) as http:
        cart_id = http.post("/tenants/globex/carts", json=items).json()["cart_id"]
        checkout = f"/tenants/globex/carts/{cart_id}/checkout"

        undelivered = http.post(checkout, headers=key)
        assert (undelivered.status_code, undelivered.json()["error"]["code"]) == (422, "DELIVERY_REQUIRED")
        deliver(http, "globex", cart_id)
        keyless = http.post(checkout)
        assert (keyless.status_code, keyless.json()["error"]["code"]) == (400, "IDEMPOTENCY_KEY_REQUIRED")
        assert (units("globex", product_id), orders_of(cart_id)) == ((10, 0, 0), [])
        assert CartModel.get("globex", cart_id, consistent_read=True).status == "open"

        placed = http.post(checkout, headers=key)  # the key is still free: nothing recorded it

    assert placed.status_code == 201, placed.text
    order = placed.json()["order"]
    # 10.00, under ground's free_over 100.00: shipping 6.00; VAT on 16.00 is 3.20; total 19.20.
    totals = order["totals"]
    assert (totals["net"], totals["shipping"], totals["vat"], totals["total"]) == ("10.00", "6.00", "3.20", "19.20")
    assert order["delivery"]["method"]["id"] == "ground"
    assert orders_of(cart_id) == [order["order_id"]]
    record = IdempotencyKeyModel.get("globex", f"checkout#{key['Idempotency-Key']}", consistent_read=True)
    assert record.order_id == order["order_id"]
    assert units("globex", product_id) == (9, 0, 1)  # sold on delivery, by the one order
