"""Tenants: lookup (cached briefly, so a checkout does not pay a read for settings) and promo codes."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.update import Action

from chalicelib import counters, shipping
from chalicelib.config import get_settings
from chalicelib.errors import InvalidPromoCode, TenantNotFound
from chalicelib.ids import is_tenant_id
from chalicelib.limits import NAMES as LIMIT_NAMES
from chalicelib.limits import Limits
from chalicelib.models import PromoCode, TenantModel
from chalicelib.shipping import Plan

# The operator's console highlights products with this many units left to sell, or fewer (decision 31).
DEFAULT_LOW_STOCK_THRESHOLD = 5
MAX_LOW_STOCK_THRESHOLD = 1_000_000
if TYPE_CHECKING:
    from email.headerregistry import Address


@dataclass(frozen=True)
class MailSender:
    """Who the shop's e-mails to shoppers come from ("Acme Outdoor <orders@acme.example>") and where
    replies go (None: to the sender), as the tenant record has them: checked by `parse_address` when
    written (`set_mail`, provisioning), parsed again by the notifier (chalicelib/mail/message.py) only,
    so a tenant read on a request's path imports no e-mail parsing."""

    sender: str
    reply_to: str | None = None


@dataclass(frozen=True)
class Tenant:
    tenant_id: str
    name: str
    currency: str
    vat_rate: Decimal
    promo_codes: dict[str, Decimal] = field(default_factory=dict)
    api_key_hashes: frozenset[str] = frozenset()
    best_sellers: tuple[str, ...] = ()  # product ids, most units ordered first (kept by the orders stream)
    payment_mode: str = "on_delivery"  # or "stripe": orders wait for a card payment, their units held
    stripe_publishable_key: str | None = None  # public: the storefront's Stripe.js uses it
    limits: Limits = field(default_factory=Limits)  # abuse limits: the defaults unless the tenant set its own
    shipping: Plan = field(default_factory=Plan)  # countries served, shipping methods
    low_stock_threshold: int = DEFAULT_LOW_STOCK_THRESHOLD
    mail: MailSender | None = None  # its shopper e-mails' sender; None: it sends none yet


PAYMENT_MODES = ("on_delivery", "stripe")

_cache: dict[str, tuple[float, Tenant]] = {}


def get_tenant(tenant_id: str, fresh: bool = False) -> Tenant:
    """The tenant, from a short-lived per-process cache unless `fresh` (then a consistent read)."""
    if not is_tenant_id(tenant_id):
        raise TenantNotFound(f"Tenant {tenant_id!r} does not exist.")
    now = time.monotonic()
    cached = _cache.get(tenant_id)
    if cached and cached[0] > now and not fresh:
        return cached[1]
    try:
        record = TenantModel.get(tenant_id, consistent_read=fresh)
    except TenantModel.DoesNotExist:
        raise TenantNotFound(f"Tenant {tenant_id!r} does not exist.") from None
    tenant = Tenant(
        tenant_id=record.tenant_id,
        name=record.name,
        currency=record.currency,
        vat_rate=record.vat_rate,
        promo_codes={promo.code: promo.rate for promo in record.promo_codes},
        api_key_hashes=frozenset(record.api_key_hashes or ()),
        best_sellers=tuple(counters.ranked(counters.as_counts(record.best_sellers))),
        payment_mode=record.payment_mode,
        stripe_publishable_key=record.stripe_publishable_key,
        limits=Limits.of(record.limits.as_dict() if record.limits else None),
        shipping=shipping.parse(record.shipping.as_dict() if record.shipping else None),
        low_stock_threshold=(
            DEFAULT_LOW_STOCK_THRESHOLD if record.low_stock_threshold is None else int(record.low_stock_threshold)
        ),
        mail=_stored_sender(record.mail.as_dict() if record.mail else None),
    )
    _cache[tenant_id] = (now + get_settings().tenant_cache_seconds, tenant)
    return tenant


def normalise_promo_code(tenant: Tenant, code: str) -> str:
    normalised = code.strip().upper()
    if normalised not in tenant.promo_codes:
        raise InvalidPromoCode(f"Promo code {code!r} is not valid.", {"code": code})
    return normalised


def save_tenant(tenant_id: str, name: str, currency: str, vat_rate: Decimal, promo_codes: dict[str, Decimal]) -> bool:
    """Create or update a tenant's settings, keeping its key hashes; True when it was created."""
    if not is_tenant_id(tenant_id):
        raise ValueError(f"invalid tenant id {tenant_id!r}: lowercase letters, digits and '-', at most 32")
    promos = [PromoCode(code=code.strip().upper(), rate=rate) for code, rate in sorted(promo_codes.items())]
    record = TenantModel(tenant_id, name=name, currency=currency, vat_rate=vat_rate, promo_codes=promos)
    try:
        record.update(
            actions=[
                TenantModel.name.set(name),
                TenantModel.currency.set(currency),
                TenantModel.vat_rate.set(vat_rate),
                TenantModel.promo_codes.set(promos),
            ],
            condition=TenantModel.tenant_id.exists(),
        )
        created = False
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        record.save(condition=TenantModel.tenant_id.does_not_exist())
        created = True
    _cache.pop(tenant_id, None)
    return created


def set_key_hashes(tenant_id: str, add: str, replace: bool) -> None:
    """Store one more key hash on an existing tenant; `replace` drops every other one (rotation)."""
    action = TenantModel.api_key_hashes.set({add}) if replace else TenantModel.api_key_hashes.add({add})
    update_existing(tenant_id, [action])


