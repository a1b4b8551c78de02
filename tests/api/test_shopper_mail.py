"""Shopper e-mails from order events (moto): the whole pipe in-process. The orders-stream handler publishes
each order's events to the bus, the bus's rule (made by provisioning as the template makes it) puts those
that mail on the notifier's queue, the queue is drained into app.notify_shopper as Lambda does, and the
e-mails go to moto's SES. Exact headers and figures; once per (order, kind) under duplicated and reordered
events; failures retried, then dead-lettered, the order never touched.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib import clients, orders, tenants
from chalicelib.config import get_settings
from chalicelib.mail import claims, notifier
from chalicelib.models import MailModel, OrderModel
from scripts.notifier import QueuePoller
from tests.admin import ACME_KEY
from tests.mail import headers, link_token, order_link, parts, sent_by_ses
from tests.streams import synthetic_record

CARTS = "/tenants/acme/carts"
ORDERS = "/tenants/acme/orders"
ADA = {"name": "Ada Lovelace", "line1": "Hauptstr. 1", "city": "Berlin", "postal_code": "10115", "country": "DE"}
FROM = "Acme Outdoor <orders@acme.example>"
REPLY_TO = "Acme Outdoor Help <help@acme.example>"


@pytest.fixture
def mail(aws):
    """acme's and globex's senders verified in moto's SES, as an operator verifies them (docs/deploy.md)."""
    ses = clients.client("ses")
    for address in ("orders@acme.example", "orders@globex.example"):
        ses.verify_email_identity(EmailAddress=address)
    return Pipe()


class Pipe:
    """The stream handler and the notifier's queue, driven by hand."""

    def __init__(self) -> None:
        from app import notify_shopper, order_stream

        self.order_stream = order_stream
        self.sqs = clients.client("sqs")
        self.queue_url = self.sqs.get_queue_url(QueueName=get_settings().mail_queue_name)["QueueUrl"]
        self.poller = QueuePoller(self.sqs, self.queue_url, lambda event: notify_shopper(event, None), wait_seconds=0)
        self.sequence = 0

    def stream(self, order_id: str, event_name: str = "MODIFY", tenant_id: str = "acme") -> None:
        """The orders stream's record of the order as it is now (INSERT or MODIFY), handled once."""
        self.sequence += 1
        record = synthetic_record(order_item(order_id, tenant_id), event_name, self.sequence)
        assert self.order_stream({"Records": [record]}, None) == {"batchItemFailures": []}

    def messages(self) -> list[dict]:
        """Take every message off the queue (to hand them over in an order of the test's choosing)."""
        taken = []
        while batch := self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages"):
            taken += batch
            for message in batch:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return taken

    def notify(self, *messages: dict) -> dict:
        """Hand messages to the notifier as one Lambda batch; its partial batch response."""
        from app import notify_shopper
        from scripts.notifier import lambda_record

        records = [lambda_record(message, self.poller.queue_arn, "us-east-1") for message in messages]
        return notify_shopper({"Records": records}, None)

    def deliver(self) -> tuple[int, int]:
        """Drain the queue as Lambda does: (handled, left for redelivery)."""
        handled = retried = 0
        while True:
            done, left = self.poller.poll_once()
            if not done and not left:
                return handled, retried
            handled, retried = handled + done, retried + left


def place(api, items, *, promo=None, method="standard", address=ADA, email="ada@example.com") -> dict:
    cart_id = api.post(CARTS, {"items": [{"product_id": p, "quantity": q} for p, q in items]}).data["cart_id"]
    assert (
        api.put(f"{CARTS}/{cart_id}/delivery", {"email": email, "address": address, "method": method}).status_code
        == 200
    )
    if promo:
        assert api.put(f"{CARTS}/{cart_id}/promo", {"code": promo}).status_code == 200
    answer = api.post(f"{CARTS}/{cart_id}/checkout", headers={"Idempotency-Key": f"mail-{cart_id}"})
    assert answer.status_code == 201, answer.data
    return answer.data


def order_item(order_id: str, tenant_id: str = "acme") -> dict:
    """The order exactly as DynamoDB stores it (a stream record's NEW_IMAGE)."""
    key = {"tenant_id": {"S": tenant_id}, "order_id": {"S": order_id}}
    return clients.client("dynamodb").get_item(TableName=OrderModel.Meta.table_name, Key=key)["Item"]


