"""Card payments on the in-memory Stripe behind the gateway seam (moto for AWS): pay, decline,
3-D Secure, cancel, refund, late payments, the signed per-tenant webhook, the sweeper, and Stripe
failing. Exact money and units throughout. tests/stack/test_stripe_contract.py runs a handful of
these against localstripe through the real SDK."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest

from chalicelib import config, orders, payments
from chalicelib.limits import Limits
from chalicelib.models import IdempotencyKeyModel, OrderModel
from chalicelib.payments import gateway, sweeper
from support.card_shop import (
    PUBLISHABLE_KEY,
    accept_cards,
    signed,
    succeeded_event,
    units,
    webhook_secret,
)
from support.delivery import check_out
from tests.admin import GLOBEX_KEY, admin
from tests.conftest import set_stock
from tests.fake_gateway import FakeStripe
from tests.stripe_doubles import FakeDouble

CARTS = "/tenants/acme/carts"
ORDERS = "/tenants/acme/orders"
WEBHOOK = "/tenants/{}/payments/stripe/webhook"


@pytest.fixture
def stripe(monkeypatch: pytest.MonkeyPatch) -> FakeDouble:
    fake = FakeStripe()
    monkeypatch.setattr(gateway, "connect", fake.connect)
    return FakeDouble(fake)


@pytest.fixture
def shop(api, stripe):
    accept_cards("acme")
    api.stripe = stripe  # pay() sets a card up through it, as the storefront does
    return api


def place(api, *items) -> tuple[str, dict[str, str]]:
    """Check out a cart of (product, quantity); returns the order id and the shopper's token header."""
    cart_id = api.post(CARTS, {"items": [{"product_id": p, "quantity": q} for p, q in items]}).data["cart_id"]
    answer = check_out(api, "acme", cart_id).data
    assert answer["order"]["status"] == "pending_payment"
    return answer["order"]["order_id"], {"X-Order-Token": answer["order_token"]}


def pay(api, order_id, token, payment_method):
    """Pay as the storefront does: a card no customer holds yet is set up for the order's customer first
    (POST …/payment/setup, then Stripe.js's confirmCardSetup), then the order is paid with it. Anything
    else (a card saved already, or not a card at all) is sent as it is."""
    if api.stripe.unsaved(payment_method):
        setup = api.post(f"{ORDERS}/{order_id}/payment/setup", {"attempt": payment_method}, headers=token)
        if setup.status_code == 200:
            api.stripe.save_card(payment_method, setup.data["client_secret"])
    return api.post(f"{ORDERS}/{order_id}/payment", {"payment_method": payment_method}, headers=token)


def status(order_id: str) -> str:
    return OrderModel.get("acme", order_id, consistent_read=True).status


def test_a_card_order_is_paid_for_its_exact_total_and_its_units_are_sold(shop, stripe):
    order_id, token = place(shop, ("tent-2p", 1))
    assert shop.get(f"{ORDERS}/{order_id}").data["payment"] == {
        "provider": "stripe",
        "status": "requires_payment",
        "publishable_key": PUBLISHABLE_KEY,
    }
    assert units("acme", "tent-2p") == (9, 1, 0)

    response = pay(shop, order_id, token, stripe.card("pays"))

    assert response.status_code == 200
    assert response.data["payment"] == {"status": "succeeded"}
    assert response.data["order"]["status"] == "paid"
    assert response.data["order"]["payment"]["status"] == "succeeded"
    assert units("acme", "tent-2p") == (9, 0, 1)
    [intent] = stripe.intents_of(order_id)
    assert (intent["amount"], intent["currency"], intent["status"]) == (15480, "eur", "succeeded")  # 129.00 + 20 % VAT
    assert intent["metadata"] == {"tenant_id": "acme", "order_id": order_id}


def test_a_declined_card_leaves_the_order_payable_and_another_card_pays_it_once(shop, stripe):
    order_id, token = place(shop, ("tent-2p", 2))

    declined = pay(shop, order_id, token, stripe.card("declined"))

    assert declined.status_code == 402
    assert declined.data["error"]["code"] == "PAYMENT_FAILED"
    assert declined.data["error"]["message"] == "Your card was declined."
    assert (status(order_id), units("acme", "tent-2p")) == ("pending_payment", (8, 2, 0))

    paid = pay(shop, order_id, token, stripe.card("pays"))
    again = pay(shop, order_id, token, stripe.card("pays"))

    assert (paid.status_code, paid.data["order"]["status"]) == (200, "paid")
    assert (again.status_code, again.data["payment"]["status"], again.data["order"]["status"]) == (
        200,
        "succeeded",
        "paid",
    )
    assert units("acme", "tent-2p") == (8, 0, 2)
    intents = stripe.intents_of(order_id)
    assert sorted(intent["status"] for intent in intents) == ["canceled", "succeeded"]  # the declined one is spent
    assert [intent["amount"] for intent in intents if intent["status"] == "succeeded"] == [30960]


def test_3d_secure_is_finished_in_the_browser_then_the_payment_is_recorded(shop, stripe):
    order_id, token = place(shop, ("headlamp", 1))
    payment_method = stripe.card("3ds")

    first = pay(shop, order_id, token, payment_method)

    assert first.status_code == 200
    assert first.data["payment"]["status"] == "requires_action"
    assert first.data["payment"]["client_secret"].startswith(stripe.intents_of(order_id)[0]["id"] + "_secret_")
    assert status(order_id) == "pending_payment"

    stripe.authenticate(first.data["payment"]["client_secret"])
    after = pay(shop, order_id, token, payment_method)  # the storefront asks again once Stripe.js is done

    assert (after.data["payment"], after.data["order"]["status"]) == ({"status": "succeeded"}, "paid")
    assert units("acme", "headlamp") == (29, 0, 1)


def test_a_failed_authentication_leaves_the_order_payable_by_another_card(shop, stripe):
    order_id, token = place(shop, ("headlamp", 1))
    first = pay(shop, order_id, token, stripe.card("3ds"))
    stripe.authenticate(first.data["payment"]["client_secret"], success=False)

    paid = pay(shop, order_id, token, stripe.card("pays"))

    assert paid.data["order"]["status"] == "paid"
    assert [intent["status"] for intent in stripe.intents_of(order_id)] == ["succeeded"]


