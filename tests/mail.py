"""Reading shopper e-mails in tests: parse a raw message, its two parts, its order-page link; drain the
notifier's queue as Lambda's event source mapping does (scripts/notifier.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, urlsplit

LINK = re.compile(r"Your order's page: (\S+)")


def parse(raw: bytes | str) -> EmailMessage:
    data = raw.encode() if isinstance(raw, str) else raw
    message = message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def parts(message: EmailMessage) -> tuple[str, str]:
    """(plain text, HTML) of a multipart/alternative message, decoded, with SMTP's CRLF line ends as LF."""
    assert message.get_content_type() == "multipart/alternative"
    text, html = (part.get_content().replace("\r\n", "\n") for part in message.iter_parts())
    return text, html


def order_link(message: EmailMessage) -> str:
    text, _ = parts(message)
    match = LINK.search(text)
    assert match, text
    return match.group(1)


def link_token(link: str) -> tuple[str, str, str]:
    """(tenant, order id, token) of an order-page link: ...index.html?tenant=t#order=id&token=..."""
    parts_ = urlsplit(link)
    fragment = parse_qs(parts_.fragment)
    return parse_qs(parts_.query)["tenant"][0], fragment["order"][0], fragment["token"][0]


def sent_by_ses() -> list[EmailMessage]:
    """What moto's SES took, oldest first."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    return [parse(message.raw_data) for message in ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages]


def headers(message: EmailMessage) -> dict[str, Any]:
    return {name: str(message[name]) for name in ("From", "To", "Reply-To", "Subject") if message[name] is not None}


def sample_order(tenant_id: str, order_id: str, name: str = "Ada Lovelace", product: str = "Ridgeline 2-Person Tent"):
    """An on-delivery order as the checkout writes it (not saved): 3 x 4.45 with TRAIL5, standard shipping,
    VAT 7.5 %: subtotal 13.35, discount 0.67, shipping 4.90, VAT 1.32, total 18.90 EUR."""
    from chalicelib.models import OrderLine, OrderModel, OrderTotals

    return OrderModel(
        tenant_id,
        order_id,
        cart_id="c",
        status="confirmed",
        currency="EUR",
        email="ada@example.com",
        lines=[
            OrderLine(product_id="p", name=product, unit_price=Decimal("4.45"), quantity=3, line_total=Decimal("13.35"))
        ],
        totals=OrderTotals(
            subtotal=Decimal("13.35"),
            discount=Decimal("0.67"),
            net=Decimal("12.68"),
            vat_rate=Decimal("0.075"),
            vat=Decimal("1.32"),
            total=Decimal("18.90"),
            shipping=Decimal("4.90"),
        ),
        promo_code="TRAIL5",
        delivery={
            "address": {
                "name": name,
                "line1": "Rue 1",
                "line2": "",
                "city": "Paris",
                "postal_code": "75001",
                "country": "FR",
            },
            "method": {"id": "standard", "name": "Standard", "price": "4.90", "days": {"min": 2, "max": 4}},
        },
        created_at=datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
    )