def order_record(order_id: str) -> dict:
    return order_item(order_id)


TENT_AND_HEADLAMPS_TEXT = """\
Order {order_id}

  1 x Ridgeline 2-Person Tent at 129.00 EUR = 129.00 EUR
  2 x LED Headlamp 300 at 24.99 EUR = 49.98 EUR

  Subtotal:  178.98 EUR
  Discount (SUMMER10): -17.90 EUR
  Shipping (Standard): 0.00 EUR
  VAT (20%): 32.22 EUR
  Total:     193.30 EUR

Delivery address:
  Ada Lovelace
  Hauptstr. 1
  10115 Berlin
  DE
"""


@pytest.mark.usefixtures("acme_on_delivery")
def test_an_on_delivery_order_is_confirmed_once_whatever_the_redeliveries(api, mail):
    placed = place(api, [("tent-2p", 1), ("headlamp", 2)], promo="SUMMER10")
    order_id = placed["order"]["order_id"]
    assert placed["order"]["totals"]["total"] == "193.30"
    for _ in range(3):  # the stream redelivers the INSERT: three order_created events, one event_id
        mail.stream(order_id, "INSERT")
    assert mail.deliver() == (3, 0)
    (sent,) = sent_by_ses()
    assert headers(sent) == {
        "From": FROM,
        "To": "Ada Lovelace <ada@example.com>",
        "Reply-To": REPLY_TO,
        "Subject": f"Acme Outdoor: your order {order_id} is confirmed",
    }
    text, html = parts(sent)
    assert text.startswith(
        "Hello Ada Lovelace,\n\nThank you for your order at Acme Outdoor. You pay 193.30 EUR on delivery;"
    )
    assert TENT_AND_HEADLAMPS_TEXT.format(order_id=order_id) in text
    assert '<td>LED Headlamp 300</td><td align="right">2</td><td align="right">24.99 EUR</td>' in html
    assert '<th align="right">193.30 EUR</th>' in html
    assert "<p>Ada Lovelace<br>Hauptstr. 1<br>10115 Berlin<br>DE</p>" in html
    tenant, linked, token = link_token(order_link(sent))
    assert (tenant, linked) == ("acme", order_id)
    assert f'<a href="{order_link(sent).replace("&", "&amp;")}">See your order</a>' in html
    # The claim: sent, its token stored as a digest only.
    record = MailModel.get("acme", f"{order_id}#order_confirmation", consistent_read=True)
    assert (record.state, record.attempts, record.event_id) == ("sent", 1, f"order_created:acme:{order_id}")
    assert token not in json.dumps(
        MailModel.get("acme", f"{order_id}#order_confirmation").attribute_values, default=str
    )
    # A redelivery of the queue's message itself (SQS is at least once too): still one e-mail.
    mail.stream(order_id, "INSERT")
    assert mail.deliver() == (1, 0)
    assert len(sent_by_ses()) == 1


def test_a_card_order_is_confirmed_when_paid_not_when_placed(api, mail):
    placed = place(api, [("wool-socks", 1)])  # 12.49 + standard shipping 4.90 (under 50.00) + VAT 3.48
    order_id = placed["order"]["order_id"]
    assert placed["order"]["status"] == "pending_payment"
    mail.stream(order_id, "INSERT")
    assert mail.deliver() == (1, 0)
    assert sent_by_ses() == []  # a card order's order_created mails nothing: it may never be paid
    assert orders.mark_paid(orders.get_order("acme", order_id, consistent=True)) is orders.Moved.DONE
    mail.stream(order_id)
    mail.stream(order_id)  # the count mark's MODIFY repeats order_paid
    assert mail.deliver() == (2, 0)
    (sent,) = sent_by_ses()
    assert sent["Subject"] == f"Acme Outdoor: your order {order_id} is confirmed"
    text, _ = parts(sent)
    assert "Your payment of 20.87 EUR was received; we are getting it ready." in text
    assert "  1 x Merino Hiking Socks at 12.49 EUR = 12.49 EUR\n" in text
    assert "  Shipping (Standard): 4.90 EUR\n  VAT (20%): 3.48 EUR\n  Total:     20.87 EUR\n" in text
    assert "Discount" not in text


