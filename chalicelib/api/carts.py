from decimal import Decimal

from chalice import Response

from chalicelib import carts, checkout, tenants, upsell
from chalicelib.api import ApiBlueprint, count_request, parse_body, parse_query, required_idempotency_key, shapes

blueprint = ApiBlueprint(__name__)

CART = "/tenants/{tenant_id}/carts/{cart_id}"


@blueprint.route("/tenants/{tenant_id}/carts", methods=["POST"])
def create_cart(tenant_id: str) -> Response:
    from chalicelib.api.schemas import CreateCartBody

    tenant = tenants.get_tenant(tenant_id)
    count_request(blueprint.current_request, tenant, "cart")
    body = parse_body(blueprint.current_request.raw_body, CreateCartBody)
    priced = carts.create_cart(tenant, [(item.product_id, item.quantity) for item in body.items])
    location = f"/tenants/{tenant_id}/carts/{priced.cart.cart_id}"
    return Response(shapes.cart(priced), status_code=201, headers={"Location": location})


@blueprint.route(CART, methods=["GET"])
def get_cart(tenant_id: str, cart_id: str) -> dict:
    return shapes.cart(carts.get_cart(tenants.get_tenant(tenant_id), cart_id))


@blueprint.route(CART + "/items/{product_id}", methods=["PUT"])
def set_item(tenant_id: str, cart_id: str, product_id: str) -> dict:
    from chalicelib.api.schemas import SetQuantityBody

    tenant = tenants.get_tenant(tenant_id)
    count_request(blueprint.current_request, tenant, "cart")
    body = parse_body(blueprint.current_request.raw_body, SetQuantityBody)
    return shapes.cart(carts.set_quantity(tenant, cart_id, product_id, body.quantity, body.upsell_set_id))


@blueprint.route(CART + "/items/{product_id}", methods=["DELETE"])
def remove_item(tenant_id: str, cart_id: str, product_id: str) -> dict:
    tenant = tenants.get_tenant(tenant_id)
    count_request(blueprint.current_request, tenant, "cart")
    return shapes.cart(carts.remove_line(tenant, cart_id, product_id))


@blueprint.route("/tenants/{tenant_id}/shipping-methods", methods=["GET"])
def shipping_methods(tenant_id: str) -> dict:
    from chalicelib.api.schemas import ShippingMethodsQuery

    tenant = tenants.get_tenant(tenant_id)
    query = parse_query(blueprint.current_request.query_params, ShippingMethodsQuery)
    return shapes.shipping_methods(tenant.shipping, query.country)


@blueprint.route(CART + "/delivery", methods=["PUT"])
def set_delivery(tenant_id: str, cart_id: str) -> dict:
    from chalicelib.api.schemas import DeliveryBody

    tenant = tenants.get_tenant(tenant_id)
    count_request(blueprint.current_request, tenant, "cart")
    body = parse_body(blueprint.current_request.raw_body, DeliveryBody)
    address = body.address.model_dump(exclude_none=True)
    return shapes.cart(carts.set_delivery(tenant, cart_id, body.email, address, body.method))


@blueprint.route(CART + "/promo", methods=["PUT"])
def apply_promo(tenant_id: str, cart_id: str) -> dict:
    from chalicelib.api.schemas import PromoBody

    tenant = tenants.get_tenant(tenant_id)
    count_request(blueprint.current_request, tenant, "cart")
    body = parse_body(blueprint.current_request.raw_body, PromoBody)
    return shapes.cart(carts.apply_promo(tenant, cart_id, body.code))


@blueprint.route(CART + "/promo", methods=["DELETE"])
def remove_promo(tenant_id: str, cart_id: str) -> dict:
    tenant = tenants.get_tenant(tenant_id)
    count_request(blueprint.current_request, tenant, "cart")
    return shapes.cart(carts.remove_promo(tenant, cart_id))


@blueprint.route(CART + "/upsell", methods=["GET"])
def cart_upsell(tenant_id: str, cart_id: str) -> dict:
    tenant = tenants.get_tenant(tenant_id)
    count_request(blueprint.current_request, tenant, "upsell")
    return shapes.upsell(upsell.for_cart(tenant, cart_id))


@blueprint.route(CART + "/checkout", methods=["POST"])
def checkout_cart(tenant_id: str, cart_id: str) -> Response:
    from chalicelib.api.schemas import CheckoutBody

    tenant = tenants.get_tenant(tenant_id)
    request = blueprint.current_request
    # Required before anything is read or written: a shopper who loses the answer (a dropped
    # connection, a reload) gets the order and its token back only by sending the same key again.
    key = required_idempotency_key(request.headers, "A checkout")
    client = count_request(request, tenant, "checkout")
    body = parse_body(request.raw_body, CheckoutBody)
    result = checkout.checkout(
        tenant,
        checkout.CheckoutRequest(
            cart_id=cart_id,
            email=body.email,
            expected_total=Decimal(body.expected_total) if body.expected_total else None,
            idempotency_key=key,
            client=client,
        ),
    )
    answer = {
        "order": shapes.order(result.order, tenant, full=True),  # the shopper holds its token
        "upsell": shapes.upsell(result.upsell),
        "order_token": result.order_token,
    }
    location = f"/tenants/{tenant_id}/orders/{result.order.order_id}"
    return Response(answer, status_code=201 if result.created else 200, headers={"Location": location})
