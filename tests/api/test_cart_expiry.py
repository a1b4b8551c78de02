"""Cart expiry: DynamoDB TTL on expires_at, configurable lifetime, expired carts behave as deleted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib import clients
from chalicelib.models import CartModel
from support.delivery import checkout_key, delivery
from tests.conftest import product_record

CARTS = "/tenants/acme/carts"


def test_provisioning_enables_ttl_on_the_carts_table(aws):
    description = clients.client("dynamodb").describe_time_to_live(TableName=CartModel.Meta.table_name)
    assert description["TimeToLiveDescription"] == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}


def test_provisioning_twice_keeps_ttl_enabled(aws):
    from scripts.provision import create_tables

    create_tables()
    description = clients.client("dynamodb").describe_time_to_live(TableName=CartModel.Meta.table_name)
    assert description["TimeToLiveDescription"]["TimeToLiveStatus"] == "ENABLED"


def test_cart_ttl_days_is_configurable(api, monkeypatch):
    from chalicelib import config

    monkeypatch.setenv("CART_TTL_DAYS", "2")
    config.reset()
    cart_id = api.post(CARTS).data["cart_id"]
    cart = CartModel.get("acme", cart_id)
    assert abs((cart.expires_at - cart.created_at).total_seconds() - 2 * 86400) < 1


def test_an_expired_cart_cannot_be_checked_out_or_changed(api):
    cart_id = api.post(CARTS, {"items": [{"product_id": "headlamp", "quantity": 1}]}).data["cart_id"]
    CartModel.get("acme", cart_id).update(actions=[CartModel.expires_at.set(datetime.now(UTC) - timedelta(seconds=1))])

    for response in (
        api.post(f"{CARTS}/{cart_id}/checkout", headers=checkout_key()),
        api.put(f"{CARTS}/{cart_id}/delivery", delivery("acme")),
        api.put(f"{CARTS}/{cart_id}/promo", {"code": "SUMMER10"}),
        api.delete(f"{CARTS}/{cart_id}/items/headlamp"),
        api.get(f"{CARTS}/{cart_id}/upsell"),
    ):
        assert (response.status_code, response.data["error"]["code"]) == (404, "NOT_FOUND")
    assert product_record("acme", "headlamp").sold == 0
