"""One shopper e-mail as one MIME message: a plain-text part and an HTML alternative, from templates.

The templates are files (chalicelib/mail/templates/: `{kind}.subject.txt`, `{kind}.txt`, `{kind}.html`,
sharing base.txt and base.html). Jinja2 escapes every value in the HTML ones (autoescape), so a product
named `<script>` or an address with quotes is shown as text. Headers are built by the standard `email`
package from Address objects, and every value that reaches one (the subject, the shopper's name) has
its line breaks and control characters folded to spaces first: a name holding "\r\nBcc: ..." can add
no header. Money is the order's, in the shop's currency, as the API shows it (pricing.format_money).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from chalicelib.models import OrderModel
from chalicelib.pricing import ZERO, format_money
from chalicelib.tenants import Tenant, parse_address

if TYPE_CHECKING:
    from email.headerregistry import Address
    from email.message import EmailMessage

    import jinja2

TEMPLATES = Path(__file__).resolve().parent / "templates"
KINDS = ("order_confirmation", "order_cancelled", "order_expired", "order_refunded", "order_shipped")
# Line breaks, tabs and every other control character (C0, DEL, C1) and the Unicode line separators.
_UNSAFE_IN_HEADER = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


@cache
def _environment() -> jinja2.Environment:
    import jinja2  # on the first e-mail: app.py imports this module for the notifier, and the API with it

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=jinja2.StrictUndefined,  # a misspelt field fails the render (and the message is retried)
        keep_trailing_newline=True,
    )


def one_line(text: str) -> str:
    """`text` safe for a header: control characters and line breaks become one space, the ends trimmed."""
    return _UNSAFE_IN_HEADER.sub(" ", text).strip()


def order_url(storefront_url: str, tenant_id: str, order_id: str, token: str) -> str:
    """The order's page in the storefront, opened with the e-mail's own token (the storefront drops it from
    the address bar once read)."""
    fragment = urlencode({"order": order_id, "token": token}, quote_via=quote)
    return f"{storefront_url}/index.html?{urlencode({'tenant': tenant_id})}#{fragment}"


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def context(kind: str, order: OrderModel, tenant: Tenant, link: str) -> dict[str, Any]:
    """What the templates show: the order's lines and totals as money of its currency, its address and link."""

    def money(amount: Decimal) -> str:
        return f"{format_money(amount)} {order.currency}"

    totals = order.totals
    delivery = order.delivery.as_dict() if order.delivery else {}
    address = {str(key): str(value) for key, value in (delivery.get("address") or {}).items() if value}
    rows = [
        address.get("name", ""),
        address.get("line1", ""),
        address.get("line2", ""),
        " ".join(part for part in (address.get("postal_code"), address.get("city")) if part),
        address.get("country", ""),
    ]
    method = delivery.get("method") or {}
    tracking_url = order.tracking_url if (order.tracking_url or "").startswith("https://") else None
    return {
        "kind": kind,
        "shop": tenant.name,
        "order_id": order.order_id,
        "order_url": link,
        "paid_by_card": order.payment_provider is not None,
        "lines": [
            {
                "name": line.name,
                "quantity": int(line.quantity),
                "unit_price": money(line.unit_price),
                "line_total": money(line.line_total),
            }
            for line in order.lines
        ],
        "promo_code": order.promo_code,
        "shipping_method": method.get("name"),
        "totals": {
            "subtotal": money(totals.subtotal),
            "has_discount": totals.discount > ZERO,
            "discount": money(totals.discount),
            "shipping": money(totals.shipping or ZERO),
            "vat_rate": f"{(totals.vat_rate * 100).normalize():f}%",
            "vat": money(totals.vat),
            "total": money(totals.total),
        },
        "address": {"name": address.get("name"), "rows": [row for row in rows if row]} if address else None,
        "carrier": order.carrier,
        "tracking_number": order.tracking_number,
        "tracking_url": tracking_url,
    }


def render(kind: str, values: dict[str, Any]) -> Rendered:
    environment = _environment()
    subject = one_line(environment.get_template(f"{kind}.subject.txt").render(values))
    return Rendered(
        subject=subject,
        text=environment.get_template(f"{kind}.txt").render(values),
        html=environment.get_template(f"{kind}.html").render({**values, "subject": subject}),
    )


def recipient(order: OrderModel) -> Address:
    """The order's e-mail, named as its delivery address names the shopper (folded to one line)."""
    from email.headerregistry import Address

    delivery = order.delivery.as_dict() if order.delivery else {}
    name = one_line(str((delivery.get("address") or {}).get("name") or ""))
    local, _, domain = (order.email or "").rpartition("@")
    return Address(display_name=name, username=local, domain=domain)


def build(kind: str, order: OrderModel, tenant: Tenant, link: str, now: Any) -> EmailMessage:
    """The e-mail `kind` about `order`, from the tenant's sender (tenant.mail must be set) to the order's e-mail."""
    # The email package's modern API, imported on the first e-mail only (app.py imports this module).
    from email.headerregistry import Address
    from email.message import EmailMessage
    from email.utils import format_datetime, make_msgid

    assert tenant.mail is not None
    rendered = render(kind, context(kind, order, tenant, link))
    message = EmailMessage()
    sender = parse_address(tenant.mail.sender)
    # The shop's name as set by its operator: folded too, whatever the tenants CLI let through.
    message["From"] = Address(one_line(sender.display_name), sender.username, sender.domain)
    message["To"] = recipient(order)
    if tenant.mail.reply_to:
        message["Reply-To"] = parse_address(tenant.mail.reply_to)
    message["Subject"] = rendered.subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=sender.domain)
    # Quoted-printable keeps every line 7-bit and short, whatever the names hold: any SMTP hop takes it.
    message.set_content(rendered.text, cte="quoted-printable")
    message.add_alternative(rendered.html, subtype="html", cte="quoted-printable")
    return message