def test_the_card_setup_gives_stripe_js_a_setup_intent_of_this_tenant(shop, stripe):
    order_id, token = place(shop, ("tent-2p", 1))

    response = shop.post(f"{ORDERS}/{order_id}/payment/setup", {"attempt": "attempt-0001"}, headers=token)

    assert response.status_code == 200
    assert response.data["publishable_key"] == PUBLISHABLE_KEY
    usage, metadata, customer = stripe.setup_of(response.data["client_secret"])
    assert (usage, metadata) == ("on_session", {"tenant_id": "acme", "order_id": order_id})
    assert customer == {"tenant_id": "acme", "order_id": order_id}  # the card is saved to the order's customer


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, 401),
        ({"X-Order-Token": "not-the-token"}, 403),
        (admin(), 401),  # paying is the shopper's: an operator's key is not a token
    ],
)
def test_paying_needs_the_orders_own_token_and_changes_nothing_without_it(shop, stripe, headers, code):
    order_id, _ = place(shop, ("tent-2p", 1))

    response = shop.post(f"{ORDERS}/{order_id}/payment", {"payment_method": "pm_card_visa"}, headers=headers)

    assert response.status_code == code
    assert (status(order_id), units("acme", "tent-2p"), stripe.intents_of(order_id)) == (
        "pending_payment",
        (9, 1, 0),
        [],
    )


def test_another_orders_token_does_not_pay_this_one(shop, stripe):
    order_id, _ = place(shop, ("tent-2p", 1))
    _, other_token = place(shop, ("headlamp", 1))

    response = pay(shop, order_id, other_token, stripe.card("pays"))

    assert (response.status_code, status(order_id)) == (403, "pending_payment")


@pytest.mark.parametrize("payment_method", ["", "card_123", "pm_" + "x" * 200, "pm_<script>"])
def test_a_malformed_payment_method_is_a_bad_request(shop, payment_method):
    order_id, token = place(shop, ("tent-2p", 1))

    response = pay(shop, order_id, token, payment_method)

    assert (response.status_code, response.data["error"]["code"]) == (400, "BAD_REQUEST")
    assert status(order_id) == "pending_payment"


def test_an_unknown_payment_method_is_a_bad_request_and_the_order_stays_payable(shop, stripe):
    order_id, token = place(shop, ("tent-2p", 1))

    response = pay(shop, order_id, token, "pm_doesnotexist")

    assert (response.status_code, response.data["error"]["code"]) == (400, "BAD_REQUEST")
    assert pay(shop, order_id, token, stripe.card("pays")).data["order"]["status"] == "paid"


def test_expired_cancelled_and_lapsed_orders_are_not_payable(shop, stripe):
    expired_id, expired_token = place(shop, ("tent-2p", 1))
    payments.sweep_lapsed_holds(now=datetime.now(UTC) + timedelta(seconds=901))
    assert status(expired_id) == "expired"
    cancelled_id, cancelled_token = place(shop, ("headlamp", 1))
    assert shop.post(f"{ORDERS}/{cancelled_id}/cancel", headers=cancelled_token).data["status"] == "cancelled"
    lapsed_id, lapsed_token = place(shop, ("sun-hat", 1))
    OrderModel("acme", lapsed_id).update(actions=[OrderModel.hold_expires_at.set(datetime.now(UTC))])  # not swept yet

    for order_id, token, was in (
        (expired_id, expired_token, "expired"),
        (cancelled_id, cancelled_token, "cancelled"),
        (lapsed_id, lapsed_token, "expired"),
    ):
        response = pay(shop, order_id, token, stripe.card("pays"))
        assert response.status_code == 409
        assert response.data["error"]["code"] == "ORDER_NOT_PAYABLE"
        assert response.data["error"]["details"] == {"status": was}
    assert units("acme", "tent-2p") == (10, 0, 0)
    assert units("acme", "headlamp") == (30, 0, 0)
    assert units("acme", "sun-hat") == (21, 1, 0)  # held until the sweeper comes by


def test_cancelling_an_order_mid_payment_cancels_its_payment_intent(shop, stripe):
    order_id, token = place(shop, ("tent-2p", 1))
    pending = pay(shop, order_id, token, stripe.card("3ds"))
    assert pending.data["payment"]["status"] == "requires_action"

    cancelled = shop.post(f"{ORDERS}/{order_id}/cancel", headers=token)

    assert (cancelled.status_code, cancelled.data["status"]) == (200, "cancelled")
    assert cancelled.data["payment"]["status"] == "canceled"
    assert [intent["status"] for intent in stripe.intents_of(order_id)] == ["canceled"]
    assert units("acme", "tent-2p") == (10, 0, 0)


def test_a_paid_order_cannot_be_cancelled_it_is_refunded_by_an_operator(shop, stripe):
    order_id, token = place(shop, ("tent-2p", 1), ("headlamp", 2))
    pay(shop, order_id, token, stripe.card("pays"))

    refused = shop.post(f"{ORDERS}/{order_id}/cancel", headers=token)
    assert (refused.status_code, refused.data["error"]["code"]) == (409, "ORDER_NOT_CANCELLABLE")

    refunded = shop.post(f"{ORDERS}/{order_id}/refund", headers=admin())
    again = shop.post(f"{ORDERS}/{order_id}/refund", headers=admin())

    assert (refunded.status_code, refunded.data["status"]) == (200, "refunded")
    assert refunded.data["payment"]["refund_reason"] == "requested_by_admin"
    assert (again.status_code, again.data["status"]) == (200, "refunded")
    assert (units("acme", "tent-2p"), units("acme", "headlamp")) == ((10, 0, 0), (30, 0, 0))
    [intent] = stripe.intents_of(order_id)
    refunds = stripe.refunds_of(intent["id"])
    assert [(refund["amount"], refund["status"]) for refund in refunds] == [(intent["amount"], "succeeded")]


