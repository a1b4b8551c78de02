"""Provision a Cartwise stage: tables from the PynamoDB models, flags, demo tenants, storefront and,
locally, the stripe-mode tenants' webhooks in localstripe.

The same code serves `make run` (DynamoDB Local + moto), the LocalStack init hook and
the tests, so every environment has identical table definitions and data.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import mimetypes
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

from pynamodb.attributes import TTLAttribute
from pynamodb.exceptions import UpdateError
from pynamodb.models import Model

from chalicelib import catalog, clients, digests, shipping, tenants
from chalicelib.config import get_settings
from chalicelib.mail import notifier
from chalicelib.models import ALL_MODELS, OrderModel, ProductModel, PromoCode, TenantModel, category_key, status_key
from scripts import localstripe_server
from scripts.tenants import configure_payment, stored_stripe_secrets

REPO = Path(__file__).resolve().parent.parent
TENANT_DATA = REPO / "data" / "tenants"
STOREFRONT = REPO / "storefront"
CONSOLE = REPO / "console"  # the operator's console, published beside the storefront under console/
STRIPE_JS_URL = "https://js.stripe.com/v3/"  # Stripe's own; locally localstripe serves a fake one


def create_tables() -> None:
    for model in ALL_MODELS:
        if model.exists():
            add_missing_indexes(model)  # a table made before an index joined its model
        else:
            model.create_table(wait=True)
        enable_expiry(model)


def add_missing_indexes(model: type[Model]) -> None:
    """Give a table made before an index joined its model that index (a kept LocalStack volume, say)."""
    dynamodb = clients.client("dynamodb")
    table = model.Meta.table_name
    existing = {
        i["IndexName"] for i in dynamodb.describe_table(TableName=table)["Table"].get("GlobalSecondaryIndexes", [])
    }
    schema = model._get_schema()
    for index in schema.get("global_secondary_indexes", []):
        if index["index_name"] in existing:
            continue
        dynamodb.update_table(
            TableName=table,
            AttributeDefinitions=schema["attribute_definitions"],
            GlobalSecondaryIndexUpdates=[
                {
                    "Create": {
                        "IndexName": index["index_name"],
                        "KeySchema": index["key_schema"],
                        "Projection": index["projection"],
                    }
                }
            ],
        )
        print(f"added index {index['index_name']} to {table}")


def move_reserved_to_sold(tenant_id: str) -> int:
    """Orders of versions before decision 15 held their units in `reserved`; with no payments then, all
    of it is sold. Returns how many products changed; each update is conditioned on the figure read.

    Since card payments, `reserved` also holds the units of orders awaiting payment, which must stay
    there: while the tenant has one, this is refused (catalog.LiveHolds) and nothing moves. The
    products are read before the orders, both consistently, so a checkout that holds units after the
    products were read changes a figure read and fails its update (refused likewise, and what was
    moved before it was units of earlier orders).
    """
    products = list(ProductModel.query(tenant_id, consistent_read=True, filter_condition=ProductModel.reserved > 0))
    awaiting = OrderModel.query(tenant_id, consistent_read=True, filter_condition=OrderModel.hold_queue.exists())
    first = next(iter(awaiting), None)
    if first is not None:
        raise catalog.LiveHolds(
            f"{tenant_id}: orders await payment (one is {first.order_id}) and hold their units in `reserved`:"
            " moving it to `sold` would count those holds as sold. Nothing was moved. Run this before the"
            " tenant takes card orders, or when none awaits payment."
        )
    moved = 0
    for product in products:
        try:
            ProductModel(tenant_id, product.product_id).update(
                actions=[ProductModel.sold.add(product.reserved), ProductModel.reserved.add(-product.reserved)],
                condition=ProductModel.reserved == product.reserved,
            )
        except UpdateError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
            raise catalog.LiveHolds(
                f"{tenant_id}: {product.product_id}'s reserved units changed while they were moved (a"
                f" checkout holds units now); {moved} products moved, the rest left as they were."
            ) from None
        moved += 1
    return moved


def backfill_index_keys(tenant_id: str) -> int:
    """Set the index keys on the tenant's products (`category_key`) and orders (`status_key`) written before
    those indexes existed; returns how many items changed.

    An index only holds items that carry its key, so older ones are missing from filtered lists until
    this has run (docs/deploy.md). Queries of the tenant's partitions, page by page, never a scan.
    """
    updated = 0
    for product in ProductModel.query(tenant_id, filter_condition=ProductModel.category_key.does_not_exist()):
        ProductModel(tenant_id, product.product_id).update(
            actions=[ProductModel.category_key.set(category_key(tenant_id, product.category))],
            condition=ProductModel.product_id.exists(),
        )
        updated += 1
    for order in OrderModel.query(tenant_id, filter_condition=OrderModel.status_key.does_not_exist()):
        OrderModel(tenant_id, order.order_id).update(
            actions=[OrderModel.status_key.set(status_key(tenant_id, order.status))],
            # Only while the status is the one read: a transition sets the key itself.
            condition=OrderModel.status == order.status,
        )
        updated += 1
    return updated


def enable_expiry(model: type[Model]) -> None:
    """Let DynamoDB delete what has lapsed (expired carts, old idempotency keys); the API already ignores it."""
    ttl = [name for name, attribute in model.get_attributes().items() if isinstance(attribute, TTLAttribute)]
    if not ttl:
        return
    dynamodb = clients.client("dynamodb")
    table = model.Meta.table_name
    status = dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]["TimeToLiveStatus"]
    if status == "DISABLED":
        dynamodb.update_time_to_live(
            TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl[0]}
        )


def ensure_event_bus() -> None:
    """The EventBridge bus that order_created events go to (`cartwise-{stage}`)."""
    events = clients.events()
    with contextlib.suppress(events.exceptions.ResourceAlreadyExistsException):
        events.create_event_bus(Name=get_settings().event_bus_name)


def ensure_mail_pipe() -> str:
    """The shopper e-mails' pipe as infra/template.yml makes it in the cloud: a rule on the stage's bus
    sending the events that mail to a queue, whose messages go to a dead-letter queue after
    notifier.MAX_RECEIVE_COUNT receives. Idempotent; returns the queue's URL."""
    settings = get_settings()
    sqs = clients.client("sqs")
    dead = sqs.create_queue(
        QueueName=settings.mail_dead_letter_queue_name,
        Attributes={"MessageRetentionPeriod": str(notifier.DEAD_LETTER_RETENTION_SECONDS)},
    )["QueueUrl"]
    dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = {"deadLetterTargetArn": dead_arn, "maxReceiveCount": notifier.MAX_RECEIVE_COUNT}
    queue = sqs.create_queue(
        QueueName=settings.mail_queue_name,
        Attributes={
            "VisibilityTimeout": str(notifier.VISIBILITY_TIMEOUT_SECONDS),
            "RedrivePolicy": json.dumps(redrive),
        },
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events = clients.events()
    rule = settings.mail_queue_name
    events.put_rule(Name=rule, EventBusName=settings.event_bus_name, EventPattern=json.dumps(notifier.event_pattern()))
    events.put_targets(
        Rule=rule, EventBusName=settings.event_bus_name, Targets=[{"Id": "mail-queue", "Arn": queue_arn}]
    )
    return str(queue)


def verify_mail_senders(directory: Path = TENANT_DATA) -> list[str]:
    """Verify the demo tenants' senders in SES (LocalStack's, which, like SES, sends only as verified
    identities and verifies at once); returns the addresses. In the cloud an operator verifies them
    (docs/deploy.md)."""
    ses = clients.client("ses")
    addresses = []
    for data in load_tenant_files(directory):
        sender = tenants.mail_sender(data.get("mail"))
        if sender is not None:
            address = tenants.parse_address(sender.sender).addr_spec
            ses.verify_email_identity(EmailAddress=address)
            addresses.append(address)
    return addresses


def load_tenant_files(directory: Path = TENANT_DATA) -> list[dict]:
    return [json.loads(path.read_text()) for path in sorted(directory.glob("*.json"))]


def seed_tenant(data: dict) -> None:
    """Write a tenant and its catalogue; re-running resets the demo stock (catalog.reseed_products).

    Refused before anything is written (catalog.LiveHolds) while one of its products holds units for
    an order awaiting payment: a re-seed would lose them.

    Its `payment` block, when there is one, sets the payment mode and stores the Stripe keys as
    `python -m scripts.tenants set-payment` does; without one, the tenant keeps what it had.
    """
    catalog.refuse_live_holds(data["tenant_id"], (record["product_id"] for record in data["products"]))
    tenant = TenantModel(
        data["tenant_id"],
        name=data["name"],
        currency=data["currency"],
        vat_rate=Decimal(data["vat_rate"]),
        promo_codes=[PromoCode(code=code, rate=Decimal(rate)) for code, rate in data["promo_codes"].items()],
    )
    with contextlib.suppress(TenantModel.DoesNotExist):
        existing = TenantModel.get(tenant.tenant_id)
        tenant.api_key_hashes = existing.api_key_hashes
        # An operator's `set-payment` on a deployed stage survives a re-seed.
        tenant.payment_mode = existing.payment_mode
        tenant.stripe_publishable_key = existing.stripe_publishable_key
        tenant.limits = existing.limits  # as the operator set them (`set-limits`)
        tenant.shipping = existing.shipping  # likewise (`set-shipping`), unless the data names its own
        tenant.mail = existing.mail  # likewise (`set-mail`)
    if "shipping" in data:
        tenant.shipping = shipping.as_record(shipping.parse(data["shipping"]))
    if "mail" in data:
        tenants.mail_sender(data["mail"])  # checked as `set-mail` checks it
        tenant.mail = data["mail"]
    if data.get("demo_admin_key"):
        # Local demo only: a fixed key so `make run` and the tests know it. Real tenants get theirs
        # from `python -m scripts.tenants`, which stores the hash and prints the key once.
        tenant.api_key_hashes = set(tenant.api_key_hashes or ()) | {digests.digest(data["demo_admin_key"])}
    tenant.save()
    if payment := data.get("payment"):
        configure_payment(
            data["tenant_id"],
            payment["mode"],
            publishable_key=payment.get("publishable_key"),
            secret_key=payment.get("secret_key"),
            webhook_secret=payment.get("webhook_secret"),
        )
    catalog.reseed_products(data["tenant_id"], data["products"])


def ensure_flag(name: str, value: str) -> None:
    """Create a flag once; an operator's later toggle is never overwritten."""
    ssm = clients.ssm()
    with contextlib.suppress(ssm.exceptions.ParameterAlreadyExists):
        ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=False)