def test_every_kind_of_e_mail(api, mail):
    """Cancelled, expired, refunded (card orders), shipped with its carrier and tracking link."""
    cancelled = place(api, [("headlamp", 1)])["order"]["order_id"]
    assert orders.cancel("acme", cancelled).status == "cancelled"
    expired = place(api, [("sun-hat", 1)])["order"]["order_id"]
    lapsed = orders.get_order("acme", expired, consistent=True)
    assert orders.expire(lapsed, lapsed.hold_expires_at + timedelta(seconds=1))
    refunded = place(api, [("cook-set", 1)])["order"]["order_id"]
    assert orders.mark_paid(orders.get_order("acme", refunded, consistent=True)) is orders.Moved.DONE
    shipped = place(api, [("camp-chair", 2)])["order"]["order_id"]
    assert orders.mark_paid(orders.get_order("acme", shipped, consistent=True)) is orders.Moved.DONE
    for order_id in (cancelled, expired, refunded, shipped):
        mail.stream(order_id)
    shipment = {"carrier": "DHL", "tracking_number": "JD0001", "tracking_url": "https://dhl.example/track?id=JD0001"}
    assert api.post(f"{ORDERS}/{shipped}/shipment", shipment, headers={"X-Api-Key": ACME_KEY}).status_code == 200
    mail.stream(shipped)
    paid = orders.get_order("acme", refunded, consistent=True)
    assert orders.mark_refunded(paid, "requested_by_admin") is orders.Moved.DONE
    mail.stream(refunded)
    assert mail.deliver() == (6, 0)
    by_subject = {message["Subject"]: message for message in sent_by_ses()}
    assert sorted(by_subject) == sorted(
        [
            f"Acme Outdoor: your order {cancelled} is cancelled",
            f"Acme Outdoor: your order {expired} lapsed unpaid",
            f"Acme Outdoor: your order {refunded} is confirmed",
            f"Acme Outdoor: your order {refunded} is refunded",
            f"Acme Outdoor: your order {shipped} is confirmed",
            f"Acme Outdoor: your order {shipped} is on its way",
        ]
    )
    texts = {subject: parts(message)[0] for subject, message in by_subject.items()}
    # headlamp 24.99 + 4.90 shipping + VAT 5.98 = 35.87
    assert (
        "Your order at Acme Outdoor was cancelled. You will not be charged for it."
        in texts[f"Acme Outdoor: your order {cancelled} is cancelled"]
    )
    assert "  Total:     35.87 EUR\n" in texts[f"Acme Outdoor: your order {cancelled} is cancelled"]
    assert (
        "so its items are back on sale. You have not been charged."
        in texts[f"Acme Outdoor: your order {expired} lapsed unpaid"]
    )
    # cook-set 39.99 + 4.90 + VAT 8.98 = 53.87
    assert (
        "We have refunded 53.87 EUR for your order at Acme Outdoor. It goes back to the card you paid with;"
        in texts[f"Acme Outdoor: your order {refunded} is refunded"]
    )
    shipped_text = texts[f"Acme Outdoor: your order {shipped} is on its way"]
    assert (
        "is on its way with DHL, tracking number JD0001.\nTrack it: https://dhl.example/track?id=JD0001" in shipped_text
    )
    shipped_html = parts(by_subject[f"Acme Outdoor: your order {shipped} is on its way"])[1]
    assert '<a href="https://dhl.example/track?id=JD0001">Track it</a>' in shipped_html
    assert {message["To"] for message in by_subject.values()} == {"Ada Lovelace <ada@example.com>"}


