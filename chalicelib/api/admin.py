"""Operator routes: they need the tenant's X-Api-Key (see chalicelib/api/auth.py)."""

from __future__ import annotations

from decimal import Decimal

from chalice import Response

from chalicelib import catalog, orders, upsell
from chalicelib.api import ApiBlueprint, parse_body, parse_query, required_idempotency_key, shapes
from chalicelib.api.auth import admin_key, admin_tenant
from chalicelib.errors import BadRequest
from chalicelib.ids import is_product_id

blueprint = ApiBlueprint(__name__)

PRODUCT = "/tenants/{tenant_id}/products/{product_id}"
UPSELL = "/tenants/{tenant_id}/upsell"


@blueprint.route("/tenants/{tenant_id}/orders", methods=["GET"], authorizer=admin_key)
def list_orders(tenant_id: str) -> dict:
    from chalicelib.api.schemas import OrderListQuery

    tenant = admin_tenant(blueprint.current_request, tenant_id)
    query = parse_query(blueprint.current_request.query_params, OrderListQuery)
    items, next_cursor = orders.list_orders(tenant.tenant_id, query.limit, query.cursor, query.status)
    return {"items": [shapes.order(item, tenant, full=True) for item in items], "next_cursor": next_cursor}


@blueprint.route("/tenants/{tenant_id}/inventory", methods=["GET"], authorizer=admin_key)
def list_inventory(tenant_id: str) -> dict:
    from chalicelib.api.schemas import InventoryQuery

    tenant = admin_tenant(blueprint.current_request, tenant_id)
    query = parse_query(blueprint.current_request.query_params, InventoryQuery)
    items, next_cursor = catalog.inventory_page(tenant.tenant_id, query.limit, query.cursor)
    threshold = tenant.low_stock_threshold
    return {
        "items": [shapes.inventory_item(item, threshold) for item in items],
        "next_cursor": next_cursor,
        "low_stock_threshold": threshold,
    }


@blueprint.route(PRODUCT, methods=["PUT"], authorizer=admin_key)
def upsert_product(tenant_id: str, product_id: str) -> Response:
    from chalicelib.api.schemas import ProductUpsertBody

    tenant = admin_tenant(blueprint.current_request, tenant_id)
    if not is_product_id(product_id):
        raise BadRequest.for_field("product_id", "Invalid product id.", "lowercase letters, digits and '-', at most 64")
    body = parse_body(blueprint.current_request.raw_body, ProductUpsertBody)
    fields = catalog.ProductFields(**{**body.model_dump(), "price": Decimal(body.price)})
    product, created = catalog.upsert_product(tenant.tenant_id, product_id, fields)
    headers: dict[str, str | list[str]] = {"Location": f"/tenants/{tenant_id}/products/{product_id}"} if created else {}
    return Response(shapes.product(product, tenant.currency), status_code=201 if created else 200, headers=headers)


@blueprint.route(PRODUCT + "/stock", methods=["POST"], authorizer=admin_key)
def adjust_stock(tenant_id: str, product_id: str) -> dict:
    from chalicelib.api.schemas import StockAdjustBody

    tenant = admin_tenant(blueprint.current_request, tenant_id)
    request = blueprint.current_request
    # Without a key, an adjustment whose answer was lost could not be told from a second one.
    key = required_idempotency_key(request.headers, "A stock adjustment")
    body = parse_body(request.raw_body, StockAdjustBody)
    product = catalog.adjust_stock(tenant.tenant_id, product_id, body.delta, key)
    return shapes.product(product, tenant.currency)


@blueprint.route(UPSELL + "/settings", methods=["GET"], authorizer=admin_key)
def upsell_settings(tenant_id: str) -> dict:
    tenant = admin_tenant(blueprint.current_request, tenant_id)
    return shapes.upsell_controls(upsell.read_controls(tenant.tenant_id))


@blueprint.route(UPSELL + "/settings", methods=["PUT"], authorizer=admin_key)
def put_upsell_settings(tenant_id: str) -> dict:
    from chalicelib.api.schemas import UpsellSettingsBody

    tenant = admin_tenant(blueprint.current_request, tenant_id)
    body = parse_body(blueprint.current_request.raw_body, UpsellSettingsBody)
    controls = upsell.Controls(enabled=body.enabled, holdout_percent=body.holdout_percent)
    return shapes.upsell_controls(upsell.write_controls(tenant.tenant_id, controls))


@blueprint.route(UPSELL + "/stats", methods=["GET"], authorizer=admin_key)
def upsell_stats(tenant_id: str) -> dict:
    from chalicelib.api.schemas import UpsellStatsQuery

    tenant = admin_tenant(blueprint.current_request, tenant_id)
    query = parse_query(blueprint.current_request.query_params, UpsellStatsQuery)
    return upsell.report(tenant.tenant_id, tenant.currency, query.days)