def content_type(path: Path) -> str:
    if path.suffix in (".js", ".mjs"):
        return "text/javascript"  # ES modules need a JavaScript MIME type
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def config_js(api_url: str, stripe_js_url: str = STRIPE_JS_URL) -> str:
    """The storefront's config.js: where its ES modules find the API, and where the page loads Stripe.js."""
    return (
        f"export const API_BASE_URL = {json.dumps(api_url.rstrip('/'))};\n"
        f"export const STRIPE_JS_URL = {json.dumps(stripe_js_url)};\n"
    )


def upload_storefront(
    s3: Any,
    bucket: str,
    api_url: str,
    stripe_js_url: str = STRIPE_JS_URL,
    source: Path = STOREFRONT,
    console: Path | None = CONSOLE,
) -> list[str]:
    """Upload the storefront, and the operator's console under console/, each with a config.js for
    `api_url`; delete objects that are no longer in them."""
    sites = {"": source, **({"console/": console} if console is not None and console.is_dir() else {})}
    keys = []
    for prefix, folder in sites.items():
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "config.js"):
            key = prefix + path.relative_to(folder).as_posix()
            s3.put_object(
                Bucket=bucket, Key=key, Body=path.read_bytes(), ContentType=content_type(path), CacheControl="no-cache"
            )
            keys.append(key)
        s3.put_object(
            Bucket=bucket,
            Key=f"{prefix}config.js",
            Body=config_js(api_url, stripe_js_url).encode(),
            ContentType="text/javascript",
            CacheControl="no-cache",
        )
        keys.append(f"{prefix}config.js")
    stale = [key for key in object_keys(s3, bucket) if key not in keys]
    delete_keys(s3, bucket, stale)
    return keys


