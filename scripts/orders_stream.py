"""Run the stream handler locally the way Lambda's event source mappings do.

`make run` (scripts/local_stack.py) starts this next to `chalice local`: it reads DynamoDB
Local's streams of the orders and carts tables with the dynamodbstreams API and hands the records
to the app's own `order_stream` handler (app.py), so `order_created` events, co-purchase counts
and the up-sell stats move locally as in the cloud, within about a second of a checkout:

- every shard from TRIM_HORIZON (the mapping's starting position), then from where it left off:
  the next batch starts after the last record handled (AFTER_SEQUENCE_NUMBER);
- batches of at most the mapping's batch size (25), in the Lambda event format;
- a batch whose handler raises is retried whole, after a pause, until it succeeds (Lambda's
  default: retry until the records expire), so nothing is skipped; a handler answering a
  partial batch response (`{"batchItemFailures": [{"itemIdentifier": <SequenceNumber>}]}`,
  ReportBatchItemFailures) has the records before the first failed one checkpointed and the
  rest delivered again from it;
- a parent shard is read to its end before its children; a closed shard is done when empty.

    python -m scripts.orders_stream   # with the stack's environment (scripts.local_stack.stack_env)
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from types import FrameType
from typing import Any

log = logging.getLogger(__name__)

BATCH_SIZE = 25  # app.py's @app.on_dynamodb_record(batch_size=25)
IDLE_SECONDS = 0.25  # DynamoDB Streams allows 5 GetRecords per shard per second
RETRY_SECONDS = (0.5, 1.0, 2.0, 5.0)  # pauses before retrying a failed batch (the last one repeats)

Handler = Callable[[dict[str, Any]], Any]


def lambda_record(record: dict[str, Any], arn: str) -> dict[str, Any]:
    """A GetRecords record in the Lambda event format (epoch seconds, the source ARN added)."""
    dynamodb = dict(record["dynamodb"])
    created = dynamodb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):  # boto3 parses it; Lambda delivers epoch seconds
        dynamodb["ApproximateCreationDateTime"] = int(created.timestamp())
    return {**record, "dynamodb": dynamodb, "eventSourceARN": arn}


@dataclass
class ShardReader:
    shard_id: str
    parent_id: str | None
    last_sequence: str | None = None  # the last record handled: where the next batch starts after
    done: bool = False  # closed and read to its end


@dataclass
class StreamPoller:
    """Lambda's event source mapping for one stream, polled with `poll_once` (or `run`)."""

    streams: Any  # a boto3 dynamodbstreams client
    arn: str
    handler: Handler
    batch_size: int = BATCH_SIZE
    sleep: Callable[[float], None] = time.sleep
    shards: dict[str, ShardReader] = field(default_factory=dict)
    failures: int = 0  # consecutive failed attempts of the current batch

    def poll_once(self) -> int:
        """Hand every shard's next batches to the handler until the shards are drained; records handled."""
        self._discover_shards()
        handled = 0
        for shard in self.shards.values():
            parent = self.shards.get(shard.parent_id or "")
            if shard.done or (parent is not None and not parent.done):
                continue
            handled += self._drain(shard)
        return handled

    def run(self, should_stop: Callable[[], bool]) -> None:
        while not should_stop():
            if not self.poll_once():
                self.sleep(IDLE_SECONDS)

    def _discover_shards(self) -> None:
        description = self.streams.describe_stream(StreamArn=self.arn)["StreamDescription"]
        for shard in description["Shards"]:
            if shard["ShardId"] not in self.shards:
                self.shards[shard["ShardId"]] = ShardReader(shard["ShardId"], shard.get("ParentShardId"))

    def _iterator(self, shard: ShardReader) -> str | None:
        position: dict[str, str] = {"ShardIteratorType": "TRIM_HORIZON"}
        if shard.last_sequence is not None:
            position = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": shard.last_sequence}
        answer = self.streams.get_shard_iterator(StreamArn=self.arn, ShardId=shard.shard_id, **position)
        return answer.get("ShardIterator")

    def _drain(self, shard: ShardReader) -> int:
        handled = 0
        iterator = self._iterator(shard)
        while iterator:
            page = self.streams.get_records(ShardIterator=iterator, Limit=self.batch_size)
            records = page["Records"]
            if not records:
                shard.done = page.get("NextShardIterator") is None  # closed and read to its end
                return handled
            succeeded = self._deliver(records)
            if succeeded:
                shard.last_sequence = records[succeeded - 1]["dynamodb"]["SequenceNumber"]
                handled += succeeded
            if succeeded < len(records):
                return handled  # the rest is delivered again, from the first failed record, on the next poll
            iterator = page.get("NextShardIterator")
        shard.done = True
        return handled

    def _deliver(self, records: list[dict[str, Any]]) -> int:
        """Hand one batch to the handler; how many records, from the first, it handled."""
        event = {"Records": [lambda_record(record, self.arn) for record in records]}
        try:
            answer = self.handler(event)
        except Exception:  # like Lambda: log, wait, deliver the same batch again
            log.exception("Orders stream batch of %d records failed", len(records))
            succeeded = 0
        else:
            succeeded = first_failed(records, answer)
        if succeeded == len(records):
            self.failures = 0
            log.info("Orders stream batch of %d records handled", len(records))
            return succeeded
        pause = RETRY_SECONDS[min(self.failures, len(RETRY_SECONDS) - 1)]
        self.failures += 1
        log.warning("Orders stream: retrying from record %d of %d in %.1f s", succeeded + 1, len(records), pause)
        self.sleep(pause)
        return succeeded


def first_failed(records: list[dict[str, Any]], answer: Any) -> int:
    """The index of the first record a partial batch response names, else len(records) (all handled)."""
    named = answer.get("batchItemFailures") if isinstance(answer, dict) else None
    failed = {item.get("itemIdentifier") for item in named or ()}
    numbers = [record["dynamodb"]["SequenceNumber"] for record in records]
    return next((index for index, number in enumerate(numbers) if number in failed), len(records))


def orders_stream_arn(dynamodb: Any, table_name: str) -> str:
    return dynamodb.describe_table(TableName=table_name)["Table"]["LatestStreamArn"]


def until_signalled() -> Callable[[], bool]:
    """Whether SIGTERM or SIGINT has come: a local worker (this one, scripts/notifier.py) ends its
    current batch and stops, as `make run` asks it to on shutdown."""
    signalled: list[int] = []

    def note(signum: int, frame: FrameType | None) -> None:
        signalled.append(signum)

    signal.signal(signal.SIGTERM, note)
    signal.signal(signal.SIGINT, note)
    return lambda: bool(signalled)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    import boto3

    from app import order_stream
    from chalicelib.models import CartModel, OrderModel

    stopping = until_signalled()
    # DynamoDB Local serves its streams on the DynamoDB endpoint.
    endpoint = os.environ.get("AWS_ENDPOINT_URL_DYNAMODB")
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint)
    streams = boto3.client("dynamodbstreams", endpoint_url=endpoint)
    # The function's two event source mappings: the orders table's stream and the carts table's (up-sell stats).
    pollers = [
        StreamPoller(
            streams, orders_stream_arn(dynamodb, model.Meta.table_name), lambda event: order_stream(event, None)
        )
        for model in (CartModel, OrderModel)
    ]
    for poller in pollers:
        log.info("Reading %s in batches of %d", poller.arn, poller.batch_size)
    while not stopping():
        if not sum(poller.poll_once() for poller in pollers):
            time.sleep(IDLE_SECONDS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