def test_only_a_paid_order_is_refunded_and_only_by_its_tenants_operator(shop, stripe):
    order_id, token = place(shop, ("tent-2p", 1))

    unpaid = shop.post(f"{ORDERS}/{order_id}/refund", headers=admin())
    no_key = shop.post(f"{ORDERS}/{order_id}/refund")
    shopper = shop.post(f"{ORDERS}/{order_id}/refund", headers=token)
    pay(shop, order_id, token, stripe.card("pays"))
    other_tenant = shop.post(f"{ORDERS}/{order_id}/refund", headers=admin(GLOBEX_KEY))

    assert (unpaid.status_code, unpaid.data["error"]["code"]) == (409, "ORDER_NOT_REFUNDABLE")
    assert (no_key.status_code, shopper.status_code, other_tenant.status_code) == (401, 401, 403)
    assert (status(order_id), units("acme", "tent-2p")) == ("paid", (9, 0, 1))


def test_the_signed_webhook_records_a_payment_finished_in_the_browser_once(shop, stripe):
    order_id, token = place(shop, ("tent-2p", 1))
    started = pay(shop, order_id, token, stripe.card("3ds"))
    intent = stripe.authenticate(started.data["payment"]["client_secret"])
    body, headers = signed(succeeded_event(intent, "evt_browser_1"), webhook_secret("acme"))

    first = shop.call("POST", WEBHOOK.format("acme"), raw=body, headers=headers)
    second = shop.call("POST", WEBHOOK.format("acme"), raw=body, headers=headers)

    assert (first.status_code, first.data) == (200, {"received": True, "outcome": "applied"})
    assert (second.status_code, second.data) == (200, {"received": True, "outcome": "duplicate"})
    assert (status(order_id), units("acme", "tent-2p")) == ("paid", (9, 0, 1))
    remembered = IdempotencyKeyModel.get("acme", "stripe_event#evt_browser_1")
    assert remembered.expires_at - remembered.created_at >= timedelta(days=4)  # Stripe retries for 3 days


def test_a_refund_made_at_stripe_refunds_the_paid_order_once_with_its_units_back(shop, stripe):
    order_id, token = place(shop, ("tent-2p", 1), ("headlamp", 2))
    pay(shop, order_id, token, stripe.card("pays"))
    [intent] = stripe.intents_of(order_id)
    stripe.refund(intent["id"])  # in Stripe's dashboard
    event = stripe.refunded_event(intent["id"], "evt_dashboard_1", intent["amount"])
    body, headers = signed(event, webhook_secret("acme"))

    first = shop.call("POST", WEBHOOK.format("acme"), raw=body, headers=headers)
    second = shop.call("POST", WEBHOOK.format("acme"), raw=body, headers=headers)

    assert (first.status_code, first.data) == (200, {"received": True, "outcome": "applied"})
    assert (second.status_code, second.data) == (200, {"received": True, "outcome": "duplicate"})
    order = shop.get(f"{ORDERS}/{order_id}", headers=token).data
    assert (order["status"], order["payment"]["refund_reason"]) == ("refunded", "refunded_at_stripe")
    assert (units("acme", "tent-2p"), units("acme", "headlamp")) == ((10, 0, 0), (30, 0, 0))
    # The shop refunded nothing itself: Stripe holds the one refund made in its dashboard.
    refunds = stripe.refunds_of(intent["id"])
    assert [refund["amount"] for refund in refunds] == [intent["amount"]]
    # The admin refund of the same order now answers it as it is.
    again = shop.post(f"{ORDERS}/{order_id}/refund", headers=admin())
    assert (again.status_code, again.data["status"]) == (200, "refunded")


def test_a_partial_refund_at_stripe_leaves_the_order_paid(shop, stripe):
    order_id, token = place(shop, ("tent-2p", 1))
    pay(shop, order_id, token, stripe.card("pays"))
    [intent] = stripe.intents_of(order_id)
    stripe.refund(intent["id"], 1000)
    body, headers = signed(stripe.refunded_event(intent["id"], "evt_partial_1", 1000), webhook_secret("acme"))

    answer = shop.call("POST", WEBHOOK.format("acme"), raw=body, headers=headers)

    assert (answer.status_code, answer.data) == (200, {"received": True, "outcome": "ignored"})
    assert (status(order_id), units("acme", "tent-2p")) == ("paid", (9, 0, 1))


def test_a_refund_at_stripe_reported_before_its_payment_refunds_the_order_not_sells_it(shop, stripe):
    order_id, token = place(shop, ("tent-2p", 1))
    started = pay(shop, order_id, token, stripe.card("3ds"))
    intent = stripe.authenticate(started.data["payment"]["client_secret"])  # paid in the browser
    stripe.refund(intent["id"])  # and refunded at once
    assert status(order_id) == "pending_payment"  # payment_intent.succeeded not delivered yet
    event = stripe.refunded_event(intent["id"], "evt_refund_first", intent["amount"])
    body, headers = signed(event, webhook_secret("acme"))

    answer = shop.call("POST", WEBHOOK.format("acme"), raw=body, headers=headers)
    late_body, late_headers = signed(succeeded_event(intent, "evt_paid_after"), webhook_secret("acme"))
    late = shop.call("POST", WEBHOOK.format("acme"), raw=late_body, headers=late_headers)

    assert (answer.status_code, answer.data["outcome"]) == (200, "applied")
    assert (late.status_code, late.data["outcome"]) == (200, "applied")
    order = shop.get(f"{ORDERS}/{order_id}", headers=token).data
    assert (order["status"], order["payment"]["refund_reason"]) == ("refunded", "refunded_at_stripe")
    assert units("acme", "tent-2p") == (10, 0, 0)
    refunds = stripe.refunds_of(intent["id"])
    assert [refund["amount"] for refund in refunds] == [intent["amount"]]


def test_the_admin_refund_after_a_partial_refund_at_stripe_refunds_the_rest(shop, stripe):
    order_id, token = place(shop, ("tent-2p", 1))
    pay(shop, order_id, token, stripe.card("pays"))
    [intent] = stripe.intents_of(order_id)
    stripe.refund(intent["id"], 1000)

    refunded = shop.post(f"{ORDERS}/{order_id}/refund", headers=admin())

    assert (refunded.status_code, refunded.data["status"]) == (200, "refunded")
    refunds = stripe.refunds_of(intent["id"])
    assert intent["amount"] == 15480  # 129.00 + 20 % VAT, in cents
    assert sorted(refund["amount"] for refund in refunds) == [1000, 14480]
    assert units("acme", "tent-2p") == (10, 0, 0)


