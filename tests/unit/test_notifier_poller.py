"""scripts/notifier.py as Lambda's SQS event source mapping: the batch in Lambda's shape, only what the
handler did not name deleted, nothing deleted when it raises."""

from __future__ import annotations

from typing import Any

from scripts.notifier import QueuePoller

ARN = "arn:aws:sqs:us-east-1:123456789012:cartwise-dev-mail"


class Queue:
    """An SQS client's calls the poller makes, on a list of messages."""

    class meta:
        region_name = "us-east-1"

    def __init__(self, *bodies: str) -> None:
        self.messages = [
            {
                "MessageId": f"m-{i}",
                "ReceiptHandle": f"r-{i}",
                "Body": body,
                "Attributes": {"ApproximateReceiveCount": "1"},
            }
            for i, body in enumerate(bodies)
        ]
        self.deleted: list[str] = []

    def get_queue_attributes(self, **kwargs: Any) -> dict:
        return {"Attributes": {"QueueArn": ARN}}

    def receive_message(self, **kwargs: Any) -> dict:
        assert kwargs["MaxNumberOfMessages"] == 10
        return {"Messages": [m for m in self.messages if m["ReceiptHandle"] not in self.deleted]}

    def delete_message_batch(self, QueueUrl: str, Entries: list[dict]) -> dict:
        self.deleted += [entry["ReceiptHandle"] for entry in Entries]
        return {"Successful": Entries}


def test_only_the_messages_the_handler_did_not_name_are_deleted():
    queue = Queue("a", "b", "c")
    seen: list[dict] = []

    def handler(event: dict) -> dict:
        seen.append(event)
        return {"batchItemFailures": [{"itemIdentifier": "m-1"}]}

    assert QueuePoller(queue, "url", handler, wait_seconds=0).poll_once() == (2, 1)
    assert queue.deleted == ["r-0", "r-2"]
    (event,) = seen
    assert event["Records"][0] == {
        "messageId": "m-0",
        "receiptHandle": "r-0",
        "body": "a",
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": ARN,
        "awsRegion": "us-east-1",
    }


def test_a_handler_that_raises_leaves_the_whole_batch_for_redelivery():
    queue = Queue("a", "b")

    def handler(event: dict) -> dict:
        raise RuntimeError("the function failed")

    assert QueuePoller(queue, "url", handler, wait_seconds=0).poll_once() == (0, 2)
    assert queue.deleted == []
    assert QueuePoller(Queue(), "url", handler, wait_seconds=0).poll_once() == (0, 0)  # nothing to do
