"""The deployed prod stack used through its API Gateway URL, its functions running in Lambda containers.

In order, as a shop's first hour goes: the stack and its functions, health (the API function's cold
start against its warm latency), the catalogue, a known cart checked out and paid by card at
localstripe (the totals and the stock exact), the orders stream's events on the bus, Stripe's signed
webhook, the sweeper expiring a lapsed hold on its schedule, the admin routes (401: LocalStack
community never invokes the authorizer), and the authorizer function invoked directly.
Delivery options and the notifier's e-mail do not exist yet, so they are not part of it.
"""

from __future__ import annotations

import json
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import stripe

from cloud.journey.conftest import REPO, SECRET_KEY, STACK, TENANT, WEBHOOK_SECRET, Bus, Cloud, aws, figures, record
from support.card_shop import CARDS, save_card, signed, succeeded_event

# tent-2p 129.00 + 2 x headlamp 24.99 with SUMMER10, computed by hand (tests/conftest.py has the rule).
KNOWN_CART_TOTALS = {
    "subtotal": "178.98",
    "discount": "17.90",
    "net": "161.08",
    "shipping": "0.00",  # no delivery chosen: nothing to ship for
    "vat_rate": "0.20",
    "vat": "32.22",
    "total": "193.30",
}
ADDRESS = {"name": "Ada Lovelace", "line1": "Hauptstr. 1", "city": "Berlin", "postal_code": "10115", "country": "DE"}
WARM_REQUESTS = 10
SWEEP_TIMEOUT_SECONDS = 180  # the schedule runs the sweeper every minute


def stock(http: httpx.Client, product_id: str) -> int:
    answer = http.get(f"/tenants/{TENANT}/products/{product_id}")
    assert answer.status_code == 200, answer.text
    return answer.json()["stock"]


def stripe_client(cloud: Cloud) -> stripe.StripeClient:
    return stripe.StripeClient(SECRET_KEY, base_addresses={"api": cloud.stripe_url})


def card(cloud: Cloud, kind: str, setup: httpx.Response) -> str:
    """A PaymentMethod for a test card, as Stripe.js's confirmCardSetup leaves one in the shopper's
    browser: saved to the order's customer by the order's card setup (`setup`, its answer)."""
    assert setup.status_code == 200, setup.text
    details = {"number": CARDS[kind], "exp_month": 12, "exp_year": 2034, "cvc": "123"}
    payment_method = stripe_client(cloud).v1.payment_methods.create({"type": "card", "card": details}).id
    save_card(cloud.stripe_url, payment_method, setup.json()["client_secret"])
    return payment_method


def checkout(http: httpx.Client, lines: dict[str, int], promo: str | None = None, total: str | None = None) -> dict:
    (first, quantity), *rest = lines.items()
    cart = http.post(f"/tenants/{TENANT}/carts", json={"items": [{"product_id": first, "quantity": quantity}]})
    assert cart.status_code == 201, cart.text
    path = f"/tenants/{TENANT}/carts/{cart.json()['cart_id']}"
    for product_id, quantity in rest:
        answer = http.put(f"{path}/items/{product_id}", json={"quantity": quantity})
        assert answer.status_code == 200, answer.text
    if promo:
        assert http.put(f"{path}/promo", json={"code": promo}).status_code == 200
    # Where it goes: acme's standard shipping, free over 50.00, which both of the journey's carts are.
    delivery = http.put(f"{path}/delivery", json={"email": "ada@example.com", "address": ADDRESS, "method": "standard"})
    assert delivery.status_code == 200, delivery.text
    assert (delivery.json()["delivery"]["method"]["id"], delivery.json()["totals"]["shipping"]) == ("standard", "0.00")
    body = {"email": "ada@example.com", **({"expected_total": total} if total else {})}
    placed = http.post(f"{path}/checkout", headers={"Idempotency-Key": f"order-{uuid.uuid4()}"}, json=body)
    assert placed.status_code == 201, placed.text
    return placed.json()


def test_the_stack_is_created_with_its_six_functions(cloud: Cloud) -> None:
    status = aws("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"]
    assert status in ("CREATE_COMPLETE", "UPDATE_COMPLETE")
    assert set(cloud.functions) == {
        "APIHandler",
        "PaymentsHandler",
        "AdminKey",
        "OrderStream",
        "ExpireHolds",
        "NotifyShopper",
    }
    for name in cloud.functions.values():
        configuration = aws("lambda").get_function_configuration(FunctionName=name)
        assert (configuration["Runtime"], configuration["State"]) == ("python3.11", "Active")


def test_the_operator_sets_the_seeded_tenant_up_with_the_tenants_cli(admin_key: str, takes_cards: None) -> None:
    """Before any shopper: an admin key (the seed carries none) and the shop's Stripe account; the API
    caches a tenant for a minute, so a change made later would be seen that much later."""
    assert len(admin_key) > len(f"cw_{TENANT}_") + 20