def test_a_refund_at_stripe_of_a_payment_the_key_does_not_know_is_ignored(shop, stripe):
    order_id, token = place(shop, ("tent-2p", 1))
    pay(shop, order_id, token, stripe.card("pays"))
    [intent] = stripe.intents_of(order_id)
    event = stripe.refunded_event(intent["id"], "evt_unknown_intent", intent["amount"])
    event["data"]["object"]["payment_intent"] = "pi_unknown_to_this_account"
    body, headers = signed(event, webhook_secret("acme"))

    answer = shop.call("POST", WEBHOOK.format("acme"), raw=body, headers=headers)

    assert (answer.status_code, answer.data) == (200, {"received": True, "outcome": "ignored"})
    assert (status(order_id), units("acme", "tent-2p")) == ("paid", (9, 0, 1))


def test_a_refund_at_stripe_of_another_tenants_payment_changes_nothing(shop, stripe):
    accept_cards("globex")
    order_id, token = place(shop, ("tent-2p", 1))
    pay(shop, order_id, token, stripe.card("pays"))
    [intent] = stripe.intents_of(order_id)
    event = stripe.refunded_event(intent["id"], "evt_cross_refund", intent["amount"])
    body, headers = signed(event, webhook_secret("globex"))  # acme's payment, sent to globex's endpoint

    answer = shop.call("POST", WEBHOOK.format("globex"), raw=body, headers=headers)

    assert (answer.status_code, answer.data) == (200, {"received": True, "outcome": "ignored"})
    assert (status(order_id), units("acme", "tent-2p")) == ("paid", (9, 0, 1))


def test_a_refund_whose_intent_names_another_tenant_is_ignored_even_where_the_order_id_matches(shop, stripe):
    # The order lookup is per tenant, so only an intent naming this tenant's own order id can show
    # that the tenant named beside it is checked too.
    order_id, token = place(shop, ("tent-2p", 1))
    pay(shop, order_id, token, stripe.card("pays"))
    [intent] = stripe.intents_of(order_id)
    stripe.set_metadata(intent["id"], {"tenant_id": "globex"})
    event = stripe.refunded_event(intent["id"], "evt_renamed_refund", intent["amount"])
    body, headers = signed(event, webhook_secret("acme"))

    answer = shop.call("POST", WEBHOOK.format("acme"), raw=body, headers=headers)

    assert (answer.status_code, answer.data) == (200, {"received": True, "outcome": "ignored"})
    assert (status(order_id), units("acme", "tent-2p")) == ("paid", (9, 0, 1))


def test_a_payment_whose_intent_names_another_tenant_is_not_recorded_even_where_the_order_id_matches(shop, stripe):
    order_id, token = place(shop, ("tent-2p", 1))
    started = pay(shop, order_id, token, stripe.card("3ds"))
    intent = stripe.authenticate(started.data["payment"]["client_secret"])
    renamed = stripe.set_metadata(intent["id"], {"tenant_id": "globex"})
    body, headers = signed(succeeded_event(renamed, "evt_renamed_payment"), webhook_secret("acme"))

    answer = shop.call("POST", WEBHOOK.format("acme"), raw=body, headers=headers)

    assert (answer.status_code, answer.data) == (200, {"received": True, "outcome": "ignored"})
    assert (status(order_id), units("acme", "tent-2p")) == ("pending_payment", (9, 1, 0))


@pytest.mark.parametrize("signature", [None, "t=1,v1=00", "garbage"])
def test_a_webhook_without_this_tenants_signature_is_refused_and_changes_nothing(shop, stripe, signature):
    order_id, token = place(shop, ("tent-2p", 1))
    started = pay(shop, order_id, token, stripe.card("3ds"))
    intent = stripe.authenticate(started.data["payment"]["client_secret"])
    body, headers = signed(succeeded_event(intent, "evt_forged"), "whsec_someone_else")
    if signature is not None:
        headers["Stripe-Signature"] = signature

    response = shop.call("POST", WEBHOOK.format("acme"), raw=body, headers=headers)

    assert (response.status_code, response.data["error"]["code"]) == (400, "BAD_REQUEST")
    assert (status(order_id), units("acme", "tent-2p")) == ("pending_payment", (9, 1, 0))


def test_a_webhook_signed_for_one_tenant_never_touches_another_tenants_order(shop, stripe):
    accept_cards("globex")
    order_id, token = place(shop, ("tent-2p", 1))
    started = pay(shop, order_id, token, stripe.card("3ds"))
    intent = stripe.authenticate(started.data["payment"]["client_secret"])

    # globex's endpoint, globex's signature, an acme order's payment: not globex's to record.
    body, headers = signed(succeeded_event(intent, "evt_cross_1"), webhook_secret("globex"))
    crossed = shop.call("POST", WEBHOOK.format("globex"), raw=body, headers=headers)
    # acme's signature sent to globex's endpoint: refused outright.
    body, headers = signed(succeeded_event(intent, "evt_cross_2"), webhook_secret("acme"))
    misrouted = shop.call("POST", WEBHOOK.format("globex"), raw=body, headers=headers)

    assert (crossed.status_code, crossed.data["outcome"]) == (200, "ignored")
    assert misrouted.status_code == 400
    assert (status(order_id), units("acme", "tent-2p")) == ("pending_payment", (9, 1, 0))


def test_an_on_delivery_shop_has_nothing_to_pay_and_takes_no_webhooks(api):
    cart_id = api.post("/tenants/globex/carts", {"items": [{"product_id": "wireless-mouse", "quantity": 1}]}).data
    answer = check_out(api, "globex", cart_id["cart_id"]).data
    order = answer["order"]
    assert (order["status"], "payment" in order) == ("confirmed", False)

    paying = api.post(
        f"/tenants/globex/orders/{order['order_id']}/payment",
        {"payment_method": "pm_card_visa"},
        headers={"X-Order-Token": answer["order_token"]},
    )
    body, headers = signed(succeeded_event({"id": "pi_1", "metadata": {}}, "evt_1"), webhook_secret("globex"))
    webhook = api.call("POST", WEBHOOK.format("globex"), raw=body, headers=headers)

    assert (paying.status_code, paying.data["error"]["details"]) == (409, {"status": "confirmed"})
    assert (webhook.status_code, webhook.data["error"]["code"]) == (400, "BAD_REQUEST")


