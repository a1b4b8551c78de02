from botocore.exceptions import ClientError
from pynamodb.exceptions import GetError

from chalicelib import carts, tenants


def test_unexpected_error_is_500_without_internals(api, monkeypatch):
    def explode(*args, **kwargs):
        raise KeyError("secret-internal-detail")

    monkeypatch.setattr(tenants, "get_tenant", explode)
    response = api.get("/tenants/acme/products")
    assert response.status_code == 500
    assert response.data == {"error": {"code": "INTERNAL", "message": "Internal error.", "details": {}}}
    assert "Traceback" not in response.body.decode()


def test_throttled_storage_is_503_with_retry_after(api, monkeypatch):
    throttled = ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "GetItem")

    def throttle(*args, **kwargs):
        raise GetError("Failed to get item") from throttled

    cart_id = api.post("/tenants/acme/carts").data["cart_id"]
    monkeypatch.setattr(carts.CartModel, "get", throttle)
    response = api.get(f"/tenants/acme/carts/{cart_id}")
    assert response.status_code == 503
    assert response.data["error"]["code"] == "UNAVAILABLE"
    assert response.headers["Retry-After"] == "1"


def test_chalice_own_errors_use_the_envelope(api):
    response = api.post("/tenants/acme/carts", raw="{}", headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
    assert response.data["error"]["code"] == "BAD_REQUEST"


def test_non_json_whitespace_body_is_400(api):
    response = api.post("/tenants/acme/carts", raw="\x0b")
    assert (response.status_code, response.data["error"]["code"]) == (400, "BAD_REQUEST")
    assert api.post("/tenants/acme/carts", raw=" \r\n\t").status_code == 201
