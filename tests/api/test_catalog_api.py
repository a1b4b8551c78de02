import json
from decimal import Decimal
from pathlib import Path

import pytest

from support.delivery import check_out

SEED = {p.stem: json.loads(p.read_text()) for p in Path("data/tenants").glob("*.json")}


def test_lists_every_product_of_the_tenant_across_pages(api):
    seen, cursor, pages = [], None, 0
    while True:
        query = "?limit=5" + (f"&cursor={cursor}" if cursor else "")
        response = api.get(f"/tenants/acme/products{query}")
        assert response.status_code == 200
        assert len(response.data["items"]) <= 5
        seen += [item["product_id"] for item in response.data["items"]]
        cursor, pages = response.data["next_cursor"], pages + 1
        if cursor is None:
            break
    assert sorted(seen) == sorted(p["product_id"] for p in SEED["acme"]["products"])
    assert len(seen) == len(set(seen)) == 16
    assert pages == 4


def test_product_shape_and_money_format(api):
    response = api.get("/tenants/acme/products/fuel-canister")
    assert response.status_code == 200
    assert response.data == {
        "product_id": "fuel-canister",
        "name": "Gas Fuel Canister 230 g",
        "description": response.data["description"],
        "category": "cooking",
        "price": "4.45",
        "currency": "EUR",
        "stock": 60,
        "tags": response.data["tags"],
    }


def test_category_filter_pages_through_matches_only(api):
    first = api.get("/tenants/acme/products?category=cooking&limit=2")
    assert [i["category"] for i in first.data["items"]] == ["cooking", "cooking"]
    second = api.get(f"/tenants/acme/products?category=cooking&limit=2&cursor={first.data['next_cursor']}")
    ids = [i["product_id"] for i in first.data["items"] + second.data["items"]]
    assert sorted(ids) == ["camp-stove", "cook-set", "fuel-canister", "water-filter"]


def test_same_product_id_differs_per_tenant(api):
    acme = api.get("/tenants/acme/products/gift-card").data
    globex = api.get("/tenants/globex/products/gift-card").data
    assert (acme["currency"], globex["currency"]) == ("EUR", "USD")
    assert acme["name"] != globex["name"]


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=abc", "cursor=bogus", "colour=red"])
def test_bad_query_is_400(api, query):
    response = api.get(f"/tenants/acme/products?{query}")
    assert response.status_code == 400
    assert response.data["error"]["code"] == "BAD_REQUEST"


def test_unknown_tenant_and_product(api):
    assert api.get("/tenants/initech/products").data["error"]["code"] == "TENANT_NOT_FOUND"
    assert api.get("/tenants/initech/products").status_code == 404
    missing = api.get("/tenants/acme/products/no-such-thing")
    assert (missing.status_code, missing.data["error"]["code"]) == (404, "NOT_FOUND")


def test_health(api):
    response = api.get("/health")
    assert (response.status_code, response.data) == (200, {"status": "ok"})


def test_an_upgrade_adds_the_category_index_and_backfills_older_products(aws_env):
    """A products table from before the index (a kept volume, an older stack) gets it, and its products too."""
    from moto import mock_aws

    from chalicelib import catalog, clients
    from chalicelib.models import ProductModel
    from scripts.provision import backfill_index_keys, create_tables

    with mock_aws():
        dynamodb = clients.client("dynamodb")
        dynamodb.create_table(
            TableName=ProductModel.Meta.table_name,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "tenant_id", "AttributeType": "S"},
                {"AttributeName": "product_id", "AttributeType": "S"},
            ],
            KeySchema=[
                {"AttributeName": "tenant_id", "KeyType": "HASH"},
                {"AttributeName": "product_id", "KeyType": "RANGE"},
            ],
        )
        for product_id, category in (("old-lamp", "lighting"), ("old-mug", "kitchen")):
            dynamodb.put_item(
                TableName=ProductModel.Meta.table_name,
                Item={
                    "tenant_id": {"S": "acme"},
                    "product_id": {"S": product_id},
                    "name": {"S": product_id},
                    "category": {"S": category},
                    "price": {"N": "5.00"},
                    "stock": {"N": "3"},
                },
            )

        create_tables()
        indexes = dynamodb.describe_table(TableName=ProductModel.Meta.table_name)["Table"]["GlobalSecondaryIndexes"]
        assert [index["IndexName"] for index in indexes] == ["by-category"]
        assert catalog.list_products("acme", 10, category="lighting") == ([], None)  # not indexed yet

        assert backfill_index_keys("acme") == 2
        assert backfill_index_keys("acme") == 0
        items, _ = catalog.list_products("acme", 10, category="lighting")
        assert [item.product_id for item in items] == ["old-lamp"]


