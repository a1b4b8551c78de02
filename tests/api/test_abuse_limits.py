"""Abuse limits, one client at a time through the Chalice test client on moto: quantities per line
and order (422 QUANTITY_LIMIT), request rates per (tenant, client) (429 RATE_LIMITED with
Retry-After), unpaid orders holding stock per client, card attempts per order and per client.
Exact answers, stock and counters; tests/stack/test_abuse.py runs the attacks with real concurrency.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib import config, payments, tenants
from chalicelib.models import LimitCounterModel
from support.card_shop import accept_cards, units
from support.delivery import check_out
from tests.api.test_payments import CARTS, ORDERS, pay, place, shop, stripe  # noqa: F401  (fixtures)


@pytest.fixture(autouse=True)
def client_limits_on(aws_env, monkeypatch):
    monkeypatch.setenv("CLIENT_LIMITS", "on")
    config.reset()


def as_client(api, address: str):
    """Send the following requests from `address`, as API Gateway would report it."""
    api.client.http._local_gateway.peer = address
    return api


def counters(tenant_id: str = "acme") -> dict[str, int]:
    """Each counter's hits by its name without the window ("rate:cart#203.0.113.7"); holds have none."""
    return {
        item.counter if item.counter.startswith("holds#") else item.counter.rsplit("#", 1)[0]: int(item.hits)
        for item in LimitCounterModel.query(tenant_id)
    }


def test_a_line_or_an_order_above_the_tenants_units_is_refused_and_nothing_written(api):
    too_many = api.post(CARTS, {"items": [{"product_id": "headlamp", "quantity": 11}]})
    assert (too_many.status_code, too_many.data["error"]["code"]) == (422, "QUANTITY_LIMIT")
    assert too_many.data["error"]["details"] == {"product_id": "headlamp", "requested": 11, "limit": 10}

    cart = api.post(CARTS, {"items": [{"product_id": "headlamp", "quantity": 10}]}).data
    more = api.put(f"{CARTS}/{cart['cart_id']}/items/headlamp", {"quantity": 11})
    assert (more.status_code, more.data["error"]["details"]["limit"]) == (422, 10)
    api.put(f"{CARTS}/{cart['cart_id']}/items/sun-hat", {"quantity": 10})
    api.put(f"{CARTS}/{cart['cart_id']}/items/tent-2p", {"quantity": 10})
    order_over = api.put(f"{CARTS}/{cart['cart_id']}/items/fuel-canister", {"quantity": 1})
    assert (order_over.status_code, order_over.data["error"]["code"]) == (422, "QUANTITY_LIMIT")
    assert order_over.data["error"]["details"] == {"requested": 31, "limit": 30}
    lines = api.get(f"{CARTS}/{cart['cart_id']}").data["items"]
    assert [(line["product_id"], line["quantity"]) for line in lines] == [
        ("headlamp", 10),
        ("sun-hat", 10),
        ("tent-2p", 10),
    ]


def test_a_cart_filled_before_the_tenant_lowered_its_limit_is_not_checked_out(api):
    cart_id = api.post(CARTS, {"items": [{"product_id": "headlamp", "quantity": 6}]}).data["cart_id"]
    tenants.set_limits("acme", {"units_per_line": 5})

    refused = check_out(api, "acme", cart_id, key="lowered")

    assert (refused.status_code, refused.data["error"]["details"]) == (
        422,
        {"product_id": "headlamp", "requested": 6, "limit": 5},
    )
    assert units("acme", "headlamp") == (30, 0, 0)
    assert api.get(f"{CARTS}/{cart_id}").data["status"] == "open"


def test_a_clients_requests_past_its_rate_are_429_and_another_client_is_served(api):
    tenants.set_limits("acme", {"cart_writes_per_minute": 3})
    as_client(api, "203.0.113.7")
    answers = [api.post(CARTS, {"items": [{"product_id": "sun-hat", "quantity": 1}]}) for _ in range(5)]

    assert [answer.status_code for answer in answers] == [201, 201, 201, 429, 429]
    limited = answers[3]
    assert limited.data["error"]["code"] == "RATE_LIMITED"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert limited.data["error"]["details"] == {"retry_after": int(limited.headers["Retry-After"])}
    assert as_client(api, "198.51.100.9").post(CARTS).status_code == 201
    assert counters() == {"rate:cart#203.0.113.7": 3, "rate:cart#198.51.100.9": 1}


def test_client_limits_off_count_nothing(api, monkeypatch):
    monkeypatch.setenv("CLIENT_LIMITS", "off")
    config.reset()
    tenants.set_limits("acme", {"cart_writes_per_minute": 1})

    answers = [api.post(CARTS).status_code for _ in range(3)]

    assert answers == [201, 201, 201]
    assert counters() == {}


