"""Read an orders-table stream the way Lambda's event source mapping does, and shape Lambda's event."""

from __future__ import annotations

from typing import Any

from chalicelib.models import OrderModel
from scripts.orders_stream import lambda_record


def stream_arn(dynamodb: Any) -> str:
    return dynamodb.describe_table(TableName=OrderModel.Meta.table_name)["Table"]["LatestStreamArn"]


def read_stream(streams: Any, arn: str) -> list[dict[str, Any]]:
    """Every record currently in the stream (all shards, from the trim horizon), as Lambda delivers them."""
    records = []
    shards = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    for shard in shards:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = streams.get_records(ShardIterator=iterator, Limit=1000)
            records += [lambda_record(record, arn) for record in page["Records"]]
            # An open shard always returns a next iterator; an empty page means we are at its tip.
            iterator = page.get("NextShardIterator") if page["Records"] else None
    return records


def records_of(records: list[dict[str, Any]], order_id: str) -> list[dict[str, Any]]:
    return [r for r in records if r["dynamodb"]["Keys"]["order_id"]["S"] == order_id]


def synthetic_record(item: dict[str, Any], event_name: str = "INSERT", sequence: int = 1) -> dict[str, Any]:
    """A stream record in Lambda's format for an item read with GetItem (moto has no stream reader)."""
    keys = {name: item[name] for name in ("tenant_id", "order_id")}
    return {
        "eventID": f"event-{sequence}",
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": 1_700_000_000,
            "Keys": keys,
            **({"NewImage": item} if event_name != "REMOVE" else {"OldImage": item}),
            "SequenceNumber": str(sequence).rjust(21, "0"),
            "SizeBytes": 512,
            "StreamViewType": "NEW_IMAGE",
        },
        "eventSourceARN": f"arn:aws:dynamodb:us-east-1:123456789012:table/{OrderModel.Meta.table_name}/stream/1",
    }
