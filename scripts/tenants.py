"""Create tenants and their admin API keys.

    python -m scripts.tenants create --tenant-id acme --name "Acme Outdoor" --currency EUR \\
        --vat-rate 0.20 --promo SUMMER10=0.10 --promo TRAIL5=0.05
    python -m scripts.tenants rotate-key --tenant-id acme [--keep-existing]

`create` is idempotent: run again, it updates name, currency, VAT rate and promo codes and keeps
the tenant's keys; it issues a key only when the tenant has none. A key is printed once, on
stdout, and only its SHA-256 hash is stored. `rotate-key` issues a new key and revokes the
others (unless --keep-existing, to let clients switch over first). Old keys can keep working
for up to a minute in warm functions (authorizer and tenant caches).

Uses the environment like the app: CARTWISE_STAGE, AWS credentials, AWS_ENDPOINT_URL* locally.
"""

from __future__ import annotations

import argparse
import re
import sys
from decimal import Decimal, InvalidOperation

from chalicelib import api_keys, digests, tenants
from chalicelib.errors import TenantNotFound
from chalicelib.ids import is_tenant_id

CURRENCY = re.compile(r"^[A-Z]{3}$")
PROMO_CODE = re.compile(r"^[A-Z0-9]{1,32}$")


def rate(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not a decimal number: {text!r}") from None
    if not value.is_finite() or not (Decimal(0) <= value < Decimal(1)) or value != round(value, 4):
        raise argparse.ArgumentTypeError(f"a rate is a fraction in [0, 1) with at most 4 decimals: {text!r}")
    return value


def promo(text: str) -> tuple[str, Decimal]:
    code, sep, value = text.partition("=")
    code = code.strip().upper()
    if not sep or not PROMO_CODE.match(code):
        raise argparse.ArgumentTypeError(f"expected CODE=RATE, e.g. SUMMER10=0.10: {text!r}")
    discount = rate(value)
    if discount == 0:
        raise argparse.ArgumentTypeError(f"a promo code must give a discount: {text!r}")
    return code, discount


def tenant_id(text: str) -> str:
    if not is_tenant_id(text):
        raise argparse.ArgumentTypeError("lowercase letters, digits and '-', starting with a letter or digit, max 32")
    return text


def currency(text: str) -> str:
    if not CURRENCY.match(text):
        raise argparse.ArgumentTypeError(f"an ISO 4217 code such as EUR: {text!r}")
    return text


def issue_key(tenant: str, replace: bool) -> str:
    key = api_keys.generate(tenant)
    tenants.set_key_hashes(tenant, digests.digest(key), replace=replace)
    return key


def create(args: argparse.Namespace) -> int:
    promos = dict(args.promo or [])
    created = tenants.save_tenant(args.tenant_id, args.name, args.currency, args.vat_rate, promos)
    print(f"tenant {args.tenant_id} {'created' if created else 'updated'}", file=sys.stderr)
    if tenants.get_tenant(args.tenant_id, fresh=True).api_key_hashes:
        print("it already has an admin key; `rotate-key` issues a new one", file=sys.stderr)
        return 0
    print(f"admin key for {args.tenant_id} (shown once, store it now):", file=sys.stderr)
    print(issue_key(args.tenant_id, replace=True))
    return 0


def rotate_key(args: argparse.Namespace) -> int:
    try:
        key = issue_key(args.tenant_id, replace=not args.keep_existing)
    except TenantNotFound:
        print(f"tenant {args.tenant_id} does not exist; `create` it first", file=sys.stderr)
        return 1
    kept = "other keys kept" if args.keep_existing else "other keys revoked"
    print(f"new admin key for {args.tenant_id} ({kept}; shown once, store it now):", file=sys.stderr)
    print(key)
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m scripts.tenants", description=__doc__.split("\n\n")[0])
    commands = root.add_subparsers(dest="command", required=True)

    make = commands.add_parser("create", help="create or update a tenant; issues a key if it has none")
    make.add_argument("--tenant-id", required=True, type=tenant_id)
    make.add_argument("--name", required=True)
    make.add_argument("--currency", required=True, type=currency)
    make.add_argument("--vat-rate", type=rate, default=Decimal("0.20"))
    make.add_argument("--promo", action="append", type=promo, metavar="CODE=RATE", help="repeatable")
    make.set_defaults(run=create)

    rotate = commands.add_parser("rotate-key", help="issue a new admin key (revoking the others)")
    rotate.add_argument("--tenant-id", required=True, type=tenant_id)
    rotate.add_argument("--keep-existing", action="store_true", help="keep the current keys valid too")
    rotate.set_defaults(run=rotate_key)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "create" and not args.name.strip():
        parser().error("--name must not be empty")
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