@pytest.mark.usefixtures("acme_on_delivery")
def test_events_out_of_order_still_send_each_e_mail_once(api, mail):
    """order_shipped handled before the order_created that confirms the order: both sent, once each."""
    order_id = place(api, [("tent-2p", 1)])["order"]["order_id"]
    mail.stream(order_id, "INSERT")
    created = mail.messages()
    shipment = {"carrier": "UPS", "tracking_number": "1Z999"}
    assert api.post(f"{ORDERS}/{order_id}/shipment", shipment, headers={"X-Api-Key": ACME_KEY}).status_code == 200
    mail.stream(order_id)
    shipped = mail.messages()
    assert [json.loads(m["Body"])["detail-type"] for m in created + shipped] == ["order_created", "order_shipped"]
    assert mail.notify(*shipped) == {"batchItemFailures": []}
    assert mail.notify(*created, *shipped, *created) == {"batchItemFailures": []}
    subjects = [message["Subject"] for message in sent_by_ses()]
    assert subjects == [
        f"Acme Outdoor: your order {order_id} is on its way",
        f"Acme Outdoor: your order {order_id} is confirmed",
    ]
    text = parts(sent_by_ses()[0])[0]
    assert "is on its way with UPS, tracking number 1Z999." in text
    assert "Track it" not in text


@pytest.mark.usefixtures("acme_on_delivery")
def test_a_confirmation_arriving_after_the_cancel_is_not_sent(api, mail):
    """An on-delivery order cancelled at once: its late confirmation would be untrue (decision 29)."""
    placed = place(api, [("headlamp", 1)])
    order_id = placed["order"]["order_id"]
    mail.stream(order_id, "INSERT")
    created = mail.messages()
    assert api.post(f"{ORDERS}/{order_id}/cancel", headers={"X-Order-Token": placed["order_token"]}).status_code == 200
    mail.stream(order_id)
    assert mail.notify(*mail.messages(), *created) == {"batchItemFailures": []}
    assert [m["Subject"] for m in sent_by_ses()] == [f"Acme Outdoor: your order {order_id} is cancelled"]
    assert MailModel.count("acme", MailModel.mail_id.startswith(f"{order_id}#")) == 1


@pytest.mark.usefixtures("acme_on_delivery")
def test_hostile_product_names_and_addresses_are_escaped(api, mail):
    product = {"name": '<script>alert("x")</script> & "Tent"', "category": "camping", "price": "10.00", "stock": 5}
    assert api.put("/tenants/acme/products/hostile", product, headers={"X-Api-Key": ACME_KEY}).status_code == 201
    address = {**ADA, "name": 'Eve "<b>O\'Neil</b>"', "line1": "<img src=x onerror=alert(1)>"}
    order_id = place(api, [("hostile", 1)], address=address, email="eve@example.com")["order"]["order_id"]
    mail.stream(order_id, "INSERT")
    assert mail.deliver() == (1, 0)
    (sent,) = sent_by_ses()
    text, html = parts(sent)
    assert "<script>" not in html
    assert "<img" not in html
    assert "<b>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &#34;Tent&#34;" in html
    assert "Eve &#34;&lt;b&gt;O&#39;Neil&lt;/b&gt;&#34;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert '  1 x <script>alert("x")</script> & "Tent" at 10.00 EUR = 10.00 EUR\n' in text  # plain text is text
    assert sent["To"].addresses[0].display_name == 'Eve "<b>O\'Neil</b>"'
    assert sent["To"].addresses[0].addr_spec == "eve@example.com"


@pytest.mark.usefixtures("acme_on_delivery")
def test_a_failing_send_is_retried_then_dead_lettered_and_the_order_is_unchanged(api, mail):
    """SES refuses an unverified sender: the message comes back (its claim let go at once), and after the
    queue's maxReceiveCount receives it is in the dead-letter queue; the order is as it was."""
    tenants.set_mail("acme", "Acme Outdoor <shop@unverified.example>")
    order_id = place(api, [("headlamp", 1)])["order"]["order_id"]
    mail.stream(order_id, "INSERT")
    before = order_record(order_id)
    mail.sqs.set_queue_attributes(QueueUrl=mail.queue_url, Attributes={"VisibilityTimeout": "0"})
    attempts = 0
    while (outcome := mail.poller.poll_once(wait_seconds=0)) != (0, 0):
        assert outcome == (0, 1)
        attempts += 1
    assert attempts == notifier.MAX_RECEIVE_COUNT
    assert sent_by_ses() == []
    record = MailModel.get("acme", f"{order_id}#order_confirmation", consistent_read=True)
    assert (record.state, record.attempts) == ("sending", notifier.MAX_RECEIVE_COUNT)
    assert record.lease_expires_at < datetime.now(UTC)  # let go: the next delivery may send at once
    assert order_record(order_id) == before
    dead_url = mail.sqs.get_queue_url(QueueName=get_settings().mail_dead_letter_queue_name)["QueueUrl"]
    (dead,) = mail.sqs.receive_message(QueueUrl=dead_url, MaxNumberOfMessages=10)["Messages"]
    assert json.loads(dead["Body"])["detail"]["event_id"] == f"order_created:acme:{order_id}"
    # The operator verifies the sender and redrives the message (docs/operations.md): sent, once.
    clients.client("ses").verify_email_identity(EmailAddress="shop@unverified.example")
    assert mail.notify(dead) == {"batchItemFailures": []}
    (sent,) = sent_by_ses()
    assert sent["From"] == "Acme Outdoor <shop@unverified.example>"
    assert order_record(order_id) == before