def test_a_payment_after_the_hold_lapsed_takes_the_units_again_when_they_are_there(shop, stripe):
    order_id, token = place(shop, ("tent-2p", 2))
    started = pay(shop, order_id, token, stripe.card("3ds"))
    # The hold lapses while the shopper authenticates, and Stripe could not be told (so the intent lives on).
    orders.expire(orders.get_order("acme", order_id, consistent=True), datetime.now(UTC) + timedelta(seconds=901))
    assert units("acme", "tent-2p") == (10, 0, 0)
    intent = stripe.authenticate(started.data["payment"]["client_secret"])

    body, headers = signed(succeeded_event(intent, "evt_late_1"), webhook_secret("acme"))
    assert shop.call("POST", WEBHOOK.format("acme"), raw=body, headers=headers).data["outcome"] == "applied"

    assert (status(order_id), units("acme", "tent-2p")) == ("paid", (8, 0, 2))


def test_a_payment_after_the_hold_lapsed_is_refunded_when_the_units_were_sold_meanwhile(shop, stripe):
    order_id, token = place(shop, ("tent-2p", 2))
    started = pay(shop, order_id, token, stripe.card("3ds"))
    orders.expire(orders.get_order("acme", order_id, consistent=True), datetime.now(UTC) + timedelta(seconds=901))
    set_stock("acme", "tent-2p", 1)  # others bought all but one meanwhile
    intent = stripe.authenticate(started.data["payment"]["client_secret"])

    body, headers = signed(succeeded_event(intent, "evt_late_2"), webhook_secret("acme"))
    shop.call("POST", WEBHOOK.format("acme"), raw=body, headers=headers)

    order = shop.get(f"{ORDERS}/{order_id}").data
    assert (order["status"], order["payment"]["refund_reason"]) == ("refunded", "stock_released")
    assert units("acme", "tent-2p") == (1, 0, 0)
    refunds = stripe.refunds_of(intent["id"])
    assert [refund["amount"] for refund in refunds] == [30960]


def test_a_shopper_who_authenticated_as_the_hold_lapsed_is_answered_with_the_payment(shop, stripe):
    order_id, token = place(shop, ("tent-2p", 1))
    payment_method = stripe.card("3ds")
    started = pay(shop, order_id, token, payment_method)
    OrderModel("acme", order_id).update(actions=[OrderModel.hold_expires_at.set(datetime.now(UTC))])  # lapsed
    stripe.authenticate(started.data["payment"]["client_secret"])

    after = pay(shop, order_id, token, payment_method)

    assert (after.status_code, after.data["order"]["status"]) == (200, "paid")
    assert units("acme", "tent-2p") == (9, 0, 1)


def test_the_sweeper_cancels_a_lapsed_orders_payment_intent(shop, stripe):
    order_id, token = place(shop, ("tent-2p", 1))
    pay(shop, order_id, token, stripe.card("3ds"))

    assert payments.sweep_lapsed_holds(now=datetime.now(UTC) + timedelta(seconds=901)) == 1

    assert (status(order_id), units("acme", "tent-2p")) == ("expired", (10, 0, 0))
    assert [intent["status"] for intent in stripe.intents_of(order_id)] == ["canceled"]


def test_the_sweeper_records_a_payment_whose_webhook_never_came_instead_of_expiring_it(shop, stripe):
    order_id, token = place(shop, ("tent-2p", 1))
    started = pay(shop, order_id, token, stripe.card("3ds"))
    stripe.authenticate(started.data["payment"]["client_secret"])  # paid; no webhook arrives

    assert payments.sweep_lapsed_holds(now=datetime.now(UTC) + timedelta(seconds=901)) == 0

    assert (status(order_id), units("acme", "tent-2p")) == ("paid", (9, 0, 1))


def test_stripe_unreachable_answers_503_and_leaves_the_order_payable(shop, stripe):
    order_id, token = place(shop, ("tent-2p", 1))
    payment_method = stripe.card("pays")
    stripe.go_down()

    down = pay(shop, order_id, token, payment_method)

    assert (down.status_code, down.data["error"]["code"], down.headers["Retry-After"]) == (503, "UNAVAILABLE", "1")
    assert (status(order_id), units("acme", "tent-2p")) == ("pending_payment", (9, 1, 0))
    stripe.come_back()
    assert pay(shop, order_id, token, payment_method).data["order"]["status"] == "paid"


def test_a_lapsed_order_whose_intent_stripe_does_not_know_still_expires_and_others_too(shop, stripe):
    unknown_id, token = place(shop, ("tent-2p", 1))
    pay(shop, unknown_id, token, stripe.card("3ds"))
    # e.g. a tenant switched to live keys while a test-mode order was pending: Stripe answers 404.
    OrderModel("acme", unknown_id).update(actions=[OrderModel.payment_intent_id.set("pi_unknown0000000")])
    other_id, _ = place(shop, ("headlamp", 1))

    assert payments.sweep_lapsed_holds(now=datetime.now(UTC) + timedelta(seconds=901)) == 2

    assert (status(unknown_id), status(other_id)) == ("expired", "expired")
    assert (units("acme", "tent-2p"), units("acme", "headlamp")) == ((10, 0, 0), (30, 0, 0))


def test_a_succeeded_intent_the_order_no_longer_holds_is_refunded_not_recorded(shop, stripe):
    order_id, _ = place(shop, ("tent-2p", 1))
    stray = stripe.paid_intent("acme", 15480, {"tenant_id": "acme", "order_id": order_id})
    assert stray["status"] == "succeeded"
    body, headers = signed(succeeded_event(stray, "evt_stray_1"), webhook_secret("acme"))

    shop.call("POST", WEBHOOK.format("acme"), raw=body, headers=headers)

    assert (status(order_id), units("acme", "tent-2p")) == ("pending_payment", (9, 1, 0))
    refunds = stripe.refunds_of(stray["id"])
    assert [refund["amount"] for refund in refunds] == [15480]


