"""Admin authentication through the HTTP API: the built-in authorizer on X-Api-Key and the tenant match."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest

from chalicelib import api_keys, digests
from chalicelib.models import TenantModel
from scripts import tenants as tenants_cli
from support.delivery import check_out
from tests.admin import ACME_KEY, GLOBEX_KEY, admin

DOCS = Path(__file__).resolve().parents[2] / "docs"
UNAUTHORIZED = {"error": {"code": "UNAUTHORIZED", "message": "A valid X-Api-Key is required.", "details": {}}}


def admin_routes():
    from app import app

    return sorted(
        (method, path)
        for path, methods in app.routes.items()
        for method, entry in methods.items()
        if entry.authorizer is not None
    )


def concrete(api, path: str) -> str:
    """The route's path under acme, with a real product and, where it names one, a fresh order of acme."""
    path = path.replace("{tenant_id}", "acme").replace("{product_id}", "tent-2p")
    if "{order_id}" in path:
        cart_id = api.post("/tenants/acme/carts", {"items": [{"product_id": "sun-hat", "quantity": 1}]}).data["cart_id"]
        order = check_out(api, "acme", cart_id).data["order"]
        path = path.replace("{order_id}", order["order_id"])
    return path


# An existing product's PUT carries no stock (that is 400); a stock adjustment needs its Idempotency-Key.
BODIES = {
    "/tenants/{tenant_id}/products/{product_id}": {"name": "Tent", "category": "camping", "price": "129.00"},
    "/tenants/{tenant_id}/products/{product_id}/stock": {"delta": 1},
    "/tenants/{tenant_id}/orders/{order_id}/shipment": {"carrier": "DHL", "tracking_number": "JD0001"},
    "/tenants/{tenant_id}/upsell/settings": {"enabled": None, "holdout_percent": 0},  # a GET ignores it
}
ROUTES = [
    ("GET", "/tenants/{tenant_id}/orders"),
    ("GET", "/tenants/{tenant_id}/inventory"),
    ("POST", "/tenants/{tenant_id}/orders/{order_id}/delivered"),
    ("POST", "/tenants/{tenant_id}/orders/{order_id}/refund"),
    ("POST", "/tenants/{tenant_id}/orders/{order_id}/shipment"),
    ("POST", "/tenants/{tenant_id}/products/{product_id}/stock"),
    ("PUT", "/tenants/{tenant_id}/products/{product_id}"),
    ("GET", "/tenants/{tenant_id}/upsell/settings"),
    ("PUT", "/tenants/{tenant_id}/upsell/settings"),
    ("GET", "/tenants/{tenant_id}/upsell/stats"),
]
# What the tenant's own key gets where it is not 200: past the authorizer, refunding an order that
# was just placed (never paid) is refused by the order's status.
OWN_KEY_ANSWERS = {
    "/tenants/{tenant_id}/orders/{order_id}/refund": (409, "ORDER_NOT_REFUNDABLE"),
    "/tenants/{tenant_id}/orders/{order_id}/delivered": (409, "ORDER_NOT_DELIVERABLE"),  # not shipped yet
    "/tenants/{tenant_id}/orders/{order_id}/shipment": (409, "ORDER_NOT_SHIPPABLE"),  # acme's card order, unpaid
}


def test_exactly_the_admin_routes_of_the_contract_need_a_key():
    assert admin_routes() == sorted(ROUTES)


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_missing_key_is_401_envelope(api, method, path):
    response = api.call(method, concrete(api, path), body=BODIES.get(path))
    assert (response.status_code, response.data) == (401, UNAUTHORIZED)


@pytest.mark.parametrize(
    "key",
    [
        "",
        "not-a-key",
        "cw_acme_" + "x" * 43,  # well formed, wrong secret
        "cw_nosuchtenant_" + "x" * 43,
        ACME_KEY + "x",
        ACME_KEY.upper(),
        "Bearer " + ACME_KEY,
        "cw_acme_" + "x" * 300,
    ],
    ids=["empty", "garbage", "wrong-secret", "unknown-tenant", "suffix", "upper", "bearer", "too-long"],
)
@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_unknown_key_is_401_envelope(api, method, path, key):
    response = api.call(method, concrete(api, path), body=BODIES.get(path), headers={"X-Api-Key": key})
    assert (response.status_code, response.data) == (401, UNAUTHORIZED)


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_key_of_another_tenant_is_403_and_changes_nothing(api, method, path):
    before = api.get("/tenants/acme/products/tent-2p").data
    response = api.call(method, concrete(api, path), body=BODIES.get(path), headers=admin(GLOBEX_KEY))
    assert response.status_code == 403
    assert response.data == {
        "error": {
            "code": "FORBIDDEN",
            "message": "This key is not valid for this tenant.",
            "details": {"tenant_id": "acme"},
        }
    }
    assert api.get("/tenants/acme/products/tent-2p").data == before


def test_key_on_an_unknown_tenant_is_403_not_a_hint_that_it_exists(api):
    response = api.get("/tenants/nosuchtenant/orders", headers=admin(ACME_KEY))
    assert (response.status_code, response.data["error"]["code"]) == (403, "FORBIDDEN")


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_own_key_is_accepted(api, method, path):
    headers = admin(ACME_KEY) | ({"Idempotency-Key": "own-key"} if path.endswith("/stock") else {})
    response = api.call(method, concrete(api, path), body=BODIES.get(path), headers=headers)
    if path in OWN_KEY_ANSWERS:
        assert (response.status_code, response.data["error"]["code"]) == OWN_KEY_ANSWERS[path]
    else:
        assert response.status_code == 200


