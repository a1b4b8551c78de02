"""The routes that call Stripe: an order's cancel, card setup, payment and refund, and Stripe's webhook.

Deployed as a function of their own (PaymentsHandler, whose package has stripe and not openai;
decision 20): scripts/deploy routes every route of this blueprint there, so a route that calls
Stripe belongs here, and one that does not belongs elsewhere.
"""

from __future__ import annotations

from chalicelib import orders, payments, tenants
from chalicelib.api import ApiBlueprint, count_request, parse_body, shapes
from chalicelib.api.auth import admin_key, admin_tenant, require_order_holder
from chalicelib.api.orders import ORDER
from chalicelib.models import OrderModel
from chalicelib.tenants import Tenant

blueprint = ApiBlueprint(__name__)


@blueprint.route(ORDER + "/cancel", methods=["POST"])
def cancel_order(tenant_id: str, order_id: str) -> dict:
    tenant, order, _ = held_order(tenant_id, order_id)
    return shapes.order(payments.cancel(tenant, order), tenant)


@blueprint.route(ORDER + "/payment", methods=["POST"])
def pay_order(tenant_id: str, order_id: str) -> dict:
    from chalicelib.api.schemas import PaymentBody

    tenant, order, client = held_order(tenant_id, order_id, shopper_only=True)
    body = parse_body(blueprint.current_request.raw_body, PaymentBody)
    return shapes.payment(payments.pay(tenant, order, body.payment_method, client), tenant)


@blueprint.route(ORDER + "/payment/setup", methods=["POST"])
def start_card_setup(tenant_id: str, order_id: str) -> dict:
    from chalicelib.api.schemas import CardSetupBody

    tenant, order, client = held_order(tenant_id, order_id, shopper_only=True)
    body = parse_body(blueprint.current_request.raw_body, CardSetupBody)
    client_secret = payments.start_card_setup(tenant, order, body.attempt, client)
    return {"client_secret": client_secret, "publishable_key": tenant.stripe_publishable_key}


@blueprint.route(ORDER + "/refund", methods=["POST"], authorizer=admin_key)
def refund_order(tenant_id: str, order_id: str) -> dict:
    from chalicelib.api.schemas import RefundBody

    tenant = admin_tenant(blueprint.current_request, tenant_id)
    body = parse_body(blueprint.current_request.raw_body, RefundBody)
    return shapes.order(payments.refund(tenant, order_id, body.restock), tenant, full=True)


@blueprint.route("/tenants/{tenant_id}/payments/stripe/webhook", methods=["POST"], content_types=["application/json"])
def stripe_webhook(tenant_id: str) -> dict:
    """The final word on a card payment, signed per tenant."""
    tenant = tenants.get_tenant(tenant_id)
    request = blueprint.current_request
    # The signature covers the exact bytes Stripe sent, so the raw body is verified, never a re-encoding.
    outcome = payments.handle_webhook(tenant, request.raw_body, request.headers.get("stripe-signature"))
    return {"received": True, "outcome": outcome}


def held_order(tenant_id: str, order_id: str, shopper_only: bool = False) -> tuple[Tenant, OrderModel, str | None]:
    """The tenant, its order (read consistently: the payment services act on it) and the client, once
    the request proved it holds the order (require_order_holder) and is within its client's rate."""
    tenant = tenants.get_tenant(tenant_id)
    client = count_request(blueprint.current_request, tenant, "order")
    order = orders.get_order(tenant.tenant_id, order_id, consistent=True)
    require_order_holder(blueprint.current_request, tenant, order, shopper_only)
    return tenant, order, client
