import json
from pathlib import Path

import pytest

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