@pytest.mark.usefixtures("acme_on_delivery")
def test_a_failing_smtp_server_leaves_the_e_mail_to_be_retried(api, mail, monkeypatch):
    from chalicelib import config
    from scripts.local_stack import free_port

    monkeypatch.setenv("MAIL_SMTP_URL", f"smtp://127.0.0.1:{free_port()}")  # nothing listens there
    config.reset()
    order_id = place(api, [("headlamp", 1)])["order"]["order_id"]
    mail.stream(order_id, "INSERT")
    (message,) = mail.messages()
    before = order_record(order_id)
    assert mail.notify(message) == {"batchItemFailures": [{"itemIdentifier": message["MessageId"]}]}
    record = MailModel.get("acme", f"{order_id}#order_confirmation", consistent_read=True)
    assert (record.state, record.attempts) == ("sending", 1)
    assert record.lease_expires_at < datetime.now(UTC)
    assert order_record(order_id) == before
    monkeypatch.delenv("MAIL_SMTP_URL")  # back to SES
    config.reset()
    assert mail.notify(message) == {"batchItemFailures": []}
    assert len(sent_by_ses()) == 1
    assert MailModel.get("acme", f"{order_id}#order_confirmation", consistent_read=True).attempts == 2


@pytest.mark.usefixtures("acme_on_delivery")
def test_a_notifier_that_stopped_after_its_claim_is_taken_over_after_the_lease(api, mail):
    """Crash between claim and send: the e-mail is not lost. While the claim's lease runs the message is
    retried (InFlight); after it, the redelivery takes the claim over and sends, once."""
    order_id = place(api, [("headlamp", 1)])["order"]["order_id"]
    mail.stream(order_id, "INSERT")
    (message,) = mail.messages()
    now = datetime.now(UTC)
    crashed = claims.claim("acme", order_id, "order_confirmation", "order_created:x", 60, now)  # and never sent
    assert crashed.outcome is claims.Claimed.NEW
    assert mail.notify(message) == {"batchItemFailures": [{"itemIdentifier": message["MessageId"]}]}
    assert sent_by_ses() == []
    event = json.loads(message["Body"])
    later = now + timedelta(seconds=61)
    assert notifier.handle_event(event, now=later) == notifier.Outcome("sent", "order_confirmation", "taken_over")
    assert notifier.handle_event(event, now=later) == notifier.Outcome("duplicate", "order_confirmation")
    assert len(sent_by_ses()) == 1
    assert not claims.mark_sent(crashed, "late", now)  # the crashed claim cannot mark it any more


@pytest.mark.usefixtures("acme_on_delivery")
def test_a_notifier_that_stopped_after_sending_sends_again_after_the_lease(api, mail):
    """Crash after the transport took the message, before it was marked sent: the one at-least-once window
    (decision 29). The redelivery after the lease sends a second copy, never none."""
    from chalicelib.mail import transport

    class CrashAfterSending:
        def send(self, message):
            transport.SesTransport().send(message)
            raise SystemExit("the function's sandbox went away")  # not an Exception: nothing lets go

    order_id = place(api, [("headlamp", 1)])["order"]["order_id"]
    mail.stream(order_id, "INSERT")
    (message,) = mail.messages()
    event = json.loads(message["Body"])
    now = datetime.now(UTC)
    with pytest.raises(SystemExit):
        notifier.handle_event(event, now=now, via=CrashAfterSending())
    assert len(sent_by_ses()) == 1
    with pytest.raises(claims.InFlight):
        notifier.handle_event(event, now=now + timedelta(seconds=30))
    after = now + timedelta(seconds=get_settings().mail_lease_seconds + 1)
    assert notifier.handle_event(event, now=after).result == "sent"
    assert notifier.handle_event(event, now=after).result == "duplicate"
    assert len(sent_by_ses()) == 2


