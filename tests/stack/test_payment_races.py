"""Card orders under real concurrency (DynamoDB Local, localstripe, the HTTP API): every transition
happens once and no unit is lost or made, whatever races the webhook, the sweeper, retries and cancels.
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from chalicelib.ids import new_ulid
from chalicelib.models import OrderModel
from chalicelib.payments import sweeper
from support.card_shop import (
    authenticate,
    intents_of,
    invariant_breaches,
    open_card_shop,
    run_crowd,
    save_card,
    signed,
    succeeded_event,
    units,
    webhook_secret,
)
from support.card_shop import card as payment_method
from support.delivery import check_out
from tests.stack.test_concurrency import all_at_once


@pytest.fixture
def card_tenant(local_stack, stack_aws, localstripe_url):
    """A fresh card tenant with a few scarce products and an admin key; returns (tenant, base url, key)."""
    assert local_stack.dynamodb_fallback_reason is None, "races must run on DynamoDB Local, not moto"
    tenant = f"race-{new_ulid().lower()[-10:]}"
    key = open_card_shop(tenant)
    return tenant, f"{local_stack.api_url}/tenants/{tenant}", key


def test_one_authenticated_payment_raced_by_webhooks_retries_sweeps_and_cancels_is_recorded_once(
    card_tenant, localstripe_url
):
    tenant, base, _ = card_tenant
    with httpx.Client(timeout=60) as http:
        cart = http.post(f"{base}/carts", json={"items": [{"product_id": "stove", "quantity": 3}]}).json()
        answer = check_out(http, tenant, cart["cart_id"], base=base.removesuffix(f"/tenants/{tenant}")).json()
        order_id, token = answer["order"]["order_id"], {"X-Order-Token": answer["order_token"]}
        card = payment_method(localstripe_url, "3ds", tenant)
        setup = http.post(f"{base}/orders/{order_id}/payment/setup", json={"attempt": card}, headers=token).json()
        save_card(localstripe_url, card, setup["client_secret"])  # as Stripe.js's confirmCardSetup
        started = http.post(f"{base}/orders/{order_id}/payment", json={"payment_method": card}, headers=token).json()
        intent = authenticate(localstripe_url, started["payment"]["client_secret"])
        OrderModel(tenant, order_id).update(actions=[OrderModel.hold_expires_at.set(datetime.now(UTC))])  # lapsed
        body, headers = signed(succeeded_event(intent, f"evt_{order_id}"), webhook_secret(tenant))

        def call(i: int):
            if i < 4:
                return http.post(f"{base}/payments/stripe/webhook", content=body, headers=headers).status_code
            if i < 8:
                path = f"{base}/orders/{order_id}/payment"
                return http.post(path, json={"payment_method": card}, headers=token).status_code
            if i < 10:
                return http.post(f"{base}/orders/{order_id}/cancel", headers=token).status_code
            return sweeper.sweep().expired_by_tenant[tenant]  # earlier tests' lapsed holds may expire too

        results = all_at_once(12, call)

    assert results[:8] == [200] * 8  # webhooks and payment retries all see the payment
    assert results[8:10] == [409, 409]  # paid: not cancellable
    assert results[10:] == [0, 0]  # nothing of this tenant's expired
    assert OrderModel.get(tenant, order_id, consistent_read=True).status == "paid"
    assert units(tenant, "stove") == (1, 0, 3)
    assert [i.status for i in intents_of(localstripe_url, order_id)] == ["succeeded"]


def test_a_randomized_crowd_of_card_shoppers_never_loses_or_makes_a_unit(local_stack, stack_aws, localstripe_url):
    """20 shoppers at once, 200 actions at most (or 90 s): checkouts, payments that pay or are
    declined, cancels, lapsed holds swept, refunds, restocks (support/card_shop.py). Afterwards no
    unit is lost or made, units are where the orders' statuses say, and no order was charged twice."""
    assert local_stack.dynamodb_fallback_reason is None, "races must run on DynamoDB Local, not moto"
    tenant = f"crowd-{new_ulid().lower()[-10:]}"
    key = open_card_shop(tenant)

    crowd = run_crowd(local_stack.api_url, localstripe_url, tenant, key)

    print(f"random seed {crowd.seed}: {dict(crowd.outcomes)}")  # shown on failure, to replay the run
    assert invariant_breaches(localstripe_url, tenant, crowd.added) == []
    # The run exercised the losing paths, not only the happy one.
    assert crowd.outcomes["checkout 409"] + crowd.outcomes["cart 409"] > 0
    assert crowd.outcomes["decline 402"] > 0
    assert crowd.outcomes["pay 200"] > 0
    assert crowd.outcomes["refund 200"] > 0
