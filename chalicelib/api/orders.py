from chalicelib import orders, tenants
from chalicelib.api import ApiBlueprint, count_request, shapes

blueprint = ApiBlueprint(__name__)

ORDER = "/tenants/{tenant_id}/orders/{order_id}"


@blueprint.route(ORDER, methods=["GET"])
def get_order(tenant_id: str, order_id: str) -> dict:
    tenant = tenants.get_tenant(tenant_id)
    count_request(blueprint.current_request, tenant, "order")
    return shapes.order(orders.get_order(tenant.tenant_id, order_id), tenant)
