"""Stripe's webhook: the final word on a card payment, signed per tenant."""

from __future__ import annotations

from chalicelib import payments, tenants
from chalicelib.api import ApiBlueprint

blueprint = ApiBlueprint(__name__)


@blueprint.route("/tenants/{tenant_id}/payments/stripe/webhook", methods=["POST"], content_types=["application/json"])
def stripe_webhook(tenant_id: str) -> dict:
    tenant = tenants.get_tenant(tenant_id)
    request = blueprint.current_request
    # The signature covers the exact bytes Stripe sent, so the raw body is verified, never a re-encoding.
    outcome = payments.handle_webhook(tenant, request.raw_body, request.headers.get("stripe-signature"))
    return {"received": True, "outcome": outcome}
