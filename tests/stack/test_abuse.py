"""Attacks on a public checkout, with real concurrency on DynamoDB Local through a `chalice local`
that has the per-client limits on (the session's stack has them off: its shoppers are all
127.0.0.1). Each client is a loopback address of its own (127.0.0.0/8 all reaches the server),
which the local gateway reports as the source IP, as API Gateway reports a client's.

- hoarding: one client checks out eight carts at once; three unpaid orders hold stock, no more;
- card testing: many cards on many orders from many clients; each client gets at most its
  hourly card attempts, each order at most its own;
- a noisy neighbour at 50 requests/s does not cost another shopper a single checkout.
"""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import httpx
import pytest

from chalicelib.ids import new_ulid
from chalicelib.limits import Limits
from chalicelib.models import LimitCounterModel, ProductModel, TenantModel
from scripts.local_stack import HOST, free_port, start_chalice_local
from support.card_shop import accept_cards
from support.delivery import deliver, ship_as_acme
from tests.stack.test_concurrency import all_at_once

DEFAULTS = Limits()


@pytest.fixture
def limited_api(local_stack, stack_aws, started, tmp_path) -> str:
    port = free_port()
    started.append(start_chalice_local(port, {**local_stack.env, "CLIENT_LIMITS": "on"}, log_dir=tmp_path))
    return f"http://{HOST}:{port}"


def shopper(api_url: str, address: str) -> httpx.Client:
    """An HTTP client whose requests leave from `address`."""
    return httpx.Client(base_url=api_url, timeout=30, transport=httpx.HTTPTransport(local_address=address))


def fresh_shop(cards: bool) -> str:
    """A tenant of its own (the session's acme and globex keep their catalogues for the other tests),
    taking cards through the session's localstripe or paid on delivery."""
    tenant_id = f"abuse-{new_ulid()[-12:].lower()}"
    TenantModel(tenant_id, name="Abused shop", currency="EUR", vat_rate=Decimal("0.20")).save()
    ship_as_acme(tenant_id)
    if cards:
        accept_cards(tenant_id)
    return tenant_id


def fresh_product(tenant_id: str, stock: int) -> str:
    product_id = f"abuse-{new_ulid().lower()}"
    ProductModel(
        tenant_id,
        product_id,
        name="Sought after",
        description="Everyone wants one.",
        category="camping",
        price=Decimal("5.00"),
        stock=stock,
    ).save()
    return product_id


def units(tenant_id: str, product_id: str) -> tuple[int, int, int]:
    product = ProductModel.get(tenant_id, product_id, consistent_read=True)
    return int(product.stock), int(product.reserved), int(product.sold)


def cart_of(client: httpx.Client, tenant_id: str, product_id: str, quantity: int = 1, delivered: bool = True) -> str:
    """A cart of one product, with the shop's delivery set unless it is never checked out."""
    answer = client.post(
        f"/tenants/{tenant_id}/carts", json={"items": [{"product_id": product_id, "quantity": quantity}]}
    )
    assert answer.status_code == 201, answer.text
    if delivered:
        deliver(client, tenant_id, answer.json()["cart_id"])
    return answer.json()["cart_id"]


def test_one_client_checking_out_everything_at_once_holds_three_orders_no_more(limited_api):
    shop = fresh_shop(cards=True)
    product_id = fresh_product(shop, stock=40)
    hoarder = shopper(limited_api, "127.0.0.2")
    carts = [cart_of(hoarder, shop, product_id, quantity=DEFAULTS.units_per_line) for _ in range(4)]

    answers = all_at_once(
        len(carts),
        lambda i: hoarder.post(f"/tenants/{shop}/carts/{carts[i]}/checkout", headers={"Idempotency-Key": f"hoard-{i}"}),
    )

    codes = sorted(answer.status_code for answer in answers)
    assert codes == [201, 201, 201, 429]
    refused = next(answer for answer in answers if answer.status_code == 429)
    assert refused.json()["error"]["details"] == {"limit": DEFAULTS.unpaid_orders_per_client}
    assert units(shop, product_id) == (10, 30, 0)  # 3 orders x 10 units held; 10 still on sale
    # Someone else can still buy what is left.
    other = shopper(limited_api, "127.0.0.3")
    cart_id = cart_of(other, shop, product_id, quantity=DEFAULTS.units_per_line)
    assert (
        other.post(f"/tenants/{shop}/carts/{cart_id}/checkout", headers={"Idempotency-Key": "other-1"}).status_code
        == 201
    )
    assert units(shop, product_id) == (0, 40, 0)