def test_each_demo_tenant_has_its_own_key(api):
    assert api.get("/tenants/globex/orders", headers=admin(GLOBEX_KEY)).status_code == 200
    assert api.get("/tenants/globex/orders", headers=admin(ACME_KEY)).status_code == 403


def test_a_key_is_not_needed_by_shopper_routes_and_not_required_in_authorization(api):
    assert api.get("/tenants/acme/products/tent-2p").status_code == 200
    response = api.get("/tenants/acme/orders", headers={"Authorization": ACME_KEY})
    assert (response.status_code, response.data) == (401, UNAUTHORIZED)


def test_only_hashes_are_stored(aws):
    stored = TenantModel.get("acme").api_key_hashes
    assert stored == {hashlib.sha256(ACME_KEY.encode()).hexdigest()}
    assert ACME_KEY not in str(TenantModel.get("acme").serialize())


def test_keys_are_compared_in_constant_time_against_every_hash(monkeypatch):
    calls = []
    original = hmac.compare_digest

    def compare(a, b):
        calls.append((a, b))
        return original(a, b)

    monkeypatch.setattr(digests.hmac, "compare_digest", compare)
    hashes = [digests.digest("cw_acme_" + "a" * 43), digests.digest(ACME_KEY), digests.digest("cw_acme_" + "b" * 43)]
    assert digests.matches(ACME_KEY, hashes) is True
    assert len(calls) == 3  # no early exit after the match
    assert digests.matches("cw_acme_" + "c" * 43, hashes) is False


def test_rotated_key_replaces_the_old_one_at_once(api, capsys):
    assert api.get("/tenants/acme/orders", headers=admin(ACME_KEY)).status_code == 200
    assert tenants_cli.main(["rotate-key", "--tenant-id", "acme"]) == 0
    new_key = capsys.readouterr().out.strip()
    assert new_key.startswith("cw_acme_")
    assert new_key != ACME_KEY
    # Rotation drops this process's cached tenant (other warm functions may accept the old key for
    # up to TENANT_CACHE_SECONDS, as documented); the new key works at once.
    assert api.get("/tenants/acme/orders", headers=admin(new_key)).status_code == 200
    assert api.get("/tenants/acme/orders", headers=admin(ACME_KEY)).status_code == 401


def test_generated_keys_are_high_entropy_and_name_their_tenant():
    keys = {api_keys.generate("acme") for _ in range(50)}
    assert len(keys) == 50
    for key in keys:
        assert api_keys.tenant_of(key) == "acme"
        assert len(key) == len("cw_acme_") + 43  # token_urlsafe(32): 256 bits
    assert api_keys.tenant_of("cw_my-shop_" + "A_b-" * 11) == "my-shop"
    assert api_keys.redact(ACME_KEY) == "cw_acme_***"
    assert api_keys.redact("garbage") == "***"


def test_a_key_issued_by_another_process_works_at_once_despite_the_tenant_cache(api):
    assert api.get("/tenants/acme/orders", headers=admin(ACME_KEY)).status_code == 200  # tenant now cached
    new_key = api_keys.generate("acme")
    TenantModel("acme").update(actions=[TenantModel.api_key_hashes.add({digests.digest(new_key)})])
    assert api.get("/tenants/acme/orders", headers=admin(new_key)).status_code == 200


def test_the_spec_marks_exactly_the_admin_routes_as_needing_the_key():
    import yaml
    from openapi_spec_validator import validate

    spec = yaml.safe_load((DOCS / "openapi.yaml").read_text())
    validate(spec)
    secured = sorted(
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if isinstance(operation, dict) and operation.get("security") == [{"ApiKey": []}]
    )
    assert secured == admin_routes()
    assert spec["components"]["securitySchemes"]["ApiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-Api-Key",
        "description": "The tenant's admin API key (stored hashed server-side).",
    }


METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/api/GET/tenants/acme/orders"


def test_the_authorizer_as_api_gateway_calls_it(aws):
    """The Lambda event API Gateway sends a TOKEN authorizer, and the policy it gets back."""
    from chalicelib.api.auth import admin_key
    from chalicelib.errors import Unauthorized

    answer = admin_key({"type": "TOKEN", "authorizationToken": ACME_KEY, "methodArn": METHOD_ARN}, None)
    assert answer["principalId"] == "acme"
    assert answer["context"] == {"tenant_id": "acme"}
    every_route = "arn:aws:execute-api:us-east-1:123456789012:abc123/api/*/*"
    assert answer["policyDocument"]["Statement"] == [
        {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": [every_route]}
    ]
    with pytest.raises(Unauthorized) as failure:
        admin_key({"type": "TOKEN", "authorizationToken": "cw_acme_" + "x" * 43, "methodArn": METHOD_ARN}, None)
    assert str(failure.value) == "Unauthorized"  # the exact message API Gateway turns into a 401


def test_the_local_gateway_patch_is_inert_where_chalice_local_is_not_shipped():
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['chalice.local'] = None\n"
        "from chalicelib.api import local_gateway\n"
        "print(local_gateway.install())\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=DOCS.parent)
    assert result.stdout.strip() == "False"
