"""MailDev beside a local stack, as `make run` runs it, and a card shop whose paid orders e-mail their
shoppers: for the tests (tests/stack, tests/browser) and `make bench` (bench/mail.py)."""

from __future__ import annotations

import json
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx

from chalicelib import tenants
from chalicelib.models import ProductModel
from support.card_shop import card, open_card_shop, save_card

ACME = Path(__file__).resolve().parent.parent / "data" / "tenants" / "acme.json"


class MailPipe:
    """What `make run` adds to a stack for e-mails: MailDev on the stack's SMTP and mailbox ports, the
    orders-stream poller and the notifier's queue poller (as processes, the way scripts/local_stack.py
    starts them). A context manager; `mailbox()` lists what arrived through MailDev's REST API."""

    def __init__(self, stack: Any, log_dir: Any) -> None:
        self.stack = stack
        self.log_dir = log_dir
        self.processes: list[Any] = []

    def __enter__(self) -> MailPipe:
        from scripts.local_stack import start_maildev, start_notifier, start_orders_stream

        try:
            self.processes.append(start_maildev(self.stack.smtp_port, self.stack.mailbox_port, log_dir=self.log_dir))
            self.processes.append(start_orders_stream(self.stack.env, log_dir=self.log_dir))
            self.processes.append(start_notifier(self.stack.env, log_dir=self.log_dir))
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc_info: Any) -> None:
        while self.processes:
            self.processes.pop().stop()

    def mailbox(self, to: str | None = None) -> list[dict[str, Any]]:
        """MailDev's e-mails (GET /api/email), to `to` only when given, oldest first."""
        listed = httpx.get(f"{self.stack.mailbox_url}/api/email", timeout=10).json()
        return [mail for mail in listed if to is None or any(r["address"] == to for r in mail["to"])]

    def raw(self, mail: dict[str, Any]) -> EmailMessage:
        """The message as MailDev received it (GET /api/email/{id}/source)."""
        source = httpx.get(f"{self.stack.mailbox_url}/api/email/{mail['id']}/source", timeout=10).content
        message = message_from_bytes(source, policy=policy.default)
        assert isinstance(message, EmailMessage)
        return message

    def wait_for(
        self, to: str, count: int = 1, timeout: float = 30.0, poll_seconds: float = 0.05
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(found := self.mailbox(to)) < count:
            assert time.monotonic() < deadline, f"{count} e-mail(s) to {to} not in MailDev within {timeout} s"
            time.sleep(poll_seconds)
        return found


def open_mailing_card_shop(tenant_id: str, stock: int | None = None) -> None:
    """A fresh card tenant (support/card_shop.py's products: lamp 10.00, stove 25.50, tarp 7.25, scarce
    unless `stock` is given), shipping as acme does (standard 4.90 within the EU, free over 50.00), its
    sender set."""
    acme = json.loads(ACME.read_text())
    open_card_shop(tenant_id)
    if stock is not None:
        for product in ProductModel.query(tenant_id):
            ProductModel(tenant_id, product.product_id).update(actions=[ProductModel.stock.set(stock)])
    tenants.set_shipping(tenant_id, acme["shipping"])
    tenants.set_mail(tenant_id, "Trail Supplies <orders@trail.example>")


def pay_card_order(
    api_url: str, localstripe_url: str, tenant_id: str, email: str, items: dict[str, int]
) -> tuple[dict[str, Any], float]:
    """Check out `items` at a card tenant (delivered to Berlin by standard shipping) and pay by card at
    localstripe as the storefront does; (the paid order, time.monotonic() when the payment was answered)."""
    base = f"{api_url}/tenants/{tenant_id}"
    address = {
        "name": "Ada Lovelace",
        "line1": "Hauptstr. 1",
        "city": "Berlin",
        "postal_code": "10115",
        "country": "DE",
    }
    with httpx.Client(timeout=60) as http:
        cart = http.post(f"{base}/carts", json={"items": [{"product_id": p, "quantity": q} for p, q in items.items()]})
        cart_id = cart.json()["cart_id"]
        delivery = {"email": email, "address": address, "method": "standard"}
        assert http.put(f"{base}/carts/{cart_id}/delivery", json=delivery).status_code == 200
        placed = http.post(f"{base}/carts/{cart_id}/checkout", headers={"Idempotency-Key": f"pay-{cart_id}"}).json()
        order_id, token = placed["order"]["order_id"], {"X-Order-Token": placed["order_token"]}
        method = card(localstripe_url, "pays", tenant_id)
        setup = http.post(f"{base}/orders/{order_id}/payment/setup", json={"attempt": method}, headers=token).json()
        save_card(localstripe_url, method, setup["client_secret"])  # as Stripe.js's confirmCardSetup
        paid = http.post(f"{base}/orders/{order_id}/payment", json={"payment_method": method}, headers=token)
        answered = time.monotonic()
    assert paid.status_code == 200, paid.text
    assert paid.json()["order"]["status"] == "paid"
    return paid.json()["order"], answered