@pytest.mark.usefixtures("acme_on_delivery")
def test_the_e_mail_link_opens_and_cancels_the_order_as_the_order_token_does(api, mail):
    placed = place(api, [("headlamp", 1)])
    order_id = placed["order"]["order_id"]
    mail.stream(order_id, "INSERT")
    assert mail.deliver() == (1, 0)
    _, _, token = link_token(order_link(sent_by_ses()[0]))
    assert token != placed["order_token"]
    assert OrderModel.get("acme", order_id).token_hashes == orders_token_hashes(placed)  # the order untouched
    full = api.get(f"{ORDERS}/{order_id}", headers={"X-Order-Token": token})
    assert full.status_code == 200
    assert (full.data["email"], full.data["delivery"]["address"]["name"]) == ("ada@example.com", "Ada Lovelace")
    other = place(api, [("sun-hat", 1)])["order"]["order_id"]
    assert api.get(f"{ORDERS}/{other}", headers={"X-Order-Token": token}).status_code == 403
    assert api.get(f"{ORDERS}/{order_id}", headers={"X-Order-Token": token[:-2] + "xx"}).status_code == 403
    cancelled = api.post(f"{ORDERS}/{order_id}/cancel", headers={"X-Order-Token": token})
    assert (cancelled.status_code, cancelled.data["status"]) == (200, "cancelled")


def orders_token_hashes(placed: dict) -> set[str]:
    from chalicelib import digests

    return {digests.digest(placed["order_token"])}


def test_a_tenant_without_a_sender_keeps_its_e_mails_waiting(api, mail):
    """No `mail.from`: nothing is sent nor claimed, the message fails (and waits in the dead-letter queue for
    `set-mail` and a redrive)."""
    from chalicelib.models import TenantModel

    TenantModel("globex").update(actions=[TenantModel.mail.remove()])
    tenants.clear_cache()
    cart_id = api.post("/tenants/globex/carts", {"items": [{"product_id": "usb-c-dock", "quantity": 1}]}).data[
        "cart_id"
    ]
    address = {**ADA, "country": "US", "postal_code": "10001", "city": "New York"}
    delivery = {"email": "bo@example.com", "address": address, "method": "ground"}
    assert api.put(f"/tenants/globex/carts/{cart_id}/delivery", delivery).status_code == 200
    placed = api.post(f"/tenants/globex/carts/{cart_id}/checkout", headers={"Idempotency-Key": "g1"}).data["order"]
    order_id = placed["order_id"]
    mail.stream(order_id, "INSERT", tenant_id="globex")
    (message,) = mail.messages()
    assert mail.notify(message) == {"batchItemFailures": [{"itemIdentifier": message["MessageId"]}]}
    assert MailModel.count("globex", MailModel.mail_id.startswith(order_id)) == 0
    tenants.set_mail("globex", "Globex Home Office <orders@globex.example>")
    assert mail.notify(message) == {"batchItemFailures": []}
    (sent,) = sent_by_ses()
    assert (sent["From"], sent["To"]) == ("Globex Home Office <orders@globex.example>", "Ada Lovelace <bo@example.com>")
    assert "Reply-To" not in sent
    assert f"  Total:     {placed['totals']['total']} USD\n" in parts(sent)[0]


def test_an_unreadable_message_fails_alone(mail):
    good_and_bad = [
        {"MessageId": "m-1", "ReceiptHandle": "r-1", "Body": "not json"},
        {
            "MessageId": "m-2",
            "ReceiptHandle": "r-2",
            "Body": json.dumps({"detail-type": "order_delivered", "detail": {}}),
        },
    ]
    assert mail.notify(*good_and_bad) == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
