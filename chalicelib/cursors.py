"""Opaque pagination cursors: the last key a page returned, base64url-encoded JSON."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable

from chalicelib.errors import BadRequest


def encode(key: str) -> str:
    raw = json.dumps({"k": key}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str, is_valid_key: Callable[[str], bool]) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))["k"]
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeError):
        key = None
    if not isinstance(key, str) or not is_valid_key(key):
        raise BadRequest.for_field("cursor", "Invalid cursor.", "not a cursor this API issued")
    return key
