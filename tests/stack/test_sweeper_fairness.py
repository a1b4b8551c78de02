"""The hold sweeper under a flood, on DynamoDB Local with the in-memory Stripe in-process (each call
as slow as a short round trip): one tenant's 1 000 lapsed card holds and another tenant's one.
The other tenant's unit is back on sale after the first run, the flood is cleared within a bounded
number of runs of the scheduled function's 15 s, and each order costs one Stripe call."""

from __future__ import annotations

import pytest

from chalicelib.ids import new_ulid
from chalicelib.payments import gateway
from support.card_shop import units
from support.lapsed_holds import FLOOD, PRODUCT, lay, sweep_until_clear
from tests.fake_gateway import FakeStripe

# The runs the flood may take: each run takes orders for 5 s (15 s less the sweeper's margin).
MOST_RUNS = 10
STRIPE_ROUND_TRIP_SECONDS = 0.02


@pytest.fixture
def stripe(monkeypatch: pytest.MonkeyPatch) -> FakeStripe:
    fake = FakeStripe()
    monkeypatch.setattr(gateway, "connect", fake.connect)
    return fake


def test_one_tenants_thousand_lapsed_holds_delay_another_tenants_by_no_run(local_stack, stack_aws, stripe):
    assert local_stack.dynamodb_fallback_reason is None, "the flood runs on DynamoDB Local, not moto"
    flooder, other = f"flood-{new_ulid().lower()[-10:]}", f"other-{new_ulid().lower()[-10:]}"
    lay(flooder, other, FLOOD)
    assert (units(flooder, PRODUCT), units(other, PRODUCT)) == ((0, FLOOD, 0), (0, 1, 0))
    stripe.latency = STRIPE_ROUND_TRIP_SECONDS
    stripe.calls.clear()

    runs = sweep_until_clear(flooder, other, FLOOD, max_runs=MOST_RUNS)

    print(f"sweeper under a flood of {FLOOD}: {runs}")  # the figures, shown with -s or on failure
    assert runs.other_back_after_run == 1
    assert runs.runs_to_clear is not None, runs
    assert runs.runs_to_clear <= MOST_RUNS, runs
    assert sum(runs.expired_per_run) == FLOOD
    assert (units(flooder, PRODUCT), units(other, PRODUCT)) == ((FLOOD, 0, 0), (1, 0, 0))
    intents = [intent for intent in stripe.intents.values() if intent.account in (flooder, other)]
    assert {intent.status for intent in intents} == {"canceled"}
    assert len(intents) == FLOOD + 1
    # One Stripe call per order: a cancel, read back only when Stripe says the intent moved on.
    calls = {
        name: sum(stripe.calls[tenant, name] for tenant in (flooder, other))
        for name in ("cancel_intent", "retrieve_intent")
    }
    assert calls == {"cancel_intent": FLOOD + 1, "retrieve_intent": 0}