def test_card_testing_from_many_clients_on_many_orders_is_capped_per_client_and_per_order(limited_api):
    shop = fresh_shop(cards=True)
    product_id = fresh_product(shop, stock=100)
    per_client = DEFAULTS.card_attempts_per_client_hour
    testers = {f"127.0.1.{n}": shopper(limited_api, f"127.0.1.{n}") for n in range(1, 4)}
    # Each tester holds as many orders as it may and tries 8 cards on each: 24 attempts, all at once.
    attempts = []
    for address, tester in testers.items():
        for _ in range(DEFAULTS.unpaid_orders_per_client):
            cart_id = cart_of(tester, shop, product_id)
            placed = tester.post(f"/tenants/{shop}/carts/{cart_id}/checkout", headers={"Idempotency-Key": new_ulid()})
            assert placed.status_code == 201, placed.text
            order = placed.json()
            attempts += [(address, order["order"]["order_id"], order["order_token"], n) for n in range(8)]

    answers = all_at_once(
        len(attempts),
        lambda i: testers[attempts[i][0]].post(
            f"/tenants/{shop}/orders/{attempts[i][1]}/payment/setup",
            json={"attempt": f"attempt-{attempts[i][3]:04d}"},
            headers={"X-Order-Token": attempts[i][2]},
        ),
    )

    by_client: dict[str, list[int]] = {}
    for (address, *_), answer in zip(attempts, answers, strict=True):
        by_client.setdefault(address, []).append(answer.status_code)
    assert {address: sorted(codes) for address, codes in by_client.items()} == {
        address: [200] * per_client + [429] * (24 - per_client) for address in by_client
    }
    hits = {
        item.counter.split("#")[1]: int(item.hits)
        for item in LimitCounterModel.query(shop)
        if item.counter.startswith("cards#")
    }
    assert {address: hits[address] for address in by_client} == {address: per_client for address in by_client}

    # Many clients on one order: the order's own cap holds whoever tries.
    owner = shopper(limited_api, "127.0.2.1")
    cart_id = cart_of(owner, shop, product_id)
    order = owner.post(f"/tenants/{shop}/carts/{cart_id}/checkout", headers={"Idempotency-Key": new_ulid()}).json()
    crowd = [shopper(limited_api, f"127.0.3.{n}") for n in range(1, 16)]
    answers = all_at_once(
        len(crowd),
        lambda i: crowd[i].post(
            f"/tenants/{shop}/orders/{order['order']['order_id']}/payment/setup",
            json={"attempt": f"attempt-{i:04d}"},
            headers={"X-Order-Token": order["order_token"]},
        ),
    )
    assert sorted(answer.status_code for answer in answers) == [200] * DEFAULTS.card_attempts_per_order + [409] * 5


def test_a_noisy_neighbour_at_50_requests_a_second_costs_another_shopper_nothing(limited_api):
    shop = fresh_shop(cards=False)
    product_id = fresh_product(shop, stock=100)
    noisy, quiet = shopper(limited_api, "127.0.4.1"), shopper(limited_api, "127.0.4.2")
    noisy_cart = cart_of(noisy, shop, product_id, delivered=False)  # its writes are the ones counted below
    stop = threading.Event()
    noisy_codes: list[int] = []

    def flood() -> None:
        while not stop.is_set():
            started = time.monotonic()
            answer = noisy.put(f"/tenants/{shop}/carts/{noisy_cart}/items/{product_id}", json={"quantity": 1})
            noisy_codes.append(answer.status_code)
            time.sleep(max(0.0, 0.02 - (time.monotonic() - started)))  # 50 a second at most

    flooding = threading.Thread(target=flood)
    flooding.start()
    try:
        # The quiet shopper buys while the neighbour is being turned away.
        deadline = time.monotonic() + 30
        while 429 not in noisy_codes and time.monotonic() < deadline:
            time.sleep(0.05)
        checkouts = []
        for n in range(5):
            cart_id = cart_of(quiet, shop, product_id)
            added = quiet.put(f"/tenants/{shop}/carts/{cart_id}/items/{product_id}", json={"quantity": 2})
            assert added.status_code == 200
            checkouts.append(
                quiet.post(f"/tenants/{shop}/carts/{cart_id}/checkout", headers={"Idempotency-Key": f"quiet-{n}"})
            )
    finally:
        stop.set()
        flooding.join()

    assert [answer.status_code for answer in checkouts] == [201] * 5  # 100 % of the quiet shopper's checkouts
    assert [answer.json()["order"]["status"] for answer in checkouts] == ["confirmed"] * 5
    assert set(noisy_codes) == {200, 429}
    # Every write the neighbour got through was counted in its own windows, none above the limit.
    windows = [
        int(item.hits) for item in LimitCounterModel.query(shop) if item.counter.startswith("rate:cart#127.0.4.1#")
    ]
    assert sum(windows) == noisy_codes.count(200) + 1  # and its cart's creation
    assert max(windows) <= DEFAULTS.cart_writes_per_minute
    assert units(shop, product_id) == (90, 0, 10)
