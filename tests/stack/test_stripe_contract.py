"""The contract of the in-memory Stripe (tests/fake_gateway.py): a handful of the payment tests of
tests/api/test_payments.py run again against localstripe, through chalicelib/payments/stripe_gateway.py
and the official SDK over HTTP. A rule the fake answers differently from Stripe's stand-in fails here.
"""

from __future__ import annotations

import pytest

from chalicelib import config
from support.card_shop import accept_cards
from tests.api.test_payments import (  # noqa: F401  (collected here, with this module's fixtures)
    test_3d_secure_is_finished_in_the_browser_then_the_payment_is_recorded,
    test_a_card_order_is_paid_for_its_exact_total_and_its_units_are_sold,
    test_a_card_saved_for_another_orders_customer_is_refused,
    test_a_card_saved_to_no_customer_is_refused,
    test_a_declined_card_leaves_the_order_payable_and_another_card_pays_it_once,
    test_a_failed_authentication_leaves_the_order_payable_by_another_card,
    test_a_paid_order_cannot_be_cancelled_it_is_refunded_by_an_operator,
    test_a_refund_made_at_stripe_refunds_the_paid_order_once_with_its_units_back,
    test_a_signed_event_saying_requires_action_for_1_jpy_does_not_mark_the_order_paid,
    test_an_unknown_payment_method_is_a_bad_request_and_the_order_stays_payable,
    test_cancelling_an_order_mid_payment_cancels_its_payment_intent,
    test_more_than_ten_refunds_at_stripe_are_all_counted_by_the_admin_refund,
    test_stripe_unreachable_answers_503_and_leaves_the_order_payable,
    test_the_admin_refund_after_a_partial_refund_at_stripe_refunds_the_rest,
    test_the_card_setup_gives_stripe_js_a_setup_intent_of_this_tenant,
    test_the_sweeper_records_a_payment_whose_webhook_never_came_instead_of_expiring_it,
)
from tests.stripe_doubles import LocalstripeDouble


@pytest.fixture
def stripe(localstripe_url: str, monkeypatch: pytest.MonkeyPatch) -> LocalstripeDouble:
    monkeypatch.setenv("STRIPE_API_BASE", localstripe_url)
    config.reset()
    return LocalstripeDouble(localstripe_url, monkeypatch)


@pytest.fixture
def shop(api, stripe):
    accept_cards("acme")
    api.stripe = stripe  # pay() sets a card up through it, as the storefront does
    return api
