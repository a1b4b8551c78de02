"""Tenants: lookup (cached briefly, so a checkout does not pay a read for settings) and promo codes."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal

from chalicelib.config import get_settings
from chalicelib.errors import InvalidPromoCode, TenantNotFound
from chalicelib.ids import is_tenant_id
from chalicelib.models import TenantModel


@dataclass(frozen=True)
class Tenant:
    tenant_id: str
    name: str
    currency: str
    vat_rate: Decimal
    promo_codes: dict[str, Decimal] = field(default_factory=dict)
    api_key_hashes: frozenset[str] = frozenset()


_cache: dict[str, tuple[float, Tenant]] = {}


def get_tenant(tenant_id: str) -> Tenant:
    if not is_tenant_id(tenant_id):
        raise TenantNotFound(f"Tenant {tenant_id!r} does not exist.")
    now = time.monotonic()
    cached = _cache.get(tenant_id)
    if cached and cached[0] > now:
        return cached[1]
    try:
        record = TenantModel.get(tenant_id)
    except TenantModel.DoesNotExist:
        raise TenantNotFound(f"Tenant {tenant_id!r} does not exist.") from None
    tenant = Tenant(
        tenant_id=record.tenant_id,
        name=record.name,
        currency=record.currency,
        vat_rate=record.vat_rate,
        promo_codes={promo.code: promo.rate for promo in record.promo_codes},
        api_key_hashes=frozenset(record.api_key_hashes or ()),
    )
    _cache[tenant_id] = (now + get_settings().tenant_cache_seconds, tenant)
    return tenant


def normalise_promo_code(tenant: Tenant, code: str) -> str:
    normalised = code.strip().upper()
    if normalised not in tenant.promo_codes:
        raise InvalidPromoCode(f"Promo code {code!r} is not valid.", {"code": code})
    return normalised


def clear_cache() -> None:
    _cache.clear()