def test_a_late_refund_whose_recording_failed_is_finished_never_sold(shop, stripe):
    order_id, token = place(shop, ("tent-2p", 2))
    started = pay(shop, order_id, token, stripe.card("3ds"))
    orders.expire(orders.get_order("acme", order_id, consistent=True), datetime.now(UTC) + timedelta(seconds=901))
    intent = stripe.authenticate(started.data["payment"]["client_secret"])
    # Refunded at Stripe (no stock then), but the order's status was never written.
    stripe.refund(intent["id"])

    body, headers = signed(succeeded_event(intent, "evt_late_3"), webhook_secret("acme"))
    shop.call("POST", WEBHOOK.format("acme"), raw=body, headers=headers)

    order = shop.get(f"{ORDERS}/{order_id}").data
    assert (order["status"], order["payment"]["refund_reason"]) == ("refunded", "stock_released")
    assert units("acme", "tent-2p") == (10, 0, 0)  # the stock was there, but the money is gone
    assert len(stripe.refunds_of(intent["id"])) == 1


@pytest.mark.parametrize(
    "event",
    [
        [],
        {"id": "evt_odd_1", "type": "payment_intent.succeeded"},
        {"id": "evt_odd_2", "type": "payment_intent.succeeded", "data": {"object": {"id": "pi_1"}}},
        {"id": "evt_odd_3", "type": "payment_intent.succeeded", "data": {"object": {"id": "pi_1", "metadata": "x"}}},
        {"id": "evt_odd_4", "type": "payment_intent.succeeded",
         "data": {"object": {"id": "pi_1", "metadata": {"tenant_id": "acme", "order_id": 7}}}},
        {"id": 5, "type": "payment_intent.succeeded", "data": {"object": {"id": "pi_1", "metadata": {}}}},
        {"id": "evt_odd_6", "type": "charge.refunded", "data": {"object": {"id": "ch_1"}}},
    ],
)  # fmt: skip
def test_a_signed_event_of_an_odd_shape_is_acknowledged_and_ignored(shop, event):
    body, headers = signed(event, webhook_secret("acme"))

    response = shop.call("POST", WEBHOOK.format("acme"), raw=body, headers=headers)

    assert (response.status_code, response.data) == (200, {"received": True, "outcome": "ignored"})


def test_a_replayed_old_signature_is_refused(shop, stripe):
    order_id, token = place(shop, ("tent-2p", 1))
    started = pay(shop, order_id, token, stripe.card("3ds"))
    intent = stripe.authenticate(started.data["payment"]["client_secret"])
    body, headers = signed(succeeded_event(intent, "evt_old_1"), webhook_secret("acme"), age_seconds=600)

    response = shop.call("POST", WEBHOOK.format("acme"), raw=body, headers=headers)

    assert (response.status_code, status(order_id)) == (400, "pending_payment")


def test_a_card_setup_our_outage_refuses_costs_the_shopper_no_card_attempt(shop):
    order_id, token = place(shop, ("tent-2p", 1))
    secret_key = config.get_settings().stripe_parameter("acme", "secret_key")
    boto3.client("ssm").delete_parameter(Name=secret_key)  # the shop's Stripe key unreadable

    refused = shop.post(f"{ORDERS}/{order_id}/payment/setup", {"attempt": "attempt-0001"}, headers=token)

    assert (refused.status_code, refused.data["error"]["code"]) == (503, "UNAVAILABLE")
    assert refused.headers["Retry-After"] == "1"
    assert OrderModel.get("acme", order_id, consistent_read=True).card_attempts is None
    accept_cards("acme")  # the key is back
    answer = shop.post(f"{ORDERS}/{order_id}/payment/setup", {"attempt": "attempt-0001"}, headers=token)
    assert answer.status_code == 200
    assert answer.data["client_secret"].startswith("seti_")
    assert OrderModel.get("acme", order_id, consistent_read=True).card_attempts == {"attempt-0001"}


def test_card_setups_are_capped_per_order_against_card_testing(shop):
    order_id, token = place(shop, ("tent-2p", 1))
    answers = [
        shop.post(f"{ORDERS}/{order_id}/payment/setup", {"attempt": f"attempt-{i:04d}"}, headers=token)
        for i in [0, 0, *range(1, Limits().card_attempts_per_order + 1)]  # the first retried: it counts once
    ]

    assert [a.status_code for a in answers] == [200] * (Limits().card_attempts_per_order + 1) + [409]
    assert answers[-1].data["error"]["details"] == {"status": "pending_payment", "reason": "too_many_card_attempts"}
    assert status(order_id) == "pending_payment"


# --- payments believed only from Stripe (issue 24, item 2) ------------------------------------------


def test_a_signed_event_saying_requires_action_for_1_jpy_does_not_mark_the_order_paid(shop, stripe):
    order_id, token = place(shop, ("tent-2p", 1))
    started = pay(shop, order_id, token, stripe.card("3ds"))  # the intent waits for 3-D Secure at Stripe
    [intent] = stripe.intents_of(order_id)
    told = {**intent, "status": "requires_action", "amount": 1, "currency": "jpy"}
    body, headers = signed(succeeded_event(told, "evt_says_succeeded"), webhook_secret("acme"))

    answer = shop.call("POST", WEBHOOK.format("acme"), raw=body, headers=headers)

    assert started.data["payment"]["status"] == "requires_action"
    assert (answer.status_code, answer.data) == (200, {"received": True, "outcome": "ignored"})
    assert (status(order_id), units("acme", "tent-2p")) == ("pending_payment", (9, 1, 0))
    # Once Stripe says it succeeded, the same intent's event is believed.
    paid = stripe.authenticate(started.data["payment"]["client_secret"])
    body, headers = signed(succeeded_event(paid, "evt_succeeded_now"), webhook_secret("acme"))
    assert shop.call("POST", WEBHOOK.format("acme"), raw=body, headers=headers).data["outcome"] == "applied"
    assert (status(order_id), units("acme", "tent-2p")) == ("paid", (9, 0, 1))