def test_an_upgrade_counts_units_held_by_earlier_orders_as_sold(api, aws):
    from chalicelib.models import ProductModel
    from scripts.provision import move_reserved_to_sold
    from tests.conftest import product_record

    # What an earlier version's checkout left: 2 units in `reserved`.
    ProductModel("acme", "headlamp").update(actions=[ProductModel.stock.add(-2), ProductModel.reserved.add(2)])

    assert move_reserved_to_sold("acme") == 1
    assert move_reserved_to_sold("acme") == 0
    headlamp = product_record("acme", "headlamp")
    assert (headlamp.stock, headlamp.reserved, headlamp.sold) == (28, 0, 2)


def hold_a_tent(api) -> str:
    """A card checkout at acme (a stripe shop in the demo data): its order awaits payment, 1 tent held."""
    cart_id = api.post("/tenants/acme/carts", {"items": [{"product_id": "tent-2p", "quantity": 1}]}).data["cart_id"]
    placed = check_out(api, "acme", cart_id, key=f"hold-{cart_id}")
    assert (placed.status_code, placed.data["order"]["status"]) == (201, "pending_payment")
    return placed.data["order"]["order_id"]


def counters(product_id: str) -> tuple[int, int, int]:
    from tests.conftest import product_record

    product = product_record("acme", product_id)
    return int(product.stock), int(product.reserved), int(product.sold)


def test_the_upgrade_refuses_to_count_the_holds_of_unpaid_orders_as_sold(api, aws):
    from chalicelib import catalog
    from chalicelib.models import ProductModel
    from scripts.provision import move_reserved_to_sold

    hold_a_tent(api)  # tent-2p: 10 seeded, 9 to sell, 1 held
    ProductModel("acme", "headlamp").update(actions=[ProductModel.stock.add(-2), ProductModel.reserved.add(2)])

    with pytest.raises(catalog.LiveHolds, match=r"^acme: orders await payment \(one is [0-9A-Z]{26}\)"):
        move_reserved_to_sold("acme")

    assert (counters("tent-2p"), counters("headlamp")) == ((9, 1, 0), (28, 2, 0))  # nothing moved


def test_a_reseed_refuses_to_overwrite_units_held_by_unpaid_orders(api, aws):
    from chalicelib import catalog
    from chalicelib.models import ProductModel, TenantModel
    from scripts.provision import seed_tenant

    order_id = hold_a_tent(api)
    # What a re-seed would write back as the data has it, had it written anything:
    TenantModel("acme").update(actions=[TenantModel.name.set("Acme, renamed")])
    ProductModel("acme", "headlamp").update(actions=[ProductModel.price.set(Decimal("1.00"))])

    with pytest.raises(catalog.LiveHolds, match=r"acme: units are held by orders awaiting payment: tent-2p \(1\)"):
        seed_tenant(SEED["acme"])

    assert counters("tent-2p") == (9, 1, 0)  # the hold is intact, and nothing else was written
    assert TenantModel.get("acme", consistent_read=True).name == "Acme, renamed"
    assert ProductModel.get("acme", "headlamp", consistent_read=True).price == Decimal("1.00")
    # Once the hold is given back (here the order is cancelled), the re-seed goes through.
    cancel = api.post(f"/tenants/acme/orders/{order_id}/cancel", headers={"X-Api-Key": SEED["acme"]["demo_admin_key"]})
    assert (cancel.status_code, cancel.data["status"]) == (200, "cancelled")
    seed_tenant(SEED["acme"])
    assert counters("tent-2p") == (10, 0, 0)


def test_a_reseed_keeps_the_units_sold_so_a_later_refund_still_finds_them(api, aws, acme_on_delivery):
    from scripts.provision import seed_tenant

    cart_id = api.post("/tenants/acme/carts", {"items": [{"product_id": "tent-2p", "quantity": 2}]}).data["cart_id"]
    order_id = check_out(api, "acme", cart_id).data["order"]["order_id"]
    assert counters("tent-2p") == (8, 0, 2)

    seed_tenant({**SEED["acme"], "payment": {**SEED["acme"]["payment"], "mode": "on_delivery"}})

    assert counters("tent-2p") == (10, 0, 2)  # the demo stock again; the 2 units with the shopper still sold
    cancel = api.post(f"/tenants/acme/orders/{order_id}/cancel", headers={"X-Api-Key": SEED["acme"]["demo_admin_key"]})
    assert (cancel.status_code, cancel.data["status"]) == (200, "cancelled")
    assert counters("tent-2p") == (12, 0, 0)


def test_the_provision_command_refuses_with_the_reason_and_status_1(api, aws, monkeypatch, capsys):
    from scripts import provision

    hold_a_tent(api)
    monkeypatch.setattr("sys.argv", ["provision", "--seed"])
    with pytest.raises(SystemExit) as refused:
        provision.main()
    assert str(refused.value.code).startswith("refused: acme: units are held by orders awaiting payment: tent-2p (1).")
    assert counters("tent-2p") == (9, 1, 0)
    monkeypatch.setattr("sys.argv", ["provision", "--move-reserved-to-sold", "acme"])
    with pytest.raises(SystemExit) as refused:
        provision.main()
    assert str(refused.value.code).startswith("refused: acme: orders await payment")
    assert counters("tent-2p") == (9, 1, 0)
