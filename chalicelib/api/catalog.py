from chalicelib import catalog, tenants
from chalicelib.api import ApiBlueprint, parse_query, shapes

blueprint = ApiBlueprint(__name__)


@blueprint.route("/tenants/{tenant_id}/products", methods=["GET"])
def list_products(tenant_id: str) -> dict:
    from chalicelib.api.schemas import ProductListQuery

    tenant = tenants.get_tenant(tenant_id)
    query = parse_query(blueprint.current_request.query_params, ProductListQuery)
    items, next_cursor = catalog.list_products(tenant.tenant_id, query.limit, query.cursor, query.category)
    return {"items": [shapes.product(item, tenant.currency) for item in items], "next_cursor": next_cursor}


@blueprint.route("/tenants/{tenant_id}/products/{product_id}", methods=["GET"])
def get_product(tenant_id: str, product_id: str) -> dict:
    tenant = tenants.get_tenant(tenant_id)
    return shapes.product(catalog.get_product(tenant.tenant_id, product_id), tenant.currency)
