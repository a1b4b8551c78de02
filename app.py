"""Cartwise API: blueprints and middleware only; everything else lives in chalicelib."""

from chalice import Chalice, CORSConfig, Rate

from chalicelib import orders_stream
from chalicelib import payments as order_payments
from chalicelib.api import admin, auth, carts, catalog, health, local_gateway, middleware, orders, payments
from chalicelib.errors import rewrite_chalice_error
from chalicelib.mail import notifier

# Where `chalice local` or chalice.test serves the app, make its API Gateway emulation behave as the
# real one (a deployed function has no chalice.local, and this does nothing).
local_gateway.install()

app = Chalice(app_name="cartwise")
app.api.cors = CORSConfig(
    allow_origin="*",
    allow_headers=["Content-Type", "Idempotency-Key", "X-Api-Key", "X-Order-Token"],
    expose_headers=["Location", "Retry-After", middleware.CORRELATION_HEADER],
    max_age=600,
)

for module in (health, auth, catalog, carts, orders, payments, admin):
    app.register_blueprint(module.blueprint)


# Registered first, so it is the outermost middleware: it logs the answer the client gets.
@app.middleware("http")
def request_scope(event, get_response):
    return middleware.request_scope(event, get_response)


@app.middleware("http")
def envelope_chalice_errors(event, get_response):
    return rewrite_chalice_error(get_response(event))


@app.on_dynamodb_record(stream_arn=orders_stream.ORDERS_STREAM_ARN, batch_size=25, starting_position="TRIM_HORIZON")
def order_stream(event):
    # Lambda's partial batch response (ReportBatchItemFailures in infra/template.yml). infra/ also
    # feeds this function the carts table's stream (the up-sell stats): orders_stream.process tells them apart.
    return orders_stream.process(event)


@app.schedule(Rate(1, unit=Rate.MINUTES))
def expire_holds(event):
    # Unpaid orders whose hold lapsed give their units back, their PaymentIntents cancelled (chalicelib/payments/).
    time_left = event.context.get_remaining_time_in_millis() / 1000 if event.context else None
    return {"expired": order_payments.sweep_lapsed_holds(time_left=time_left)}


# Chalice needs the queue at import time; infra/template.yml points the event source at the stack's own
# queue and turns on ReportBatchItemFailures (Chalice 1.34 cannot), so the answer below is honoured.
@app.on_sqs_message(queue_arn=notifier.QUEUE_ARN_PLACEHOLDER, batch_size=10, name="notify_shopper")
def notify_shopper(event):
    # Lambda's partial batch response: only the messages named are delivered again.
    return notifier.process_messages(event.to_dict()["Records"])
