"""Admin authentication: a built-in Chalice authorizer on `X-Api-Key`, and the tenant match.

The authorizer (its own Lambda function behind API Gateway, emulated locally) authenticates:
a key that is present and known yields the principal = the key's tenant id; otherwise it fails
with "Unauthorized", which API Gateway answers 401 (no view runs). The view then authorizes:
the principal must be the tenant in the path, else 403 FORBIDDEN in our envelope. See
docs/decisions/0006-admin-auth.md.
"""

from __future__ import annotations

from chalice import AuthResponse
from chalice.app import AuthRequest, Request

from chalicelib import api_keys, orders, tenants
from chalicelib.api import ApiBlueprint, local_gateway
from chalicelib.errors import Forbidden, Unauthorized
from chalicelib.models import OrderModel
from chalicelib.observability import logger
from chalicelib.tenants import Tenant

API_KEY_HEADER = "X-Api-Key"
# API Gateway caches the authorizer's answer per key this long; with the tenant cache (60 s)
# this bounds how long a revoked key keeps working.
AUTHORIZER_TTL_SECONDS = 60

blueprint = ApiBlueprint(__name__)


@blueprint.authorizer(header=API_KEY_HEADER, ttl_seconds=AUTHORIZER_TTL_SECONDS)
def admin_key(auth_request: AuthRequest) -> AuthResponse:
    tenant_id = api_keys.verify(auth_request.token)
    if tenant_id is None:
        logger.info("Admin key rejected", api_key=api_keys.redact(auth_request.token))
        # This exact message makes API Gateway answer 401 (a denying policy would be 403).
        raise Unauthorized("Unauthorized")
    return AuthResponse(routes=["*"], principal_id=tenant_id, context={"tenant_id": tenant_id})


def admin_tenant(request: Request, tenant_id: str) -> Tenant:
    """The path's tenant if the key belongs to it: 401 without a principal, 403 for another tenant's key."""
    principal = ((request.context or {}).get("authorizer") or {}).get("principalId")
    if not principal:
        raise Unauthorized(local_gateway.UNAUTHORIZED_MESSAGE)
    if principal != tenant_id:
        logger.warning("Admin key used on another tenant", key_tenant_id=principal)
        raise Forbidden("This key is not valid for this tenant.", {"tenant_id": tenant_id})
    return tenants.get_tenant(tenant_id)


def require_order_holder(request: Request, tenant: Tenant, order: OrderModel, shopper_only: bool = False) -> None:
    """The shopper's X-Order-Token for this order, or (unless `shopper_only`) an admin X-Api-Key of
    the order's tenant.

    No credential: 401. A token that is not this order's, or another tenant's key: 403.
    """
    token = request.headers.get("x-order-token")
    if token is not None:
        if not orders.token_opens(order, token):
            raise Forbidden("This order token is not valid for this order.")
        return
    if shopper_only:
        raise Unauthorized("The order's X-Order-Token is required.")
    key = request.headers.get("x-api-key")
    if key is None:
        raise Unauthorized("An X-Order-Token (or an admin X-Api-Key) is required.")
    key_tenant = api_keys.verify(key)
    if key_tenant is None:
        raise Unauthorized("A valid X-Api-Key is required.")
    if key_tenant != tenant.tenant_id:
        raise Forbidden("This key is not valid for this tenant.", {"tenant_id": tenant.tenant_id})