def object_keys(s3: Any, bucket: str, prefix: str = "") -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [item["Key"] for item in page.get("Contents", [])]
    return keys


def delete_keys(s3: Any, bucket: str, keys: Iterable[str]) -> None:
    keys = list(keys)
    for start in range(0, len(keys), 1000):
        batch = [{"Key": key} for key in keys[start : start + 1000]]
        s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})


def publish_storefront(api_url: str, stripe_js_url: str = STRIPE_JS_URL, source: Path = STOREFRONT) -> str:
    """Upload the storefront with a config.js pointing at the API; returns the page URL path."""
    bucket = get_settings().storefront_bucket
    s3 = clients.s3()
    s3.create_bucket(Bucket=bucket)
    public_read = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}
        ],
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(public_read))
    upload_storefront(s3, bucket, api_url, stripe_js_url, source)
    return f"/{bucket}/index.html"


def register_stripe_webhooks(localstripe_url: str, api_url: str) -> list[str]:
    """Have localstripe send its events to each stripe-mode tenant's webhook route on `api_url`,
    signed with that tenant's webhook secret; returns the tenants. Local stacks only (the tenants
    table is scanned).

    localstripe sends every event to every webhook it knows; the API ignores other tenants' events.
    """
    registered = []
    for tenant in TenantModel.scan(filter_condition=TenantModel.payment_mode == "stripe", consistent_read=True):
        secret = stored_stripe_secrets(tenant.tenant_id)["webhook_secret"]
        url = f"{api_url.rstrip('/')}/tenants/{tenant.tenant_id}/payments/stripe/webhook"
        localstripe_server.register_webhook(localstripe_url, tenant.tenant_id, url, secret)
        registered.append(tenant.tenant_id)
    return sorted(registered)