def test_a_client_holds_at_most_three_unpaid_card_orders_and_gets_one_back_when_one_ends(shop):  # noqa: F811
    as_client(shop, "203.0.113.20")
    held = [place(shop, ("tent-2p", 1)) for _ in range(3)]
    cart_id = shop.post(CARTS, {"items": [{"product_id": "tent-2p", "quantity": 1}]}).data["cart_id"]

    fourth = check_out(shop, "acme", cart_id, key="hoard-4")

    assert (fourth.status_code, fourth.data["error"]["code"]) == (429, "RATE_LIMITED")
    assert fourth.data["error"]["details"] == {"limit": 3}
    assert units("acme", "tent-2p") == (7, 3, 0)
    assert counters()["holds#203.0.113.20"] == 3
    assert shop.get(f"{CARTS}/{cart_id}").data["status"] == "open"
    # Another client is not held back by this one.
    as_client(shop, "203.0.113.21")
    place(shop, ("tent-2p", 1))  # asserts it is pending_payment
    # A cancel and a lapse each give one back.
    as_client(shop, "203.0.113.20")
    (order_id, token) = held[0]
    assert shop.post(f"{ORDERS}/{order_id}/cancel", headers=token).data["status"] == "cancelled"
    payments.sweep_lapsed_holds(now=datetime.now(UTC) + timedelta(seconds=901))  # the other two lapse
    holds = {
        item.counter: int(item.hits) for item in LimitCounterModel.query("acme") if item.counter.startswith("holds#")
    }
    assert holds == {"holds#203.0.113.20": 0, "holds#203.0.113.21": 0}
    again = shop.post(f"{CARTS}/{cart_id}/checkout", headers={"Idempotency-Key": "hoard-4"})
    assert (again.status_code, again.data["order"]["status"]) == (201, "pending_payment")
    assert units("acme", "tent-2p") == (9, 1, 0)


def test_card_attempts_count_setups_and_payments_alike_per_order(shop, stripe):  # noqa: F811
    tenants.set_limits("acme", {"card_attempts_per_order": 4})
    order_id, token = place(shop, ("tent-2p", 1))
    setups = [
        shop.post(f"{ORDERS}/{order_id}/payment/setup", {"attempt": f"attempt-{n:04d}"}, headers=token)
        for n in range(2)
    ]
    cards = [stripe.card("declined") for _ in setups]
    for card, setup in zip(cards, setups, strict=True):
        stripe.save_card(card, setup.data["client_secret"])  # in the browser: no attempt of ours
    declined = [pay(shop, order_id, token, card).status_code for card in cards]
    fifth = pay(shop, order_id, token, stripe.card("pays"))

    assert ([setup.status_code for setup in setups], declined) == ([200, 200], [402, 402])
    assert (fifth.status_code, fifth.data["error"]["details"]) == (
        409,
        {"status": "pending_payment", "reason": "too_many_card_attempts"},
    )
    assert units("acme", "tent-2p") == (9, 1, 0)
    assert [intent["status"] for intent in stripe.intents_of(order_id)] == ["canceled", "requires_payment_method"]


def test_card_attempts_per_client_per_hour_span_its_orders(shop, stripe):  # noqa: F811
    tenants.set_limits("acme", {"card_attempts_per_client_hour": 3})
    as_client(shop, "203.0.113.30")
    orders = [place(shop, ("headlamp", 1)) for _ in range(2)]
    answers = [
        shop.post(f"{ORDERS}/{order_id}/payment/setup", {"attempt": f"attempt-{n:04d}"}, headers=token)
        for n, (order_id, token) in enumerate(orders * 2)
    ]

    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 3600
    assert counters()["cards#203.0.113.30"] == 3
    other = as_client(shop, "203.0.113.31").post(
        f"{ORDERS}/{orders[0][0]}/payment/setup", {"attempt": "attempt-0009"}, headers=orders[0][1]
    )
    assert other.status_code == 200


@pytest.mark.parametrize("value", ["units_per_line=0", "nonsense=3", "units_per_line=x"])
def test_the_cli_refuses_a_limit_that_is_not_one(aws, value, capsys):
    from scripts import tenants as cli

    with pytest.raises(SystemExit) as exited:
        cli.main(["set-limits", "--tenant-id", "acme", "--limit", value])
    assert exited.value.code == 2
    assert "NAME=N with N >= 1" in capsys.readouterr().err


def test_the_cli_sets_some_limits_and_keeps_the_others(aws, capsys):
    from scripts import tenants as cli

    assert cli.main(["set-limits", "--tenant-id", "acme", "--limit", "units_per_line=5"]) == 0
    assert cli.main(["set-limits", "--tenant-id", "acme", "--limit", "checkouts_per_minute=20"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[-9:] == [
        "units_per_line=5",
        "units_per_order=30",
        "unpaid_orders_per_client=3",
        "card_attempts_per_order=10",
        "card_attempts_per_client_hour=20",
        "cart_writes_per_minute=60",
        "upsell_per_minute=60",
        "checkouts_per_minute=20",
        "order_requests_per_minute=60",
    ]
    assert tenants.get_tenant("acme", fresh=True).limits.units_per_line == 5
    accept_cards("acme")  # the record's other settings untouched
    assert tenants.get_tenant("acme", fresh=True).limits.checkouts_per_minute == 20
