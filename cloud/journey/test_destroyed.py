"""After `make destroy STAGE=prod YES=1`: the stack and everything it made are gone, except what is
kept by design, which is checked to be exactly that (docs/deploy.md, "Delete a stage"):

- the orders and tenants tables (DeletionPolicy Retain, deletion protection on), with their data;
- the parameters the operator made beside the stack (the tenant's Stripe secrets, by `set-payment`).

Then the kept tables are deleted with the commands docs/deploy.md gives.
"""

from __future__ import annotations

import subprocess

import pytest
from botocore.exceptions import ClientError

from cloud.journey.conftest import STACK, STAGE, TENANT, aws

KEPT_TABLES = [f"{STACK}-orders", f"{STACK}-tenants"]


def test_the_stack_is_gone() -> None:
    with pytest.raises(ClientError, match="does not exist"):
        aws("cloudformation").describe_stacks(StackName=STACK)


def test_no_function_api_bucket_queue_bus_or_role_of_the_stage_is_left() -> None:
    functions = [f["FunctionName"] for f in aws("lambda").list_functions()["Functions"]]
    assert [name for name in functions if name.startswith("cartwise")] == []
    assert aws("apigateway").get_rest_apis()["items"] == []
    assert [b["Name"] for b in aws("s3").list_buckets()["Buckets"]] == []  # storefront and artifact buckets
    assert aws("sqs").list_queues().get("QueueUrls", []) == []  # the stream's failure queue (and the test's own)
    buses = [bus["Name"] for bus in aws("events").list_event_buses()["EventBuses"]]
    assert buses == ["default"]
    assert aws("events").list_rules().get("Rules", []) == []  # the sweeper's schedule
    roles = [role["RoleName"] for role in aws("iam").list_roles()["Roles"]]
    assert [name for name in roles if name.startswith(STACK)] == []
    flags = aws("ssm").get_parameters_by_path(Path=f"/cartwise/{STAGE}/flags", Recursive=True)["Parameters"]
    assert flags == []  # the stack's UPSELL_ENABLED parameter


def test_no_lambda_container_is_left_running() -> None:
    listing = ["docker", "ps", "--format", "{{.Names}}", "--filter", "name=-lambda-"]
    running = subprocess.run(listing, capture_output=True, text=True).stdout.split()  # noqa: S603
    assert running == []


def test_the_orders_and_tenants_tables_are_kept_with_their_data_by_design() -> None:
    dynamodb = aws("dynamodb")
    assert sorted(dynamodb.list_tables()["TableNames"]) == KEPT_TABLES
    tenant = dynamodb.get_item(TableName=f"{STACK}-tenants", Key={"tenant_id": {"S": TENANT}})
    assert tenant["Item"]["name"]["S"] == "Acme Outdoor"
    orders = dynamodb.query(
        TableName=f"{STACK}-orders",
        KeyConditionExpression="tenant_id = :t",
        ExpressionAttributeValues={":t": {"S": TENANT}},
        Select="COUNT",
    )
    assert orders["Count"] == 2  # the paid order and the expired one


def test_the_parameters_the_operator_made_are_kept_by_design() -> None:
    kept = aws("ssm").get_parameters_by_path(Path=f"/cartwise/{STAGE}", Recursive=True)["Parameters"]
    prefix = f"/cartwise/{STAGE}/tenants/{TENANT}/stripe"
    assert sorted(p["Name"] for p in kept) == [f"{prefix}/secret_key", f"{prefix}/webhook_secret"]
    assert {p["Type"] for p in kept} == {"SecureString"}


def test_the_kept_tables_are_deleted_as_the_docs_say() -> None:
    """LocalStack 4.14.0 neither reports nor enforces the tables' deletion protection (AWS does:
    without the first call the second fails), so only the commands themselves are rehearsed here."""
    dynamodb = aws("dynamodb")
    for table in KEPT_TABLES:
        dynamodb.update_table(TableName=table, DeletionProtectionEnabled=False)
        dynamodb.delete_table(TableName=table)
    assert dynamodb.list_tables()["TableNames"] == []