def provision(
    seed: bool,
    upsell_enabled: str = "true",
    api_url: str | None = None,
    stripe_js_url: str = STRIPE_JS_URL,
    localstripe_url: str | None = None,
    webhook_api_url: str | None = None,
    verify_senders: bool = False,
) -> None:
    """Everything above; `webhook_api_url` is the API as localstripe reaches it (default `api_url`)."""
    create_tables()
    ensure_flag(f"{get_settings().parameter_prefix}/flags/UPSELL_ENABLED", upsell_enabled)
    ensure_event_bus()
    ensure_mail_pipe()
    if seed:
        for data in load_tenant_files():
            seed_tenant(data)
            print(f"seeded tenant {data['tenant_id']}: {len(data['products'])} products")
            if data.get("demo_admin_key"):
                print(f"admin key for {data['tenant_id']} (X-Api-Key, local demo only): {data['demo_admin_key']}")
    if api_url and STOREFRONT.is_dir():
        print(f"storefront uploaded: {publish_storefront(api_url, stripe_js_url)}")
    webhook_api_url = webhook_api_url or api_url
    if localstripe_url and webhook_api_url:
        registered = register_stripe_webhooks(localstripe_url, webhook_api_url)
        named = ", ".join(registered) or "no tenant in stripe mode"
        print(f"stripe webhooks registered with {localstripe_url}: {named}")
    if verify_senders:
        print(f"mail senders verified in SES: {', '.join(verify_mail_senders())}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", action="store_true", help="write the demo tenants from data/tenants")
    parser.add_argument("--upsell-enabled", default="true", choices=["true", "false"])
    parser.add_argument("--api-url", help="publish the storefront, pointing it at this API URL")
    parser.add_argument(
        "--stripe-js-url", default=STRIPE_JS_URL, help="where the storefront loads Stripe.js (localstripe's locally)"
    )
    parser.add_argument(
        "--localstripe-url", help="register each stripe-mode tenant's webhook with the localstripe at this URL"
    )
    parser.add_argument(
        "--webhook-api-url", help="the API's URL as localstripe reaches it, for the webhooks (default: --api-url)"
    )
    parser.add_argument(
        "--verify-mail-senders",
        action="store_true",
        help="verify the demo tenants' senders in SES (LocalStack under docker compose)",
    )
    parser.add_argument(
        "--backfill-index-keys",
        metavar="TENANT",
        nargs="+",
        default=[],
        help="index these tenants' products and orders written before their indexes (one-off, after an upgrade)",
    )
    parser.add_argument(
        "--move-reserved-to-sold",
        metavar="TENANT",
        nargs="+",
        default=[],
        help="count these tenants' units held by earlier versions' orders as sold (one-off, after an upgrade)",
    )
    args = parser.parse_args()
    try:
        provision(
            seed=args.seed,
            upsell_enabled=args.upsell_enabled,
            api_url=args.api_url,
            stripe_js_url=args.stripe_js_url,
            localstripe_url=args.localstripe_url,
            webhook_api_url=args.webhook_api_url,
            verify_senders=args.verify_mail_senders,
        )
        for tenant_id in args.backfill_index_keys:
            print(f"indexes: {backfill_index_keys(tenant_id)} products and orders of {tenant_id} backfilled")
        for tenant_id in args.move_reserved_to_sold:
            print(f"sold units: {move_reserved_to_sold(tenant_id)} products of {tenant_id} moved from reserved")
    except catalog.LiveHolds as refusal:
        raise SystemExit(f"refused: {refusal}") from None  # exit status 1, the reason on stderr


if __name__ == "__main__":
    main()
