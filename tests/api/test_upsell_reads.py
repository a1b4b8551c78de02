"""The up-sell's candidate reads against a table: what the projection of co-purchase maps brings back."""

from __future__ import annotations

from decimal import Decimal

from chalicelib.models import ProductModel, category_key
from chalicelib.upsell import candidates

TENANT = "acme"


def put(pid: str, category: str, co: dict[str, int], complements: tuple[str, ...] = ()) -> None:
    ProductModel(
        TENANT,
        pid,
        name=f"Name of {pid}",
        description=f"About {pid}",
        category=category,
        category_key=category_key(TENANT, category),
        price=Decimal("9.50"),
        stock=4,
        reserved=2,
        tags=["t"],
        complements=list(complements),
        co_purchases=co,
    ).save()


def test_second_reads_bring_only_the_carts_counts_and_every_other_attribute(aws):
    put("r-cart", "rigs", {"r-hint": 4, "r-other": 9}, complements=("r-hint",))
    put("r-hint", "rigs", {"r-cart": 3, "r-far-1": 50, "r-far-2": 40})
    catalogue = candidates.TenantCatalogue(TENANT)

    (hint,) = catalogue.products(["r-hint"], counts_for=["r-cart", "r-missing"]).values()
    paged = {p.product_id: p for p in catalogue.in_category("rigs", 8, counts_for=["r-cart"])}

    for read in (hint, paged["r-hint"]):
        assert candidates.co_purchase_counts(read) == {"r-cart": 3}
        assert (read.name, read.description, read.category, read.price) == (
            "Name of r-hint",
            "About r-hint",
            "rigs",
            Decimal("9.50"),
        )
        assert (read.stock, read.reserved, read.tags, read.complements) == (4, 2, ["t"], [])
    assert candidates.co_purchase_counts(paged["r-cart"]) == {}  # none of its counts is with itself
    assert candidates.co_purchase_counts(catalogue.products(["r-cart"])["r-cart"]) == {"r-hint": 4, "r-other": 9}


def test_the_ranking_is_the_one_whole_items_give(aws):
    put("k-cart", "kit", {"k-co": 6}, complements=("k-hint",))
    put("k-hint", "kit", {"k-cart": 1, "k-x": 30})
    put("k-co", "other", {"k-x": 20})
    put("k-back", "kit", {"k-cart": 7, "k-y": 99})  # counts its orders with the cart only on its own map
    put("k-plain", "kit", {"k-z": 80})
    cart = ["k-cart"]

    gathered = candidates.gather(candidates.TenantCatalogue(TENANT), cart, best_sellers=[])
    whole = [ProductModel.get(TENANT, p.product_id) for p in gathered]

    def ranking(products):
        return [(c.product_id, c.signal, c.related_to) for c in candidates.rank(products, cart).ranked]

    assert ranking(gathered) == ranking(whole)
    assert ranking(gathered)[:3] == [
        ("k-hint", "complement", "Name of k-cart"),
        ("k-back", "co_purchase", "Name of k-cart"),
        ("k-co", "co_purchase", "Name of k-cart"),
    ]
