"""Provision a Cartwise stage: tables from the PynamoDB models, flags, demo tenants, storefront.

The same code serves `make run` (DynamoDB Local + moto), the LocalStack init hook and
the tests, so every environment has identical table definitions and data.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import mimetypes
from decimal import Decimal
from pathlib import Path

from chalicelib import api_keys, catalog, clients
from chalicelib.config import get_settings
from chalicelib.models import ALL_MODELS, CartModel, ProductModel, PromoCode, TenantModel

REPO = Path(__file__).resolve().parent.parent
TENANT_DATA = REPO / "data" / "tenants"
STOREFRONT = REPO / "storefront"


def create_tables() -> None:
    for model in ALL_MODELS:
        if not model.exists():
            model.create_table(wait=True)
    enable_cart_expiry()


def enable_cart_expiry() -> None:
    """Let DynamoDB delete expired carts (TTL on `expires_at`); the API already hides them."""
    table = CartModel.Meta.table_name
    dynamodb = clients.client("dynamodb")
    status = dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]["TimeToLiveStatus"]
    if status == "DISABLED":
        dynamodb.update_time_to_live(
            TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"}
        )


def ensure_event_bus() -> None:
    """The EventBridge bus that order_created events go to (`cartwise-{stage}`)."""
    events = clients.events()
    with contextlib.suppress(events.exceptions.ResourceAlreadyExistsException):
        events.create_event_bus(Name=get_settings().event_bus_name)


def load_tenant_files(directory: Path = TENANT_DATA) -> list[dict]:
    return [json.loads(path.read_text()) for path in sorted(directory.glob("*.json"))]


def seed_tenant(data: dict) -> None:
    """Write a tenant and its catalogue; re-running resets the demo stock."""
    tenant = TenantModel(
        data["tenant_id"],
        name=data["name"],
        currency=data["currency"],
        vat_rate=Decimal(data["vat_rate"]),
        promo_codes=[PromoCode(code=code, rate=Decimal(rate)) for code, rate in data["promo_codes"].items()],
    )
    with contextlib.suppress(TenantModel.DoesNotExist):
        tenant.api_key_hashes = TenantModel.get(tenant.tenant_id).api_key_hashes
    if data.get("demo_admin_key"):
        # Local demo only: a fixed key so `make run` and the tests know it. Real tenants get theirs
        # from `python -m scripts.tenants`, which stores the hash and prints the key once.
        tenant.api_key_hashes = set(tenant.api_key_hashes or ()) | {api_keys.digest(data["demo_admin_key"])}
    tenant.save()
    with ProductModel.batch_write() as batch:
        for record in data["products"]:
            batch.save(catalog.product_from_record(data["tenant_id"], record))


def ensure_flag(name: str, value: str) -> None:
    """Create a flag once; an operator's later toggle is never overwritten."""
    ssm = clients.ssm()
    with contextlib.suppress(ssm.exceptions.ParameterAlreadyExists):
        ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=False)


def publish_storefront(api_url: str, source: Path = STOREFRONT) -> str:
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
    for path in sorted(p for p in source.rglob("*") if p.is_file() and p.name != "config.js"):
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if path.suffix == ".js":
            content_type = "text/javascript"
        s3.put_object(
            Bucket=bucket, Key=str(path.relative_to(source)), Body=path.read_bytes(), ContentType=content_type
        )
    config_js = f"export const API_BASE_URL = {json.dumps(api_url.rstrip('/'))};\n"
    s3.put_object(Bucket=bucket, Key="config.js", Body=config_js.encode(), ContentType="text/javascript")
    return f"/{bucket}/index.html"


def provision(seed: bool, upsell_enabled: str = "true", api_url: str | None = None) -> None:
    create_tables()
    ensure_flag(f"{get_settings().parameter_prefix}/flags/UPSELL_ENABLED", upsell_enabled)
    ensure_event_bus()
    if seed:
        for data in load_tenant_files():
            seed_tenant(data)
            print(f"seeded tenant {data['tenant_id']}: {len(data['products'])} products")
            if data.get("demo_admin_key"):
                print(f"admin key for {data['tenant_id']} (X-Api-Key, local demo only): {data['demo_admin_key']}")
    if api_url and STOREFRONT.is_dir():
        print(f"storefront uploaded: {publish_storefront(api_url)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", action="store_true", help="write the demo tenants from data/tenants")
    parser.add_argument("--upsell-enabled", default="true", choices=["true", "false"])
    parser.add_argument("--api-url", help="publish the storefront, pointing it at this API URL")
    args = parser.parse_args()
    provision(seed=args.seed, upsell_enabled=args.upsell_enabled, api_url=args.api_url)


if __name__ == "__main__":
    main()
