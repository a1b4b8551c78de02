"""UPSELL_ENABLED from SSM Parameter Store: read per request, tenant override, failures degrade."""

from __future__ import annotations

import logging

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from chalicelib import clients, config, upsell
from chalicelib.upsell import flags
from support.delivery import check_out

GLOBAL = "/cartwise/dev/flags/UPSELL_ENABLED"


def tenant_flag(tenant_id: str) -> str:
    return f"/cartwise/dev/tenants/{tenant_id}/flags/UPSELL_ENABLED"


def put(name: str, value: str) -> None:
    """What an operator does: aws ssm put-parameter --overwrite."""
    clients.ssm().put_parameter(Name=name, Value=value, Type="String", Overwrite=True)


def reload_settings():
    """Settings from the current environment, cached now (Chalice's test client re-applies
    .chalice/config.json's environment during each request)."""
    config.reset()
    return config.get_settings()


@pytest.fixture(autouse=True)
def fresh_flags(aws, monkeypatch):
    monkeypatch.delenv("LLM_BASE_URL", raising=False)
    reload_settings()
    upsell.reset()
    yield
    upsell.reset()


@pytest.fixture
def carts(api):
    """One open cart per demo tenant: {tenant_id: cart_id}."""
    made = {}
    for tenant_id, pid in (("acme", "tent-2p"), ("globex", "laptop-14")):
        response = api.post(f"/tenants/{tenant_id}/carts", {"items": [{"product_id": pid, "quantity": 1}]})
        assert response.status_code == 201
        made[tenant_id] = response.data["cart_id"]
    return made


def upsell_of(api, carts, tenant_id):
    response = api.get(f"/tenants/{tenant_id}/carts/{carts[tenant_id]}/upsell")
    assert response.status_code == 200
    return response.data


@pytest.fixture
def ssm_calls():
    """Count the SSM calls the flag's client makes."""
    calls = []
    events = clients.flag_ssm().meta.events
    events.register("before-call.ssm.*", lambda model, **_: calls.append(model.name), unique_id="count-ssm")
    yield calls
    events.unregister("before-call.ssm.*", unique_id="count-ssm")


@pytest.fixture
def warnings():
    records = []
    handler = logging.Handler(level=logging.WARNING)
    handler.emit = records.append
    logging.getLogger("cartwise").addHandler(handler)
    yield records
    logging.getLogger("cartwise").removeHandler(handler)


@pytest.fixture
def ssm_outage():
    """fail(exc) makes every SSM call of the flag's client raise exc; heal() ends it."""
    events = clients.flag_ssm().meta.events

    class Outage:
        @staticmethod
        def fail(exc: Exception) -> None:
            def boom(**_):
                raise exc

            events.register("before-call.ssm.*", boom, unique_id="fail-ssm")

        @staticmethod
        def heal() -> None:
            events.unregister("before-call.ssm.*", unique_id="fail-ssm")

    yield Outage
    Outage.heal()


THROTTLED = ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "GetParameters")


def test_flag_toggles_take_effect_on_the_next_request_globally_and_per_tenant(api, carts):
    assert upsell_of(api, carts, "acme") == {"enabled": False, "source": "disabled", "suggestions": []}

    put(GLOBAL, "true")
    assert upsell_of(api, carts, "acme")["source"] == "fallback"
    assert upsell_of(api, carts, "globex")["source"] == "fallback"

    put(tenant_flag("acme"), "false")
    assert upsell_of(api, carts, "acme")["source"] == "disabled"
    assert upsell_of(api, carts, "globex")["source"] == "fallback"

    put(GLOBAL, "false")
    put(tenant_flag("globex"), "true")
    assert upsell_of(api, carts, "acme")["source"] == "disabled"
    assert upsell_of(api, carts, "globex")["source"] == "fallback"

    clients.ssm().delete_parameter(Name=tenant_flag("globex"))
    assert upsell_of(api, carts, "globex")["source"] == "disabled"


