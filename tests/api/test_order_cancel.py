"""Order tokens and cancellation (moto): who may cancel, what a cancel gives back, once.

acme is paid on delivery here (`acme_on_delivery`): its orders are confirmed and their units sold at
checkout. Cancelling a card order awaiting payment: test_order_holds.py and test_payments.py.
"""

from __future__ import annotations

import pytest

from chalicelib.models import OrderModel
from support.delivery import check_out
from tests.admin import GLOBEX_KEY, admin
from tests.conftest import product_record

CARTS = "/tenants/acme/carts"
pytestmark = pytest.mark.usefixtures("acme_on_delivery")


def placed(api, *items, key=None) -> dict:
    cart_id = api.post(CARTS, {"items": [{"product_id": p, "quantity": q} for p, q in items]}).data["cart_id"]
    response = check_out(api, "acme", cart_id, key=key)
    assert response.status_code == 201
    return response.data


def cancel(api, order_id: str, headers: dict | None = None, tenant: str = "acme"):
    return api.post(f"/tenants/{tenant}/orders/{order_id}/cancel", headers=headers or {})


def test_the_checkout_hands_out_a_token_that_is_stored_only_hashed(api):
    answer = placed(api, ("sun-hat", 1))
    token = answer["order_token"]
    assert isinstance(token, str)
    assert len(token) >= 43  # 32 random bytes, URL-safe base64
    stored = OrderModel.get("acme", answer["order"]["order_id"])
    assert token not in str(stored.attribute_values)
    assert len(stored.token_hashes) == 1


def test_a_cancel_with_the_token_gives_the_units_back_once(api):
    answer = placed(api, ("tent-2p", 1), ("headlamp", 2))
    order_id, token = answer["order"]["order_id"], answer["order_token"]
    tent, headlamp = product_record("acme", "tent-2p"), product_record("acme", "headlamp")
    assert [(p.stock, p.reserved, p.sold) for p in (tent, headlamp)] == [(9, 0, 1), (28, 0, 2)]

    first = cancel(api, order_id, {"X-Order-Token": token})
    again = cancel(api, order_id, {"X-Order-Token": token})

    assert (first.status_code, first.data["status"]) == (200, "cancelled")
    assert (again.status_code, again.data) == (200, first.data)
    assert api.get(f"/tenants/acme/orders/{order_id}").data["status"] == "cancelled"
    tent, headlamp = product_record("acme", "tent-2p"), product_record("acme", "headlamp")
    assert [(p.stock, p.reserved, p.sold) for p in (tent, headlamp)] == [(10, 0, 0), (30, 0, 0)]


def test_an_admin_key_of_the_tenant_may_cancel(api):
    answer = placed(api, ("sun-hat", 3))
    response = cancel(api, answer["order"]["order_id"], admin())
    assert (response.status_code, response.data["status"]) == (200, "cancelled")
    assert (product_record("acme", "sun-hat").stock, product_record("acme", "sun-hat").sold) == (22, 0)


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "UNAUTHORIZED"),
        ({"X-Order-Token": "not-the-token"}, 403, "FORBIDDEN"),
        ({"X-Order-Token": ""}, 403, "FORBIDDEN"),
        ({"X-Api-Key": "cw_acme_" + "x" * 43}, 401, "UNAUTHORIZED"),
        ({"X-Api-Key": GLOBEX_KEY}, 403, "FORBIDDEN"),
    ],
)
def test_without_this_orders_token_or_the_tenants_key_nothing_changes(api, headers, status, code):
    answer = placed(api, ("sun-hat", 1))
    response = cancel(api, answer["order"]["order_id"], headers)
    assert (response.status_code, response.data["error"]["code"]) == (status, code)
    assert api.get(f"/tenants/acme/orders/{answer['order']['order_id']}").data["status"] == "confirmed"
    assert (product_record("acme", "sun-hat").stock, product_record("acme", "sun-hat").sold) == (21, 1)


def test_another_orders_token_and_another_tenants_order_are_refused(api):
    mine, other = placed(api, ("sun-hat", 1)), placed(api, ("headlamp", 1))
    response = cancel(api, other["order"]["order_id"], {"X-Order-Token": mine["order_token"]})
    assert (response.status_code, response.data["error"]["code"]) == (403, "FORBIDDEN")
    elsewhere = cancel(api, mine["order"]["order_id"], {"X-Order-Token": mine["order_token"]}, tenant="globex")
    assert (elsewhere.status_code, elsewhere.data["error"]["code"]) == (404, "NOT_FOUND")
    assert cancel(api, "01ARZ3NDEKTSV4RRFFQ69G5FAV", {"X-Order-Token": mine["order_token"]}).status_code == 404
    assert product_record("acme", "headlamp").sold == 1


def test_a_replay_hands_out_another_token_that_works_too(api):
    first = placed(api, ("sun-hat", 1), key="k-token")
    cart_id = first["order"]["cart_id"]
    replayed = api.post(f"{CARTS}/{cart_id}/checkout", headers={"Idempotency-Key": "k-token"})
    assert replayed.status_code == 200
    assert replayed.data["order_token"] not in (None, first["order_token"])
    assert len(OrderModel.get("acme", first["order"]["order_id"]).token_hashes) == 2
    response = cancel(api, first["order"]["order_id"], {"X-Order-Token": replayed.data["order_token"]})
    assert response.status_code == 200


def test_replays_past_the_token_cap_answer_the_order_without_a_new_token(api, monkeypatch):
    from chalicelib import orders

    monkeypatch.setattr(orders, "MAX_TOKENS_PER_ORDER", 2)
    first = placed(api, ("sun-hat", 1), key="k-cap")
    cart_id = first["order"]["cart_id"]
    answers = [api.post(f"{CARTS}/{cart_id}/checkout", headers={"Idempotency-Key": "k-cap"}) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.data["order_token"] is None for a in answers] == [False, True, True]
    assert len(OrderModel.get("acme", first["order"]["order_id"]).token_hashes) == 2
