"""Admin API keys: `cw_<tenant_id>_<secret>`, stored only as SHA-256 hex digests on the tenant.

The tenant id in the key tells which tenant record holds its hash, so checking a key is one
key lookup (no scan, no index). The secret is 256 random bits (`secrets.token_urlsafe(32)`):
against a key that cannot be guessed, a fast unsalted hash is enough; a slow password hash
(bcrypt, scrypt) only protects low-entropy secrets and would cost every admin request.
Digests are compared with `hmac.compare_digest`, over every stored digest.
"""

from __future__ import annotations

import re
import secrets

from chalicelib import tenants
from chalicelib.digests import matches
from chalicelib.errors import TenantNotFound
from chalicelib.ids import TENANT_ID

PREFIX = "cw_"
KEY_PATTERN = re.compile(rf"{PREFIX}({TENANT_ID})_([A-Za-z0-9_-]{{20,128}})")  # fullmatch: no "\n" after
MAX_KEY_LENGTH = 200


def generate(tenant_id: str) -> str:
    return f"{PREFIX}{tenant_id}_{secrets.token_urlsafe(32)}"


def tenant_of(key: str | None) -> str | None:
    """The tenant id a well-formed key names (not yet verified), else None."""
    if not key or len(key) > MAX_KEY_LENGTH:
        return None
    match = KEY_PATTERN.fullmatch(key)
    return match.group(1) if match else None


def verify(key: str | None) -> str | None:
    """The tenant id the key belongs to, or None for a missing, malformed or unknown key.

    The tenant record is read through the tenant cache; on a miss it is read again fresh,
    so a key created a moment ago works at once (a revoked key may live on for the cache's
    lifetime, TENANT_CACHE_SECONDS, in a warm function).
    """
    tenant_id = tenant_of(key)
    if tenant_id is None or key is None:
        return None
    try:
        if matches(key, tenants.get_tenant(tenant_id).api_key_hashes):
            return tenant_id
        if matches(key, tenants.get_tenant(tenant_id, fresh=True).api_key_hashes):
            return tenant_id
    except TenantNotFound:
        return None
    return None


def redact(key: str | None) -> str:
    """What may appear in a log line about a key: its tenant part, never the secret."""
    tenant_id = tenant_of(key)
    return f"{PREFIX}{tenant_id}_***" if tenant_id else "***"