def test_a_payment_stripe_holds_for_another_amount_than_the_order_is_not_recorded(shop, stripe):
    order_id, token = place(shop, ("tent-2p", 1))
    started = pay(shop, order_id, token, stripe.card("3ds"))
    intent = stripe.authenticate(started.data["payment"]["client_secret"])
    stripe.fake.intents[intent["id"]].amount = 50  # e.g. changed with the tenant's key before it was paid
    body, headers = signed(succeeded_event(intent, "evt_other_amount"), webhook_secret("acme"))

    answer = shop.call("POST", WEBHOOK.format("acme"), raw=body, headers=headers)

    assert (answer.status_code, answer.data["outcome"]) == (200, "ignored")
    assert (status(order_id), units("acme", "tent-2p")) == ("pending_payment", (9, 1, 0))


def test_a_card_saved_for_another_orders_customer_is_refused(shop, stripe):
    order_id, token = place(shop, ("tent-2p", 1))
    other_id, other_token = place(shop, ("headlamp", 1))
    theirs = stripe.card("pays")
    setup = shop.post(f"{ORDERS}/{other_id}/payment/setup", {"attempt": "attempt-theirs"}, headers=other_token)
    stripe.save_card(theirs, setup.data["client_secret"])  # saved to the other order's customer
    mine = shop.post(f"{ORDERS}/{order_id}/payment/setup", {"attempt": "attempt-mine-1"}, headers=token)
    assert mine.status_code == 200  # this order has a customer of its own

    refused = shop.post(f"{ORDERS}/{order_id}/payment", {"payment_method": theirs}, headers=token)

    assert (refused.status_code, refused.data["error"]["code"]) == (400, "BAD_REQUEST")
    assert refused.data["error"]["details"]["fields"][0]["field"] == "payment_method"
    assert (status(order_id), units("acme", "tent-2p")) == ("pending_payment", (9, 1, 0))
    assert stripe.intents_of(order_id) == []  # nothing was made at Stripe for it
    # The order's own card pays it; the other order can still use the card saved for it.
    assert pay(shop, order_id, token, stripe.card("pays")).data["order"]["status"] == "paid"
    assert pay(shop, other_id, other_token, theirs).data["order"]["status"] == "paid"


def test_a_card_saved_to_no_customer_is_refused(shop, stripe):
    order_id, token = place(shop, ("tent-2p", 1))
    shop.post(f"{ORDERS}/{order_id}/payment/setup", {"attempt": "attempt-0001"}, headers=token)

    refused = shop.post(f"{ORDERS}/{order_id}/payment", {"payment_method": stripe.card("pays")}, headers=token)

    assert (refused.status_code, refused.data["error"]["code"]) == (400, "BAD_REQUEST")
    assert status(order_id) == "pending_payment"


def test_more_than_ten_refunds_at_stripe_are_all_counted_by_the_admin_refund(shop, stripe):
    order_id, token = place(shop, ("tent-2p", 1))
    pay(shop, order_id, token, stripe.card("pays"))
    [intent] = stripe.intents_of(order_id)
    for _ in range(12):  # one more page than Stripe's default of 10
        stripe.refund(intent["id"], 100)

    refunded = shop.post(f"{ORDERS}/{order_id}/refund", headers=admin())

    assert (refunded.status_code, refunded.data["status"]) == (200, "refunded")
    assert sorted(refund["amount"] for refund in stripe.refunds_of(intent["id"])) == [100] * 12 + [15480 - 1200]
    assert units("acme", "tent-2p") == (10, 0, 0)


def test_a_refund_stripe_refuses_for_good_is_409_and_the_order_stays_paid(shop, stripe):
    order_id, token = place(shop, ("tent-2p", 1))
    pay(shop, order_id, token, stripe.card("pays"))
    [intent] = stripe.intents_of(order_id)
    stripe.dispute(intent["id"], "evt_dispute_0")  # a disputed charge cannot be refunded

    refused = shop.post(f"{ORDERS}/{order_id}/refund", headers=admin())

    assert (refused.status_code, refused.data["error"]["code"]) == (409, "REFUND_REFUSED")
    assert refused.data["error"]["details"] == {"status": "paid"}
    assert "charged back" in refused.data["error"]["message"]
    assert (status(order_id), units("acme", "tent-2p")) == ("paid", (9, 0, 1))
    assert stripe.refunds_of(intent["id"]) == []


def test_a_webhook_whose_refund_stripe_refuses_is_acknowledged_and_logged_never_a_500(shop, stripe):
    order_id, _ = place(shop, ("tent-2p", 1))
    stray = stripe.paid_intent("acme", 15480, {"tenant_id": "acme", "order_id": order_id})
    stripe.dispute(stray["id"], "evt_dispute_stray")  # its refund will be refused
    body, headers = signed(succeeded_event(stray, "evt_stray_refused"), webhook_secret("acme"))

    answer = shop.call("POST", WEBHOOK.format("acme"), raw=body, headers=headers)
    again = shop.call("POST", WEBHOOK.format("acme"), raw=body, headers=headers)

    assert (answer.status_code, answer.data) == (200, {"received": True, "outcome": "refused"})
    assert (again.status_code, again.data["outcome"]) == (200, "refused")  # looked at again, not remembered
    assert (status(order_id), units("acme", "tent-2p")) == ("pending_payment", (9, 1, 0))


def test_a_dispute_is_recorded_on_the_paid_order_once(shop, stripe):
    order_id, token = place(shop, ("tent-2p", 1))
    pay(shop, order_id, token, stripe.card("pays"))
    [intent] = stripe.intents_of(order_id)
    event = stripe.dispute(intent["id"], "evt_dispute_1")
    body, headers = signed(event, webhook_secret("acme"))

    first = shop.call("POST", WEBHOOK.format("acme"), raw=body, headers=headers)
    second = shop.call("POST", WEBHOOK.format("acme"), raw=body, headers=headers)

    assert (first.status_code, first.data["outcome"], second.data["outcome"]) == (200, "applied", "duplicate")
    dispute = OrderModel.get("acme", order_id, consistent_read=True).dispute
    assert (dispute.dispute_id, dispute.reason, dispute.status, dispute.amount) == (
        event["data"]["object"]["id"],
        "fraudulent",
        "needs_response",
        15480,
    )
    assert dispute.disputed_at == datetime.fromtimestamp(1_790_000_000, UTC)
    assert (status(order_id), units("acme", "tent-2p")) == ("paid", (9, 0, 1))  # the bank decides, not us
    shown = shop.get(f"{ORDERS}/{order_id}", headers=admin()).data["payment"]["dispute"]
    assert shown == {
        "dispute_id": dispute.dispute_id,
        "reason": "fraudulent",
        "status": "needs_response",
        "disputed_at": "2026-09-21T14:13:20.000Z",
    }
    assert "dispute" not in shop.get(f"{ORDERS}/{order_id}").data["payment"]  # not to anyone with the id