def test_no_flag_at_all_means_off(api, carts, ssm_calls):
    clients.ssm().delete_parameter(Name=GLOBAL)

    assert upsell_of(api, carts, "acme")["source"] == "disabled"
    # both names missing: they come back in InvalidParameters, so one call tells it from an SSM error
    assert ssm_calls == ["GetParameters"]


def test_each_request_costs_one_get_parameters_call_by_default(api, carts, ssm_calls):
    put(GLOBAL, "true")

    for _ in range(3):
        upsell_of(api, carts, "acme")

    assert ssm_calls == ["GetParameters"] * 3


def test_a_configured_max_age_reuses_the_resolved_value(api, carts, monkeypatch, clock, ssm_calls):
    monkeypatch.setenv("UPSELL_FLAG_MAX_AGE_SECONDS", "30")
    assert reload_settings().upsell_flag_max_age_seconds == 30
    now = clock
    put(GLOBAL, "true")

    assert upsell_of(api, carts, "acme")["source"] == "fallback"
    put(GLOBAL, "false")
    now[0] += 29
    assert upsell_of(api, carts, "acme")["source"] == "fallback"  # cached, no SSM call
    assert ssm_calls == ["GetParameters"]

    now[0] += 2
    assert upsell_of(api, carts, "acme")["source"] == "disabled"
    assert ssm_calls == ["GetParameters", "GetParameters"]


@pytest.fixture
def clock(monkeypatch):
    """The flag module's monotonic clock, moved by hand."""
    now = [1000.0]
    monkeypatch.setattr(flags, "_clock", lambda: now[0])
    return now


@pytest.mark.parametrize(
    "failure", [THROTTLED, EndpointConnectionError(endpoint_url="https://ssm")], ids=["throttled", "outage"]
)
def test_ssm_failure_uses_the_last_value_read_else_off(api, carts, clock, warnings, ssm_calls, ssm_outage, failure):
    put(GLOBAL, "true")
    assert upsell_of(api, carts, "acme")["source"] == "fallback"

    ssm_outage.fail(failure)
    assert upsell_of(api, carts, "acme")["source"] == "fallback"  # last value read for acme
    assert upsell_of(api, carts, "globex")["source"] == "disabled"  # within the back-off: SSM not asked
    assert ssm_calls == ["GetParameters", "GetParameters"]
    clock[0] += flags.FAILURE_BACKOFF_SECONDS
    assert upsell_of(api, carts, "globex")["source"] == "disabled"  # asked, failed, never read: off
    assert ssm_calls == ["GetParameters"] * 3

    ssm_outage.heal()
    clock[0] += flags.FAILURE_BACKOFF_SECONDS
    assert upsell_of(api, carts, "globex")["source"] == "fallback"

    flag_warnings = [r for r in warnings if r.msg.startswith("UPSELL_ENABLED could not be read")]
    assert [(r.tenant_id, r.flag_value, r.last_value_known) for r in flag_warnings] == [
        ("acme", True, True),
        ("globex", False, False),
    ]
    assert type(failure).__name__ in flag_warnings[0].error


def test_ssm_failure_during_checkout_still_places_the_order(api, carts, ssm_outage):
    ssm_outage.fail(THROTTLED)

    response = check_out(api, "acme", carts["acme"], json={})

    assert response.status_code == 201
    assert response.data["order"]["status"] == "pending_payment"  # acme takes cards: placed, awaiting payment
    assert response.data["upsell"] == {"enabled": False, "source": "disabled", "suggestions": []}


def test_an_invalid_flag_value_is_off_and_logged(api, carts, warnings):
    put(GLOBAL, "yes please")

    assert upsell_of(api, carts, "acme")["source"] == "disabled"
    assert [r.value for r in warnings if r.msg.startswith("UPSELL_ENABLED has an invalid value")] == ["yes please"]


def test_flag_values_are_case_and_space_insensitive(api, carts):
    put(GLOBAL, " TRUE\n")

    assert upsell_of(api, carts, "acme")["source"] == "fallback"
