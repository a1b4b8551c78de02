"""Cartwise API: blueprints and middleware only; everything else lives in chalicelib."""

from chalice import Chalice, CORSConfig

from chalicelib.api import carts, catalog, health, orders
from chalicelib.errors import rewrite_chalice_error

app = Chalice(app_name="cartwise")
app.api.cors = CORSConfig(
    allow_origin="*",
    allow_headers=["Content-Type", "Idempotency-Key", "X-Api-Key"],
    expose_headers=["Location", "Retry-After"],
    max_age=600,
)

for module in (health, catalog, carts, orders):
    app.register_blueprint(module.blueprint)


@app.middleware("http")
def envelope_chalice_errors(event, get_response):
    return rewrite_chalice_error(get_response(event))