def set_payment(tenant_id: str, mode: str, publishable_key: str | None = None) -> None:
    """Set how an existing tenant's orders are paid and, when given, its Stripe publishable key.

    The secret key and webhook secret are not here: they live in SSM (`Settings.stripe_parameter`).
    """
    if mode not in PAYMENT_MODES:
        raise ValueError(f"payment mode must be one of {', '.join(PAYMENT_MODES)}: {mode!r}")
    actions: list[Action] = [TenantModel.payment_mode.set(mode)]
    if publishable_key is not None:
        actions.append(TenantModel.stripe_publishable_key.set(publishable_key))
    update_existing(tenant_id, actions)


def set_limits(tenant_id: str, values: dict[str, int]) -> Limits:
    """Set some of an existing tenant's abuse limits (the others keep theirs); returns them all."""
    unknown = sorted(set(values) - set(LIMIT_NAMES))
    if unknown:
        raise ValueError(f"unknown limits {', '.join(unknown)}: one of {', '.join(LIMIT_NAMES)}")
    if any(value < 1 for value in values.values()):
        raise ValueError("a limit is a whole number of at least 1")
    record = TenantModel.get(tenant_id, consistent_read=True) if is_tenant_id(tenant_id) else None
    if record is None:
        raise TenantNotFound(f"Tenant {tenant_id!r} does not exist.")
    merged = {**(record.limits.as_dict() if record.limits else {}), **values}
    update_existing(tenant_id, [TenantModel.limits.set(merged)])
    return Limits.of(merged)


def set_low_stock_threshold(tenant_id: str, threshold: int) -> None:
    """Set the stock at or below which an existing tenant's products count as low (0: only sold-out ones)."""
    if not 0 <= threshold <= MAX_LOW_STOCK_THRESHOLD:
        raise ValueError(f"a low-stock threshold is a whole number from 0 to {MAX_LOW_STOCK_THRESHOLD}")
    update_existing(tenant_id, [TenantModel.low_stock_threshold.set(threshold)])


def update_existing(tenant_id: str, actions: list[Action]) -> None:
    """Apply `actions` to a tenant that exists (TenantNotFound otherwise, nothing written); the cache forgets it."""
    try:
        TenantModel(tenant_id).update(actions=actions, condition=TenantModel.tenant_id.exists())
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            raise TenantNotFound(f"Tenant {tenant_id!r} does not exist.") from None
        raise
    _cache.pop(tenant_id, None)


def set_shipping(tenant_id: str, data: dict) -> Plan:
    """Replace an existing tenant's countries and shipping methods (checked first: ValueError)."""
    plan = shipping.parse(data)
    update_existing(tenant_id, [TenantModel.shipping.set(shipping.as_record(plan))])
    return plan


def parse_address(text: str) -> Address:
    """One e-mail address with an optional display name ("Acme Outdoor <orders@acme.example>"); ValueError
    for anything else: several addresses, a line break or control character (header injection), an
    address email-validator refuses (no DNS lookup)."""
    # Imported here: only the notifier and the tenants CLI parse addresses, never a request.
    from email.headerregistry import Address
    from email.utils import parseaddr

    from email_validator import EmailNotValidError, validate_email

    if not text.isprintable():
        raise ValueError(f"an address is printable text on one line: {text!r}")
    if text.count("@") != 1:  # parseaddr would quietly keep only the first of several
        raise ValueError(f"not one e-mail address: {text!r}")
    name, address = parseaddr(text)
    if not address:
        raise ValueError(f"not one e-mail address: {text!r}")
    try:
        checked = validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid e-mail address: {text!r} ({exc})") from None
    local, _, domain = checked.normalized.rpartition("@")
    return Address(display_name=name, username=local, domain=domain)


def mail_sender(data: dict | None) -> MailSender | None:
    """A tenant's `mail` map as a MailSender (None without one), both addresses checked: ValueError when
    one is not valid."""
    stored = _stored_sender(data)
    if stored is not None:
        parse_address(stored.sender)
        if stored.reply_to:
            parse_address(stored.reply_to)
    return stored


def _stored_sender(data: dict | None) -> MailSender | None:
    if not data or not data.get("from"):
        return None
    return MailSender(str(data["from"]), str(data["reply_to"]) if data.get("reply_to") else None)


def set_mail(tenant_id: str, sender: str, reply_to: str | None = None) -> MailSender:
    """Set an existing tenant's sender of shopper e-mails (and where replies go); ValueError before anything
    is written when an address is not valid."""
    record = {"from": sender, **({"reply_to": reply_to} if reply_to else {})}
    parsed = mail_sender(record)
    assert parsed is not None
    update_existing(tenant_id, [TenantModel.mail.set(record)])
    return parsed


def clear_cache() -> None:
    _cache.clear()


def card_tenants() -> list[str]:
    """The ids of the tenants that take card payments, or took them and still have a Stripe publishable
    key (their last card orders may still await payment): the hold sweeper's tenants. Two Queries of
    the by-payment-mode index, never a scan."""
    taking = [record.tenant_id for record in TenantModel.by_payment_mode.query("stripe")]
    took = TenantModel.by_payment_mode.query(
        "on_delivery", filter_condition=TenantModel.stripe_publishable_key.exists()
    )
    return taking + [record.tenant_id for record in took]
