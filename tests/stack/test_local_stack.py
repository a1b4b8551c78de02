"""The local stack's process orchestration: real servers on free ports, stopped after each test (DynamoDB Local
itself is the session's one, see tests/conftest.py)."""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from scripts.local_stack import (
    HOST,
    ChildProcess,
    LocalStack,
    free_port,
    stack_env,
    start_chalice_local,
    start_locked_moto,
    start_moto_server,
    wait_for_port,
)

STOCK = 3
BUYERS = 12


def dynamodb_client(url: str) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(max_pool_connections=BUYERS),
    )


def assert_transactions_do_not_oversell(client: Any, table: str = "stock") -> None:
    """Concurrent buyers of the last items: every sale takes one item and writes one order, never more."""
    client.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.put_item(TableName=table, Item={"pk": {"S": "tent"}, "stock": {"N": str(STOCK)}})

    def buy(buyer: int) -> bool:
        try:
            client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": table,
                            "Key": {"pk": {"S": "tent"}},
                            "UpdateExpression": "SET stock = stock - :one",
                            "ConditionExpression": "stock >= :one",
                            "ExpressionAttributeValues": {":one": {"N": "1"}},
                        }
                    },
                    {"Put": {"TableName": table, "Item": {"pk": {"S": f"order-{buyer}"}}}},
                ]
            )
        except client.exceptions.TransactionCanceledException:
            return False
        return True

    with ThreadPoolExecutor(max_workers=BUYERS) as pool:
        sales = sum(pool.map(buy, range(BUYERS)))

    item = client.get_item(TableName=table, Key={"pk": {"S": "tent"}}, ConsistentRead=True)["Item"]
    stock = int(item["stock"]["N"])
    orders = client.scan(TableName=table, ConsistentRead=True)["Count"] - 1
    assert sales >= 1
    assert stock >= 0
    assert sales == orders == STOCK - stock


def test_wait_for_port_reports_the_output_of_a_process_that_died(tmp_path: Path) -> None:
    script = "print('cannot start: no luck'); raise SystemExit(3)"
    process = ChildProcess("doomed", [sys.executable, "-c", script], tmp_path / "doomed.log")
    with pytest.raises(RuntimeError, match="doomed exited with code 3") as error:
        wait_for_port(HOST, free_port(), timeout=10, process=process)
    assert "cannot start: no luck" in str(error.value)


def test_dynamodb_local_runs_transactions(local_stack: LocalStack) -> None:
    # The session's stack started DynamoDB Local (scripts.local_stack.ensure_dynamodb_local and
    # start_dynamodb_local); one JVM serves every test, so this check uses a table of its own.
    if local_stack.dynamodb_fallback_reason:
        pytest.fail(f"DynamoDB Local is unavailable ({local_stack.dynamodb_fallback_reason}); make test needs it")

    assert_transactions_do_not_oversell(dynamodb_client(local_stack.dynamodb_url), table=f"stock-{uuid.uuid4().hex}")


def test_locked_moto_serves_dynamodb_transactions(tmp_path: Path, started: list[ChildProcess]) -> None:
    port = free_port()
    started.append(start_locked_moto(port, log_dir=tmp_path))

    assert_transactions_do_not_oversell(dynamodb_client(f"http://{HOST}:{port}"))


def test_moto_server_serves_ssm_and_public_s3_through_the_stack_env(
    tmp_path: Path, started: list[ChildProcess], monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    aws_url = f"http://{HOST}:{port}"
    started.append(start_moto_server(port, log_dir=tmp_path))
    # Clients get no endpoint_url: the stack's environment alone must route them to moto.
    env = stack_env(dynamodb_url=f"http://{HOST}:{free_port()}", aws_url=aws_url)
    for name in [name for name in os.environ if name.startswith("AWS_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    session = boto3.session.Session()
    ssm = session.client("ssm")
    ssm.put_parameter(Name="/cartwise/dev/flags/UPSELL_ENABLED", Type="String", Value="true", Overwrite=True)
    assert ssm.get_parameter(Name="/cartwise/dev/flags/UPSELL_ENABLED")["Parameter"]["Value"] == "true"
    assert ssm.meta.endpoint_url == aws_url

    # The storefront URL that `make run` prints: path-style and unsigned, so moto only serves it
    # once a bucket policy allows public reads (provisioning sets one).
    bucket, page_url = "cartwise-dev-storefront", f"{aws_url}/cartwise-dev-storefront/index.html?tenant=acme"
    s3 = session.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="index.html", Body=b"<h1>shop</h1>", ContentType="text/html")
    with pytest.raises(urllib.error.HTTPError, match="403"):
        urllib.request.urlopen(page_url, timeout=5)
    public_read = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [public_read]}))
    with urllib.request.urlopen(page_url, timeout=5) as page:
        assert page.headers["Content-Type"] == "text/html"
        assert page.read() == b"<h1>shop</h1>"


def test_chalice_local_serves_the_project_with_the_stack_env(tmp_path: Path, started: list[ChildProcess]) -> None:
    project = tmp_path / "project"
    (project / ".chalice").mkdir(parents=True)
    (project / ".chalice" / "config.json").write_text(
        json.dumps({"version": "2.0", "app_name": "smoke", "stages": {"dev": {}}})
    )
    (project / "app.py").write_text(
        "import os\n"
        "from chalice import Chalice\n"
        "app = Chalice(app_name='smoke')\n"
        "@app.route('/')\n"
        "def index():\n"
        "    return {'stage': os.environ['CARTWISE_STAGE'], 'aws': os.environ['AWS_ENDPOINT_URL']}\n"
    )
    port = free_port()
    env = stack_env(dynamodb_url="http://127.0.0.1:1", aws_url="http://127.0.0.1:2")
    started.append(start_chalice_local(port, env, log_dir=tmp_path, project_dir=project))

    with urllib.request.urlopen(f"http://{HOST}:{port}/", timeout=5) as response:
        assert json.load(response) == {"stage": "dev", "aws": "http://127.0.0.1:2"}
