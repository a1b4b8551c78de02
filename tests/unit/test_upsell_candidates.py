"""Pre-ranking of up-sell candidates and the deterministic fallback (pure, no AWS)."""

from __future__ import annotations

from decimal import Decimal

from pynamodb.attributes import MapAttribute

from chalicelib.models import ProductModel
from chalicelib.upsell import candidates, fallback
from chalicelib.upsell.candidates import MAX_CANDIDATES


def product(pid, category="gear", stock=5, complements=(), co=None, reserved=0, name=None):
    return ProductModel(
        "shop",
        pid,
        name=name or pid.title(),
        category=category,
        price=Decimal("10.00"),
        stock=stock,
        reserved=reserved,
        complements=list(complements),
        co_purchases=co or {},
    )


def ranked_ids(products, cart):
    return [c.product_id for c in candidates.rank(products, cart).ranked]


def test_only_in_stock_products_outside_the_cart_are_candidates():
    products = [product("a", complements=["b", "c"]), product("b", stock=0), product("c"), product("d")]

    ranking = candidates.rank(products, ["a", "ghost"])

    assert [c.product_id for c in ranking.ranked] == ["c", "d"]
    assert ranking.cart_ids == frozenset({"a", "ghost"})
    assert [p.product_id for p in ranking.cart] == ["a"]


def test_direct_hints_outrank_reverse_hints_which_outrank_the_rest():
    products = [
        product("cart", complements=["direct"]),
        product("aaa"),  # alphabetically first, no signal
        product("reverse", complements=["cart"]),
        product("direct"),
        product("both", complements=["cart"]),
    ]
    products[0].complements.append("both")

    assert ranked_ids(products, ["cart"]) == ["both", "direct", "reverse", "aaa"]


def test_co_purchase_counts_rank_after_hints_and_before_category():
    products = [
        product("cart", complements=["hinted"], co={"often": 7, "sometimes": 2, "hinted": 1}),
        product("hinted", category="other"),
        product("sometimes", category="other"),
        product("often", category="other"),
        product("same-category"),
        # counts written on the other side of the pair count too
        product("back", category="other", co={"cart": 3}),
    ]

    assert ranked_ids(products, ["cart"]) == ["hinted", "often", "back", "sometimes", "same-category"]


def test_co_purchases_read_from_a_stored_map_and_bad_values_ignored():
    counts = {"x": {"N": "4"}, "y": {"S": "junk"}, "z": {"N": "0"}, "w": {"N": "-2"}, "v": {"N": "1.0"}}
    item = ProductModel.from_raw_data(
        {
            "tenant_id": {"S": "shop"},
            "product_id": {"S": "cart"},
            "name": {"S": "Cart"},
            "category": {"S": "gear"},
            "price": {"N": "1"},
            "co_purchases": {"M": counts},
        }
    )

    assert isinstance(item.co_purchases, MapAttribute)
    assert candidates.co_purchase_counts(item) == {"x": 4, "v": 1}
    assert candidates.co_purchase_counts(product("plain")) == {}


def test_category_then_popularity_then_id_break_ties():
    products = [
        product("cart", category="tents"),
        product("z-tent", category="tents"),
        product("a-tent", category="tents"),
        product("popular", category="other", reserved=9),
        product("b-other", category="other"),
        product("a-other", category="other"),
    ]

    assert ranked_ids(products, ["cart"]) == ["a-tent", "z-tent", "popular", "a-other", "b-other"]


def test_the_offer_to_the_llm_is_capped_but_the_ranking_is_complete():
    products = [product(f"p{i:02}") for i in range(30)]

    ranking = candidates.rank(products, ["p00"])

    assert len(ranking.ranked) == 29
    assert len(ranking.offered) == MAX_CANDIDATES == 20
    assert ranking.offered[0].product_id == "p01"


def test_fallback_reasons_follow_the_strongest_signal():
    products = [
        product("tent", name="Tent", category="camping", complements=["bag"], co={"stove": 3}),
        product("bag", name="Sleeping Bag", category="sleep"),
        product("stove", name="Stove", category="cooking"),
        product("chair", name="Chair", category="camping"),
        product("hat", name="Hat", category="clothing"),
    ]

    picked = fallback.pick(candidates.rank(products, ["tent"]), limit=4)

    assert [(s.product_id, s.reason) for s in picked] == [
        ("bag", "Goes well with your Tent."),
        ("stove", "Often bought together with Tent."),
        ("chair", "More camping to go with your order."),
        ("hat", "A popular pick in our shop."),
    ]
    assert picked[0].name == "Sleeping Bag"
    assert picked[0].price == Decimal("10.00")


def test_fallback_pick_skips_excluded_ids_and_respects_the_limit():
    products = [product("cart", complements=["a", "b", "c", "d"])] + [product(p) for p in "abcd"]
    ranking = candidates.rank(products, ["cart"])

    assert [s.product_id for s in fallback.pick(ranking)] == ["a", "b", "c"]
    assert [s.product_id for s in fallback.pick(ranking, limit=2, exclude={"a"})] == ["b", "c"]
    assert fallback.pick(ranking, limit=0) == []


def test_ranking_is_deterministic_regardless_of_catalogue_order():
    products = [product(p, category="x") for p in ("m", "c", "q", "a")] + [product("cart", category="x")]

    assert ranked_ids(products, ["cart"]) == ranked_ids(list(reversed(products)), ["cart"]) == ["a", "c", "m", "q"]
