"""The shoppers' e-mails as `make run` sends them: a real checkout and card payment at localstripe, the
orders stream and the bus's rule on the moto server, the notifier's queue drained by its poller, MailDev
on SMTP; the confirmation read back through MailDev's REST API, exactly once, with its figures."""

from __future__ import annotations

import time

import pytest

from chalicelib.ids import new_ulid
from support.mail_shop import MailPipe, open_mailing_card_shop, pay_card_order
from tests.mail import order_link, parts


@pytest.fixture(scope="module")
def pipe(local_stack, tmp_path_factory):
    with MailPipe(local_stack, tmp_path_factory.mktemp("mail-pipe")) as running:
        yield running


def test_a_paid_card_order_is_confirmed_once_in_maildev(local_stack, stack_aws, localstripe_url, pipe):
    tenant = f"mail-{new_ulid().lower()[-10:]}"
    open_mailing_card_shop(tenant)
    shopper = f"ada-{tenant}@example.com"
    # 2 x lamp 10.00 + tarp 7.25 = 27.25; standard shipping 4.90 (under 50.00); VAT 20 % of 32.15 = 6.43.
    order, _ = pay_card_order(local_stack.api_url, localstripe_url, tenant, shopper, {"lamp": 2, "tarp": 1})
    assert order["totals"]["total"] == "38.58"
    (arrived,) = pipe.wait_for(shopper)
    # order_paid comes twice from the stream (the payment, then the up-sell's count mark): still one e-mail.
    time.sleep(2)
    assert len(pipe.mailbox(shopper)) == 1
    assert arrived["subject"] == f"Card crowd: your order {order['order_id']} is confirmed"
    assert arrived["from"] == [{"address": "orders@trail.example", "name": "Trail Supplies"}]
    assert arrived["to"] == [{"address": shopper, "name": "Ada Lovelace"}]
    message = pipe.raw(arrived)
    text, html = parts(message)
    assert "Your payment of 38.58 EUR was received; we are getting it ready." in text
    assert (
        "  2 x Lamp at 10.00 EUR = 20.00 EUR\n"
        "  1 x Tarp at 7.25 EUR = 7.25 EUR\n\n"
        "  Subtotal:  27.25 EUR\n"
        "  Shipping (Standard): 4.90 EUR\n"
        "  VAT (20%): 6.43 EUR\n"
        "  Total:     38.58 EUR\n"
    ) in text
    assert arrived["html"] == html
    link = order_link(message)
    assert link.startswith(f"{local_stack.aws_url}/cartwise-dev-storefront/index.html?tenant={tenant}#order=")
