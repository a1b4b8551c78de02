"""Identifiers: ULIDs, so order ids sort by creation time inside a tenant's partition."""

from __future__ import annotations

import re
import secrets
import time

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# The one definition of each id's shape. Python matches them with fullmatch (`$` would also accept a
# trailing newline, "mug\n"); pydantic's `pattern` searches, so schemas anchor them with `anchored`.
ULID = r"[0-9A-HJKMNP-TV-Z]{26}"
TENANT_ID = r"[a-z0-9][a-z0-9-]{0,31}"
PRODUCT_ID = r"[a-z0-9][a-z0-9-]{0,63}"
ULID_PATTERN = re.compile(ULID)
TENANT_ID_PATTERN = re.compile(TENANT_ID)
PRODUCT_ID_PATTERN = re.compile(PRODUCT_ID)


def anchored(pattern: str) -> str:
    """`pattern` for pydantic's StringConstraints/Field(pattern=...): the whole string, nothing more."""
    return f"^{pattern}$"


def new_ulid(now_ms: int | None = None) -> str:
    timestamp = int(time.time() * 1000) if now_ms is None else now_ms
    value = (timestamp << 80) | secrets.randbits(80)
    chars = []
    for _ in range(26):
        value, index = divmod(value, 32)
        chars.append(CROCKFORD[index])
    return "".join(reversed(chars))


def is_ulid(value: str) -> bool:
    return bool(ULID_PATTERN.fullmatch(value))


def is_tenant_id(value: str) -> bool:
    return bool(TENANT_ID_PATTERN.fullmatch(value))


def is_product_id(value: str) -> bool:
    return bool(PRODUCT_ID_PATTERN.fullmatch(value))
