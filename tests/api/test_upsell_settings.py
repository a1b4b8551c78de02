"""The operator's up-sell settings route: the tenant's SSM parameters written and read back, the very
next up-sell answer following them; bad bodies 400 with nothing written; admin auth."""

from __future__ import annotations

import pytest

from chalicelib import clients, config, upsell
from chalicelib.upsell import arms
from tests.admin import ACME_KEY, GLOBEX_KEY, admin

GLOBEX = "/tenants/globex"
SETTINGS = f"{GLOBEX}/upsell/settings"
GLOBAL_FLAG = "/cartwise/dev/flags/UPSELL_ENABLED"
TENANT_FLAG = "/cartwise/dev/tenants/globex/flags/UPSELL_ENABLED"
HOLDOUT = "/cartwise/dev/tenants/globex/upsell/HOLDOUT_PERCENT"
KEY = admin(GLOBEX_KEY)


@pytest.fixture(autouse=True)
def fresh(aws, monkeypatch):
    monkeypatch.delenv("LLM_BASE_URL", raising=False)
    config.reset()
    config.get_settings()
    upsell.reset()
    clients.ssm().put_parameter(Name=GLOBAL_FLAG, Value="false", Type="String", Overwrite=True)
    yield
    upsell.reset()


def stored() -> dict[str, str]:
    answer = clients.ssm().get_parameters(Names=[TENANT_FLAG, HOLDOUT])
    return {parameter["Name"]: parameter["Value"] for parameter in answer["Parameters"]}


def new_cart(api) -> str:
    return api.post(f"{GLOBEX}/carts", {"items": [{"product_id": "laptop-14", "quantity": 1}]}).data["cart_id"]


def source_of(api, cart_id: str) -> str:
    return api.get(f"{GLOBEX}/carts/{cart_id}/upsell").data["source"]


def test_a_tenant_without_parameters_follows_the_global_flag_and_holds_nothing_out(api):
    assert api.get(SETTINGS, headers=KEY).data == {"enabled": None, "holdout_percent": 0}


def test_put_then_the_very_next_answer_follows(api):
    held, treated = None, None
    while held is None or treated is None:
        cart_id = new_cart(api)
        if arms.is_held_out("globex", cart_id, 30):
            held = held or cart_id
        else:
            treated = treated or cart_id
    assert source_of(api, treated) == "disabled"  # the global flag is off

    on = api.put(SETTINGS, {"enabled": True, "holdout_percent": 30}, headers=KEY)

    assert (on.status_code, on.data) == (200, {"enabled": True, "holdout_percent": 30})
    assert stored() == {TENANT_FLAG: "true", HOLDOUT: "30"}
    assert api.get(SETTINGS, headers=KEY).data == {"enabled": True, "holdout_percent": 30}
    assert (source_of(api, treated), source_of(api, held)) == ("fallback", "holdout")

    assert api.put(SETTINGS, {"enabled": True, "holdout_percent": 0}, headers=KEY).status_code == 200
    assert source_of(api, held) == "fallback"

    assert api.put(SETTINGS, {"enabled": False, "holdout_percent": 0}, headers=KEY).status_code == 200
    assert source_of(api, treated) == "disabled"

    follow = api.put(SETTINGS, {"enabled": None, "holdout_percent": 0}, headers=KEY)
    assert follow.data == {"enabled": None, "holdout_percent": 0}
    assert stored() == {HOLDOUT: "0"}  # the tenant's flag deleted: the global one (off) decides
    assert source_of(api, treated) == "disabled"
    clients.ssm().put_parameter(Name=GLOBAL_FLAG, Value="true", Type="String", Overwrite=True)
    assert source_of(api, treated) == "fallback"
    # Following the global flag again when already following it is fine (nothing to delete).
    assert api.put(SETTINGS, {"enabled": None, "holdout_percent": 0}, headers=KEY).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"enabled": True},
        {"holdout_percent": 10},
        {"enabled": True, "holdout_percent": 51},
        {"enabled": True, "holdout_percent": -1},
        {"enabled": True, "holdout_percent": 12.5},
        {"enabled": True, "holdout_percent": "10"},
        {"enabled": "true", "holdout_percent": 10},
        {"enabled": True, "holdout_percent": 10, "share": 10},
        [],
    ],
)
def test_bad_bodies_are_400_and_nothing_is_written(api, body):
    api.put(SETTINGS, {"enabled": False, "holdout_percent": 5}, headers=KEY)

    response = api.put(SETTINGS, body, headers=KEY)

    assert (response.status_code, response.data["error"]["code"]) == (400, "BAD_REQUEST")
    assert stored() == {TENANT_FLAG: "false", HOLDOUT: "5"}


def test_not_json_is_400(api):
    response = api.call("PUT", SETTINGS, raw=b"{enabled: yes}", headers=KEY)
    assert (response.status_code, response.data["error"]["code"]) == (400, "BAD_REQUEST")


def test_the_routes_are_the_tenants_admins_only(api):
    body = {"enabled": True, "holdout_percent": 10}
    for method, call in (
        ("GET", lambda h: api.get(SETTINGS, headers=h)),
        ("PUT", lambda h: api.put(SETTINGS, body, headers=h)),
    ):
        assert call({}).status_code == 401, method
        assert call(admin(ACME_KEY)).status_code == 403, method
    assert stored() == {}
    stats = api.get(f"{GLOBEX}/upsell/stats", headers=admin(ACME_KEY))
    assert (stats.status_code, stats.data["error"]["code"]) == (403, "FORBIDDEN")
    assert api.get(f"{GLOBEX}/upsell/stats").status_code == 401
