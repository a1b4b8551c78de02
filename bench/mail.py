"""Shopper e-mails in `make bench` (section 9): the time from a card payment's answer to its confirmation
in MailDev, with the pipe as `make run` runs it (support/mail_shop.py): the orders-stream poller on
DynamoDB Local's stream, the bus's rule and the notifier's queue on the moto server, the notifier's
poller, MailDev over SMTP. One order at a time, so each figure is one order's own path; the confirmation's
time is MailDev's receipt stamp, not a poll's. Also counted: the e-mails to each shopper (exactly 1).
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
            _, _ = pay_card_order(api_url, stripe_url, tenant, shopper, {"lamp": 1})
            paid_at = time.time()  # the payment's answer: the order is paid in DynamoDB by now
            (arrived,) = pipe.wait_for(shopper)
            received = datetime.fromisoformat(arrived["time"].replace("Z", "+00:00")).timestamp()
            seconds.append(received - paid_at)
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


def _point_at(env: Mapping[str, str]) -> None:
    """This process sets up the shop and pays: point it at the stack and its localstripe."""
    os.environ.update(env)
    config.reset()
    clients.reset()
    tenants.clear_cache()