def test_health_answers_through_api_gateway_cold_then_warm(cloud: Cloud, http: httpx.Client) -> None:
    started = time.perf_counter()
    first = http.get("/health")
    cold = time.perf_counter() - started
    assert (first.status_code, first.json()) == (200, {"status": "ok"})
    warm = []
    for _ in range(WARM_REQUESTS):
        started = time.perf_counter()
        assert http.get("/health").status_code == 200
        warm.append(time.perf_counter() - started)
    record("api_cold_start_ms", round(cold * 1000))
    record("api_warm_median_ms", round(statistics.median(warm) * 1000, 1))
    record("api_warm_max_ms", round(max(warm) * 1000, 1))
    ready = http.get("/health/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ok"


def test_the_seeded_catalogue_pages_through_api_gateway(http: httpx.Client) -> None:
    first = http.get(f"/tenants/{TENANT}/products", params={"limit": 3}).json()
    second = http.get(f"/tenants/{TENANT}/products", params={"limit": 3, "cursor": first["next_cursor"]}).json()
    assert len(first["items"]) == len(second["items"]) == 3
    assert not {p["product_id"] for p in first["items"]} & {p["product_id"] for p in second["items"]}
    tent = http.get(f"/tenants/{TENANT}/products/tent-2p").json()
    assert (tent["name"], tent["price"], tent["currency"]) == ("Ridgeline 2-Person Tent", "129.00", "EUR")


def test_a_known_cart_is_checked_out_and_paid_by_card_and_its_events_reach_the_bus(
    cloud: Cloud, http: httpx.Client, takes_cards: None, bus: Bus
) -> None:
    before = {product: stock(http, product) for product in ("tent-2p", "headlamp")}
    placed = checkout(http, {"tent-2p": 1, "headlamp": 2}, promo="SUMMER10", total="193.30")
    order, token = placed["order"], {"X-Order-Token": placed["order_token"]}
    assert (order["status"], order["totals"]) == ("pending_payment", KNOWN_CART_TOTALS)
    held = {product: stock(http, product) for product in before}
    assert held == {"tent-2p": before["tent-2p"] - 1, "headlamp": before["headlamp"] - 2}

    # PaymentsHandler: the tenant's Stripe key read from SSM, a SetupIntent at localstripe.
    order_path = f"/tenants/{TENANT}/orders/{order['order_id']}"
    setup = http.post(f"{order_path}/payment/setup", headers=token, json={"attempt": f"attempt-{uuid.uuid4().hex}"})
    assert setup.status_code == 200, setup.text
    assert setup.json()["client_secret"].startswith("seti_")
    paid = http.post(f"{order_path}/payment", headers=token, json={"payment_method": card(cloud, "pays", setup)})
    assert paid.status_code == 200, paid.text
    assert paid.json()["payment"] == {"status": "succeeded"}
    assert (paid.json()["order"]["status"], paid.json()["order"]["totals"]) == ("paid", KNOWN_CART_TOTALS)
    assert http.get(order_path, headers=token).json()["status"] == "paid"
    assert {product: stock(http, product) for product in before} == held  # sold: off sale for good

    intent_id = aws("dynamodb").get_item(
        TableName=f"{STACK}-orders", Key={"tenant_id": {"S": TENANT}, "order_id": {"S": order["order_id"]}}
    )["Item"]["payment_intent_id"]["S"]
    intent = stripe_client(cloud).v1.payment_intents.retrieve(intent_id)
    assert (intent.status, intent.amount, intent.currency) == ("succeeded", 19330, "eur")

    # The orders table's stream ran OrderStream, which published to the stage's bus.
    events = bus.events_of(order["order_id"], {"order_created", "order_paid"})
    assert set(events) >= {"order_created", "order_paid"}, bus.seen
    assert events["order_paid"]["detail"]["tenant_id"] == TENANT
    record("journey_paid_order", order["order_id"])


def test_stripes_signed_webhook_is_applied_once_through_api_gateway(cloud: Cloud, http: httpx.Client) -> None:
    listed = stripe_client(cloud).v1.payment_intents.list({"limit": 10})
    intent = next(i for i in listed.data if i.status == "succeeded")
    event = succeeded_event(intent, f"evt_{uuid.uuid4().hex}")
    path = f"/tenants/{TENANT}/payments/stripe/webhook"
    body, headers = signed(event, WEBHOOK_SECRET)
    first = http.post(path, content=body, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json() == {"received": True, "outcome": "applied"}
    again = http.post(path, content=body, headers=headers)
    assert again.json() == {"received": True, "outcome": "duplicate"}
    forged, forged_headers = signed(event, "whsec_someone_else")
    refused = http.post(path, content=forged, headers=forged_headers)
    assert refused.status_code == 400, refused.text


def test_the_scheduled_sweeper_expires_a_lapsed_hold_and_cancels_its_intent(
    cloud: Cloud, http: httpx.Client, takes_cards: None, bus: Bus
) -> None:
    before = stock(http, "headlamp")
    placed = checkout(http, {"headlamp": 3})
    order, token = placed["order"], {"X-Order-Token": placed["order_token"]}
    order_path = f"/tenants/{TENANT}/orders/{order['order_id']}"
    assert order["status"] == "pending_payment"
    assert stock(http, "headlamp") == before - 3
    # A declined card leaves the order payable, with a PaymentIntent the sweeper must cancel.
    setup = http.post(f"{order_path}/payment/setup", headers=token, json={"attempt": f"attempt-{uuid.uuid4().hex}"})
    declined = http.post(
        f"{order_path}/payment", headers=token, json={"payment_method": card(cloud, "declined", setup)}
    )
    assert declined.status_code == 402, declined.text
    assert declined.json()["error"]["code"] == "PAYMENT_FAILED"

    # The shopper walks away; rather than wait the stage's 15 minutes, the hold is moved into the past.
    past = (datetime.now(UTC) - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%f+0000")
    aws("dynamodb").update_item(
        TableName=f"{STACK}-orders",
        Key={"tenant_id": {"S": TENANT}, "order_id": {"S": order["order_id"]}},
        UpdateExpression="SET hold_expires_at = :past",
        ConditionExpression="attribute_exists(hold_queue)",
        ExpressionAttributeValues={":past": {"S": past}},
    )
    lapsed = time.monotonic()
    deadline = lapsed + SWEEP_TIMEOUT_SECONDS
    while (status := http.get(order_path, headers=token).json()["status"]) == "pending_payment":
        assert time.monotonic() < deadline, "the schedule did not run the sweeper"
        time.sleep(3)
    record("sweeper_expired_after_s", round(time.monotonic() - lapsed))
    assert status == "expired"
    assert stock(http, "headlamp") == before  # the units are back on sale, exactly
    intents = stripe_client(cloud).v1.payment_intents.list({"limit": 20}).data
    mine = [i for i in intents if i.metadata.to_dict().get("order_id") == order["order_id"]]
    assert [i.status for i in mine] == ["canceled"]
    events = bus.events_of(order["order_id"], {"order_created", "order_expired"})
    assert set(events) >= {"order_created", "order_expired"}, bus.seen


def test_every_admin_route_answers_401_as_localstack_never_invokes_the_authorizer(
    http: httpx.Client, admin_key: str
) -> None:
    order_id = figures()["journey_paid_order"]
    product = {"name": "Tent", "description": "A tent.", "category": "camping", "price": "1.00", "tags": []}
    routes = [
        ("GET", f"/tenants/{TENANT}/orders", None),
        ("PUT", f"/tenants/{TENANT}/products/tent-2p", product | {"complements": []}),
        ("POST", f"/tenants/{TENANT}/products/tent-2p/stock", {"delta": 1}),
        ("POST", f"/tenants/{TENANT}/orders/{order_id}/refund", None),
    ]
    for method, path, body in routes:
        for headers in ({"X-Api-Key": admin_key}, {}):
            answer = http.request(method, path, json=body, headers=headers)
            assert answer.status_code == 401, (method, path, headers, answer.text)
            assert answer.json()["error"]["code"] == "UNAUTHORIZED"
    assert http.get(f"/tenants/{TENANT}/orders/{order_id}", headers={"X-Api-Key": admin_key}).json()["status"] == "paid"


def test_the_authorizer_function_allows_a_valid_key_and_refuses_others(cloud: Cloud, admin_key: str) -> None:
    method_arn = f"arn:aws:execute-api:us-east-1:000000000000:{cloud.outputs['RestAPIId']}/api/GET/tenants/acme/orders"

    def authorize(token: str) -> dict:
        event = {"type": "TOKEN", "authorizationToken": token, "methodArn": method_arn}
        answer = aws("lambda").invoke(FunctionName=cloud.functions["AdminKey"], Payload=json.dumps(event).encode())
        return {"error": answer.get("FunctionError"), "payload": json.loads(answer["Payload"].read())}

    allowed = authorize(admin_key)
    assert allowed["error"] is None, allowed
    assert allowed["payload"]["principalId"] == TENANT
    assert allowed["payload"]["context"] == {"tenant_id": TENANT}
    (statement,) = allowed["payload"]["policyDocument"]["Statement"]
    assert (statement["Effect"], statement["Action"]) == ("Allow", "execute-api:Invoke")
    for token in (f"cw_{TENANT}_not-a-key-of-ours", admin_key[:-1], "", "cw_globex_" + admin_key.split("_", 2)[2]):
        refused = authorize(token)
        assert refused["error"] == "Unhandled", refused
        assert refused["payload"]["errorMessage"] == "Unauthorized"


def test_nothing_was_sold_twice(http: httpx.Client) -> None:
    """The stock the journey leaves: the paid order's units only (3 headlamps were held and released)."""
    seeded = {
        p["product_id"]: p["stock"] for p in json.loads((REPO / "data/tenants/acme.json").read_text())["products"]
    }
    assert stock(http, "tent-2p") == seeded["tent-2p"] - 1
    assert stock(http, "headlamp") == seeded["headlamp"] - 2
