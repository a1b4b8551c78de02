from chalicelib import orders, tenants
from chalicelib.api import ApiBlueprint, count_request, parse_body, shapes
from chalicelib.api.auth import admin_key, admin_tenant, require_order_holder

blueprint = ApiBlueprint(__name__)

ORDER = "/tenants/{tenant_id}/orders/{order_id}"


@blueprint.route(ORDER, methods=["GET"])
def get_order(tenant_id: str, order_id: str) -> dict:
    tenant = tenants.get_tenant(tenant_id)
    request = blueprint.current_request
    count_request(request, tenant, "order")
    order = orders.get_order(tenant.tenant_id, order_id)
    # Anyone with the id sees status, lines and totals; the order's token or the tenant's admin key
    # also where it goes and to whom (a wrong credential is refused, not answered with less).
    credential = "x-order-token" in request.headers or "x-api-key" in request.headers
    if credential:
        require_order_holder(request, tenant, order)
    return shapes.order(order, tenant, full=credential)


@blueprint.route(ORDER + "/shipment", methods=["POST"], authorizer=admin_key)
def ship_order(tenant_id: str, order_id: str) -> dict:
    from chalicelib.api.schemas import ShipmentBody

    tenant = admin_tenant(blueprint.current_request, tenant_id)
    body = parse_body(blueprint.current_request.raw_body, ShipmentBody)
    shipped = orders.ship(tenant.tenant_id, order_id, body.carrier, body.tracking_number, body.tracking_url)
    return shapes.order(shipped, tenant, full=True)


@blueprint.route(ORDER + "/delivered", methods=["POST"], authorizer=admin_key)
def order_delivered(tenant_id: str, order_id: str) -> dict:
    tenant = admin_tenant(blueprint.current_request, tenant_id)
    return shapes.order(orders.mark_delivered(tenant.tenant_id, order_id), tenant, full=True)
