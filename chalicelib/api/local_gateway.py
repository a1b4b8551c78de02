"""Make Chalice's local API Gateway (`chalice local`, `chalice.test.Client`) treat our authorizer as AWS does.

Chalice's emulation reads the token from the `Authorization` header whatever the authorizer's
`header` says (aws/chalice#1675, #1976; the fix, PR #1977, is unmerged), and lets an exception
raised by an authorizer escape as a crash. API Gateway instead takes the token from the configured
header (`X-Api-Key`) and answers 401 itself when that header is missing or the authorizer fails
with "Unauthorized"; infra/ templates that 401 (gateway response UNAUTHORIZED) into our error
envelope. An authorizer that fails otherwise (its tenants table throttled or down) is API
Gateway's AUTHORIZER_FAILURE, which infra/ answers 503 UNAVAILABLE with Retry-After. This patch
gives the local gateway the same behaviours, with the same bodies.
It also gives the local server a listen backlog that survives a burst of simultaneous clients
(the concurrency tests send 20 to 50 at once), and reports each request's peer address as its
source IP, as API Gateway reports the client's (Chalice writes 127.0.0.1 for everyone), so the
per-client limits count clients apart locally too. A `LocalGateway` given a `peer` attribute
(the test client's) reports that one.

It only exists where `chalice.local` does: a deployed function ships `chalice/app.py` alone, so
there the import fails and nothing is patched.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from chalicelib.errors import RETRY_AFTER_SECONDS, Unauthorized, envelope
from chalicelib.observability import logger

UNAUTHORIZED_MESSAGE = "A valid X-Api-Key is required."
LISTEN_BACKLOG = 128
UNAUTHORIZED_BODY = json.dumps(envelope("UNAUTHORIZED", UNAUTHORIZED_MESSAGE)).encode()
UNAVAILABLE_BODY = json.dumps(
    envelope("UNAVAILABLE", "Authentication is unavailable right now, please retry shortly.")
).encode()


def install() -> bool:
    """Patch chalice.local once; False when there is no local gateway to patch."""
    try:
        from chalice import local
    except ImportError:
        return False
    original = local.LocalGatewayAuthorizer.authorize
    if getattr(original, "cartwise_patched", False):
        return True

    class AuthorizerUnavailable(local.LocalGatewayException):
        CODE = 503

    @functools.wraps(original)
    def authorize(self: Any, raw_path: str, lambda_event: dict, lambda_context: Any) -> tuple[dict, Any]:
        route = self._route_for_event(lambda_event)
        config = getattr(getattr(route, "authorizer", None), "config", None)
        header = (getattr(config, "header", None) or "Authorization").lower()
        if header == "authorization":
            return original(self, raw_path, lambda_event, lambda_context)
        gateway_headers = {
            "x-amzn-RequestId": lambda_context.aws_request_id,
            "x-amzn-ErrorType": "UnauthorizedException",
            "Content-Type": "application/json",
            "Access-Control-Allow-Origin": "*",  # as infra's gateway response adds, so browsers can read it
        }
        headers = lambda_event.get("headers") or {}
        token = headers.get(header)
        if not token:
            raise local.NotAuthorizedError(gateway_headers, UNAUTHORIZED_BODY)
        # The token goes to the authorizer only; the view's event keeps the original headers.
        authorizer_view = {**lambda_event, "headers": {**headers, "authorization": token}}
        try:
            authorized, context = original(self, raw_path, authorizer_view, lambda_context)
        except Unauthorized:
            raise local.NotAuthorizedError(gateway_headers, UNAUTHORIZED_BODY) from None
        except Exception as exc:  # noqa: BLE001 - any other authorizer failure is AUTHORIZER_FAILURE
            logger.warning("Admin authorizer failed", exc_info=exc)
            unavailable_headers = {
                **gateway_headers,
                "x-amzn-ErrorType": "AuthorizerConfigurationException",
                "Retry-After": RETRY_AFTER_SECONDS,
            }
            raise AuthorizerUnavailable(unavailable_headers, UNAVAILABLE_BODY) from None
        lambda_event["requestContext"] = authorized["requestContext"]
        return lambda_event, context

    original_event = local.LocalGateway._generate_lambda_event

    @functools.wraps(original_event)
    def generate_lambda_event(self: Any, *args: Any, **kwargs: Any) -> dict:
        event = original_event(self, *args, **kwargs)
        peer = getattr(self, "peer", None)
        if peer:
            event["requestContext"]["identity"]["sourceIp"] = peer
        return event

    original_handle = local.ChaliceRequestHandler._generic_handle

    @functools.wraps(original_handle)
    def generic_handle(self: Any) -> None:
        self.local_gateway.peer = self.client_address[0]
        original_handle(self)

    local.LocalGateway._generate_lambda_event = generate_lambda_event  # type: ignore[method-assign]
    # Chalice binds every do_METHOD to _generic_handle when the class is made: each is replaced.
    for method in ("GET", "PUT", "POST", "HEAD", "DELETE", "PATCH", "OPTIONS"):
        setattr(local.ChaliceRequestHandler, f"do_{method}", generic_handle)
    authorize.cartwise_patched = True  # type: ignore[attr-defined]
    local.LocalGatewayAuthorizer.authorize = authorize  # type: ignore[method-assign]  # the patch itself
    # socketserver's default listen backlog is 5: a burst of simultaneous clients (API Gateway
    # takes thousands) overflows it and the kernel resets connections. The server is created
    # after the app is imported, so this applies to `chalice local`.
    local.ThreadedHTTPServer.request_queue_size = LISTEN_BACKLOG
    return True