def test_a_dispute_of_another_tenants_payment_is_ignored(shop, stripe):
    accept_cards("globex")
    order_id, token = place(shop, ("tent-2p", 1))
    pay(shop, order_id, token, stripe.card("pays"))
    [intent] = stripe.intents_of(order_id)
    body, headers = signed(stripe.dispute(intent["id"], "evt_dispute_x"), webhook_secret("globex"))

    answer = shop.call("POST", WEBHOOK.format("globex"), raw=body, headers=headers)

    assert (answer.status_code, answer.data["outcome"]) == (200, "ignored")
    assert OrderModel.get("acme", order_id, consistent_read=True).dispute is None


def test_a_refund_that_fails_at_stripe_is_recorded_on_the_refunded_order(shop, stripe):
    order_id, token = place(shop, ("tent-2p", 1))
    pay(shop, order_id, token, stripe.card("pays"))
    assert shop.post(f"{ORDERS}/{order_id}/refund", headers=admin()).data["status"] == "refunded"
    [intent] = stripe.intents_of(order_id)
    event = stripe.fail_refund(intent["id"], "evt_refund_failed")
    body, headers = signed(event, webhook_secret("acme"))

    answer = shop.call("POST", WEBHOOK.format("acme"), raw=body, headers=headers)

    assert (answer.status_code, answer.data["outcome"]) == (200, "applied")
    failure = OrderModel.get("acme", order_id, consistent_read=True).refund_failure
    assert (failure.refund_id, failure.reason, failure.amount) == (
        event["data"]["object"]["id"],
        "expired_or_canceled_card",
        15480,
    )
    assert (status(order_id), units("acme", "tent-2p")) == ("refunded", (10, 0, 0))
    shown = shop.get(f"{ORDERS}/{order_id}", headers=admin()).data["payment"]["refund_failure"]
    assert (shown["refund_id"], shown["reason"]) == (failure.refund_id, "expired_or_canceled_card")
    # A refund that did not fail changes nothing.
    event["data"]["object"]["status"] = "succeeded"
    body, headers = signed({**event, "id": "evt_refund_fine"}, webhook_secret("acme"))
    assert shop.call("POST", WEBHOOK.format("acme"), raw=body, headers=headers).data["outcome"] == "ignored"


# --- the sweeper: tenants in turns, resumed after its time (issue 24, item 3) --------------------------
# tests/stack/test_sweeper_fairness.py floods it on DynamoDB Local.


def test_the_sweeper_takes_the_tenants_in_turns_one_stripe_call_each(shop, stripe):
    accept_cards("globex")
    flood = [place(shop, ("headlamp", 1)) for _ in range(5)]
    cart = shop.post("/tenants/globex/carts", {"items": [{"product_id": "wireless-mouse", "quantity": 1}]}).data
    other = check_out(shop, "globex", cart["cart_id"]).data
    other_id = other["order"]["order_id"]
    for order_id, token in flood:
        pay(shop, order_id, token, stripe.card("declined"))  # each leaves an intent for the sweeper to cancel
    globex_orders = f"/tenants/globex/orders/{other_id}"
    token = {"X-Order-Token": other["order_token"]}
    setup = shop.post(f"{globex_orders}/payment/setup", {"attempt": "attempt-0001"}, headers=token).data
    card = stripe.card("declined")
    stripe.save_card(card, setup["client_secret"])
    shop.post(f"{globex_orders}/payment", {"payment_method": card}, headers=token)
    stripe.fake.log.clear()

    report = sweeper.sweep(now=datetime.now(UTC) + timedelta(seconds=901), stripe_calls=1, per_tenant=1)

    cancels = [(account, intent) for account, name, intent in stripe.fake.log if name == "cancel_intent"]
    assert [account for account, _ in cancels].count("globex") == 1
    assert [account for account, _ in cancels].index("globex") <= 1  # the first turn: acme's oldest, or before it
    assert len(cancels) == 6  # one call per order: a cancel
    assert (report.expired_by_tenant, report.stopped_for_time) == ({"acme": 5, "globex": 1}, False)
    assert units("acme", "headlamp") == (30, 0, 0)


def test_a_sweep_out_of_time_leaves_the_rest_to_the_next_run_and_loses_nothing(shop, stripe):
    placed = [place(shop, ("headlamp", 1)) for _ in range(3)]
    later = datetime.now(UTC) + timedelta(seconds=901)

    stopped = sweeper.sweep(now=later, time_left=sweeper.SWEEP_MARGIN_SECONDS)  # no time left to take one
    assert (stopped.expired, stopped.stopped_for_time) == (0, True)
    assert units("acme", "headlamp") == (27, 3, 0)
    resumed = sweeper.sweep(now=later, time_left=sweeper.SWEEP_MARGIN_SECONDS + 60)

    assert (resumed.expired, resumed.stopped_for_time) == (3, False)
    assert {status(order_id) for order_id, _ in placed} == {"expired"}
    assert units("acme", "headlamp") == (30, 0, 0)


def test_a_tenant_whose_holds_cannot_be_read_holds_back_no_other(shop, stripe, monkeypatch):
    accept_cards("globex")
    order_id, _ = place(shop, ("headlamp", 1))
    read = orders.lapsed_page

    def failing_for_globex(queue, *args):
        if queue.startswith("globex/"):
            raise RuntimeError("throttled")
        return read(queue, *args)

    monkeypatch.setattr(orders, "lapsed_page", failing_for_globex)

    report = sweeper.sweep(now=datetime.now(UTC) + timedelta(seconds=901))

    assert (report.expired_by_tenant["acme"], report.failed) == (1, 1)
    assert status(order_id) == "expired"
