"""The deployed stack as the rehearsal's journey sees it: from outside, through LocalStack's endpoint.

Only cloud/run.py runs these tests (`make test-cloud`), after `make deploy STAGE=prod SEED=1`, with
AWS_ENDPOINT_URL pointing at LocalStack and CARTWISE_CLOUD_STRIPE_URL at the localstripe the Lambda
containers reach; `make test` never collects them (pytest's testpaths is tests/).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
STAGE = "prod"
STACK = f"cartwise-{STAGE}"
TENANT = "acme"
# The tenant's Stripe account, as `scripts.tenants set-payment` stores one (localstripe takes any key).
PUBLISHABLE_KEY = "pk_test_cartwise_cloud_rehearsal"
SECRET_KEY = "sk_test_cartwise_cloud_rehearsal"  # noqa: S105 - a test key for localstripe
WEBHOOK_SECRET = "whsec_cartwise_cloud_rehearsal"  # noqa: S105 - the same
EVENTS_RULE = "cartwise-cloud-test-orders"
EVENTS_QUEUE = "cartwise-cloud-test-order-events"


def aws(service: str) -> Any:
    return boto3.client(service)  # AWS_ENDPOINT_URL, the region and the test credentials: cloud/run.py


def figures() -> dict[str, Any]:
    """The figures recorded so far in this run (cloud/run.py prints them at the end)."""
    path = Path(os.environ["CARTWISE_CLOUD_FIGURES"])
    return json.loads(path.read_text()) if path.is_file() else {}


def record(name: str, value: Any) -> None:
    Path(os.environ["CARTWISE_CLOUD_FIGURES"]).write_text(json.dumps(figures() | {name: value}, indent=1) + "\n")


@dataclass
class Cloud:
    outputs: dict[str, str]
    functions: dict[str, str]  # logical id (APIHandler, PaymentsHandler, AdminKey, ...) -> function name
    aws_url: str = field(default_factory=lambda: os.environ["AWS_ENDPOINT_URL"])
    stripe_url: str = field(default_factory=lambda: os.environ["CARTWISE_CLOUD_STRIPE_URL"])

    @property
    def api_url(self) -> str:
        """The stage's URL through LocalStack's API Gateway (`EndpointURL` names AWS's host for it)."""
        return f"{self.aws_url}/_aws/execute-api/{self.outputs['RestAPIId']}/api"


def tool(*args: str, env: dict[str, str] | None = None) -> str:
    """One of the project's operator tools, run as a user runs it against the stage (stdout returned)."""
    command = [sys.executable, "-m", *args]
    environment = os.environ | {"CARTWISE_STAGE": STAGE} | (env or {})
    result = subprocess.run(  # noqa: S603 - our own module
        command, cwd=REPO, env=environment, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"{' '.join(args)}: {result.stderr}"
    return result.stdout


@pytest.fixture(scope="session")
def cloud() -> Cloud:
    cloudformation = aws("cloudformation")
    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in cloudformation.describe_stacks(StackName=STACK)["Stacks"][0]["Outputs"]
    }
    resources = cloudformation.get_paginator("list_stack_resources").paginate(StackName=STACK)
    functions = {
        resource["LogicalResourceId"]: resource["PhysicalResourceId"]
        for page in resources
        for resource in page["StackResourceSummaries"]
        if resource["ResourceType"] == "AWS::Lambda::Function"
    }
    return Cloud(outputs, functions)


@pytest.fixture(scope="session")
def http(cloud: Cloud) -> Iterator[httpx.Client]:
    # Generous: a function's first request starts its container.
    with httpx.Client(base_url=cloud.api_url, timeout=60) as client:
        yield client


@pytest.fixture(scope="session")
def admin_key() -> str:
    """A new admin key for the seeded tenant, from the tenants CLI (the seed carries none)."""
    key = tool("scripts.tenants", "rotate-key", "--tenant-id", TENANT).strip()
    assert key.startswith(f"cw_{TENANT}_")
    return key


@pytest.fixture(scope="session")
def takes_cards(cloud: Cloud) -> None:
    """The tenant connected to its Stripe account with the tenants CLI, and the functions that call
    Stripe pointed at localstripe (the one setting a rehearsal adds to the deployed stack)."""
    secrets = {"STRIPE_SECRET_KEY": SECRET_KEY, "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET}
    tool("scripts.tenants", "set-payment", "--tenant-id", TENANT, "--mode", "stripe",
         "--publishable-key", PUBLISHABLE_KEY, env=secrets)  # fmt: skip
    lambda_ = aws("lambda")
    for logical_id in ("PaymentsHandler", "ExpireHolds"):
        name = cloud.functions[logical_id]
        variables = lambda_.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
        lambda_.update_function_configuration(
            FunctionName=name, Environment={"Variables": variables | {"STRIPE_API_BASE": cloud.stripe_url}}
        )
        lambda_.get_waiter("function_updated_v2").wait(FunctionName=name)


@dataclass
class Bus:
    queue_url: str
    seen: list[dict] = field(default_factory=list)

    def events_of(self, order_id: str, detail_types: set[str], timeout: float = 60) -> dict[str, dict]:
        """The bus's events about an order, by detail type, once all of `detail_types` arrived."""
        sqs = aws("sqs")
        deadline = time.monotonic() + timeout
        while True:
            found = {e["detail-type"]: e for e in self.seen if e["detail"].get("order_id") == order_id}
            if detail_types <= set(found) or time.monotonic() > deadline:
                return found
            answer = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=2)
            for message in answer.get("Messages", []):
                self.seen.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture(scope="session")
def bus(cloud: Cloud) -> Iterator[Bus]:
    """What an order subscriber would see: a rule on the stage's bus sending the orders' events to a
    queue of the test's own (removed again, so the stack's bus can be deleted)."""
    sqs, events = aws("sqs"), aws("events")
    bus_name = cloud.outputs["EventBusName"]
    queue_url = sqs.create_queue(QueueName=EVENTS_QUEUE)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = {"source": ["cartwise.orders"]}
    events.put_rule(Name=EVENTS_RULE, EventBusName=bus_name, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=EVENTS_RULE, EventBusName=bus_name, Targets=[{"Id": "queue", "Arn": queue_arn}])
    try:
        yield Bus(queue_url)
    finally:
        events.remove_targets(Rule=EVENTS_RULE, EventBusName=bus_name, Ids=["queue"])
        events.delete_rule(Name=EVENTS_RULE, EventBusName=bus_name)
        sqs.delete_queue(QueueUrl=queue_url)
