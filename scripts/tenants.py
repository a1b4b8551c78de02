"""Create tenants and their admin API keys.

    python -m scripts.tenants create --tenant-id acme --name "Acme Outdoor" --currency EUR \\
        --vat-rate 0.20 --promo SUMMER10=0.10 --promo TRAIL5=0.05
    python -m scripts.tenants rotate-key --tenant-id acme [--keep-existing]
    STRIPE_SECRET_KEY=... STRIPE_WEBHOOK_SECRET=... \
        python -m scripts.tenants set-payment --tenant-id acme --mode stripe --publishable-key pk_live_...
    python -m scripts.tenants set-payment --tenant-id acme --mode on_delivery
    python -m scripts.tenants set-limits --tenant-id acme --limit units_per_line=5 --limit checkouts_per_minute=20
    python -m scripts.tenants set-shipping --tenant-id acme --file shipping.json
    python -m scripts.tenants set-low-stock --tenant-id acme --threshold 3
    python -m scripts.tenants set-mail --tenant-id acme --from "Acme Outdoor <orders@acme.example>" \
        [--reply-to "Acme Help <help@acme.example>"]

`create` is idempotent: run again, it updates name, currency, VAT rate and promo codes and keeps
the tenant's keys; it issues a key only when the tenant has none. A key is printed once, on
stdout, and only its SHA-256 hash is stored. `rotate-key` issues a new key and revokes the
others (unless --keep-existing, to let clients switch over first). Old keys can keep working
for up to a minute in warm functions (authorizer and tenant caches).

`set-payment` connects a tenant's Stripe account: the publishable key goes on the tenant (the
browser needs it), the secret key and the webhook signing secret into SSM as SecureStrings
(`/cartwise/{stage}/tenants/{tenant}/stripe/secret_key` and `.../webhook_secret`). The secrets are
never arguments (those end up in shell history and `ps`): they come from STRIPE_SECRET_KEY and
STRIPE_WEBHOOK_SECRET or, with --secrets-from-stdin, from standard input (one a line, told apart by
their prefixes; prompted for on a terminal). What is given is stored in either mode, replacing what
was; `--mode stripe` is refused until the tenant has all three.

`set-mail` sets who the shop's e-mails to shoppers come from and where replies go. In the cloud the
sender's address (or its domain) must be an identity verified in SES, or sending fails and the
e-mails wait in the dead-letter queue (docs/deploy.md).

Uses the environment like the app: CARTWISE_STAGE, AWS credentials, AWS_ENDPOINT_URL* locally.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TextIO

from chalicelib import api_keys, clients, digests, shipping, tenants
from chalicelib.config import get_settings
from chalicelib.errors import TenantNotFound
from chalicelib.ids import is_tenant_id
from chalicelib.limits import NAMES as LIMIT_NAMES
from chalicelib.models import TenantModel

CURRENCY = re.compile(r"^[A-Z]{3}$")
PROMO_CODE = re.compile(r"^[A-Z0-9]{1,32}$")
# Stripe's key shapes: test or live publishable and secret (or restricted) keys, webhook signing secrets.
PUBLISHABLE_KEY = re.compile(r"^pk_(test|live)_[A-Za-z0-9_]+$")
SECRET_KEY = re.compile(r"^[sr]k_(test|live)_[A-Za-z0-9_]+$")
WEBHOOK_SECRET = re.compile(r"^whsec_[A-Za-z0-9_+/=]+$")
SECRET_ENV = {"secret_key": "STRIPE_SECRET_KEY", "webhook_secret": "STRIPE_WEBHOOK_SECRET"}


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


def publishable_key(text: str) -> str:
    if not PUBLISHABLE_KEY.match(text):
        raise argparse.ArgumentTypeError(f"a Stripe publishable key, pk_test_... or pk_live_...: {text!r}")
    return text


def stored_stripe_secrets(tenant: str) -> dict[str, str]:
    """The tenant's Stripe secrets in SSM, by name ("secret_key", "webhook_secret"); absent ones left out."""
    settings = get_settings()
    names = {settings.stripe_parameter(tenant, name): name for name in SECRET_ENV}
    found = clients.ssm().get_parameters(Names=list(names), WithDecryption=True)["Parameters"]
    return {names[parameter["Name"]]: parameter["Value"] for parameter in found}


