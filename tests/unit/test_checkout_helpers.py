"""The pure helpers of carts and checkout: merging lines, finding short lines, reading a cancelled
transaction's reasons, and the fingerprint an Idempotency-Key remembers."""

from __future__ import annotations

import hashlib
from decimal import Decimal

import pytest

from chalicelib import carts, checkout, idempotency
from chalicelib.errors import BadRequest
from chalicelib.models import ProductModel


def products(**stock: int) -> dict[str, ProductModel]:
    """In-memory products (no AWS) with the given stock."""
    return {
        pid: ProductModel("acme", pid, name=pid, category="c", price=Decimal("1.00"), stock=n)
        for pid, n in stock.items()
    }


# ---- carts.merge_items ----


def test_merge_adds_up_repeated_products_in_first_seen_order():
    merged = carts.merge_items([("tent", 1), ("lamp", 2), ("tent", 3)])
    assert merged == {"tent": 4, "lamp": 2}
    assert list(merged) == ["tent", "lamp"]


def test_merge_of_nothing_is_empty():
    assert carts.merge_items([]) == {}


def test_merge_allows_99_of_one_product():
    assert carts.merge_items([("tent", 60), ("tent", 39)]) == {"tent": 99}


def test_merge_above_99_names_every_product_over_the_limit():
    with pytest.raises(BadRequest) as raised:
        carts.merge_items([("tent", 60), ("tent", 40), ("lamp", 100), ("mug", 1)])
    error = raised.value
    assert (error.status, error.code, error.message) == (400, "BAD_REQUEST", "At most 99 of one product per cart.")
    assert error.details == {
        "fields": [
            {"field": "items", "message": "tent: quantity above 99"},
            {"field": "items", "message": "lamp: quantity above 99"},
        ]
    }


def test_merge_allows_50_lines_and_refuses_51():
    assert len(carts.merge_items((f"p{i}", 1) for i in range(50))) == 50
    with pytest.raises(BadRequest) as raised:
        carts.merge_items((f"p{i}", 1) for i in range(51))
    assert raised.value.message == "A cart holds at most 50 products."
    assert raised.value.details == {"fields": [{"field": "items", "message": "too many lines"}]}


# ---- carts.shortages ----


def test_shortages_name_each_line_above_its_stock():
    short = carts.shortages({"tent": 2, "lamp": 3, "mug": 1}, products(tent=2, lamp=1, mug=0))
    assert short == [
        {"product_id": "lamp", "requested": 3, "available": 1},
        {"product_id": "mug", "requested": 1, "available": 0},
    ]


def test_exactly_the_stock_is_not_short():
    assert carts.shortages({"tent": 5}, products(tent=5)) == []


# ---- checkout._shortages_from: the cancellation reasons of a failed transaction ----


def old_product(product_id: str, stock: int) -> dict:
    """A failed product update's old item (ALL_OLD), as DynamoDB returns it."""
    return {
        "tenant_id": {"S": "acme"},
        "product_id": {"S": product_id},
        "stock": {"N": str(stock)},
        "price": {"N": "1"},
    }


def test_cancellation_reasons_are_matched_to_lines_by_product_id_not_position():
    failed = [
        old_product("mug", 0),
        None,  # an action whose condition held
        {"tenant_id": {"S": "acme"}, "cart_id": {"S": "01ARZ3NDEKTSV4RRFFQ69G5FAV"}, "version": {"N": "3"}},
        old_product("tent", 1),
    ]
    assert checkout._shortages_from(failed, {"tent": 2, "mug": 1}) == [
        {"product_id": "mug", "requested": 1, "available": 0},
        {"product_id": "tent", "requested": 2, "available": 1},
    ]


def test_a_product_that_failed_with_enough_stock_is_not_short():
    # Its price condition failed: the checkout reprices and retries instead of answering 409.
    assert checkout._shortages_from([old_product("tent", 5)], {"tent": 2}) == []


def test_a_failed_item_of_a_product_not_in_the_cart_is_ignored():
    assert checkout._shortages_from([old_product("lamp", 0)], {"tent": 2}) == []


# ---- the fingerprint an Idempotency-Key remembers ----


def test_fingerprint_is_the_sha256_of_the_operation_and_request_as_sorted_json():
    canonical = '{"cart_id": "c1", "email": null, "expected_total": "193.30", "operation": "checkout"}'
    use = idempotency.KeyUse.of("acme", "checkout", "k", expected_total=Decimal("193.30"), email=None, cart_id="c1")
    assert use.fingerprint == hashlib.sha256(canonical.encode()).hexdigest()


def test_a_key_is_recorded_per_operation_and_fingerprints_tell_requests_apart():
    checkout_of_c1 = idempotency.KeyUse.of("acme", "checkout", "k", cart_id="c1")
    assert checkout_of_c1.record_key == "checkout#k"
    assert idempotency.KeyUse.of("acme", "adjust_stock", "k", cart_id="c1").record_key == "adjust_stock#k"
    assert idempotency.KeyUse.of("acme", "checkout", "k", cart_id="c2").fingerprint != checkout_of_c1.fingerprint


def test_a_checkout_key_use_covers_cart_and_body_but_not_the_key():
    request = checkout.CheckoutRequest("c1", "key-1", "ada@example.com", Decimal("193.30"))
    use = request.key_use("acme")
    assert use == idempotency.KeyUse.of(
        "acme", "checkout", "key-1", cart_id="c1", email="ada@example.com", expected_total=Decimal("193.30")
    )
    same_body_other_key = checkout.CheckoutRequest("c1", "key-2", "ada@example.com", Decimal("193.30"))
    assert same_body_other_key.key_use("acme").fingerprint == use.fingerprint
    for other in (
        checkout.CheckoutRequest("c1", "key-1", "bob@example.com", Decimal("193.30")),
        checkout.CheckoutRequest("c1", "key-1", "ada@example.com", None),
        checkout.CheckoutRequest("c2", "key-1", "ada@example.com", Decimal("193.30")),
    ):
        assert other.key_use("acme").fingerprint != use.fingerprint
