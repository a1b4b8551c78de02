"""GET /tenants/{t}/inventory (admin): the operator's stock figures, a bounded page at a time, with the
tenant's low-stock threshold (moto, through the HTTP API).

acme is paid on delivery here (`acme_on_delivery`): an order placed is confirmed at once, its units sold.
"""

from __future__ import annotations

import json
import uuid

import pytest

from chalicelib import catalog, tenants
from scripts.provision import TENANT_DATA
from scripts.tenants import main as tenants_cli
from tests.admin import GLOBEX_KEY, admin

INVENTORY = "/tenants/acme/inventory"
pytestmark = pytest.mark.usefixtures("acme_on_delivery")
SEEDED = {p["product_id"]: p for p in json.loads((TENANT_DATA / "acme.json").read_text())["products"]}
IN_ID_ORDER = sorted(SEEDED)


def place_order(api, product_id: str, quantity: int) -> dict:
    """A shopper's order at acme, delivered to Germany by standard shipping."""
    cart_id = api.post("/tenants/acme/carts", {"items": [{"product_id": product_id, "quantity": quantity}]}).data[
        "cart_id"
    ]
    address = {"name": "Ada Lovelace", "line1": "Unter den Linden 1", "city": "Berlin", "postal_code": "10117"}
    delivery = {"email": "ada@example.com", "address": {**address, "country": "DE"}, "method": "standard"}
    assert api.put(f"/tenants/acme/carts/{cart_id}/delivery", delivery).status_code == 200
    response = api.post(f"/tenants/acme/carts/{cart_id}/checkout", headers={"Idempotency-Key": str(uuid.uuid4())})
    assert response.status_code == 201, response.data
    return response.data["order"]


def test_the_inventory_lists_every_product_with_its_counters_and_editable_fields(api):
    response = api.get(f"{INVENTORY}?limit=100", headers=admin())
    assert response.status_code == 200
    assert response.data["next_cursor"] is None
    assert response.data["low_stock_threshold"] == 5  # the default
    items = response.data["items"]
    assert [item["product_id"] for item in items] == IN_ID_ORDER
    pad = next(item for item in items if item["product_id"] == "sleeping-pad")
    seeded = SEEDED["sleeping-pad"]
    assert pad == {
        "product_id": "sleeping-pad",
        "name": seeded["name"],
        "description": seeded["description"],
        "category": "camping",
        "price": "44.45",
        "stock": 3,
        "reserved": 0,
        "sold": 0,
        "low_stock": True,
        "tags": seeded["tags"],
        "complements": seeded.get("complements", []),
    }
    # At or below 5 units to sell: the sleeping pad (3) and the sold-out water filter (0), nothing else.
    assert [item["product_id"] for item in items if item["low_stock"]] == ["sleeping-pad", "water-filter"]
    assert {item["product_id"]: item["stock"] for item in items} == {pid: p["stock"] for pid, p in SEEDED.items()}


def test_an_order_moves_the_counters_the_inventory_shows(api):
    place_order(api, "tent-2p", 6)  # 10 seeded: 4 left to sell, so low

    (tent,) = [
        i for i in api.get(f"{INVENTORY}?limit=100", headers=admin()).data["items"] if i["product_id"] == "tent-2p"
    ]
    assert (tent["stock"], tent["reserved"], tent["sold"], tent["low_stock"]) == (4, 0, 6, True)


def test_pages_follow_the_cursor_and_the_last_page_says_so(api):
    seen, cursor, pages = [], None, 0
    while True:
        query = f"limit=5&cursor={cursor}" if cursor else "limit=5"
        page = api.get(f"{INVENTORY}?{query}", headers=admin()).data
        pages += 1
        seen += [item["product_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert len(page["items"]) == 5
    assert (pages, seen) == (4, IN_ID_ORDER)  # 5 + 5 + 5 + 1, never an empty last page
    exact = api.get(f"{INVENTORY}?limit=16", headers=admin()).data
    assert (len(exact["items"]), exact["next_cursor"]) == (16, None)


def test_a_page_is_one_query_of_the_tenants_partition_whatever_the_catalogue(api, monkeypatch):
    queries = []
    real_query = catalog.ProductModel.query

    def counted(hash_key, **kwargs):
        queries.append((hash_key, kwargs["limit"]))
        return real_query(hash_key, **kwargs)

    monkeypatch.setattr(catalog.ProductModel, "query", counted)
    first = api.get(f"{INVENTORY}?limit=3", headers=admin()).data
    api.get(f"{INVENTORY}?limit=3&cursor={first['next_cursor']}", headers=admin())
    assert queries == [("acme", 4), ("acme", 4)]  # one more than the page, to know whether another follows


def test_the_threshold_is_the_tenants_own_set_with_the_tenants_cli(api, capsys):
    assert tenants_cli(["set-low-stock", "--tenant-id", "acme", "--threshold", "14"]) == 0
    assert capsys.readouterr().out == "low_stock_threshold=14\n"
    tenants.clear_cache()

    page = api.get(f"{INVENTORY}?limit=100", headers=admin()).data
    assert page["low_stock_threshold"] == 14
    low = [item["product_id"] for item in page["items"] if item["low_stock"]]
    assert low == ["camp-lantern", "rain-jacket", "sleeping-pad", "tent-2p", "water-filter"]  # 14, 12, 3, 10, 0

    assert tenants_cli(["set-low-stock", "--tenant-id", "acme", "--threshold", "0"]) == 0  # sold out only
    tenants.clear_cache()
    page = api.get(f"{INVENTORY}?limit=100", headers=admin()).data
    assert [item["product_id"] for item in page["items"] if item["low_stock"]] == ["water-filter"]


@pytest.mark.parametrize("threshold", ["-1", "1000001", "five"])
def test_the_cli_refuses_a_threshold_out_of_range(api, capsys, threshold):
    with pytest.raises(SystemExit) as exited:
        tenants_cli(["set-low-stock", "--tenant-id", "acme", "--threshold", threshold])
    assert exited.value.code == 2
    tenants.clear_cache()
    assert api.get(f"{INVENTORY}?limit=1", headers=admin()).data["low_stock_threshold"] == 5


def test_the_cli_names_an_unknown_tenant(api, capsys):
    assert tenants_cli(["set-low-stock", "--tenant-id", "nobody", "--threshold", "3"]) == 1
    assert "Tenant 'nobody' does not exist." in capsys.readouterr().err


def test_the_inventory_needs_the_tenants_own_key(api):
    no_key = api.get(INVENTORY)
    assert (no_key.status_code, no_key.data["error"]["code"]) == (401, "UNAUTHORIZED")
    unknown = api.get(INVENTORY, headers=admin("cw_acme_not-a-key"))
    assert (unknown.status_code, unknown.data["error"]["code"]) == (401, "UNAUTHORIZED")
    other = api.get(INVENTORY, headers=admin(GLOBEX_KEY))
    assert (other.status_code, other.data["error"]["code"]) == (403, "FORBIDDEN")
    globex = api.get("/tenants/globex/inventory?limit=100", headers=admin(GLOBEX_KEY)).data["items"]
    globex_seeded = json.loads((TENANT_DATA / "globex.json").read_text())["products"]
    assert [item["product_id"] for item in globex] == sorted(p["product_id"] for p in globex_seeded)


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=ten", "cursor=bm9wZQ", "cursor=", "sort=asc"])
def test_bad_inventory_parameters_are_400(api, query):
    response = api.get(f"{INVENTORY}?{query}", headers=admin())
    assert (response.status_code, response.data["error"]["code"]) == (400, "BAD_REQUEST")
