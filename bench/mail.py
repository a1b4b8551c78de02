"""Shopper e-mails in `make bench` (section 10): the time from a card order becoming paid (its
timeline's `paid`, the payment's transition in DynamoDB) to its confirmation in MailDev, with the pipe
as `make run` runs it (support/mail_shop.py): the orders-stream poller on DynamoDB Local's stream, the
bus's rule and the notifier's queue on the moto server, the notifier's poller, MailDev over SMTP. One
order at a time, so each figure is one order's own path; the start is the order's own stamp, the end
when MailDev's REST API (polled every 20 ms) first lists the e-mail. Also counted: the e-mails each
shopper got (exactly 1).
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from chalicelib import clients, config, tenants
from support.mail_shop import MailPipe, open_mailing_card_shop, pay_card_order

ORDERS = 20
# MailDev stamps a message with its Date header (whole seconds), so its arrival is seen by polling
# MailDev's REST API this often: the figures are late by at most this and one request.
POLL_SECONDS = 0.02


def phase_mail(stack: Any, api_url: str, stripe_url: str, log_dir: Path, orders: int = ORDERS) -> dict[str, Any]:
    _point_at(stack.env)
    tenant = f"bench-mail-{int(time.time())}"
    open_mailing_card_shop(tenant, stock=1000)
    seconds: list[float] = []
    shoppers = []
    with MailPipe(stack, log_dir) as pipe:
        for index in range(orders):
            shopper = f"shopper-{index}-{tenant}@example.com"
            shoppers.append(shopper)
            order, _ = pay_card_order(api_url, stripe_url, tenant, shopper, {"lamp": 1})
            pipe.wait_for(shopper, poll_seconds=POLL_SECONDS)
            seconds.append(time.time() - _stamp(_paid_at(order)))
        time.sleep(2)  # the stream repeats order_paid (the count mark's change): duplicates would show by now
        per_shopper = [len(pipe.mailbox(shopper)) for shopper in shoppers]
    cuts = statistics.quantiles(seconds, n=20, method="inclusive")
    return {
        "orders": orders,
        "p50_s": round(statistics.median(seconds), 2),
        "p95_s": round(cuts[18], 2),
        "max_s": round(max(seconds), 2),
        "emails_per_order": sorted(set(per_shopper)),
    }


def _paid_at(order: dict[str, Any]) -> str:
    """When the order became paid (its timeline's `paid`, set by the payment's transition in DynamoDB)."""
    (paid,) = [entry["at"] for entry in order["timeline"] if entry["event"] == "paid"]
    return str(paid)


def _stamp(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _point_at(env: Mapping[str, str]) -> None:
    """This process sets up the shop and pays: point it at the stack and its localstripe."""
    os.environ.update(env)
    config.reset()
    clients.reset()
    tenants.clear_cache()
