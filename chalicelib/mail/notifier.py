"""Order events to shopper e-mails: the notifier function's work (app.py, fed by an SQS queue).

The orders stream publishes order events to the stage's bus (chalicelib/orders_stream.py); a rule sends
those that mail (MAILED_EVENTS) to a queue, which the notifier drains in batches. Each message is one
EventBridge event: its kind of e-mail is decided here (`kind_of`), the order is read again (the event
names no e-mail address), the e-mail is claimed (chalicelib/mail/claims.py), built from the templates
(chalicelib/mail/message.py) and handed to the transport. The order itself is only read, never written.

Events arrive at least once and in any order. Every (order, kind) is its own claim, so an
`order_shipped` before its `order_confirmation` sends both, each once. An e-mail the order's later
history made untrue is not sent (SUPERSEDED_BY): a confirmation reaching an order that was cancelled
meanwhile (an on-delivery order cancelled at once), an expiry notice reaching an order a late payment
sold after all. The cancellation or the confirmation says what happened instead.

Each message that fails (the transport down, another notifier's claim still live, an unreadable body)
is reported by its messageId in Lambda's partial batch response (ReportBatchItemFailures, set in
infra/template.yml: Chalice cannot): SQS redelivers only those, and after maxReceiveCount receives
moves them to the dead-letter queue, from which an operator redrives them (docs/operations.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chalicelib import tenants
from chalicelib.config import get_settings
from chalicelib.errors import TenantNotFound
from chalicelib.mail import claims, message, transport
from chalicelib.models import OrderModel
from chalicelib.observability import logger

# The events the bus's rule sends to the notifier's queue (infra/template.yml, scripts/provision.py).
MAILED_EVENTS = ("order_created", "order_paid", "order_cancelled", "order_expired", "order_refunded", "order_shipped")
EVENT_SOURCE = "cartwise.orders"
# Chalice needs a literal queue at import time; the deployed one is the stack's (infra/template.yml).
QUEUE_ARN_PLACEHOLDER = "arn:aws:sqs:us-east-1:000000000000:cartwise-dev-mail-set-by-infra"
# The queue's redrive: a message failing this many receives goes to the dead-letter queue (kept 14 days).
MAX_RECEIVE_COUNT = 5
DEAD_LETTER_RETENTION_SECONDS = 14 * 24 * 3600
# Longer than the claim's lease (MAIL_LEASE_SECONDS, 60) and six times the function's timeout (15 s), as
# Lambda advises: a message redelivered after its notifier crashed finds that claim's lease run out.
VISIBILITY_TIMEOUT_SECONDS = 90
# An e-mail the order's later history made untrue: the order carries this timestamp.
SUPERSEDED_BY = {"order_confirmation": "cancelled_at", "order_expired": "paid_at"}


class MailNotConfigured(Exception):
    """The tenant has no sender (`python -m scripts.tenants set-mail`): the message waits, then dead-letters."""


def event_pattern() -> dict[str, Any]:
    """The bus rule's event pattern: the same locally (scripts/provision.py) and in infra/template.yml."""
    return {"source": [EVENT_SOURCE], "detail-type": list(MAILED_EVENTS)}


def kind_of(detail_type: str, detail: dict[str, Any]) -> str | None:
    """The e-mail an order event asks for; None for the events that mail nothing (a card order's creation:
    it is confirmed when paid)."""
    if detail_type == "order_created":
        return "order_confirmation" if detail.get("status") == "confirmed" else None
    return {
        "order_paid": "order_confirmation",
        "order_cancelled": "order_cancelled",
        "order_expired": "order_expired",
        "order_refunded": "order_refunded",
        "order_shipped": "order_shipped",
    }.get(detail_type)


@dataclass(frozen=True)
class Outcome:
    result: str  # "sent", "duplicate", "skipped"
    kind: str | None = None
    reason: str = ""


def handle_event(event: dict[str, Any], now: datetime | None = None, via: transport.Transport | None = None) -> Outcome:
    """Send the e-mail one order event (as EventBridge delivers it) asks for, once; raises when it must be retried."""
    detail_type = event["detail-type"]
    detail = event["detail"]
    kind = kind_of(detail_type, detail)
    if kind is None:
        return Outcome("skipped", None, f"{detail_type} mails nothing")
    tenant_id, order_id = detail["tenant_id"], detail["order_id"]
    try:
        order = OrderModel.get(tenant_id, order_id, consistent_read=True)
    except OrderModel.DoesNotExist:
        return Outcome("skipped", kind, "no such order")
    if not order.email:
        return Outcome("skipped", kind, "the order has no e-mail address")  # placed before delivery existed
    if (stamp := SUPERSEDED_BY.get(kind)) and getattr(order, stamp) is not None:
        return Outcome("skipped", kind, f"superseded: the order has {stamp}")
    try:
        tenant = tenants.get_tenant(tenant_id)
    except TenantNotFound:
        return Outcome("skipped", kind, "no such tenant")
    if tenant.mail is None:
        raise MailNotConfigured(f"tenant {tenant_id} has no mail sender: python -m scripts.tenants set-mail")
    now = now or datetime.now(UTC)
    settings = get_settings()
    held = claims.claim(tenant_id, order_id, kind, detail.get("event_id", ""), settings.mail_lease_seconds, now)
    if held.outcome is claims.Claimed.ALREADY_SENT:
        return Outcome("duplicate", kind)
    try:
        link = message.order_url(settings.storefront_url, tenant_id, order_id, held.token)
        mime = message.build(kind, order, tenant, link, now)
        message_id = (via or transport.configured()).send(mime)
    except Exception:
        claims.release(held)
        raise
    if not claims.mark_sent(held, message_id, datetime.now(UTC)):
        logger.warning("Shopper e-mail sent twice: its claim lapsed while sending", mail_id=held.mail_id)
    return Outcome("sent", kind, held.outcome.value)


def process_messages(records: Iterable[dict[str, Any]], via: transport.Transport | None = None) -> dict[str, Any]:
    """Handle a batch of SQS messages (Lambda's event records); returns the partial batch response naming
    the messages to deliver again."""
    failures = []
    for record in records:
        message_id = record["messageId"]
        try:
            event = json.loads(record["body"])
            outcome = handle_event(event, via=via)
            logger.info(
                "Shopper e-mail " + outcome.result,
                kind=outcome.kind,
                reason=outcome.reason,
                event_id=event["detail"].get("event_id"),
            )
        except claims.InFlight as exc:
            logger.info("Shopper e-mail in flight elsewhere; retried later", message_id=message_id, reason=str(exc))
            failures.append({"itemIdentifier": message_id})
        except Exception as exc:  # noqa: BLE001 - this message alone is retried, then dead-lettered
            logger.exception("Shopper e-mail failed", message_id=message_id, error=repr(exc))
            failures.append({"itemIdentifier": message_id})
    return {"batchItemFailures": failures}
