"""Orders awaiting a card payment (moto): their units held, released once by a cancel or the sweeper.

These orders never start a payment, so no Stripe call is made (tests/stack/test_payments.py
covers holds with PaymentIntents); a tenant in payment mode `stripe` is set up directly in its record.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib import orders, payments, tenants
from chalicelib.models import OrderModel, TenantModel
from support.delivery import check_out
from tests.admin import admin
from tests.conftest import product_record

CARTS = "/tenants/acme/carts"


@pytest.fixture
def card_shop(api, aws):
    TenantModel("acme").update(actions=[TenantModel.payment_mode.set("stripe")])
    tenants.clear_cache()
    return api


def checkout(api, *items) -> dict:
    cart_id = api.post(CARTS, {"items": [{"product_id": p, "quantity": q} for p, q in items]}).data["cart_id"]
    response = check_out(api, "acme", cart_id)
    assert response.status_code == 201
    return response.data


def units(product_id: str) -> tuple[int, int, int]:
    product = product_record("acme", product_id)
    return product.stock, product.reserved, product.sold


def test_a_card_order_waits_for_payment_with_its_units_held_for_the_hold_time(card_shop):
    answer = checkout(card_shop, ("tent-2p", 1), ("headlamp", 2))
    assert answer["order"]["status"] == "pending_payment"
    stored = OrderModel.get("acme", answer["order"]["order_id"])
    assert stored.hold_expires_at - stored.created_at == timedelta(seconds=900)
    assert stored.hold_queue == "acme/holds"  # the tenant's own partition of the pending-holds index
    assert (units("tent-2p"), units("headlamp")) == ((9, 1, 0), (28, 2, 0))


def test_the_sweeper_expires_only_lapsed_holds_once_and_puts_their_units_back(card_shop):
    lapsing = checkout(card_shop, ("tent-2p", 1), ("headlamp", 2))["order"]
    later = checkout(card_shop, ("sun-hat", 3))["order"]
    lapsing_hold = OrderModel.get("acme", lapsing["order_id"]).hold_expires_at
    when = lapsing_hold + timedelta(seconds=1)
    OrderModel("acme", later["order_id"]).update(actions=[OrderModel.hold_expires_at.set(when + timedelta(minutes=5))])

    assert payments.sweep_lapsed_holds(now=when) == 1

    assert orders.lapsed_holds("acme", now=when) == []  # it left the index
    assert payments.sweep_lapsed_holds(now=when) == 0
    assert card_shop.get(f"/tenants/acme/orders/{lapsing['order_id']}").data["status"] == "expired"
    assert card_shop.get(f"/tenants/acme/orders/{later['order_id']}").data["status"] == "pending_payment"
    assert (units("tent-2p"), units("headlamp"), units("sun-hat")) == ((10, 0, 0), (30, 0, 0), (19, 3, 0))
    listed = card_shop.get("/tenants/acme/orders?status=expired", headers=admin()).data["items"]
    assert [o["order_id"] for o in listed] == [lapsing["order_id"]]


@pytest.mark.usefixtures("acme_on_delivery")
def test_a_confirmed_order_is_never_swept(api):
    placed = checkout(api, ("sun-hat", 1))["order"]
    assert payments.sweep_lapsed_holds() == 0
    assert api.get(f"/tenants/acme/orders/{placed['order_id']}").data["status"] == "confirmed"
    assert units("sun-hat") == (21, 0, 1)


def test_cancelling_an_unpaid_order_releases_its_hold(card_shop):
    answer = checkout(card_shop, ("headlamp", 2))
    cancel = card_shop.post(
        f"/tenants/acme/orders/{answer['order']['order_id']}/cancel", headers={"X-Order-Token": answer["order_token"]}
    )
    assert (cancel.status_code, cancel.data["status"]) == (200, "cancelled")
    assert units("headlamp") == (30, 0, 0)
    assert OrderModel.get("acme", answer["order"]["order_id"]).hold_queue is None
    later = OrderModel.get("acme", answer["order"]["order_id"]).hold_expires_at + timedelta(seconds=1)
    assert orders.lapsed_holds("acme", now=later) == []


def test_an_expired_order_cannot_be_cancelled(card_shop):
    answer = checkout(card_shop, ("headlamp", 1))
    hold = OrderModel.get("acme", answer["order"]["order_id"]).hold_expires_at
    assert payments.sweep_lapsed_holds(now=hold + timedelta(seconds=1)) == 1
    response = card_shop.post(
        f"/tenants/acme/orders/{answer['order']['order_id']}/cancel", headers={"X-Order-Token": answer["order_token"]}
    )
    assert (response.status_code, response.data["error"]["code"]) == (409, "ORDER_NOT_CANCELLABLE")
    assert response.data["error"]["details"] == {"status": "expired"}
    assert units("headlamp") == (30, 0, 0)


def test_the_scheduled_function_sweeps(card_shop, monkeypatch):
    from app import expire_holds
    from chalicelib import config

    monkeypatch.setenv("ORDER_HOLD_SECONDS", "0")
    config.reset()
    checkout(card_shop, ("headlamp", 1))
    scheduled = {  # what EventBridge's schedule hands the function
        "version": "0",
        "id": "1",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-11-30T06:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {},
    }
    assert expire_holds(scheduled, None) == {"expired": 1}
    assert units("headlamp") == (30, 0, 0)
