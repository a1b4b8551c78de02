"""The shopper e-mail as a MIME message, built from an order in memory: headers that no name can add to,
HTML that shows names as text, the kind each order event asks for, the order page's link."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from chalicelib.mail import message, notifier
from chalicelib.models import OrderModel
from chalicelib.tenants import MailSender, Tenant, parse_address
from tests.mail import parse, parts, sample_order

NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def order(name: str = "Ada Lovelace", product: str = "Ridgeline 2-Person Tent"):
    return sample_order("acme", "01J0000000000000000000000A", name, product)


def shop(name: str = "Acme Outdoor", sender: str = "Acme Outdoor <orders@acme.example>") -> Tenant:
    """The shop's name (in the subject and the body) may be anything its operator typed; its sender is
    checked when written (set-mail) and parsed again when a message is built."""
    return Tenant("acme", name, "EUR", Decimal("0.075"), mail=MailSender(sender))


def built(record: OrderModel, tenant: Tenant, kind: str = "order_confirmation"):
    link = message.order_url("https://shop.example", "acme", record.order_id, "tok-en_1")
    return parse(message.build(kind, record, tenant, link, NOW).as_bytes())


def test_the_message_carries_every_figure_in_the_shops_currency():
    sent = built(order(), shop())
    assert sent["Subject"] == "Acme Outdoor: your order 01J0000000000000000000000A is confirmed"
    assert sent["Date"] == "Tue, 01 Dec 2026 09:30:00 +0000"
    assert sent["Message-ID"].endswith("@acme.example>")
    text, html = parts(sent)
    assert (
        "  3 x Ridgeline 2-Person Tent at 4.45 EUR = 13.35 EUR\n\n"
        "  Subtotal:  13.35 EUR\n"
        "  Discount (TRAIL5): -0.67 EUR\n"
        "  Shipping (Standard): 4.90 EUR\n"
        "  VAT (7.5%): 1.32 EUR\n"
        "  Total:     18.90 EUR\n"
    ) in text
    assert "Delivery address:\n  Ada Lovelace\n  Rue 1\n  75001 Paris\n  FR\n" in text  # the empty line2 left out
    assert (
        "Your order's page: https://shop.example/index.html?tenant=acme#order=01J0000000000000000000000A&token=tok-en_1\n"
        in text
    )
    assert (
        '<a href="https://shop.example/index.html?tenant=acme#order=01J0000000000000000000000A&amp;token=tok-en_1">'
        in html
    )


@pytest.mark.parametrize(
    "hostile",
    [
        "Eve\r\nBcc: victim@evil.example",
        "Eve\nBcc: victim@evil.example",
        "Eve\rBcc: victim@evil.example",
        "Eve\u2028Bcc: victim@evil.example",
        "Eve\x00\x1b[31m\x85Bcc: victim@evil.example",
    ],
)
def test_no_line_break_in_a_name_reaches_a_header(hostile):
    """Names the API would refuse anyway (printable text only): the message is safe without that check."""
    sent = built(order(name=hostile), shop(name=f"Acme{hostile[3:]}"))
    header_block = sent.as_bytes().split(b"\n\n", 1)[0]  # the body may say anything: it is text
    assert b"\nBcc:" not in header_block
    assert b"\rBcc:" not in header_block
    assert sent["Bcc"] is None
    assert set(sent.keys()) == {
        "From",
        "To",
        "Reply-To",
        "Subject",
        "Date",
        "Message-ID",
        "MIME-Version",
        "Content-Type",
    } - {"Reply-To"}
    assert sent["To"].addresses[0].addr_spec == "ada@example.com"
    assert sent["To"].addresses[0].display_name.endswith("Bcc: victim@evil.example")
    assert "\n" not in sent["Subject"]
    assert "\r" not in sent["Subject"]
    assert sent["From"].addresses[0].addr_spec == "orders@acme.example"


def test_html_shows_names_as_text():
    sent = built(order(name='<b>"Eve"</b>', product="<script>alert('x')</script> & co"), shop(name="A&B <Shop>"))
    text, html = parts(sent)
    assert "<script>" not in html
    assert "<b>" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co" in html
    assert "Hello &lt;b&gt;&#34;Eve&#34;&lt;/b&gt;," in html
    assert "<title>A&amp;B &lt;Shop&gt;: your order" in html
    assert "3 x <script>alert('x')</script> & co at 4.45 EUR" in text
    assert sent["Subject"] == "A&B <Shop>: your order 01J0000000000000000000000A is confirmed"


def test_a_tracking_link_that_is_not_https_is_left_out():
    record = order()
    record.carrier, record.tracking_number, record.tracking_url = "DHL", "JD1", "javascript:alert(1)"
    text, html = parts(built(record, shop(), "order_shipped"))
    assert "is on its way with DHL, tracking number JD1." in text
    assert "javascript" not in text
    assert "javascript" not in html


@pytest.mark.parametrize(
    ("detail_type", "status", "kind"),
    [
        ("order_created", "confirmed", "order_confirmation"),
        ("order_created", "pending_payment", None),
        ("order_paid", "paid", "order_confirmation"),
        ("order_cancelled", "cancelled", "order_cancelled"),
        ("order_expired", "expired", "order_expired"),
        ("order_refunded", "refunded", "order_refunded"),
        ("order_shipped", "shipped", "order_shipped"),
        ("order_delivered", "delivered", None),
    ],
)
def test_the_kind_of_e_mail_each_event_asks_for(detail_type, status, kind):
    assert notifier.kind_of(detail_type, {"status": status}) == kind


def test_the_rule_sends_exactly_the_events_that_mail():
    mailing = {
        t for t in notifier.MAILED_EVENTS if any(notifier.kind_of(t, {"status": s}) for s in ("confirmed", "paid"))
    }
    assert mailing == set(notifier.MAILED_EVENTS)
    assert notifier.event_pattern() == {"source": ["cartwise.orders"], "detail-type": list(notifier.MAILED_EVENTS)}
    assert set(message.KINDS) == {notifier.kind_of(t, {"status": "confirmed"}) for t in notifier.MAILED_EVENTS}


@pytest.mark.parametrize(
    "text",
    ["a@b.example, c@d.example", "Eve <e@x.example>\r\nBcc: v@x.example", "nobody", "Shop <x@localhost>", ""],
)
def test_a_sender_must_be_one_valid_address_on_one_line(text):
    with pytest.raises(ValueError, match=r"^(an address is printable|not one e-mail address|not a valid e-mail)"):
        parse_address(text)