def configure_payment(
    tenant: str,
    mode: str,
    publishable_key: str | None = None,
    secret_key: str | None = None,
    webhook_secret: str | None = None,
) -> None:
    """Store what is given of a tenant's Stripe keys and set its payment mode (`set-payment`, provisioning).

    Raises ValueError, naming no secret, when a key has the wrong shape, when test and live keys are
    mixed or when stripe mode would lack a key, and TenantNotFound; either before anything is written.
    """
    if mode not in tenants.PAYMENT_MODES:
        raise ValueError(f"the payment mode is one of {', '.join(tenants.PAYMENT_MODES)}, not {mode!r}")
    if publishable_key is not None and not PUBLISHABLE_KEY.match(publishable_key):
        raise ValueError(f"the publishable key is not pk_test_... or pk_live_...: {publishable_key!r}")
    if secret_key is not None and not SECRET_KEY.match(secret_key):
        raise ValueError("the secret key given is not sk_... or rk_..., test or live")
    if webhook_secret is not None and not WEBHOOK_SECRET.match(webhook_secret):
        raise ValueError("the webhook signing secret given is not whsec_...")
    try:
        record = TenantModel.get(tenant, consistent_read=True)
    except TenantModel.DoesNotExist:
        raise TenantNotFound(f"Tenant {tenant!r} does not exist.") from None
    given = {name: value for name, value in (("secret_key", secret_key), ("webhook_secret", webhook_secret)) if value}
    secrets = {**stored_stripe_secrets(tenant), **given}
    publishable = publishable_key or record.stripe_publishable_key
    # pk_test_ with sk_live_ (or the reverse) would fail every payment: Stripe refuses the mix.
    if publishable and "secret_key" in secrets and publishable.split("_")[1] != secrets["secret_key"].split("_")[1]:
        raise ValueError("the publishable key and the secret key must both be test keys or both live keys")
    if mode == "stripe":
        needed = {"--publishable-key": publishable, **{SECRET_ENV[name]: secrets.get(name) for name in SECRET_ENV}}
        missing = [label for label, value in needed.items() if not value]
        if missing:
            raise ValueError(
                f"stripe mode needs all of the tenant's Stripe keys; not given nor stored: {', '.join(missing)}"
            )
    settings = get_settings()
    for name, value in given.items():
        clients.ssm().put_parameter(
            Name=settings.stripe_parameter(tenant, name), Value=value, Type="SecureString", Overwrite=True
        )
    tenants.set_payment(tenant, mode, publishable_key)


def read_secrets(stream: TextIO) -> dict[str, str]:
    """Stripe secrets from standard input: prompted for on a terminal, else one a line, told apart by prefix."""
    if stream.isatty():
        lines = [
            getpass.getpass("Stripe secret key (sk_... or rk_...; Enter keeps the stored one): "),
            getpass.getpass("Webhook signing secret (whsec_...; Enter keeps the stored one): "),
        ]
    else:
        lines = stream.read().splitlines()
    secrets: dict[str, str] = {}
    for line in filter(None, (line.strip() for line in lines)):
        name = "webhook_secret" if line.startswith("whsec_") else "secret_key" if line[:3] in ("sk_", "rk_") else ""
        if not name or name in secrets:
            # The line itself is never shown: it may be a secret pasted in the wrong place.
            raise ValueError("standard input holds at most one sk_/rk_ secret key and one whsec_ secret, one a line")
        secrets[name] = line
    return secrets


def set_payment(args: argparse.Namespace) -> int:
    try:
        if args.secrets_from_stdin:
            secrets = read_secrets(sys.stdin)
        else:
            secrets = {name: os.environ[variable] for name, variable in SECRET_ENV.items() if os.environ.get(variable)}
        configure_payment(args.tenant_id, args.mode, args.publishable_key, **secrets)
    except TenantNotFound:
        print(f"tenant {args.tenant_id} does not exist; `create` it first", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"nothing changed: {exc}", file=sys.stderr)
        return 1
    stored = ", ".join(sorted(secrets)) or "no secrets"
    print(f"tenant {args.tenant_id}: payment mode {args.mode} ({stored} stored)", file=sys.stderr)
    return 0


def limit(text: str) -> tuple[str, int]:
    name, sep, value = text.partition("=")
    if not sep or name not in LIMIT_NAMES or not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"NAME=N with N >= 1 and NAME one of {', '.join(LIMIT_NAMES)}: {text!r}")
    return name, int(value)


