"""Attribution: an up-sell answer's set id, a line added with it marked `source: "upsell"` and kept
on the order; every set id the cart was not shown refused with 400 and nothing written."""

from __future__ import annotations

import re

import pytest

from chalicelib import clients, config, upsell
from chalicelib.models import CartModel
from tests.api.test_delivery import ADDRESS

GLOBEX = "/tenants/globex"
ACME = "/tenants/acme"
GLOBAL_FLAG = "/cartwise/dev/flags/UPSELL_ENABLED"


@pytest.fixture(autouse=True)
def upsell_on(aws, monkeypatch):
    monkeypatch.delenv("LLM_BASE_URL", raising=False)  # the deterministic fallback answers
    config.reset()
    config.get_settings()
    upsell.reset()
    clients.ssm().put_parameter(Name=GLOBAL_FLAG, Value="true", Type="String", Overwrite=True)
    yield
    upsell.reset()


def new_cart(api, tenant: str = GLOBEX, product_id: str = "laptop-14") -> str:
    response = api.post(f"{tenant}/carts", {"items": [{"product_id": product_id, "quantity": 1}]})
    assert response.status_code == 201
    return response.data["cart_id"]


def shown(api, cart_id: str, tenant: str = GLOBEX) -> dict:
    answer = api.get(f"{tenant}/carts/{cart_id}/upsell").data
    assert answer["source"] == "fallback", answer
    assert answer["suggestions"], answer
    assert re.fullmatch(f"{cart_id}-[0-9a-f]{{16}}", answer["set_id"])
    return answer


def add(api, cart_id: str, product_id: str, quantity: int = 1, set_id: str | None = None, tenant: str = GLOBEX):
    body: dict = {"quantity": quantity}
    if set_id is not None:
        body["upsell_set_id"] = set_id
    return api.put(f"{tenant}/carts/{cart_id}/items/{product_id}", body)


def sources(cart: dict) -> dict[str, str | None]:
    return {line["product_id"]: line["source"] for line in cart["items"]}


def place(api, cart_id: str, key: str) -> dict:
    body = {"email": "ada@example.com", "address": ADDRESS, "method": "ground"}
    assert api.put(f"{GLOBEX}/carts/{cart_id}/delivery", body).status_code == 200
    response = api.post(f"{GLOBEX}/carts/{cart_id}/checkout", headers={"Idempotency-Key": key})
    assert response.status_code == 201, response.data
    return response.data


def test_a_suggestion_added_with_its_set_id_is_an_upsell_line_kept_on_the_order(api):
    cart_id = new_cart(api)
    first = shown(api, cart_id)
    pick = first["suggestions"][0]["product_id"]

    cart = add(api, cart_id, pick, set_id=first["set_id"]).data

    assert sources(cart) == {"laptop-14": None, pick: "upsell"}
    assert sources(api.get(f"{GLOBEX}/carts/{cart_id}").data) == {"laptop-14": None, pick: "upsell"}
    stored = {line.product_id: line for line in CartModel.get("globex", cart_id, consistent_read=True).lines}
    assert (stored[pick].upsell_set_id, stored[pick].upsell_source) == (first["set_id"], "fallback")
    # The content changed: a new answer and set; the checkout of that content serves the same id.
    second = shown(api, cart_id)
    assert second["set_id"] != first["set_id"]
    assert api.get(f"{GLOBEX}/carts/{cart_id}/upsell").data["set_id"] == second["set_id"]

    placed = place(api, cart_id, "attr-1")

    assert sources(placed["order"]) == {"laptop-14": None, pick: "upsell"}
    assert placed["upsell"]["set_id"] == second["set_id"]
    shown_to_admin = api.get(
        f"{GLOBEX}/orders/{placed['order']['order_id']}", headers={"X-Order-Token": placed["order_token"]}
    )
    assert sources(shown_to_admin.data) == {"laptop-14": None, pick: "upsell"}


