"""HTTP layer: parse and validate, call one service, shape the answer."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from chalice import Blueprint

from chalicelib import limits
from chalicelib.errors import BadRequest, IdempotencyKeyRequired, PayloadTooLarge, error_response

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError

# pydantic (and chalicelib.api.schemas) load on the first request that validates something, not at
# import: the authorizer and the order-stream functions import this package and never validate.

MAX_BODY_BYTES = 64 * 1024
JSON_WHITESPACE = b" \t\r\n"  # RFC 8259; anything else (e.g. a vertical tab) is not JSON

Body = TypeVar("Body", bound="BaseModel")


class ApiBlueprint(Blueprint):
    """A Blueprint whose views answer every exception with the error envelope."""

    def route(self, path: str, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        register = super().route(path, **kwargs)

        def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(view)
            def guarded(*args: Any, **params: Any) -> Any:
                try:
                    return view(*args, **params)
                except Exception as exc:  # noqa: BLE001 - error_response logs and classifies
                    return error_response(exc)

            return register(guarded)

        return decorator


def field_errors(exc: ValidationError) -> list[dict[str, str]]:
    return [
        {"field": ".".join(str(part) for part in error["loc"]) or "body", "message": error["msg"]}
        for error in exc.errors(include_url=False)
    ]


def parse_body(raw_body: bytes | str | None, model: type[Body]) -> Body:
    """Validate a JSON body; an empty body means the model's defaults."""
    raw = raw_body.encode() if isinstance(raw_body, str) else raw_body or b""
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"Request bodies are limited to {MAX_BODY_BYTES} bytes.")
    if not raw.strip(JSON_WHITESPACE):
        raw = b"{}"
    from pydantic import ValidationError

    try:
        json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("The request body is not valid JSON.", {"fields": []}) from None
    except RecursionError:  # e.g. "[[[[..." thousands deep: no request of ours nests beyond a few levels
        raise BadRequest("The request body is nested too deeply.", {"fields": []}) from None
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise BadRequest("The request body is invalid.", {"fields": field_errors(exc)}) from None


def parse_query(params: Mapping[str, str] | None, model: type[Body]) -> Body:
    from pydantic import ValidationError

    try:
        return model.model_validate(params or {})
    except ValidationError as exc:
        raise BadRequest("The query string is invalid.", {"fields": field_errors(exc)}) from None


def client_of(request: Any) -> str | None:
    """The request's client for the per-client limits: the source IP API Gateway reports (never a
    header a client could set), or None when those limits are switched off."""
    identity = (request.context or {}).get("identity") or {}
    return limits.client_of(identity.get("sourceIp"))


def count_request(request: Any, tenant: Any, group: str) -> str | None:
    """Count the request against its client's rate for the route group (429 past it); returns the client."""
    client = client_of(request)
    limits.count_request(tenant.tenant_id, tenant.limits, client, group)
    return client


def required_idempotency_key(headers: Mapping[str, str], operation: str) -> str:
    """The request's Idempotency-Key, which `operation` (for the message) cannot do without: 400
    IDEMPOTENCY_KEY_REQUIRED when it is missing, before anything is read or written."""
    value = idempotency_key(headers)
    if value is None:
        raise IdempotencyKeyRequired(
            f"{operation} needs an Idempotency-Key header: sent again with the same key, it is applied once."
        )
    return value


def idempotency_key(headers: Mapping[str, str]) -> str | None:
    """The request's Idempotency-Key header, if any: 1 to 255 printable ASCII characters."""
    value = headers.get("idempotency-key")
    if value is None:
        return None
    if not (1 <= len(value) <= 255 and value.isascii() and value.isprintable()):
        raise BadRequest.for_field(
            "Idempotency-Key", "Idempotency-Key must be 1 to 255 printable ASCII characters.", "invalid header value"
        )
    return value