def set_limits(args: argparse.Namespace) -> int:
    try:
        limits = tenants.set_limits(args.tenant_id, dict(args.limit))
    except TenantNotFound as exc:
        print(exc.message, file=sys.stderr)
        return 1
    for name in LIMIT_NAMES:
        print(f"{name}={getattr(limits, name)}")
    return 0


def low_stock_threshold(text: str) -> int:
    if not text.isdigit() or int(text) > tenants.MAX_LOW_STOCK_THRESHOLD:
        raise argparse.ArgumentTypeError(f"a whole number from 0 to {tenants.MAX_LOW_STOCK_THRESHOLD}: {text!r}")
    return int(text)


def set_low_stock(args: argparse.Namespace) -> int:
    try:
        tenants.set_low_stock_threshold(args.tenant_id, args.threshold)
    except TenantNotFound as exc:
        print(exc.message, file=sys.stderr)
        return 1
    print(f"low_stock_threshold={args.threshold}")
    return 0


def set_shipping(args: argparse.Namespace) -> int:
    """Replace the tenant's countries and methods with those of a JSON file (as data/tenants/*.json write them)."""
    try:
        plan = tenants.set_shipping(args.tenant_id, json.loads(Path(args.file).read_text()))
    except (OSError, ValueError, TenantNotFound) as exc:
        print(getattr(exc, "message", None) or str(exc), file=sys.stderr)
        return 1
    print(json.dumps(shipping.as_record(plan), indent=2))
    return 0


def set_mail(args: argparse.Namespace) -> int:
    try:
        sender = tenants.set_mail(args.tenant_id, args.sender, args.reply_to)
    except (ValueError, TenantNotFound) as exc:
        print(f"nothing changed: {getattr(exc, 'message', None) or exc}", file=sys.stderr)
        return 1
    print(f"from: {sender.sender}")
    print(f"reply-to: {sender.reply_to or '(the sender)'}")
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

    pay = commands.add_parser(
        "set-payment",
        help="set how orders are paid; store Stripe keys (secrets from STRIPE_SECRET_KEY and "
        "STRIPE_WEBHOOK_SECRET or standard input, never arguments)",
    )
    pay.add_argument("--tenant-id", required=True, type=tenant_id)
    pay.add_argument("--mode", required=True, choices=tenants.PAYMENT_MODES)
    pay.add_argument("--publishable-key", type=publishable_key, help="pk_test_... or pk_live_...")
    pay.add_argument(
        "--secrets-from-stdin",
        action="store_true",
        help="read the secret key and the webhook signing secret from standard input instead of the environment",
    )
    pay.set_defaults(run=set_payment)

    limiting = commands.add_parser(
        "set-limits", help="set a tenant's abuse limits (the others keep theirs); prints them all"
    )
    limiting.add_argument("--tenant-id", required=True, type=tenant_id)
    limiting.add_argument("--limit", action="append", required=True, type=limit, metavar="NAME=N", help="repeatable")
    limiting.set_defaults(run=set_limits)

    low = commands.add_parser(
        "set-low-stock", help="set the stock at or below which the console highlights a product (0: sold out only)"
    )
    low.add_argument("--tenant-id", required=True, type=tenant_id)
    low.add_argument("--threshold", required=True, type=low_stock_threshold, metavar="N")
    low.set_defaults(run=set_low_stock)

    ships = commands.add_parser(
        "set-shipping", help="replace a tenant's countries and shipping methods from a JSON file"
    )
    ships.add_argument("--tenant-id", required=True, type=tenant_id)
    ships.add_argument("--file", required=True, help='{"countries": [...], "methods": [{id, name, price, ...}]}')
    ships.set_defaults(run=set_shipping)

    mailing = commands.add_parser("set-mail", help="set the sender (and reply-to) of the shop's e-mails to shoppers")
    mailing.add_argument("--tenant-id", required=True, type=tenant_id)
    mailing.add_argument("--from", dest="sender", required=True, help='"Acme Outdoor <orders@acme.example>"')
    mailing.add_argument("--reply-to", help="where shoppers' replies go (default: the sender)")
    mailing.set_defaults(run=set_mail)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "create" and not args.name.strip():
        parser().error("--name must not be empty")
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
