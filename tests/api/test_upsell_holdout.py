"""The holdout: a tenant's share of carts (HOLDOUT_PERCENT, read with the flag in one GetParameters)
gets no suggestions, chosen from the cart id, on the cart page and at checkout alike."""

from __future__ import annotations

import logging

import pytest

from chalicelib import clients, config, upsell
from chalicelib.models import OrderModel
from chalicelib.upsell import arms, flags
from tests.api.test_delivery import ADDRESS

GLOBEX = "/tenants/globex"
GLOBAL_FLAG = "/cartwise/dev/flags/UPSELL_ENABLED"
HOLDOUT = "/cartwise/dev/tenants/globex/upsell/HOLDOUT_PERCENT"
FIXED_IDS = [f"01J{n:023d}" for n in range(1000)]


def put(name: str, value: str) -> None:
    clients.ssm().put_parameter(Name=name, Value=value, Type="String", Overwrite=True)


@pytest.fixture(autouse=True)
def upsell_on(aws, monkeypatch):
    monkeypatch.delenv("LLM_BASE_URL", raising=False)
    config.reset()
    config.get_settings()
    upsell.reset()
    put(GLOBAL_FLAG, "true")
    yield
    upsell.reset()


@pytest.mark.parametrize(
    ("tenant_id", "percent", "held_out"),
    [("acme", 0, 0), ("acme", 10, 94), ("acme", 20, 209), ("acme", 50, 516), ("globex", 20, 205)],
)
def test_the_split_over_a_fixed_set_of_cart_ids(tenant_id, percent, held_out):
    assert sum(arms.is_held_out(tenant_id, cart_id, percent) for cart_id in FIXED_IDS) == held_out


def test_a_larger_share_keeps_the_carts_held_out_before():
    at_10 = {cart_id for cart_id in FIXED_IDS if arms.is_held_out("acme", cart_id, 10)}
    at_20 = {cart_id for cart_id in FIXED_IDS if arms.is_held_out("acme", cart_id, 20)}
    assert at_10 < at_20
    assert [arms.bucket("acme", cart_id) for cart_id in FIXED_IDS[:5]] == [57, 86, 69, 71, 58]


def carts_in_both_arms(api, percent: int) -> tuple[str, str]:
    """A held-out cart and a treated one at this share (cart ids are random: made until both exist)."""
    found: dict[bool, str] = {}
    while len(found) < 2:
        cart_id = api.post(f"{GLOBEX}/carts", {"items": [{"product_id": "laptop-14", "quantity": 1}]}).data["cart_id"]
        found.setdefault(arms.is_held_out("globex", cart_id, percent), cart_id)
    return found[True], found[False]


def checkout(api, cart_id: str, key: str) -> dict:
    body = {"email": "ada@example.com", "address": ADDRESS, "method": "ground"}
    assert api.put(f"{GLOBEX}/carts/{cart_id}/delivery", body).status_code == 200
    response = api.post(f"{GLOBEX}/carts/{cart_id}/checkout", headers={"Idempotency-Key": key})
    assert response.status_code == 201
    return response.data


def test_a_held_out_cart_gets_no_suggestions_on_the_cart_page_and_at_checkout(api):
    put(HOLDOUT, "50")
    held, treated = carts_in_both_arms(api, 50)
    holdout = {"enabled": False, "source": "holdout", "suggestions": []}

    assert api.get(f"{GLOBEX}/carts/{held}/upsell").data == holdout
    assert api.get(f"{GLOBEX}/carts/{treated}/upsell").data["source"] == "fallback"
    assert api.get(f"{GLOBEX}/carts/{held}/upsell").data == holdout  # kept with the cart, served again

    held_order, treated_order = checkout(api, held, "h-1"), checkout(api, treated, "h-2")

    assert held_order["upsell"] == holdout
    assert treated_order["upsell"]["source"] == "fallback"
    stored = {order.cart_id: order.upsell_arm for order in OrderModel.query("globex", consistent_read=True)}
    assert stored == {held: "holdout", treated: "treated"}


def test_with_the_flag_off_no_cart_is_in_either_arm(api):
    put(HOLDOUT, "50")
    put(GLOBAL_FLAG, "false")
    held, treated = carts_in_both_arms(api, 50)

    for cart_id in (held, treated):
        assert api.get(f"{GLOBEX}/carts/{cart_id}/upsell").data["source"] == "disabled"
    checkout(api, held, "off-1")
    assert [order.upsell_arm for order in OrderModel.query("globex", consistent_read=True)] == [None]


@pytest.fixture
def get_parameters_calls():
    calls = []
    events = clients.flag_ssm().meta.events
    events.register("before-parameter-build.ssm.GetParameters", lambda params, **_: calls.append(params["Names"]))
    yield calls
    events.unregister("before-parameter-build.ssm.GetParameters")


def test_the_share_is_read_with_the_flag_in_one_call_per_request(api, get_parameters_calls):
    put(HOLDOUT, "50")
    held, _ = carts_in_both_arms(api, 50)
    get_parameters_calls.clear()

    api.get(f"{GLOBEX}/carts/{held}/upsell")
    checkout(api, held, "one-call")

    names = [
        "/cartwise/dev/tenants/globex/flags/UPSELL_ENABLED",
        GLOBAL_FLAG,
        HOLDOUT,
    ]
    assert get_parameters_calls == [names, names]


@pytest.mark.parametrize("value", ["abc", "51", "-5", "12.5", "½"])
def test_a_bad_share_holds_no_cart_out_and_is_logged(api, value, caplog):
    put(HOLDOUT, value)
    held, _ = carts_in_both_arms(api, 50)

    with caplog.at_level(logging.WARNING, logger="cartwise"):
        assert api.get(f"{GLOBEX}/carts/{held}/upsell").data["source"] == "fallback"

    warned = [r for r in caplog.records if r.getMessage().startswith("HOLDOUT_PERCENT has an invalid value")]
    assert [(r.parameter, r.value) for r in warned] == [(HOLDOUT, value.strip())]
    assert flags.parse_holdout(HOLDOUT, " 7 ") == 7
