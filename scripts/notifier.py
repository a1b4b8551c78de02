"""Run the notifier function locally the way Lambda's SQS event source mapping does.

`make run` (scripts/local_stack.py) starts this next to the orders-stream poller: the stage's bus on the
moto server has the rule that sends the order events which mail to the notifier's queue (made by
scripts/provision.py as infra/template.yml makes it in the cloud), and this drains that queue into the
app's own `notify_shopper` handler (app.py), so the e-mails reach MailDev within about a second:

- long polls of up to 10 messages (the function's batch size), handed over in Lambda's SQS event shape;
- the messages the handler's partial batch response does not name are deleted; those it names (or the
  whole batch, when it raises) are left alone, so SQS delivers them again once their visibility timeout
  has passed and, after the redrive policy's maxReceiveCount receives, moves them to the dead-letter queue.

    python -m scripts.notifier   # with the stack's environment (scripts.local_stack.stack_env)
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

BATCH_SIZE = 10  # app.py's @app.on_sqs_message(batch_size=10)
WAIT_SECONDS = 1  # long polling: an idle queue costs one request a second

Handler = Callable[[dict[str, Any]], Any]


def lambda_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """An SQS ReceiveMessage message in Lambda's event record format."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": message.get("MessageAttributes", {}),
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


@dataclass
class QueuePoller:
    """Lambda's SQS event source mapping for one queue, polled with `poll_once` (or `run`)."""

    sqs: Any  # a boto3 SQS client
    queue_url: str
    handler: Handler
    batch_size: int = BATCH_SIZE
    wait_seconds: int = WAIT_SECONDS

    def __post_init__(self) -> None:
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])
        self.queue_arn: str = attributes["Attributes"]["QueueArn"]
        self.region: str = self.sqs.meta.region_name

    def poll_once(self, wait_seconds: int | None = None) -> tuple[int, int]:
        """Receive one batch and hand it to the handler; (messages handled and deleted, messages left to retry)."""
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=self.wait_seconds if wait_seconds is None else wait_seconds,
            AttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0, 0
        event = {"Records": [lambda_record(message, self.queue_arn, self.region) for message in messages]}
        try:
            answer = self.handler(event)
        except Exception:  # like Lambda: the whole batch comes back after its visibility timeout
            log.exception("Notifier batch of %d messages failed", len(messages))
            return 0, len(messages)
        named = answer.get("batchItemFailures") if isinstance(answer, dict) else None
        failed = {item.get("itemIdentifier") for item in named or ()}
        done = [message for message in messages if message["MessageId"] not in failed]
        if done:
            entries = [{"Id": str(index), "ReceiptHandle": m["ReceiptHandle"]} for index, m in enumerate(done)]
            self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
        if failed:
            log.warning("Notifier: %d of %d messages left for redelivery", len(messages) - len(done), len(messages))
        log.info("Notifier batch of %d messages handled", len(done))
        return len(done), len(messages) - len(done)

    def run(self, should_stop: Callable[[], bool]) -> None:
        while not should_stop():
            self.poll_once()


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    from app import notify_shopper
    from chalicelib import clients
    from chalicelib.config import get_settings
    from scripts.orders_stream import until_signalled

    sqs = clients.client("sqs")
    queue_url = sqs.get_queue_url(QueueName=get_settings().mail_queue_name)["QueueUrl"]
    poller = QueuePoller(sqs, queue_url, lambda event: notify_shopper(event, None))
    log.info("Draining %s in batches of %d", poller.queue_arn, poller.batch_size)
    poller.run(until_signalled())
    return 0


if __name__ == "__main__":
    sys.exit(main())
