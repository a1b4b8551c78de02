"""Domain exceptions and the one place that turns any failure into the error envelope."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from chalice import Response
from pynamodb.exceptions import PynamoDBException

from chalicelib.observability import logger

RETRY_AFTER_SECONDS = "1"

# botocore error codes that mean "try again shortly" once botocore's own retries are spent.
TRANSIENT_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
        "TransactionInProgressException",
    }
)


class CartwiseError(Exception):
    status = 500
    code = "INTERNAL"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class BadRequest(CartwiseError):
    status, code = 400, "BAD_REQUEST"

    @classmethod
    def for_field(cls, field: str, message: str, *problems: str) -> BadRequest:
        """A 400 naming the invalid field: one `details.fields` entry per problem (the message if none)."""
        return cls(message, {"fields": [{"field": field, "message": problem} for problem in problems or (message,)]})


class Unauthorized(CartwiseError):
    status, code = 401, "UNAUTHORIZED"


class Forbidden(CartwiseError):
    status, code = 403, "FORBIDDEN"


class NotFound(CartwiseError):
    status, code = 404, "NOT_FOUND"


class TenantNotFound(CartwiseError):
    status, code = 404, "TENANT_NOT_FOUND"


class OutOfStock(CartwiseError):
    status, code = 409, "OUT_OF_STOCK"

    def __init__(self, shortages: list[dict[str, Any]]) -> None:
        names = ", ".join(s["product_id"] for s in shortages)
        super().__init__(f"Not enough stock for: {names}", {"items": shortages})


class CartClosed(CartwiseError):
    status, code = 409, "CART_CLOSED"


class PriceChanged(CartwiseError):
    status, code = 409, "PRICE_CHANGED"


class PaymentFailed(CartwiseError):
    status, code = 402, "PAYMENT_FAILED"


class OrderNotPayable(CartwiseError):
    status, code = 409, "ORDER_NOT_PAYABLE"


class OrderNotRefundable(CartwiseError):
    status, code = 409, "ORDER_NOT_REFUNDABLE"


class RefundRefused(CartwiseError):
    """Stripe refused the refund for good (a disputed charge, say): the order stays as it was."""

    status, code = 409, "REFUND_REFUSED"


class OrderNotCancellable(CartwiseError):
    status, code = 409, "ORDER_NOT_CANCELLABLE"


class PayloadTooLarge(CartwiseError):
    status, code = 413, "PAYLOAD_TOO_LARGE"


class EmptyCart(CartwiseError):
    status, code = 422, "EMPTY_CART"


class InvalidPromoCode(CartwiseError):
    status, code = 422, "INVALID_PROMO_CODE"


class IdempotencyKeyReused(CartwiseError):
    status, code = 422, "IDEMPOTENCY_KEY_REUSED"


class IdempotencyKeyRequired(CartwiseError):
    status, code = 400, "IDEMPOTENCY_KEY_REQUIRED"


class DeliveryRequired(CartwiseError):
    status, code = 422, "DELIVERY_REQUIRED"


class CountryNotServed(CartwiseError):
    status, code = 422, "COUNTRY_NOT_SERVED"


class ShippingMethodUnavailable(CartwiseError):
    status, code = 422, "SHIPPING_METHOD_UNAVAILABLE"


class OrderNotShippable(CartwiseError):
    status, code = 409, "ORDER_NOT_SHIPPABLE"


class OrderNotDeliverable(CartwiseError):
    status, code = 409, "ORDER_NOT_DELIVERABLE"


class QuantityLimit(CartwiseError):
    status, code = 422, "QUANTITY_LIMIT"


class RateLimited(CartwiseError):
    status, code = 429, "RATE_LIMITED"

    def __init__(self, message: str, retry_after: int, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, details)
        self.retry_after = max(1, retry_after)


class Unavailable(CartwiseError):
    status, code = 503, "UNAVAILABLE"


def is_transient(error: BaseException) -> bool:
    """True when an AWS call failed for a reason that a later retry may not meet."""
    exc: BaseException | None = error
    while exc is not None:
        if isinstance(exc, ClientError):
            return exc.response.get("Error", {}).get("Code") in TRANSIENT_CODES
        if isinstance(exc, BotoCoreError):
            return True
        # PynamoDB keeps the botocore error in `.cause` (it raises `Error(msg, e)`, not `from e`).
        exc = (exc.cause or exc.__cause__) if isinstance(exc, PynamoDBException) else None
    return False


def envelope(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def error_response(exc: Exception) -> Response:
    """Map any exception raised while serving a request to an HTTP response."""
    if not isinstance(exc, CartwiseError):
        if is_transient(exc):
            logger.warning("AWS dependency unavailable", exc_info=exc)
            exc = Unavailable("A storage dependency is busy, please retry shortly.")
        else:
            logger.exception("Unhandled error", exc_info=exc)
            exc = CartwiseError("Internal error.")
    headers: dict[str, str | list[str]] = {"Content-Type": "application/json"}
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(exc.retry_after)
    elif isinstance(exc, Unavailable):
        headers["Retry-After"] = RETRY_AFTER_SECONDS
    return Response(
        body=json.dumps(envelope(exc.code, exc.message, exc.details)),
        status_code=exc.status,
        headers=headers,
    )


# Chalice answers some requests itself (unknown route, wrong method, unsupported
# media type, its own 500); these are rewritten into the same envelope.
CHALICE_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "BAD_REQUEST",
    413: "PAYLOAD_TOO_LARGE",
    415: "BAD_REQUEST",
    429: "RATE_LIMITED",
}


def rewrite_chalice_error(response: Response) -> Response:
    body = response.body
    if response.status_code < 400 or not isinstance(body, dict) or "Code" not in body:
        return response
    code = CHALICE_CODES.get(response.status_code, "INTERNAL")
    message = "Internal error." if code == "INTERNAL" else str(body.get("Message", code))
    return Response(
        body=json.dumps(envelope(code, message)),
        status_code=response.status_code if code != "INTERNAL" else 500,
        headers={**response.headers, "Content-Type": "application/json"},
    )
