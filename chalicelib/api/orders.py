from chalice.app import Request

from chalicelib import api_keys, orders, tenants
from chalicelib.api import ApiBlueprint, shapes
from chalicelib.errors import Forbidden, Unauthorized
from chalicelib.models import OrderModel
from chalicelib.tenants import Tenant

blueprint = ApiBlueprint(__name__)

ORDER = "/tenants/{tenant_id}/orders/{order_id}"


@blueprint.route(ORDER, methods=["GET"])
def get_order(tenant_id: str, order_id: str) -> dict:
    tenant = tenants.get_tenant(tenant_id)
    return shapes.order(orders.get_order(tenant.tenant_id, order_id))


@blueprint.route(ORDER + "/cancel", methods=["POST"])
def cancel_order(tenant_id: str, order_id: str) -> dict:
    tenant = tenants.get_tenant(tenant_id)
    order = orders.get_order(tenant.tenant_id, order_id)
    require_order_holder(blueprint.current_request, tenant, order)
    return shapes.order(orders.cancel(tenant.tenant_id, order.order_id))


def require_order_holder(request: Request, tenant: Tenant, order: OrderModel) -> None:
    """The shopper's X-Order-Token for this order, or an admin X-Api-Key of the order's tenant.

    Neither header: 401. A token that is not this order's, or another tenant's key: 403.
    """
    token = request.headers.get("x-order-token")
    if token is not None:
        if not orders.token_opens(order, token):
            raise Forbidden("This order token is not valid for this order.")
        return
    key = request.headers.get("x-api-key")
    if key is None:
        raise Unauthorized("An X-Order-Token (or an admin X-Api-Key) is required.")
    key_tenant = api_keys.verify(key)
    if key_tenant is None:
        raise Unauthorized("A valid X-Api-Key is required.")
    if key_tenant != tenant.tenant_id:
        raise Forbidden("This key is not valid for this tenant.", {"tenant_id": tenant.tenant_id})
