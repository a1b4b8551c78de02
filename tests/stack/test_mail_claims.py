"""Claims of shopper e-mails racing on DynamoDB Local (moto's conditions are not atomic under threads):
twenty notifiers handed the same event at once send one e-mail."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from chalicelib.ids import new_ulid
from chalicelib.mail import claims, notifier
from chalicelib.models import MailModel
from tests.mail import parts, sample_order

NOTIFIERS = 20


class Recording:
    """A transport that keeps what it is handed (the claim is under test here; tests/stack/test_mail_pipe.py
    sends through MailDev)."""

    def __init__(self) -> None:
        self.sent: list = []
        self.lock = threading.Lock()

    def send(self, message) -> str:
        with self.lock:
            self.sent.append(message)
        return str(message["Message-ID"])


def test_twenty_notifiers_with_the_same_event_send_one_e_mail(local_stack, stack_aws):
    assert local_stack.dynamodb_fallback_reason is None, "races must run on DynamoDB Local, not moto"
    order = sample_order("globex", new_ulid())
    order.save()
    event = {
        "detail-type": "order_created",
        "detail": {
            "event_id": f"order_created:globex:{order.order_id}",
            "tenant_id": "globex",
            "order_id": order.order_id,
            "status": "confirmed",
        },
    }
    transport = Recording()
    barrier = threading.Barrier(NOTIFIERS)

    def notify(_: int) -> str:
        barrier.wait()
        try:
            return notifier.handle_event(event, via=transport).result
        except claims.InFlight:
            return "in flight"  # retried by SQS later, when it finds the e-mail sent

    with ThreadPoolExecutor(max_workers=NOTIFIERS) as pool:
        results = list(pool.map(notify, range(NOTIFIERS)))
    assert results.count("sent") == 1
    assert set(results) <= {"sent", "in flight", "duplicate"}
    (sent,) = transport.sent
    assert sent["Subject"] == f"Globex Home Office: your order {order.order_id} is confirmed"
    assert "  Total:     18.90 EUR\n" in parts(sent)[0]
    record = MailModel.get("globex", f"{order.order_id}#order_confirmation", consistent_read=True)
    assert (record.state, record.attempts, len(record.token_hashes)) == ("sent", 1, 1)
    # The retried ones find it sent.
    assert notifier.handle_event(event, via=transport).result == "duplicate"
    assert len(transport.sent) == 1
