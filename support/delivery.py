"""A deliverable cart, for whatever checks out (the tests of every tier, `make bench`, the journeys).

A checkout needs a delivery on its cart (else 422 DELIVERY_REQUIRED) and an Idempotency-Key
header (else 400 IDEMPOTENCY_KEY_REQUIRED). The demo shops' shoppers and the method they pick:
acme ships to DE with `standard` (4.90, free over 50.00), globex to the US with `ground` (6.00,
free over 100.00); a shop a test or the bench opens for itself ships as acme does
(`ship_as_acme`), so its shoppers are acme's.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EMAIL = "ada@example.com"
ADDRESSES = {
    "acme": {"name": "Ada Lovelace", "line1": "Unter den Linden 1", "city": "Berlin", "postal_code": "10117"}
    | {"country": "DE"},
    "globex": {"name": "Ada Lovelace", "line1": "1 Main St", "city": "Springfield", "postal_code": "12345"}
    | {"country": "US"},
}
METHODS = {"acme": "standard", "globex": "ground"}


def delivery(tenant_id: str, method: str | None = None, email: str = EMAIL, **address: str) -> dict[str, Any]:
    """The body of PUT …/carts/{id}/delivery for the shop's shopper; `address` overrides fields."""
    shop = tenant_id if tenant_id in ADDRESSES else "acme"
    return {"email": email, "address": {**ADDRESSES[shop], **address}, "method": method or METHODS[shop]}


def delivery_path(tenant_id: str, cart_id: str) -> str:
    return f"/tenants/{tenant_id}/carts/{cart_id}/delivery"


def checkout_key() -> dict[str, str]:
    """A fresh Idempotency-Key header: one checkout, sent again only to replay it."""
    return {"Idempotency-Key": str(uuid.uuid4())}


def deliver(client: Any, tenant_id: str, cart_id: str, *, base: str = "", method: str | None = None) -> Any:
    """Set the shop's delivery on a cart with any client that has put(url, json=…) (requests, httpx,
    the api tier's Api); the answer, after checking it is 200."""
    answer = client.put(f"{base}{delivery_path(tenant_id, cart_id)}", json=delivery(tenant_id, method))
    if answer.status_code != 200:
        text = getattr(answer, "text", None) or getattr(answer, "body", b"")
        raise AssertionError(f"PUT …/delivery answered {answer.status_code}: {text!r}")
    return answer


def acme_plan() -> dict[str, Any]:
    """acme's countries and shipping methods, as its demo data holds them."""
    return json.loads((ROOT / "data" / "tenants" / "acme.json").read_text())["shipping"]


def ship_as_acme(tenant_id: str) -> None:
    """Give a shop of one's own acme's countries and methods (it must exist), as `tenants
    set-shipping` does, so its carts can be delivered."""
    from chalicelib import tenants

    tenants.set_shipping(tenant_id, acme_plan())
    tenants.clear_cache()


def check_out(
    client: Any, tenant_id: str, cart_id: str, *, base: str = "", key: str | None = None, json: Any = None,
    method: str | None = None,
) -> Any:  # fmt: skip
    """Deliver the cart (`deliver`), then check it out under `key` (a fresh one by default): the answer.
    A replay sends the checkout again itself: the cart is closed by then, its delivery no longer set."""
    deliver(client, tenant_id, cart_id, base=base, method=method)
    headers = {"Idempotency-Key": key} if key else checkout_key()
    return client.post(f"{base}/tenants/{tenant_id}/carts/{cart_id}/checkout", json=json, headers=headers)