def test_a_quantity_change_keeps_the_source_and_a_line_added_again_without_a_set_is_not_upsell(api):
    cart_id = new_cart(api)
    answer = shown(api, cart_id)
    pick = answer["suggestions"][0]["product_id"]
    add(api, cart_id, pick, set_id=answer["set_id"])

    assert sources(add(api, cart_id, pick, quantity=3).data)[pick] == "upsell"  # no set id: the line keeps it
    assert sources(add(api, cart_id, pick, quantity=0).data) == {"laptop-14": None}
    assert sources(add(api, cart_id, pick, quantity=1).data)[pick] is None  # added again from the catalogue
    # A set id on a line already in the cart is checked but does not make it an up-sell line.
    assert sources(add(api, cart_id, pick, quantity=2, set_id=answer["set_id"]).data)[pick] is None


def refused(response, message: str) -> None:
    assert response.status_code == 400, response.data
    error = response.data["error"]
    assert error["code"] == "BAD_REQUEST"
    assert message in error["message"]
    assert [field["field"] for field in error["details"]["fields"]] == ["upsell_set_id"]


def test_set_ids_the_cart_was_not_shown_are_400_and_nothing_is_written(api):
    cart_id = new_cart(api)
    answer = shown(api, cart_id)
    pick = answer["suggestions"][0]["product_id"]
    other_cart = new_cart(api)
    other = shown(api, other_cart)
    acme_cart = new_cart(api, ACME, "tent-2p")
    acme_set = shown(api, acme_cart, ACME)["set_id"]
    offered = {suggestion["product_id"] for suggestion in answer["suggestions"]}
    not_suggested = next(p for p in ("wireless-mouse", "desk-mat", "cable-organizer") if p not in offered)
    before = CartModel.get("globex", cart_id, consistent_read=True)

    refused(add(api, cart_id, pick, set_id=f"{cart_id}-0123456789abcdef"), "is not a suggestion set shown to this cart")
    refused(add(api, cart_id, pick, set_id=other["set_id"]), "is not a suggestion set shown to this cart")
    refused(add(api, cart_id, pick, set_id=acme_set), "is not a suggestion set shown to this cart")
    refused(add(api, cart_id, not_suggested, set_id=answer["set_id"]), "is not among the suggestions of up-sell set")
    malformed = add(api, cart_id, pick, set_id="upsell-please")
    assert (malformed.status_code, malformed.data["error"]["details"]["fields"][0]["field"]) == (400, "upsell_set_id")

    after = CartModel.get("globex", cart_id, consistent_read=True)
    assert (after.version, [line.product_id for line in after.lines]) == (before.version, ["laptop-14"])


def test_the_confirmation_suggestions_attribute_lines_of_the_next_cart_only(api):
    opened_before = new_cart(api, product_id="wireless-mouse")
    cart_id = new_cart(api)
    placed = place(api, cart_id, "attr-2")
    confirmation = placed["upsell"]
    assert confirmation["set_id"].startswith(f"{cart_id}-")
    pick = confirmation["suggestions"][0]["product_id"]
    next_cart = new_cart(api, product_id="wireless-mouse")

    assert sources(add(api, next_cart, pick, set_id=confirmation["set_id"]).data)[pick] == "upsell"
    # A cart opened before that order was not the shopper's next cart.
    refused(add(api, opened_before, pick, set_id=confirmation["set_id"]), "is not a suggestion set shown to this cart")
    # An open cart's set stays with its cart.
    open_set = shown(api, next_cart)
    later = new_cart(api, product_id="wireless-mouse")
    refused(
        add(api, later, open_set["suggestions"][0]["product_id"], set_id=open_set["set_id"]),
        "is not a suggestion set shown to this cart",
    )


def test_an_answer_without_suggestions_has_no_set_id(api):
    clients.ssm().put_parameter(Name=GLOBAL_FLAG, Value="false", Type="String", Overwrite=True)
    cart_id = new_cart(api)

    assert api.get(f"{GLOBEX}/carts/{cart_id}/upsell").data == {
        "enabled": False,
        "source": "disabled",
        "suggestions": [],
    }
