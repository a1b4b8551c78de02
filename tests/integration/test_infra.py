"""The cloud package, checked offline: `chalice package` of the real app with infra/template.yml merged.

- cfn-lint passes on the packaged template (and fails on a broken one);
- the tables equal the PynamoDB models (keys, PAY_PER_REQUEST, orders stream, carts TTL) and what the
  provisioning code creates;
- each function has its own policy, which allows every AWS call that function makes in a full
  journey (recorded under moto with the prod stage's settings, per function), and nothing broader;
- the payment routes, and only they, run in PaymentsHandler, APIHandler's twin on the payments zip;
- the orders stream source cannot stall its shard; orders and tenants survive a deleted stack;
- API limits per route, gateway responses in the error envelope, the storefront behind CloudFront;
- two function zips, each under 10 MB and without boto3/botocore: deployment.zip without stripe and
  what only it needs, payments.zip without openai and what only it needs; each imports with only the
  Lambda runtime's libraries beside it, without importing openai, and answers /health;
- the storefront upload, the stack wiring, `make deploy|destroy` against a stand-in AWS;
- the pipeline's trust model (infra/deploy-role.yml: no role can change itself or its boundary) and
  its supply chain (actions pinned by commit, the deploy job's hashed lock).

What is not checked here: that CloudFormation accepts the stack in a real account (no account here).
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import hmac
import importlib
import importlib.util
import inspect
import json
import os
import re
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from botocore.client import BaseClient

from scripts.deploy import REPO, DeployError, dependencies, packaging
from scripts.deploy import aws as orchestration
from scripts.deploy import template as transforms
from tests.stripe_stub import StripeStub

STAGE = "prod"
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
TABLE_RESOURCES = {
    "tenants": "TenantsTable",
    "products": "ProductsTable",
    "carts": "CartsTable",
    "orders": "OrdersTable",
    "idempotency": "IdempotencyTable",
}


@pytest.fixture(scope="session")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> packaging.Package:
    """The real packaging (scripts/deploy/packaging.py), once per session. It builds in .local/test-build, where
    Chalice caches the dependencies, and the results are copied out for this session."""
    return packaging.package(
        STAGE, build_root=REPO / ".local" / "test-build", copy_to=tmp_path_factory.mktemp("package"), quiet=True
    )


@pytest.fixture(scope="session")
def template(packaged: packaging.Package) -> dict[str, Any]:
    return yaml.safe_load(packaged.template.read_text())


of_type = transforms.of_type


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


class Resolve:
    """Resolves the intrinsic functions the template uses, for a stage, region and account."""

    def __init__(self, template: dict[str, Any], stage: str) -> None:
        self.resources = template["Resources"]
        self.mappings = template.get("Mappings", {})
        defaults = {name: str(p["Default"]) for name, p in template.get("Parameters", {}).items() if "Default" in p}
        self.pseudo = {**defaults, "Stage": stage, "AWS::Region": REGION, "AWS::AccountId": ACCOUNT}
        self.pseudo |= {"AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}

    def __call__(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self(item) for item in value]
        if isinstance(value, dict):
            if len(value) == 1:
                ((key, argument),) = value.items()
                if key == "Ref":
                    return self.ref(argument)
                if key == "Fn::Sub":
                    return self.sub(argument)
                if key == "Fn::GetAtt":
                    return self.get_att(*(argument if isinstance(argument, list) else argument.split(".", 1)))
                if key == "Fn::FindInMap":
                    mapping, first, second = argument
                    return self.mappings[mapping][first][second]
            return {key: self(item) for key, item in value.items()}
        return value

    def ref(self, name: str) -> str:
        if name in self.pseudo:
            return self.pseudo[name]
        resource = self.resources[name]
        name_property = {
            "AWS::DynamoDB::Table": "TableName",
            "AWS::Events::EventBus": "Name",
            "AWS::IAM::Role": "RoleName",
        }.get(resource["Type"])
        if resource["Type"] == "AWS::IAM::ManagedPolicy":  # its Ref is its ARN
            path = resource["Properties"].get("Path", "/")
            return f"arn:aws:iam::{ACCOUNT}:policy{path}{self(resource['Properties']['ManagedPolicyName'])}"
        return self(resource["Properties"][name_property]) if name_property else name

    def get_att(self, name: str, attribute: str) -> str:
        kind = self.resources[name]["Type"]
        if kind == "AWS::DynamoDB::Table":
            arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{self.ref(name)}"
            return {"Arn": arn, "StreamArn": f"{arn}/stream/2026-11-21T00:00:00.000"}[attribute]
        if kind == "AWS::Events::EventBus" and attribute == "Arn":
            return f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{self.ref(name)}"
        if kind == "AWS::S3::Bucket" and attribute == "Arn":
            return f"arn:aws:s3:::{self.ref(name)}"
        if kind == "AWS::CloudFront::Distribution" and attribute == "DomainName":
            return f"{name.lower()}.cloudfront.net"
        if kind == "AWS::SQS::Queue" and attribute == "Arn":
            return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{self(self.resources[name]['Properties']['QueueName'])}"
        if kind == "AWS::IAM::Role" and attribute == "Arn":
            path = self.resources[name]["Properties"].get("Path", "/")
            return f"arn:aws:iam::{ACCOUNT}:role{path}{self.ref(name)}"
        raise KeyError(f"{name}.{attribute}")

    def sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument

        def replace(match: re.Match[str]) -> str:
            name = match[1]
            if name in variables:
                return str(self(variables[name]))
            return self.get_att(*name.split(".", 1)) if "." in name else str(self.ref(name))

        return re.sub(r"\$\{([^}!]+)\}", replace, text)


def function_statements(template: dict[str, Any], function: str, stage: str = STAGE) -> list[dict[str, Any]]:
    """The statements of every policy attached to the function's role, resolved for `stage`."""
    role = transforms.function_role(template["Resources"][function])
    statements = [
        statement
        for policy in of_type(template, "AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    return Resolve(template, stage)(statements)


def _matches(statement: dict[str, Any], action: str, resource: str) -> bool:
    actions = [a.lower() for a in as_list(statement["Action"])]
    return any(fnmatch.fnmatchcase(action.lower(), a) for a in actions) and any(
        fnmatch.fnmatchcase(resource, r) for r in as_list(statement["Resource"])
    )


def allows(statements: list[dict[str, Any]], action: str, resource: str) -> bool:
    """Whether some Allow statement covers the call and no Deny does (conditions count as met)."""
    if any(s["Effect"] == "Deny" and _matches(s, action, resource) for s in statements):
        return False
    return any(s["Effect"] == "Allow" and _matches(s, action, resource) for s in statements)


# --- the template itself -------------------------------------------------------------------------


def test_cfn_lint_passes_on_the_packaged_template(packaged: packaging.Package) -> None:
    packaging.lint(packaged.template)  # raises with cfn-lint's findings


def test_cfn_lint_catches_a_broken_template(template: dict[str, Any], tmp_path: Path) -> None:
    """The lint step is not a rubber stamp: a wrong billing mode and a dangling Ref fail it."""
    broken = json.loads(json.dumps(template))
    broken["Resources"]["OrdersTable"]["Properties"]["BillingMode"] = "PAY_AS_YOU_GO"
    broken["Resources"]["ApiHandlerPolicy"]["Properties"]["Roles"].append({"Ref": "NoSuchRole"})
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(broken))
    with pytest.raises(DeployError) as failure:
        packaging.lint(path)
    assert "PAY_AS_YOU_GO" in str(failure.value)
    assert "NoSuchRole" in str(failure.value)


def model_tables(monkeypatch: pytest.MonkeyPatch, stage: str) -> dict[str, dict[str, Any]]:
    """What the PynamoDB models say each table is, under the stage's table names."""
    from pynamodb.attributes import TTLAttribute

    from chalicelib import config
    from chalicelib.models import ALL_MODELS

    monkeypatch.setenv("CARTWISE_STAGE", stage)
    monkeypatch.delenv("CARTWISE_TABLE_PREFIX", raising=False)
    config.reset()
    tables = {}
    for model in ALL_MODELS:
        schema = model._get_schema()
        ttl = [name for name, attribute in model.get_attributes().items() if isinstance(attribute, TTLAttribute)]
        tables[model.Meta.table_name] = {
            "keys": {k["KeyType"]: k["AttributeName"] for k in schema["key_schema"]},
            "attributes": sorted((a["AttributeName"], a["AttributeType"]) for a in schema["attribute_definitions"]),
            "indexes": {
                index["index_name"]: {
                    "keys": {k["KeyType"]: k["AttributeName"] for k in index["key_schema"]},
                    "projection": index["projection"]["ProjectionType"],
                }
                for index in schema.get("global_secondary_indexes", [])
            },
            "billing_mode": model.Meta.billing_mode,
            "stream": getattr(model.Meta, "stream_view_type", None),
            "ttl": ttl[0] if ttl else None,
        }
    config.reset()
    return tables


def global_indexes(table: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Name -> keys and projection of a table's global indexes, as CloudFormation and DescribeTable spell them."""
    return {
        index["IndexName"]: {
            "keys": {k["KeyType"]: k["AttributeName"] for k in index["KeySchema"]},
            "projection": index["Projection"]["ProjectionType"],
        }
        for index in table.get("GlobalSecondaryIndexes", [])
    }


def template_tables(template: dict[str, Any], stage: str) -> dict[str, dict[str, Any]]:
    resolve = Resolve(template, stage)
    tables = {}
    for resource in of_type(template, "AWS::DynamoDB::Table").values():
        properties = resolve(resource["Properties"])
        ttl = properties.get("TimeToLiveSpecification", {})
        tables[properties["TableName"]] = {
            "keys": {k["KeyType"]: k["AttributeName"] for k in properties["KeySchema"]},
            "attributes": sorted((a["AttributeName"], a["AttributeType"]) for a in properties["AttributeDefinitions"]),
            "indexes": global_indexes(properties),
            "billing_mode": properties["BillingMode"],
            "stream": properties.get("StreamSpecification", {}).get("StreamViewType"),
            "ttl": ttl["AttributeName"] if ttl.get("Enabled") else None,
        }
    return tables


def test_tables_equal_the_pynamodb_models(template: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    models = model_tables(monkeypatch, STAGE)
    assert template_tables(template, STAGE) == models
    # The contract's specifics, so a change to both sides still has to be deliberate.
    assert models["cartwise-prod-orders"]["stream"] == "NEW_IMAGE"
    assert models["cartwise-prod-carts"]["ttl"] == "expires_at"
    assert models["cartwise-prod-idempotency"]["ttl"] == "expires_at"
    assert models["cartwise-prod-products"]["indexes"] == {
        "by-category": {"keys": {"HASH": "category_key", "RANGE": "product_id"}, "projection": "ALL"}
    }
    assert models["cartwise-prod-orders"]["indexes"] == {
        "by-status": {"keys": {"HASH": "status_key", "RANGE": "order_id"}, "projection": "ALL"},
        "pending-holds": {"keys": {"HASH": "hold_queue", "RANGE": "hold_expires_at"}, "projection": "ALL"},
    }
    assert {table["billing_mode"] for table in models.values()} == {"PAY_PER_REQUEST"}
    assert {table["keys"]["HASH"] for table in models.values()} == {"tenant_id"}


def test_every_table_has_point_in_time_recovery(template: dict[str, Any]) -> None:
    tables = of_type(template, "AWS::DynamoDB::Table")
    assert set(tables) == set(TABLE_RESOURCES.values())
    for name, table in tables.items():
        assert table["Properties"]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}, name


def test_provisioning_creates_the_tables_the_template_declares(
    template: dict[str, Any], aws_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """moto / DynamoDB Local / LocalStack get their tables from scripts/provision.py: same keys, stream, TTL."""
    from moto import mock_aws

    from chalicelib import clients
    from scripts.provision import create_tables

    monkeypatch.setenv("CARTWISE_STAGE", STAGE)
    clients.reset()
    with mock_aws():
        create_tables()
        dynamodb = clients.client("dynamodb")
        created = {}
        for name in dynamodb.list_tables()["TableNames"]:
            table = dynamodb.describe_table(TableName=name)["Table"]
            ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
            stream = table.get("StreamSpecification", {})
            created[name] = {
                "keys": {k["KeyType"]: k["AttributeName"] for k in table["KeySchema"]},
                "attributes": sorted((a["AttributeName"], a["AttributeType"]) for a in table["AttributeDefinitions"]),
                "indexes": global_indexes(table),
                "billing_mode": table["BillingModeSummary"]["BillingMode"],
                "stream": stream.get("StreamViewType") if stream.get("StreamEnabled") else None,
                "ttl": ttl.get("AttributeName") if ttl["TimeToLiveStatus"] in ("ENABLED", "ENABLING") else None,
            }
    clients.reset()
    assert created == template_tables(template, STAGE)


def test_stream_handlers_read_the_orders_table_stream(template: dict[str, Any]) -> None:
    sources = [
        event["Properties"]["Stream"]
        for function in of_type(template, "AWS::Serverless::Function").values()
        for event in function["Properties"].get("Events", {}).values()
        if event["Type"] == "DynamoDB"
    ]
    assert sources, "the orders stream handler (app.on_dynamodb_record) is not in the package"
    assert all(source == {"Fn::GetAtt": ["OrdersTable", "StreamArn"]} for source in sources), sources


def test_the_stack_has_flags_a_bus_and_its_outputs(template: dict[str, Any]) -> None:
    resolve = Resolve(template, STAGE)
    flags = [resolve(p["Properties"]) for p in of_type(template, "AWS::SSM::Parameter").values()]
    assert [(p["Name"], p["Type"], p["Value"]) for p in flags] == [
        ("/cartwise/prod/flags/UPSELL_ENABLED", "String", "false")
    ]
    assert [resolve(b["Properties"]["Name"]) for b in of_type(template, "AWS::Events::EventBus").values()] == [
        "cartwise-prod"
    ]
    assert {"EndpointURL", "StorefrontBucketName", "StorefrontURL", "OrderStreamFailuresQueueUrl"} <= set(
        template["Outputs"]
    )


def test_orders_and_tenants_survive_a_deleted_stack(template: dict[str, Any]) -> None:
    tables = of_type(template, "AWS::DynamoDB::Table")
    kept = {name for name, table in tables.items() if table["DeletionPolicy"] == "Retain"}
    assert kept == {"OrdersTable", "TenantsTable"}
    for name, table in tables.items():
        assert table["UpdateReplacePolicy"] == "Retain", name
        assert table["Properties"].get("DeletionProtectionEnabled", False) is (name in kept), name


def test_the_orders_stream_cannot_stall_its_shard(template: dict[str, Any]) -> None:
    (source,) = [
        event["Properties"]
        for function in of_type(template, "AWS::Serverless::Function").values()
        for event in function["Properties"].get("Events", {}).values()
        if event["Type"] == "DynamoDB"
    ]
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]  # chalicelib/events.py reports them
    assert source["BisectBatchOnFunctionError"] is True
    assert source["MaximumRetryAttempts"] == 5
    assert source["MaximumRecordAgeInSeconds"] == 3600
    assert source["DestinationConfig"] == {
        "OnFailure": {"Type": "SQS", "Destination": {"Fn::GetAtt": ["OrderStreamFailures", "Arn"]}}
    }
    queue = template["Resources"]["OrderStreamFailures"]["Properties"]
    assert queue["MessageRetentionPeriod"] == 14 * 24 * 3600
    # A stream source without its failure handling (a new stream function, say) is refused when packaging.
    broken = json.loads(json.dumps(template))
    (event,) = stream_function(broken)["Properties"]["Events"].values()
    del event["Properties"]["DestinationConfig"], event["Properties"]["FunctionResponseTypes"]
    with pytest.raises(DeployError, match=r"OrderStream\.OrderStreamDynamodbEventSource lacks DestinationConfig"):
        transforms.check_stream_failure_handling(broken)


def stream_function(template: dict[str, Any]) -> dict[str, Any]:
    """The one function fed by a DynamoDB stream (the others are the API, the authorizer, a schedule)."""
    (function,) = [
        f
        for f in of_type(template, "AWS::Serverless::Function").values()
        if any(e["Type"] == "DynamoDB" for e in f["Properties"].get("Events", {}).values())
    ]
    return function


def api_routes(template: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    paths = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["paths"]
    return {(method.upper(), path): spec for path, methods in paths.items() for method, spec in methods.items()}


def route_functions(template: dict[str, Any]) -> dict[tuple[str, str], str]:
    """(METHOD, path) -> the function API Gateway invokes for it (CORS preflights invoke none)."""
    invoked = {}
    for route, spec in api_routes(template).items():
        uri = spec["x-amazon-apigateway-integration"].get("uri")
        if uri is not None:
            (invoked[route],) = re.findall(r"/functions/\$\{(\w+)\.Arn\}/invocations$", uri["Fn::Sub"])
    return invoked


def views(app: Any) -> dict[tuple[str, str], Any]:
    """(METHOD, path) -> the view function of every route the Chalice app serves."""
    return {
        (method, path): entry.view_function for path, methods in app.routes.items() for method, entry in methods.items()
    }


PAYMENT_ROUTES = {
    ("POST", "/tenants/{tenant_id}/orders/{order_id}/cancel"),
    ("POST", "/tenants/{tenant_id}/orders/{order_id}/payment"),
    ("POST", "/tenants/{tenant_id}/orders/{order_id}/payment/setup"),
    ("POST", "/tenants/{tenant_id}/orders/{order_id}/refund"),
    ("POST", "/tenants/{tenant_id}/payments/stripe/webhook"),
}


def test_the_payments_blueprint_runs_in_its_own_function(template: dict[str, Any]) -> None:
    """Every route of chalicelib/api/payments.py is served by PaymentsHandler, every other by APIHandler:
    chosen by the view's module, so a route moved into that blueprint moves function with it."""
    import app as app_module

    modules = {route: view.__module__ for route, view in views(app_module.app).items()}
    assert route_functions(template) == {
        route: "PaymentsHandler" if module == "chalicelib.api.payments" else "APIHandler"
        for route, module in modules.items()
    }
    assert {route for route, module in modules.items() if module == "chalicelib.api.payments"} == PAYMENT_ROUTES
    # A route the packaged API lacks cannot be moved: packaging stops rather than leave it on APIHandler.
    broken = json.loads(json.dumps(template))
    with pytest.raises(DeployError, match=r"POST /tenants/\{tenant_id\}/refunds is not a route of APIHandler"):
        transforms.split_payments(broken, [("POST", "/tenants/{tenant_id}/refunds")])


def test_the_payments_function_is_the_api_function_on_the_payments_zip(
    template: dict[str, Any], packaged: packaging.Package
) -> None:
    resources = template["Resources"]
    api, payments = resources["APIHandler"]["Properties"], resources["PaymentsHandler"]["Properties"]
    assert {key for key in api.keys() | payments.keys() if api.get(key) != payments.get(key)} == {
        "CodeUri",
        "Role",
        "LoggingConfig",
    }
    assert payments["Environment"] == api["Environment"]
    assert (payments["Handler"], payments["Runtime"], payments["MemorySize"]) == ("app.app", "python3.11", 512)
    assert payments["Role"] == {"Fn::GetAtt": ["PaymentsHandlerRole", "Arn"]}
    code = {name: f["Properties"]["CodeUri"] for name, f in of_type(template, "AWS::Serverless::Function").items()}
    assert code == {
        "APIHandler": "./deployment.zip",
        "AdminKey": "./deployment.zip",
        "OrderStream": "./deployment.zip",
        "PaymentsHandler": "./payments.zip",
        "ExpireHolds": "./payments.zip",  # it cancels PaymentIntents
    }
    # `aws cloudformation package` uploads each CodeUri, a path relative to the template.
    assert {(packaged.template.parent / uri).resolve() for uri in code.values()} == {
        path.resolve() for path in packaged.zips
    }
    # API Gateway may invoke either function, as Chalice lets it invoke APIHandler: from this API only.
    resolve = Resolve(template, STAGE)
    for function in ("APIHandler", "PaymentsHandler"):
        assert resolve(resources[f"{function}InvokePermission"]["Properties"]) == {
            "Action": "lambda:InvokeFunction",
            "FunctionName": function,
            "Principal": "apigateway.amazonaws.com",
            "SourceArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:RestAPI/*",
        }


def costs_more_than_a_read(method: str, path: str, spec: dict[str, Any]) -> bool:
    """Checkout, up-sell, payments (card setup, payment, Stripe's webhook), order changes, readiness and
    admin routes (behind the admin-key authorizer).

    Not their CORS preflights (OPTIONS): API Gateway answers those itself, no function runs.
    """
    if method == "OPTIONS":
        return False
    return (
        bool(spec.get("security"))
        or path == "/health/ready"
        or path.endswith(("/checkout", "/upsell", "/payment", "/payment/setup", "/webhook", "/cancel", "/refund"))
    )


def test_costly_routes_have_limits_below_the_catalogue_reads(template: dict[str, Any]) -> None:
    """API Gateway throttles per method: `/*` `*` is every method's default, the others override it."""
    resolve = Resolve(template, STAGE)
    settings = resolve(template["Resources"]["RestAPI"]["Properties"]["MethodSettings"])
    default, *specific = settings
    assert (default["ResourcePath"], default["HttpMethod"]) == ("/*", "*")
    assert (default["ThrottlingRateLimit"], default["ThrottlingBurstLimit"]) == ("25", "50")  # catalogue reads
    # A path is written with its slashes as ~1 after the leading one: /~1health~1ready is /health/ready.
    limits = {(s["HttpMethod"], s["ResourcePath"][1:].replace("~1", "/")): s for s in specific}
    routes = api_routes(template)
    assert set(limits) <= set(routes), "a MethodSettings entry names no route of the API"
    costly = {route for route, spec in routes.items() if costs_more_than_a_read(*route, spec)}
    assert costly == set(limits)
    assert {route: (s["ThrottlingRateLimit"], s["ThrottlingBurstLimit"]) for route, s in limits.items()} == {
        ("POST", "/tenants/{tenant_id}/carts/{cart_id}/checkout"): (5, 10),
        ("POST", "/tenants/{tenant_id}/orders/{order_id}/cancel"): (5, 10),
        ("POST", "/tenants/{tenant_id}/orders/{order_id}/payment"): (5, 10),
        ("POST", "/tenants/{tenant_id}/orders/{order_id}/payment/setup"): (5, 10),
        ("POST", "/tenants/{tenant_id}/payments/stripe/webhook"): (10, 20),
        ("POST", "/tenants/{tenant_id}/orders/{order_id}/refund"): (2, 5),
        ("GET", "/tenants/{tenant_id}/carts/{cart_id}/upsell"): (5, 10),
        ("GET", "/health/ready"): (1, 2),
        ("GET", "/tenants/{tenant_id}/orders"): (2, 5),
        ("PUT", "/tenants/{tenant_id}/products/{product_id}"): (2, 5),
        ("POST", "/tenants/{tenant_id}/products/{product_id}/stock"): (2, 5),
    }
    # docs/operations.md states each figure, and the sum over every method of the API.
    operations = (REPO / "docs" / "operations.md").read_text()
    for name, limit in template["Mappings"]["RouteLimits"].items():
        assert f"| {name.lower()}" in operations
        assert f"| {limit['Rate']} requests/s, burst {limit['Burst']} |" in operations, name
    served = [route for route in routes if route[0] != "OPTIONS"]
    by_default = [route for route in served if route not in limits]
    assert (
        f"every other method: catalogue reads, carts, public order, liveness, the spec ({len(by_default)} methods)"
        in operations
    )
    total = 25 * len(by_default) + sum(s["ThrottlingRateLimit"] for s in limits.values())
    assert f"at most **{total} requests/s** steady" in operations


def gateway_answer(response: dict[str, Any], message: str = "From API Gateway.") -> tuple[Any, dict[str, Any], str]:
    """(status, headers, body) as API Gateway sends them: header values are quoted literals."""
    headers = {name: value.strip("'") for name, value in response["ResponseParameters"]["Headers"].items()}
    body = response["ResponseTemplates"]["application/json"].replace(
        "$context.error.messageString", json.dumps(message)
    )
    return response.get("StatusCode"), headers, body


def test_gateway_answers_are_in_the_envelope_with_cors(template: dict[str, Any]) -> None:
    responses = template["Resources"]["RestAPI"]["Properties"]["GatewayResponses"]
    answers = {kind: gateway_answer(response) for kind, response in responses.items()}
    for kind, (_, headers, body) in answers.items():
        assert headers["Access-Control-Allow-Origin"] == "*", kind
        error = json.loads(body)["error"]
        assert set(error) == {"code", "message", "details"}, kind
    codes = {kind: (status, json.loads(body)["error"]["code"]) for kind, (status, _, body) in answers.items()}
    assert codes == {
        "THROTTLED": (429, "RATE_LIMITED"),
        "UNAUTHORIZED": (401, "UNAUTHORIZED"),
        "AUTHORIZER_CONFIGURATION_ERROR": (503, "UNAVAILABLE"),  # the authorizer raised or timed out
        "AUTHORIZER_FAILURE": (503, "UNAVAILABLE"),
        "MISSING_AUTHENTICATION_TOKEN": (404, "NOT_FOUND"),  # API Gateway's answer to an unknown route
        "REQUEST_TOO_LARGE": (413, "PAYLOAD_TOO_LARGE"),
        "DEFAULT_4XX": (None, "BAD_REQUEST"),  # keeps API Gateway's status
        "DEFAULT_5XX": (None, "UNAVAILABLE"),
    }
    for kind in ("THROTTLED", "AUTHORIZER_CONFIGURATION_ERROR", "AUTHORIZER_FAILURE", "DEFAULT_5XX"):
        headers = answers[kind][1]
        assert (headers["Retry-After"], headers["Access-Control-Expose-Headers"]) == ("1", "Retry-After"), kind
    # A failed authorizer gets the same answer locally (chalicelib/api/local_gateway.py) as here.
    from chalicelib.api import local_gateway
    from chalicelib.errors import RETRY_AFTER_SECONDS

    for kind in ("AUTHORIZER_CONFIGURATION_ERROR", "AUTHORIZER_FAILURE"):
        assert json.loads(answers[kind][2]) == json.loads(local_gateway.UNAVAILABLE_BODY), kind
        assert answers[kind][1]["Retry-After"] == str(RETRY_AFTER_SECONDS), kind
    _, _, body = gateway_answer(responses["DEFAULT_4XX"], 'Invalid "body"')
    assert json.loads(body)["error"]["message"] == 'Invalid "body"'  # messageString is already a JSON string


def test_the_storefront_is_private_behind_https_cloudfront(template: dict[str, Any]) -> None:
    resolve = Resolve(template, STAGE)
    resources = template["Resources"]
    bucket = resources["StorefrontBucket"]["Properties"]
    assert not {"WebsiteConfiguration", "BucketName"} & set(bucket)  # no website endpoint; CloudFormation names it
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    (statement,) = resources["StorefrontBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert (statement["Action"], resolve(statement["Resource"])) == ("s3:GetObject", "arn:aws:s3:::StorefrontBucket/*")
    assert resolve(statement["Condition"]) == {
        "StringEquals": {"AWS:SourceArn": f"arn:aws:cloudfront::{ACCOUNT}:distribution/StorefrontDistribution"}
    }
    distribution = resources["StorefrontDistribution"]["Properties"]["DistributionConfig"]
    (origin,) = distribution["Origins"]
    assert origin["DomainName"] == {"Fn::GetAtt": ["StorefrontBucket", "RegionalDomainName"]}
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["StorefrontOriginAccessControl", "Id"]}
    access = resources["StorefrontOriginAccessControl"]["Properties"]["OriginAccessControlConfig"]
    assert (access["OriginAccessControlOriginType"], access["SigningBehavior"]) == ("s3", "always")
    behaviour = distribution["DefaultCacheBehavior"]
    assert behaviour["ViewerProtocolPolicy"] == "redirect-to-https"  # no content over plain HTTP
    assert behaviour["ResponseHeadersPolicyId"] == {"Ref": "StorefrontSecurityHeaders"}
    headers = resources["StorefrontSecurityHeaders"]["Properties"]["ResponseHeadersPolicyConfig"]
    security = headers["SecurityHeadersConfig"]
    assert security["StrictTransportSecurity"] == {
        "AccessControlMaxAgeSec": 31536000,
        "IncludeSubdomains": True,
        "Override": True,
    }
    policy = resolve(security["ContentSecurityPolicy"]["ContentSecurityPolicy"])
    directives = {d.split()[0]: d.split()[1:] for d in policy.split("; ")}
    api_origin = f"https://RestAPI.execute-api.{REGION}.amazonaws.com"
    assert directives == {
        "default-src": ["'none'"],
        "script-src": ["'self'", "https://js.stripe.com"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],  # the page's icon is a data: URL
        "connect-src": [api_origin, "https://api.stripe.com"],  # Stripe.js makes the card a PaymentMethod there
        "frame-src": ["https://js.stripe.com", "https://hooks.stripe.com"],  # its fields and 3-D Secure pages
        "base-uri": ["'none'"],
        "form-action": ["'none'"],
        "frame-ancestors": ["'none'"],
    }
    assert resolve(template["Outputs"]["EndpointURL"]["Value"]).startswith(api_origin + "/")
    assert resolve(template["Outputs"]["StorefrontURL"]["Value"]) == "https://storefrontdistribution.cloudfront.net"
    page = (REPO / "storefront" / "index.html").read_text()
    assert [tag for tag in ("<script>", "<style", " style=") if tag in page] == []  # nothing inline to allow


def test_chalice_stage_is_set_up_for_cloudformation() -> None:
    settings = packaging.stage_config(STAGE)  # raises unless autogen_policy is false and the policy file exists
    assert settings["autogen_policy"] is False
    env = settings["environment_variables"]
    assert env["CARTWISE_STAGE"] == STAGE
    assert env["LLM_API_KEY_PARAMETER"] == "/cartwise/prod/llm/api_key"
    assert "aws ssm put-parameter --type SecureString --name /cartwise/prod/llm/api_key" in (
        REPO / "docs" / "deploy.md"
    ).read_text().replace("\\\n", "").replace("  ", " ")


# --- least privilege ---------------------------------------------------------------------------


def test_every_function_logs_to_its_own_group_with_retention(template: dict[str, Any]) -> None:
    functions = of_type(template, "AWS::Serverless::Function")
    groups = of_type(template, "AWS::Logs::LogGroup")
    assert {f["Properties"]["LoggingConfig"]["LogGroup"]["Ref"] for f in functions.values()} == set(groups)
    resolve = Resolve(template, STAGE)
    names = {resolve(g["Properties"]["LogGroupName"]) for g in groups.values()}
    assert names == {f"/aws/lambda/cartwise-prod-{name}" for name in functions}
    logs = json.loads((REPO / "infra" / "policy-prod.json").read_text())["Statement"][0]["Resource"]
    assert all(fnmatch.fnmatchcase(f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{n}:log-stream:x", logs) for n in names)
    assert all(g["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"} for g in groups.values())
    assert {g["DeletionPolicy"] for g in groups.values()} == {"Delete"}


def test_every_function_has_its_own_policy(template: dict[str, Any]) -> None:
    roles = of_type(template, "AWS::IAM::Role")
    functions = of_type(template, "AWS::Serverless::Function")
    assert {transforms.function_role(f) for f in functions.values()} == set(roles)  # one role per function
    assert transforms.function_policies(template) == {
        "APIHandler": ["ApiHandlerPolicy"],
        "AdminKey": ["AdminKeyPolicy"],
        "ExpireHolds": ["ExpireHoldsPolicy"],
        "OrderStream": ["OrderStreamPolicy"],
        "PaymentsHandler": ["PaymentsHandlerPolicy"],
    }
    for name, function in functions.items():
        assert f"{transforms.function_role(function).removesuffix('Role')}Policy" in function["DependsOn"], name
    # Chalice's inline policy on each role is the logs-only policy file, nothing more; every role is capped.
    logs_only = json.loads((REPO / "infra" / "policy-prod.json").read_text())
    for role in roles.values():
        assert [p["PolicyDocument"] for p in role["Properties"]["Policies"]] == [logs_only]
        assert role["Properties"]["PermissionsBoundary"] == transforms.PERMISSIONS_BOUNDARY


def test_a_function_without_its_own_policy_is_refused(template: dict[str, Any]) -> None:
    """A new function (the order sweeper, say) needs one entry in infra/template.yml, or packaging stops."""
    without = json.loads(json.dumps(template))
    del without["Resources"]["AdminKeyPolicy"]
    with pytest.raises(DeployError, match=r"function AdminKey has no policy: .*Roles: \[!Ref AdminKeyRole\]"):
        transforms.function_policies(without)
    shared = json.loads(json.dumps(template))
    shared["Resources"]["ApiHandlerPolicy"]["Properties"]["Roles"].append({"Ref": "AdminKeyRole"})
    with pytest.raises(DeployError, match="a policy belongs to one function"):
        transforms.function_policies(shared)


def test_the_policies_are_least_privilege(template: dict[str, Any]) -> None:
    api, authorizer, stream, sweeper, payments = (
        function_statements(template, f)
        for f in ("APIHandler", "AdminKey", "OrderStream", "ExpireHolds", "PaymentsHandler")
    )
    for statement in api + authorizer + stream + sweeper + payments:
        assert statement["Effect"] == "Allow"
        assert all("*" not in action for action in as_list(statement["Action"])), statement
        assert all(resource != "*" and ":*:" not in resource for resource in as_list(statement["Resource"])), statement
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/cartwise-prod-"
    parameter = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/cartwise/prod/llm/api_key"
    stream_arn = f"{table}orders/stream/2026-11-21T00:00:00.000"
    bus = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/cartwise-prod"
    # The authorizer reads tenants, and can write nothing nor read the LLM key.
    assert allows(authorizer, "dynamodb:GetItem", f"{table}tenants")
    for action in ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"):
        assert not allows(authorizer, action, f"{table}tenants"), action
    assert not allows(authorizer, "dynamodb:GetItem", f"{table}orders")
    assert not allows(authorizer, "ssm:GetParameter", parameter)
    # The API: the tables, the flags and key; not the stream, not the bus, no scan, no other stage.
    assert allows(api, "dynamodb:ConditionCheckItem", f"{table}products")
    # The internet-facing functions read the shop's settings and admin key hashes, never write them
    # (the tenants CLI does): a flaw in a route cannot make a caller the admin of a shop.
    for function in (api, payments):
        assert allows(function, "dynamodb:GetItem", f"{table}tenants")
        for action in ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"):
            assert not allows(function, action, f"{table}tenants"), action
    assert not allows(api, "dynamodb:Scan", f"{table}orders")
    assert not allows(api, "dynamodb:DeleteTable", f"{table}orders")
    assert not allows(api, "dynamodb:GetItem", f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/cartwise-dev-orders")
    assert allows(api, "ssm:GetParameter", parameter)
    assert allows(api, "ssm:GetParameters", parameter.replace("llm/api_key", "flags/UPSELL_ENABLED"))
    assert not allows(api, "ssm:PutParameter", parameter)
    assert not allows(api, "ssm:GetParameter", parameter.replace("/prod/", "/dev/"))
    tenant_flag = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/cartwise/prod/tenants/acme/flags/UPSELL_ENABLED"
    assert allows(api, "ssm:GetParameters", tenant_flag)
    # ... but not the tenants' Stripe secrets: only the payment functions read those (decision 20).
    stripe_key = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/cartwise/prod/tenants/acme/stripe/secret_key"
    webhook_secret = stripe_key.replace("secret_key", "webhook_secret")
    for action in ("ssm:GetParameter", "ssm:GetParameters"):
        assert not allows(api, action, stripe_key), action
        assert not allows(api, action, webhook_secret), action
    # The payment routes: the tenants' Stripe secrets of this stage, not the flags, the LLM key or a stream.
    assert allows(payments, "ssm:GetParameter", stripe_key)
    assert allows(payments, "ssm:GetParameter", webhook_secret)
    for other in (parameter, tenant_flag, stripe_key.replace("/prod/", "/dev/")):
        assert not allows(payments, "ssm:GetParameter", other), other
    assert not allows(payments, "ssm:PutParameter", stripe_key)
    assert allows(payments, "dynamodb:UpdateItem", f"{table}orders")
    assert not allows(payments, "dynamodb:Query", f"{table}orders")
    assert not allows(payments, "dynamodb:GetItem", f"{table}carts")
    assert not allows(payments, "dynamodb:GetRecords", stream_arn)
    assert not allows(payments, "events:PutEvents", bus)
    assert not allows(api, "events:PutEvents", bus)
    assert not allows(api, "dynamodb:GetRecords", stream_arn)
    # The stream consumer: its stream, the stage's bus, its failure queue; no key, no reads of carts.
    for action in ("DescribeStream", "GetRecords", "GetShardIterator", "ListStreams"):
        assert allows(stream, f"dynamodb:{action}", stream_arn), action
    assert not allows(stream, "dynamodb:GetRecords", f"{table}carts/stream/x")
    assert allows(stream, "events:PutEvents", bus)
    assert not allows(stream, "events:PutEvents", f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default")
    assert allows(stream, "sqs:SendMessage", f"arn:aws:sqs:{REGION}:{ACCOUNT}:cartwise-prod-order-stream-failures")
    assert not allows(stream, "ssm:GetParameter", parameter)
    assert not allows(stream, "dynamodb:GetItem", f"{table}carts")
    assert not allows(stream, "ssm:GetParameter", stripe_key)
    # The sweeper: a tenant's Stripe secret key (to cancel intents) and nothing else of SSM, this stage only.
    assert allows(sweeper, "ssm:GetParameter", stripe_key)
    for other in (
        parameter,
        parameter.replace("llm/api_key", "flags/UPSELL_ENABLED"),
        stripe_key.replace("/prod/", "/dev/"),
    ):
        assert not allows(sweeper, "ssm:GetParameter", other), other
    assert not allows(sweeper, "ssm:GetParameters", stripe_key)
    assert not allows(sweeper, "ssm:PutParameter", stripe_key)
    assert not allows(sweeper, "dynamodb:GetItem", f"{table}tenants")
    for statements in (api, sweeper, payments):
        (kms,) = [s for s in statements if "kms:Decrypt" in as_list(s["Action"])]
        assert kms["Condition"] == {
            "StringEquals": {"kms:ViaService": f"ssm.{REGION}.amazonaws.com"},
            "ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/aws/ssm"},
        }


def required_permissions(service: str, operation: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    """The IAM action and resource ARN pairs one API call needs."""

    def table(name: str) -> str:
        return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"

    if service == "dynamodb":
        if operation in ("BatchGetItem", "BatchWriteItem"):
            return [(f"dynamodb:{operation}", table(name)) for name in params["RequestItems"]]
        if operation in ("TransactWriteItems", "TransactGetItems"):
            actions = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem"}
            actions |= {"ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}
            return [
                (f"dynamodb:{actions[kind]}", table(body["TableName"]))
                for item in params["TransactItems"]
                for kind, body in item.items()
            ]
        if "TableName" in params:
            index = f"/index/{params['IndexName']}" if params.get("IndexName") else ""
            return [(f"dynamodb:{operation}", table(params["TableName"]) + index)]
    if service == "ssm" and operation in ("GetParameter", "GetParameters"):
        names = [params["Name"]] if operation == "GetParameter" else params["Names"]
        needed = [(f"ssm:{operation}", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/{n.lstrip('/')}") for n in names]
        if params.get("WithDecryption"):
            needed.append(("kms:Decrypt", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/aws-ssm-managed-key"))
        return needed
    if service == "events" and operation == "PutEvents":
        return [
            ("events:PutEvents", f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{entry.get('EventBusName', 'default')}")
            for entry in params["Entries"]
        ]
    return [(f"{service}:{operation}", "*")]


class Recorder:
    """Records every AWS API call made through botocore (boto3, PynamoDB, Powertools) while active, with
    the function of the packaged template that made it: the one whose handler is on the call's stack
    (the authorizer runs inside the local gateway's request), or whose route's view is (the function
    the template's API integration invokes for that route), else the API handler."""

    def __init__(self, template: dict[str, Any]) -> None:
        self.calls: list[tuple[str, str, str, dict[str, Any]]] = []  # (function, service, operation, params)
        self.active = False
        self.handlers: dict[Any, str] = {}
        self.route_of: dict[Any, tuple[str, str]] = {}  # a view's code -> its (METHOD, path)
        self.routes_calling_aws: set[tuple[str, str]] = set()
        self.api = transforms.API_FUNCTION
        invoked = route_functions(template)
        for name, function in of_type(template, "AWS::Serverless::Function").items():
            module, _, attribute = function["Properties"]["Handler"].rpartition(".")
            handler = getattr(importlib.import_module(module), attribute)
            if function["Properties"]["Handler"] == "app.app":
                for route, view in views(handler).items():  # ApiBlueprint wraps each view; unwrapped: its code
                    if invoked[route] == name:
                        self.handlers[inspect.unwrap(view).__code__] = name
                        self.route_of[inspect.unwrap(view).__code__] = route
            else:  # Chalice wraps authorizers and event handlers; .func is the code that runs
                self.handlers[handler.func.__code__] = name

    def function(self) -> str:
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_code in self.handlers:
                if frame.f_code in self.route_of:
                    self.routes_calling_aws.add(self.route_of[frame.f_code])
                return self.handlers[frame.f_code]
            frame = frame.f_back
        return self.api

    def of(self, function: str) -> list[tuple[str, str, dict[str, Any]]]:
        return [(service, operation, params) for name, service, operation, params in self.calls if name == function]

    @contextlib.contextmanager
    def on(self) -> Iterator[None]:
        self.active = True
        try:
            yield
        finally:
            self.active = False

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        self.active = False
        try:
            yield
        finally:
            self.active = True


@pytest.fixture
def stripe_stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[StripeStub]:
    """Stripe's stand-in on loopback, where the API and the sweeper send their Stripe calls."""
    with StripeStub() as stub:
        monkeypatch.setenv("STRIPE_API_BASE", stub.url)
        yield stub


@pytest.fixture
def prod_like(
    template: dict[str, Any], aws_env: None, stripe_stub: StripeStub, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Recorder]:
    """moto provisioned for stage prod, with the prod stage's environment from .chalice/config.json.

    The LLM endpoint is replaced by a closed loopback port (the call fails fast and falls back), and
    Stripe by `stripe_stub`, so the SecureStrings are read as in production but nothing leaves the
    machine. globex pays by card, its Stripe secrets in SSM; acme (a card shop in the demo data) is paid
    on delivery here, so that both kinds of checkout, and an order counted at INSERT, are exercised.
    """
    from moto import mock_aws

    from chalicelib import clients
    from chalicelib.models import TenantModel
    from scripts.local_stack import free_port
    from scripts.provision import provision

    for name, value in packaging.stage_config(STAGE)["environment_variables"].items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LLM_BASE_URL", f"http://127.0.0.1:{free_port()}/v1")
    clients.reset()
    recorder = Recorder(template)
    original = BaseClient._make_api_call

    def recording(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        if recorder.active:
            call = (recorder.function(), client.meta.service_model.signing_name, operation, dict(params))
            recorder.calls.append(call)
        return original(client, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)
    with mock_aws():
        provision(seed=True, upsell_enabled="true")
        ssm = clients.ssm()
        ssm.put_parameter(
            Name="/cartwise/prod/llm/api_key", Value="sk-test-not-a-real-key", Type="SecureString", Overwrite=True
        )
        for name, value in (("secret_key", "sk_test_not_a_real_key"), ("webhook_secret", STRIPE_WEBHOOK_SECRET)):
            ssm.put_parameter(
                Name=f"/cartwise/prod/tenants/globex/stripe/{name}", Value=value, Type="SecureString", Overwrite=True
            )
        TenantModel("globex").update(actions=[TenantModel.payment_mode.set("stripe")])
        TenantModel("acme").update(actions=[TenantModel.payment_mode.set("on_delivery")])
        events = clients.events()
        with contextlib.suppress(events.exceptions.ResourceAlreadyExistsException):
            events.create_event_bus(Name="cartwise-prod")
        yield recorder
    clients.reset()


STRIPE_WEBHOOK_SECRET = "whsec_test_not_a_real_secret"


def signed_event(event_type: str, intent: dict[str, Any]) -> tuple[str, str]:
    """A Stripe event about `intent` and its Stripe-Signature header, signed as Stripe signs."""
    payload = json.dumps(
        {"id": f"evt_{intent['id']}", "object": "event", "type": event_type, "data": {"object": intent}}
    )
    timestamp = int(time.time())
    digest = hmac.new(STRIPE_WEBHOOK_SECRET.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return payload, f"t={timestamp},v1={digest}"


def stream_event_source_needs(template: dict[str, Any], function: str) -> list[tuple[str, str]]:
    """What Lambda's event source mapping does with the function's role: read the stream, note failures."""
    resolve = Resolve(template, STAGE)
    needed = []
    for event in template["Resources"][function]["Properties"].get("Events", {}).values():
        if event["Type"] != "DynamoDB":
            continue
        stream = resolve(event["Properties"]["Stream"])
        needed += [(f"dynamodb:{a}", stream) for a in ("DescribeStream", "GetRecords", "GetShardIterator")]
        needed += [
            ("dynamodb:ListStreams", stream),
            ("sqs:SendMessage", resolve(event["Properties"]["DestinationConfig"]["OnFailure"]["Destination"])),
        ]
    return needed


# Routes that answer from the function's own code: the journey cannot record an AWS call for them.
ROUTES_WITHOUT_AWS_CALLS = {("GET", "/health"), ("GET", "/openapi.yaml")}

# Table actions a policy may grant although the journey does not make them, with the reason.
UNUSED_BUT_NEEDED = {
    ("APIHandler", "dynamodb:ConditionCheckItem"),  # the contract's: checkout's transaction may condition-check
}


def test_each_policy_allows_every_aws_call_of_its_function(
    template: dict[str, Any], prod_like: Recorder, stripe_stub: StripeStub
) -> None:
    """Browse, cart, promo, up-sell (flag on, SecureString key), checkout, retry, sold out, admin routes
    (their authorizer runs as its own function), the order stream, card payments (setup, payment,
    webhook, refund, decline, cancel: PaymentsHandler's routes) and the hold sweeper cancelling a
    PaymentIntent: every call each function makes must be allowed by that function's own policy, and
    no policy grants a table action or a table its function does not use."""
    from chalice.test import Client

    import app as app_module
    from chalicelib import clients
    from tests.conftest import Api, set_stock

    demo_key = json.loads((REPO / "data" / "tenants" / "acme.json").read_text()).get("demo_admin_key", "")
    carts = "/tenants/acme/carts"
    with Client(app_module.app) as client, prod_like.on():
        api = Api(client)
        assert api.get("/health").status_code == 200
        assert api.get("/health/ready").status_code == 200
        assert api.get("/tenants/acme/products").status_code == 200
        assert api.get("/tenants/acme/products?category=camping&limit=2").status_code == 200  # the index
        assert api.get("/tenants/acme/products/tent-2p").status_code == 200
        assert api.get("/tenants/nobody/products").status_code == 404
        cart = api.post(carts, {"items": [{"product_id": "tent-2p", "quantity": 1}]})
        assert cart.status_code == 201
        cart_id = cart.data["cart_id"]
        assert api.put(f"{carts}/{cart_id}/items/headlamp", {"quantity": 2}).status_code == 200
        assert api.put(f"{carts}/{cart_id}/items/camp-chair", {"quantity": 1}).status_code == 200
        assert api.delete(f"{carts}/{cart_id}/items/camp-chair").status_code == 200
        assert api.put(f"{carts}/{cart_id}/promo", {"code": "SUMMER10"}).status_code == 200
        assert api.delete(f"{carts}/{cart_id}/promo").status_code == 200
        assert api.get(f"{carts}/{cart_id}").status_code == 200
        upsell = api.get(f"{carts}/{cart_id}/upsell")
        assert upsell.status_code == 200
        assert upsell.data["source"] == "fallback"  # the flag is on; the LLM call failed on the closed port
        order = api.post(f"{carts}/{cart_id}/checkout", {"email": "ada@example.com"}, headers={"Idempotency-Key": "k1"})
        assert order.status_code == 201
        order_id = order.data["order"]["order_id"]
        again = api.post(f"{carts}/{cart_id}/checkout", {"email": "ada@example.com"}, headers={"Idempotency-Key": "k1"})
        assert again.data["order"]["order_id"] == order_id
        assert api.get(f"/tenants/acme/orders/{order_id}").status_code == 200
        spare = api.post(carts, {"items": [{"product_id": "headlamp", "quantity": 1}]}).data["cart_id"]
        placed = api.post(f"{carts}/{spare}/checkout").data
        cancel = api.post(
            f"/tenants/acme/orders/{placed['order']['order_id']}/cancel",
            headers={"X-Order-Token": placed["order_token"]},
        )
        assert (cancel.status_code, cancel.data["status"]) == (200, "cancelled")
        sold_out = api.post(carts, {"items": [{"product_id": "sleeping-pad", "quantity": 2}]}).data["cart_id"]
        with prod_like.paused():
            set_stock("acme", "sleeping-pad", 1)
        assert api.post(f"{carts}/{sold_out}/checkout").status_code == 409
        admin = {"X-Api-Key": demo_key}
        assert api.get("/tenants/acme/orders", headers=admin).status_code == 200
        cancelled = api.get("/tenants/acme/orders?status=cancelled", headers=admin).data["items"]
        assert [o["order_id"] for o in cancelled] == [placed["order"]["order_id"]]
        product = {"name": "Tent v2", "category": "camping", "price": "139.00", "stock": 5}
        assert api.put("/tenants/acme/products/tent-3p", product, headers=admin).status_code in (200, 201)
        assert api.post("/tenants/acme/products/tent-2p/stock", {"delta": 1}, headers=admin).status_code == 200
        keyed = {**admin, "Idempotency-Key": "restock-1"}
        assert api.post("/tenants/acme/products/tent-2p/stock", {"delta": 1}, headers=keyed).status_code == 200
        assert api.get("/tenants/acme/orders", headers={"X-Api-Key": "cw_acme_" + "x" * 43}).status_code == 401

    # The orders stream handler: co-purchase counts and the order event.
    item = clients.client("dynamodb").get_item(
        TableName="cartwise-prod-orders", Key={"tenant_id": {"S": "acme"}, "order_id": {"S": order_id}}
    )["Item"]
    record = {"eventID": "1", "eventName": "INSERT", "eventSource": "aws:dynamodb", "awsRegion": REGION}
    keys = {name: item[name] for name in ("tenant_id", "order_id")}
    record["dynamodb"] = {"Keys": keys, "NewImage": item, "StreamViewType": "NEW_IMAGE"}
    record["dynamodb"] |= {"ApproximateCreationDateTime": 1795278422, "SequenceNumber": "1", "SizeBytes": 1}
    record["eventSourceARN"] = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/cartwise-prod-orders/stream/x"
    with prod_like.on():
        assert app_module.order_stream({"Records": [record]}, None) == {"batchItemFailures": []}

    # Card payments at globex (Stripe is HTTP to its stand-in; the AWS calls are the tenant's secrets
    # read from SSM and the orders' transitions): card setup, a payment, Stripe's webhook and its
    # redelivery, a refund, a declined card, a cancel that cancels the PaymentIntent.
    from datetime import UTC, datetime

    from chalicelib import tenants
    from chalicelib.models import OrderModel

    globex = "/tenants/globex"
    globex_key = json.loads((REPO / "data" / "tenants" / "globex.json").read_text()).get("demo_admin_key", "")
    with Client(app_module.app) as client, prod_like.on():
        api = Api(client)

        def card_order() -> tuple[str, dict[str, str]]:
            cart = api.post(f"{globex}/carts", {"items": [{"product_id": "usb-c-dock", "quantity": 1}]}).data
            placed = api.post(f"{globex}/carts/{cart['cart_id']}/checkout").data
            assert placed["order"]["status"] == "pending_payment"
            return f"{globex}/orders/{placed['order']['order_id']}", {"X-Order-Token": placed["order_token"]}

        paid, token = card_order()
        with prod_like.paused():  # PaymentsHandler is a process of its own: it reads the tenant itself
            tenants.clear_cache()
        assert api.post(f"{paid}/payment/setup", {"attempt": "attempt-0001"}, headers=token).status_code == 200
        payment = api.post(f"{paid}/payment", {"payment_method": "pm_card_visa"}, headers=token)
        assert (payment.status_code, payment.data["order"]["status"]) == (200, "paid")
        (intent,) = stripe_stub.intents.values()
        payload, signature = signed_event("payment_intent.succeeded", intent)
        for outcome in ("applied", "duplicate"):
            delivered = api.post(
                f"{globex}/payments/stripe/webhook", raw=payload, headers={"Stripe-Signature": signature}
            )
            assert (delivered.status_code, delivered.data) == (200, {"received": True, "outcome": outcome})
        refund = api.post(f"{paid}/refund", headers={"X-Api-Key": globex_key})
        assert (refund.status_code, refund.data["status"]) == (200, "refunded")
        cancelled, token = card_order()
        declined = api.post(f"{cancelled}/payment", {"payment_method": "pm_card_chargeDeclined"}, headers=token)
        assert (declined.status_code, declined.data["error"]["code"]) == (402, "PAYMENT_FAILED")
        cancel = api.post(f"{cancelled}/cancel", headers=token)
        assert (cancel.status_code, cancel.data["status"]) == (200, "cancelled")
        lapsed, token = card_order()  # declined too: its PaymentIntent awaits another card when the hold lapses
        assert (
            api.post(f"{lapsed}/payment", {"payment_method": "pm_card_chargeDeclined"}, headers=token).status_code
            == 402
        )

    # The hold sweeper, as its own function (its own process: no secret cached by the API's): the
    # lapsed order's PaymentIntent is cancelled at Stripe, then the order expires.
    with prod_like.paused():
        lapsed_id = lapsed.rsplit("/", 1)[1]
        OrderModel("globex", lapsed_id).update(actions=[OrderModel.hold_expires_at.set(datetime.now(UTC))])
        clients.parameters.cache_clear()
    scheduled = {"version": "0", "id": "1", "detail-type": "Scheduled Event", "source": "aws.events"}
    scheduled |= {"account": ACCOUNT, "time": "2026-11-30T06:00:00Z", "region": REGION, "resources": [], "detail": {}}
    with prod_like.on():
        assert app_module.expire_holds(scheduled, None) == {"expired": 1}
    lapsed_intent = OrderModel.get("globex", lapsed_id).payment_intent_id
    assert stripe_stub.intents[lapsed_intent]["status"] == "canceled"
    assert {intent["status"] for intent in stripe_stub.intents.values()} == {"succeeded", "canceled"}

    functions = of_type(template, "AWS::Serverless::Function")
    assert {name for name, *_ in prod_like.calls} == set(functions)  # every function was exercised
    # ... and every route that reaches AWS, so a policy narrowed to these calls denies no route its own.
    assert set(prod_like.route_of.values()) - prod_like.routes_calling_aws == ROUTES_WITHOUT_AWS_CALLS
    for function in functions:
        statements = function_statements(template, function)
        needed = {pair for call in prod_like.of(function) for pair in required_permissions(*call)}
        needed |= set(stream_event_source_needs(template, function))
        denied = sorted(
            f"{action} on {resource}" for action, resource in needed if not allows(statements, action, resource)
        )
        assert not denied, f"{function}'s policy in infra/template.yml does not allow:\n" + "\n".join(denied)
        # ... and grants no table action its function does not make on that table (action and table
        # together: UpdateItem on orders and GetItem on tenants is not UpdateItem on tenants).
        used = {(action, table.split("/stream/")[0]) for action, table in needed if action.startswith("dynamodb:")}
        for statement in statements:
            actions = [a for a in as_list(statement["Action"]) if a.startswith("dynamodb:")]
            granted = {(a, r.split("/stream/")[0]) for a in actions for r in as_list(statement["Resource"])}
            unused = {(a, r) for a, r in granted - used if (function, a) not in UNUSED_BUT_NEEDED}
            assert not unused, f"{function}: {statement['Sid']} grants, never used:\n" + "\n".join(
                f"{action} on {resource}" for action, resource in sorted(unused)
            )
    made = {(service, operation) for _, service, operation, _ in prod_like.calls}
    assert {("dynamodb", "TransactWriteItems"), ("dynamodb", "BatchGetItem"), ("dynamodb", "Query")} <= made
    assert {("ssm", "GetParameters"), ("ssm", "GetParameter"), ("dynamodb", "DescribeTable")} <= made
    decrypted = {(f, p["Name"]) for f, _, o, p in prod_like.calls if o == "GetParameter" and p.get("WithDecryption")}
    stripe_secrets = "/cartwise/prod/tenants/globex/stripe/"
    assert decrypted == {
        ("APIHandler", "/cartwise/prod/llm/api_key"),
        ("PaymentsHandler", stripe_secrets + "secret_key"),
        ("PaymentsHandler", stripe_secrets + "webhook_secret"),
        ("ExpireHolds", stripe_secrets + "secret_key"),
    }
    assert {(s, o) for s, o, _ in prod_like.of("AdminKey")} == {("dynamodb", "GetItem")}


# --- the deployment zip -------------------------------------------------------------------------

LAMBDA_RUNTIME_LIBRARIES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six.py", "urllib3")
# Each function zip: the SDK it ships, and the one it leaves out with what only that one needs (decision 20).
ZIPS = {"deployment.zip": ("openai", "stripe"), "payments.zip": ("stripe", "openai")}
ONLY_NEEDED_BY = {
    "stripe": {"stripe", "requests", "charset-normalizer", "urllib3", "certifi"},
    "openai": {"openai", "jiter", "anyio", "httpx2", "httpcore2", "h11", "sniffio", "truststore"},
}


def zip_named(packaged: packaging.Package, name: str) -> Path:
    (path,) = [path for path in packaged.zips if path.name == name]
    return path


def distributions_in(zip_path: Path) -> set[str]:
    """The canonical names of the distributions installed in a zip, from its .dist-info directories."""
    from packaging.utils import canonicalize_name

    with zipfile.ZipFile(zip_path) as archive:
        infos = {name.split("/", 1)[0] for name in archive.namelist() if ".dist-info/" in name}
    return {canonicalize_name(info.removesuffix(".dist-info").rsplit("-", 1)[0]) for info in infos}


@pytest.mark.parametrize("name", ZIPS)
def test_the_zip_ships_no_aws_sdk_and_fits_the_target(packaged: packaging.Package, name: str) -> None:
    zip_path = zip_named(packaged, name)
    shipped, left_out = ZIPS[name]
    with zipfile.ZipFile(zip_path) as archive:
        top = {name.split("/", 1)[0] for name in archive.namelist()}
    assert not top & {"boto3", "botocore", "s3transfer"}
    assert {"app.py", "chalicelib", "pynamodb", "aws_lambda_powertools", "pydantic_core", shipped} <= top
    assert left_out not in top
    # Issue 14's target; measured 8.67 MB (deployment) and 8.95 MB (payments). Lambda's own limit is 50 MB.
    assert zip_path.stat().st_size < 10_000_000
    assert packaging.unpacked_bytes(zip_path) < 40_000_000  # measured 28 and 32 MB; Lambda's limit is 250 MB
    with zipfile.ZipFile(zip_path) as archive:
        binaries = [n for n in archive.namelist() if n.endswith(".so")]
    assert binaries
    assert all("x86_64-linux-gnu" in n for n in binaries), binaries  # manylinux cp311 wheels


def test_each_zip_leaves_out_what_only_the_other_sdk_needs(packaged: packaging.Package) -> None:
    """deployment.zip has no stripe nor what only stripe needs; payments.zip no openai nor what only
    openai needs; both have everything else (idna and typing-extensions, needed by both SDKs, stay in
    both), and the same app code."""
    api, payments = (distributions_in(zip_named(packaged, name)) for name in ZIPS)
    assert not api & ONLY_NEEDED_BY["stripe"]
    assert not payments & ONLY_NEEDED_BY["openai"]
    assert ONLY_NEEDED_BY["openai"] <= api
    assert ONLY_NEEDED_BY["stripe"] <= payments
    assert api - ONLY_NEEDED_BY["openai"] == payments - ONLY_NEEDED_BY["stripe"]
    assert {"idna", "typing-extensions", "pydantic", "aws-lambda-powertools", "pynamodb"} <= api & payments
    # What packaging computes from the wheels' metadata is that: no list of it is written down anywhere.
    from packaging.requirements import Requirement

    bundled, vendored = packaging.lambda_requirements()
    roots = [Requirement(pin) for pin in bundled + vendored]
    for name, (shipped, _) in ZIPS.items():
        with zipfile.ZipFile(zip_named(packaged, name)) as archive:
            installed = dependencies.read_distributions(archive)
        assert dependencies.only_needed_by(installed, roots, shipped) == ONLY_NEEDED_BY[shipped], name
    with (
        zipfile.ZipFile(zip_named(packaged, "deployment.zip")) as api_zip,
        zipfile.ZipFile(zip_named(packaged, "payments.zip")) as payments_zip,
    ):
        app_code = {n for n in api_zip.namelist() if n.startswith(("app.py", "__pycache__/app.", "chalicelib/"))}
        assert app_code == {
            n for n in payments_zip.namelist() if n.startswith(("app.py", "__pycache__/app.", "chalicelib/"))
        }
        # The sources byte for byte (the .pyc files name the directory they were compiled in).
        for path in sorted(name for name in app_code if not name.endswith(".pyc")):
            assert api_zip.read(path) == payments_zip.read(path), path


@pytest.mark.parametrize("name", ZIPS)
def test_the_zip_ships_only_runtime_code(packaged: packaging.Package, name: str) -> None:
    """The app's own code in the zip is app.py and chalicelib, and none of it reads the repository's
    other directories (they are not in the zip: tests/data, bench/, ...)."""
    with zipfile.ZipFile(zip_named(packaged, name)) as archive:
        names = archive.namelist()
        own = {
            name: archive.read(name).decode()
            for name in names
            if name.startswith("chalicelib/") and not name.endswith(".pyc")  # sources, not their bytecode
        }
    assert not {name.split("/", 1)[0] for name in names} & {"tests", "bench", "support", "scripts", "data", "docs"}
    assert "chalicelib/upsell/__init__.py" in own
    for name, source in own.items():
        assert not any(part in source for part in ("tests/", "bench/")), name


@pytest.mark.parametrize("name", ZIPS)
def test_the_zip_imports_with_only_the_lambda_runtime_beside_it(
    packaged: packaging.Package, tmp_path: Path, name: str
) -> None:
    """Lambda's sys.path is the package plus the runtime's boto3/botocore: the app must import (without
    openai, which is imported on the first LLM call) and answer /health through the handler. The SDK
    the zip ships imports and makes a real call over HTTP (a loopback stand-in answers it) through the
    client the app builds, and builds an HTTPS client (its trust store is in the zip); the one it
    leaves out does not import."""
    import botocore

    from support.llm_stub import StubLLM, answer

    code = tmp_path / "task"
    with zipfile.ZipFile(zip_named(packaged, name)) as archive:
        archive.extractall(code)
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    site = Path(botocore.__file__).parent.parent
    for library in LAMBDA_RUNTIME_LIBRARIES:
        (runtime / library).symlink_to(site / library)
    script = """
import json, sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
import app
assert "openai" not in sys.modules, "openai imported at cold start"
leaked = sorted({m.__file__.split("/site-packages/")[0] for m in list(sys.modules.values())
                 if getattr(m, "__file__", None) and "/site-packages/" in m.__file__})
event = {"resource": "/health", "path": "/health", "httpMethod": "GET", "headers": {"Host": "x"},
         "multiValueHeaders": {}, "queryStringParameters": None, "multiValueQueryStringParameters": None,
         "pathParameters": None, "stageVariables": None, "body": None, "isBase64Encoded": False,
         "requestContext": {"resourcePath": "/health", "httpMethod": "GET", "path": "/api/health",
                            "stage": "api", "requestId": "r1", "identity": {"sourceIp": "127.0.0.1"}}}
response = app.app(event, None)
spec_event = json.loads(json.dumps(event).replace("/health", "/openapi.yaml"))
spec = app.app(spec_event, None)  # chalicelib/openapi.yaml is a symlink in git: it must ship as a file
sdks = {}
for sdk in ("openai", "stripe"):
    try:
        __import__(sdk)
        sdks[sdk] = "imports"
    except ModuleNotFoundError as missing:
        sdks[sdk] = f"missing {missing.name}"
from chalicelib import clients
if sdks.get("openai") == "imports":
    llm = clients.llm(sys.argv[3], "sk-zip", 5.0)
    reply = llm.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    call = reply.choices[0].message.content
    clients.llm("https://llm.example.invalid/v1", "sk-zip", 5.0)._client  # TLS context and trust store
else:
    customer = clients.stripe("sk_test_zip", sys.argv[4]).v1.customers.create({"metadata": {"order_id": "o1"}})
    call = customer.metadata["order_id"]
    clients.stripe("sk_test_zip", None)  # api.stripe.com over HTTPS: the SDK's own client and CA bundle
leaked = sorted({m.__file__.split("/site-packages/")[0] for m in list(sys.modules.values())
                 if getattr(m, "__file__", None) and "/site-packages/" in m.__file__})
print(json.dumps({"status": response["statusCode"], "body": response["body"], "leaked": leaked,
                  "spec": [spec["statusCode"], spec["body"][:8]], "sdks": sdks, "call": call}))
"""
    env = {"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": REGION, "CARTWISE_STAGE": STAGE, "PYTHONNOUSERSITE": "1"}
    llm = StubLLM().start()
    try:
        llm.script(answer("from the zip"))
        with StripeStub() as stripe_api:
            result = subprocess.run(
                [sys.executable, "-I", "-S", "-c", script, str(code), str(runtime), llm.base_url, stripe_api.url],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
    finally:
        llm.stop()
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["leaked"] == []  # -S: nothing came from the venv's site-packages
    assert (answer["status"], json.loads(answer["body"])) == (200, {"status": "ok"})
    assert answer["spec"] == [200, "openapi:"]
    shipped, left_out = ZIPS[name]
    assert answer["sdks"] == {shipped: "imports", left_out: f"missing {left_out}"}
    assert answer["call"] == {"openai": "from the zip", "stripe": "o1"}[shipped]


@pytest.mark.parametrize("name", ZIPS)
def test_the_zip_ships_bytecode_for_cold_start_and_request_paths(
    packaged: packaging.Package, tmp_path: Path, name: str
) -> None:
    """Lambda's code directory is read-only: without .pyc files in the zip every cold start compiles
    every module. Importing the app and what requests import (the request schemas, the up-sell's
    computing modules) compiles nothing from the zip; openai and stripe, imported on a process's first
    LLM call and first payment, ship as sources only (decision 19), each in the zip of its functions."""
    shipped, _ = ZIPS[name]
    code = tmp_path / "task"
    with zipfile.ZipFile(zip_named(packaged, name)) as archive:
        archive.extractall(code)
        names = set(archive.namelist())
    assert {"app.py", "__pycache__/app.cpython-311.pyc", "chalicelib/checkout.py"} <= names  # sources kept
    assert "chalicelib/__pycache__/checkout.cpython-311.pyc" in names
    assert f"{shipped}/__init__.py" in names
    assert not [name for name in names if name.startswith(f"{shipped}/") and name.endswith(".pyc")]
    header = (code / "__pycache__" / "app.cpython-311.pyc").read_bytes()[:8]
    assert header[:4] == importlib.util.MAGIC_NUMBER  # Python 3.11's, the runtime's
    assert int.from_bytes(header[4:8], "little") == 0b01  # hash-based, unchecked: no source mtime check
    script = """
import importlib, json, sys
import importlib._bootstrap_external as loaders
compiled = []
original = loaders.SourceLoader.source_to_code
def counting(self, data, path, *args, **kwargs):
    compiled.append(str(path))
    return original(self, data, path, *args, **kwargs)
loaders.SourceLoader.source_to_code = counting
sys.path.insert(0, sys.argv[1])
def imports(*names):
    compiled.clear()
    for name in names:
        importlib.import_module(name)
    return [p for p in compiled if p.startswith(sys.argv[1])]
# the up-sell's computing modules are imported when an answer is first computed
hot = imports("app", "chalicelib.api.schemas", *("chalicelib.upsell." + name
              for name in ("candidates", "fallback", "llm", "prompt", "validation")))
files = [getattr(m, "__file__", None) or "" for m in list(sys.modules.values())]
loaded = [f for f in files if f.startswith(sys.argv[1])]
print(json.dumps({"hot": hot, "loaded": len(loaded), "sdk": len(imports(sys.argv[2]))}))
"""
    env = {"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": REGION, "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run(
        [sys.executable, "-c", script, str(code) + "/", shipped], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["hot"] == []
    assert answer["loaded"] > 150  # app, chalicelib, pynamodb, pydantic, Powertools' Logger ... all from the zip
    assert answer["sdk"] > 0  # compiled from sources on its first import in a process


def test_requirements_split_keeps_botocore_out() -> None:
    bundled, vendored = packaging.lambda_requirements()
    assert vendored == ["pynamodb==6.1.0"]
    assert not any(pin.split("==")[0].lower() in packaging.RUNTIME_PROVIDED for pin in bundled)
    assert {pin.split("==")[0] for pin in bundled} >= {"aws-lambda-powertools", "openai"}


def test_a_vendored_package_with_other_dependencies_is_refused(tmp_path: Path) -> None:
    info = tmp_path / "thing-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Name: thing\nRequires-Dist: botocore>=1\nRequires-Dist: tomli; python_version < '3.11'\n"
    )
    packaging.check_vendored_dependencies(tmp_path)  # botocore is provided; tomli is not needed on 3.11
    (info / "METADATA").write_text("Name: thing\nRequires-Dist: botocore>=1\nRequires-Dist: requests\n")
    with pytest.raises(DeployError, match="requests"):
        packaging.check_vendored_dependencies(tmp_path)


def test_shipped_wheels_are_the_files_the_lock_names(tmp_path: Path) -> None:
    """Packaging checks every cached wheel against the deploy lock's hashes before Chalice reads it."""
    import shutil

    packaging.check_wheels_against_lock(packaging.WHEEL_CACHE)  # the session's cache, filled from PyPI
    cache = tmp_path / "wheels"
    cache.mkdir()
    (original,) = packaging.WHEEL_CACHE.glob("pynamodb-6.1.0-*.whl")
    shutil.copy(original, cache)
    packaging.check_wheels_against_lock(cache)
    with (cache / original.name).open("ab") as wheel:
        wheel.write(b"\0")  # one byte more: another file under the same name
    with pytest.raises(DeployError, match=r"pynamodb-6\.1\.0-.* is not in deploy-requirements\.txt"):
        packaging.check_wheels_against_lock(cache)
    (cache / original.name).unlink()
    stale = cache / original.name.replace("6.1.0", "6.0.9")
    shutil.copy(original, stale)
    packaging.check_wheels_against_lock(cache)  # an older pin's wheel is dropped, not shipped
    assert not stale.exists()
    unknown = cache / original.name.replace("pynamodb", "pynamodb_extras")
    shutil.copy(original, unknown)
    with pytest.raises(DeployError, match=r"pynamodb_extras-6\.1\.0-.* is not in deploy-requirements\.txt"):
        packaging.check_wheels_against_lock(cache)


def test_package_size_script_reports_both_zips(capsys: pytest.CaptureFixture[str], packaged: packaging.Package) -> None:
    from scripts import package_size

    report = package_size.report(packaged)
    assert list(report["zips"]) == ["deployment.zip", "payments.zip"]
    for name, (shipped, _) in ZIPS.items():
        zipped = report["zips"][name]
        assert zipped["zip_bytes"] == zip_named(packaged, name).stat().st_size
        assert zipped["unpacked_bytes"] == packaging.unpacked_bytes(zip_named(packaged, name))
        assert {entry["name"] for entry in zipped["largest"][:2]} == {"pydantic_core", shipped}
    package_size.print_report(report)
    printed = capsys.readouterr().out
    for name, zipped in report["zips"].items():
        assert f"{name}: {zipped['zip_bytes'] / 1e6:.2f} MB zipped" in printed


# --- storefront, wiring, workflow -------------------------------------------------------------------


# awscli's DeployBucketRequiredError (awscli/customizations/cloudformation/exceptions.py).
TEMPLATE_TOO_LARGE = (
    "Templates with a size greater than 51,200 bytes must be deployed via an S3 Bucket. Please add the"
    " --s3-bucket parameter to your command. The local template will be copied to that S3 bucket and then deployed."
)

FAKE_AWS_CLI = """#!{python}
# Stands in for the AWS CLI: logs its arguments and refuses what the real one refuses before calling
# AWS (awscli/customizations/cloudformation/package.py and deploy.py, checked against the real CLI by
# test_the_fake_aws_cli_refuses_what_the_real_one_refuses). `cloudformation package` uploads the zip
# and copies the template; `cloudformation deploy` uploads the template to the bucket as the real one
# does, then creates a small stack with the outputs the real one has.
import hashlib, json, shutil, sys
import boto3

args = sys.argv[1:]
with open({log!r}, "a") as log:
    log.write(json.dumps(args) + "\\n")
option = lambda name: args[args.index(name) + 1] if name in args else None
in_bucket = lambda key: f"{{option('--s3-prefix')}}/{{key}}" if option("--s3-prefix") else key
required = {{
    ("cloudformation", "package"): ["--template-file", "--s3-bucket"],
    ("cloudformation", "deploy"): ["--template-file", "--stack-name"],
}}
missing = [name for name in required.get(tuple(args[:2]), []) if option(name) is None]
if missing:  # argparse's refusal, exit 2
    sys.stderr.write("aws: error: the following arguments are required: " + ", ".join(missing) + "\\n")
    sys.exit(2)
if args[:2] == ["cloudformation", "package"]:
    shutil.copy(option("--template-file"), option("--output-template-file"))
    boto3.client("s3").put_object(Bucket=option("--s3-bucket"), Key=in_bucket("code.zip"), Body=b"zip")
elif args[:2] == ["cloudformation", "deploy"]:
    body = open(option("--template-file"), "rb").read()
    if len(body) > 51200 and not option("--s3-bucket"):  # DeployBucketRequiredError, exit 255
        sys.stderr.write("\\n" + {too_large!r} + "\\n")
        sys.exit(255)
    if option("--s3-bucket"):  # where S3Uploader.upload_with_dedup puts it
        key = in_bucket(hashlib.md5(body).hexdigest() + ".template")
        boto3.client("s3").put_object(Bucket=option("--s3-bucket"), Key=key, Body=body)
    outputs = {{
        "EndpointURL": {{"Value": "https://abc123.execute-api.us-east-1.amazonaws.com/api/"}},
        "StorefrontBucketName": {{"Value": {{"Ref": "StorefrontBucket"}}}},
        "StorefrontURL": {{"Value": "https://d111111abcdef8.cloudfront.net"}},
    }}
    def table(name, retain):
        keys = {{"KeySchema": [{{"AttributeName": "tenant_id", "KeyType": "HASH"}}],
                 "AttributeDefinitions": [{{"AttributeName": "tenant_id", "AttributeType": "S"}}]}}
        properties = {{"TableName": name, "BillingMode": "PAY_PER_REQUEST", **keys}}
        return {{"Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Retain" if retain else "Delete",
                 "Properties": properties}}
    resources = {{
        "StorefrontBucket": {{"Type": "AWS::S3::Bucket"}},
        "OrdersTable": table("cartwise-prod-orders", retain=True),
        "CartsTable": table("cartwise-prod-carts", retain=False),
    }}
    template = {{"Resources": resources, "Outputs": outputs}}
    boto3.client("cloudformation").create_stack(StackName=option("--stack-name"), TemplateBody=json.dumps(template))
"""


def fake_aws_cli(log: Path) -> str:
    return FAKE_AWS_CLI.format(python=sys.executable, log=str(log), too_large=TEMPLATE_TOO_LARGE)


@pytest.mark.parametrize(
    ("command", "returncode", "message"),
    [
        (["deploy", "--template-file", "{large}", "--stack-name", "s"], 255, TEMPLATE_TOO_LARGE),
        (["deploy"], 2, "aws: error: the following arguments are required: --template-file, --stack-name"),
        (["package"], 2, "aws: error: the following arguments are required: --template-file, --s3-bucket"),
    ],
    ids=[
        "deploy-of-a-large-template-without-a-bucket",
        "deploy-without-required-options",
        "package-without-required-options",
    ],
)
def test_the_fake_aws_cli_refuses_what_the_real_one_refuses(
    tmp_path: Path, command: list[str], returncode: int, message: str
) -> None:
    """The fake's refusals, side by side with the real CLI's (the awscli of requirements-dev.txt), which refuses
    these before calling AWS; the endpoint points nowhere in case it ever doesn't."""
    large = tmp_path / "large.yaml"
    large.write_text("Resources: {}\n" + "#" * 51_200 + "\n")  # a template, over 51,200 bytes by its comment
    fake = tmp_path / "aws"
    fake.write_text(fake_aws_cli(tmp_path / "aws.log"))
    fake.chmod(0o755)
    env = {
        **{name: value for name, value in os.environ.items() if not name.startswith("AWS_")},  # no profile of yours
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_MAX_ATTEMPTS": "1",
    }
    args = ["cloudformation", *(arg.format(large=large) for arg in command)]
    for cli in (Path(sys.executable).with_name("aws"), fake):
        result = subprocess.run([str(cli), *args], capture_output=True, text=True, env=env)
        assert (result.returncode, result.stderr.strip().splitlines()[-1]) == (returncode, message), cli


def test_deploy_and_destroy_against_a_stand_in_aws(
    packaged: packaging.Package, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The orchestration of `make deploy` / `make destroy`, with a moto server as AWS and a fake `aws` CLI."""
    import boto3

    from scripts.local_stack import free_port, start_moto_server

    port = free_port()
    server = start_moto_server(port, log_dir=tmp_path)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "aws.log"
    (bin_dir / "aws").write_text(fake_aws_cli(log))
    (bin_dir / "aws").chmod(0o755)
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    for name, value in {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(packaging, "package", lambda stage: packaged)  # the session's package (tested above)
    linted: list[tuple[Path, bool]] = []  # (template, had the AWS CLI been called yet)
    monkeypatch.setattr(packaging, "lint", lambda template: linted.append((template, log.exists())))
    service_role = f"arn:aws:iam::{ACCOUNT}:role/CartwiseCloudFormation"
    try:
        result = orchestration.deploy(STAGE, parameters={"ApiRateLimit": "50"}, role_arn=service_role)
        assert linted == [(packaged.template, False)]  # linted before anything is sent to CloudFormation
        calls = [json.loads(line) for line in log.read_text().splitlines()]
        artifacts = f"cartwise-artifacts-{ACCOUNT}-{REGION}"
        assert [call[:2] for call in calls] == [["cloudformation", "package"], ["cloudformation", "deploy"]]
        package_call, deploy_call = calls
        assert package_call[package_call.index("--s3-bucket") + 1] == artifacts
        # The packaged template is too large to send inline: it goes through the bucket, under the stack's prefix.
        assert deploy_call[deploy_call.index("--s3-bucket") + 1] == artifacts
        assert deploy_call[deploy_call.index("--s3-prefix") + 1] == "cartwise-prod"
        assert deploy_call[deploy_call.index("--stack-name") + 1] == "cartwise-prod"
        assert deploy_call[deploy_call.index("--capabilities") + 1] == "CAPABILITY_IAM"
        assert deploy_call[deploy_call.index("--role-arn") + 1] == service_role
        overrides = deploy_call[deploy_call.index("--parameter-overrides") + 1 : deploy_call.index("--tags")]
        assert overrides == ["Stage=prod", "ApiRateLimit=50"]
        s3 = boto3.client("s3")
        assert s3.get_bucket_lifecycle_configuration(Bucket=artifacts)["Rules"][0]["Expiration"] == {"Days": 30}
        assert s3.get_public_access_block(Bucket=artifacts)["PublicAccessBlockConfiguration"]["BlockPublicPolicy"]
        bucket = result["StorefrontBucketName"]
        config = s3.get_object(Bucket=bucket, Key="config.js")["Body"].read().decode()
        assert config == (
            'export const API_BASE_URL = "https://abc123.execute-api.us-east-1.amazonaws.com/api";\n'
            'export const STRIPE_JS_URL = "https://js.stripe.com/v3/";\n'  # Stripe's own in the cloud
        )
        printed = capsys.readouterr().out
        assert "API:         https://abc123.execute-api.us-east-1.amazonaws.com/api/" in printed
        assert "Storefront:  https://d111111abcdef8.cloudfront.net/index.html?tenant=acme" in printed

        boto3.client("ssm").put_parameter(Name="/cartwise/prod/llm/api_key", Value="k", Type="SecureString")
        kept = orchestration.destroy(STAGE)
        printed = capsys.readouterr().out
        assert kept == {"tables": ["cartwise-prod-orders"], "parameters": ["/cartwise/prod/llm/api_key"]}
        assert boto3.client("dynamodb").list_tables()["TableNames"] == ["cartwise-prod-orders"]
        assert (
            "aws dynamodb update-table --table-name cartwise-prod-orders --no-deletion-protection-enabled"
            " && aws dynamodb delete-table --table-name cartwise-prod-orders" in printed
        )
        assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
        assert artifacts not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
        stacks = boto3.client("cloudformation").list_stacks()["StackSummaries"]
        assert {s["StackStatus"] for s in stacks if s["StackName"] == "cartwise-prod"} == {"DELETE_COMPLETE"}
        assert "aws ssm delete-parameter --name /cartwise/prod/llm/api_key" in printed
    finally:
        server.stop()


def test_a_stack_whose_creation_rolled_back_is_deleted_before_deploying() -> None:
    import boto3
    from botocore.stub import Stubber

    cloudformation = boto3.client(
        "cloudformation", region_name=REGION, aws_access_key_id="t", aws_secret_access_key="t"
    )
    stack = {"StackName": "cartwise-prod", "CreationTime": "2026-11-21T00:00:00Z"}
    with Stubber(cloudformation) as stub:
        stub.add_response("describe_stacks", {"Stacks": [{**stack, "StackStatus": "UPDATE_COMPLETE"}]})
        assert orchestration.clear_failed_creation(cloudformation, "cartwise-prod") is False  # a live stack is kept
        stub.add_response("describe_stacks", {"Stacks": [{**stack, "StackStatus": "ROLLBACK_COMPLETE"}]})
        stub.add_response("delete_stack", {}, {"StackName": "cartwise-prod"})
        stub.add_client_error("describe_stacks", "ValidationError", "Stack with id cartwise-prod does not exist")
        assert orchestration.clear_failed_creation(cloudformation, "cartwise-prod") is True
        stub.add_client_error("describe_stacks", "ValidationError", "Stack with id cartwise-prod does not exist")
        assert orchestration.clear_failed_creation(cloudformation, "cartwise-prod") is False
        stub.assert_no_pending_responses()


def test_cloud_demo_data_never_carries_the_published_keys(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from moto import mock_aws

    from chalicelib import clients
    from chalicelib.models import ProductModel, TenantModel
    from scripts.provision import create_tables, load_tenant_files

    monkeypatch.setenv("CARTWISE_STAGE", STAGE)
    clients.reset()
    with mock_aws():
        create_tables()
        assert orchestration.seed_demo_data(STAGE) == ["acme", "globex"]
        for data in load_tenant_files():
            tenant = TenantModel.get(data["tenant_id"])
            assert tenant.name == data["name"]
            assert not tenant.api_key_hashes  # `make run` gives acme the published demo key; the cloud never
            # Nor the published demo Stripe keys: a known webhook secret would let anyone forge payments.
            assert (tenant.payment_mode, tenant.stripe_publishable_key) == ("on_delivery", None)
            assert ProductModel.count(data["tenant_id"]) == len(data["products"])
        assert not clients.ssm().get_parameters_by_path(Path=f"/cartwise/{STAGE}/tenants", Recursive=True)["Parameters"]
    clients.reset()


def test_storefront_upload_replaces_stale_objects_and_points_at_the_api(aws: None) -> None:
    """deploy uploads with provisioning's code: every file, its type, a config.js for the API, nothing stale."""
    from chalicelib import clients

    s3 = clients.s3()
    bucket = "cartwise-prod-storefrontbucket-abc"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="old.js", Body=b"gone")
    keys = orchestration.upload_storefront(s3, bucket, "https://abc123.execute-api.us-east-1.amazonaws.com/api/")
    stored = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert set(keys) == stored  # old.js, no longer in storefront/, was deleted
    assert {"index.html", "config.js", "main.js"} <= stored
    assert s3.get_object(Bucket=bucket, Key="main.js")["ContentType"] == "text/javascript"
    assert s3.get_object(Bucket=bucket, Key="index.html")["ContentType"] == "text/html"
    config = s3.get_object(Bucket=bucket, Key="config.js")["Body"].read().decode()
    assert config == (
        'export const API_BASE_URL = "https://abc123.execute-api.us-east-1.amazonaws.com/api";\n'
        'export const STRIPE_JS_URL = "https://js.stripe.com/v3/";\n'  # Stripe's own in the cloud
    )


def test_stream_placeholders_must_name_a_table_of_the_stack(template: dict[str, Any]) -> None:
    broken = json.loads(json.dumps(template))
    (event,) = stream_function(broken)["Properties"]["Events"].values()
    event["Properties"]["Stream"] = "arn:aws:dynamodb:us-east-1:000000000000:table/cartwise-dev-invoices/stream/x"
    with pytest.raises(DeployError, match="cartwise-dev-invoices"):
        transforms.wire_table_streams(broken)
    event["Properties"]["Stream"] = "arn:aws:dynamodb:us-east-1:000000000000:table/cartwise-dev-carts/stream/x"
    assert transforms.wire_table_streams(broken)
    assert event["Properties"]["Stream"] == {"Fn::GetAtt": ["CartsTable", "StreamArn"]}


def test_destroy_asks_first_and_says_what_it_keeps(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from scripts.deploy import __main__ as cli

    questions: list[str] = []
    monkeypatch.setattr("builtins.input", lambda question: questions.append(question) or "no")
    monkeypatch.setattr(orchestration, "destroy", lambda *args, **kwargs: pytest.fail("destroyed without consent"))
    assert cli.main(["destroy", "--stage", "prod"]) == 1
    assert questions == [
        "Delete stack cartwise-prod, its carts and products tables (and their data), API and storefront?"
        " The orders and tenants tables are kept. Type cartwise-prod: "
    ]
    assert "not deleted" in capsys.readouterr().err


def test_makefile_exposes_package_deploy_and_destroy() -> None:
    result = subprocess.run(
        ["make", "-n", "deploy", "destroy", "package", "STAGE=prod", "VENV=.venv"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "-m scripts.deploy deploy --stage prod" in result.stdout
    assert "-m scripts.deploy destroy --stage prod" in result.stdout
    assert "-m scripts.deploy package --stage prod" in result.stdout


# --- the pipeline: trust model and supply chain ------------------------------------------------------

DEPLOY_ROLE = REPO / "infra" / "deploy-role.yml"
WORKFLOWS = REPO / ".github" / "workflows"
# Everything that changes a role, or the managed policy used as the boundary.
CHANGES_A_ROLE = (
    "iam:PutRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:AttachRolePolicy",
    "iam:DetachRolePolicy",
    "iam:UpdateAssumeRolePolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:DeleteRolePermissionsBoundary",
    "iam:UpdateRole",
    "iam:UpdateRoleDescription",
    "iam:DeleteRole",
    "iam:TagRole",
)
CHANGES_A_POLICY = (
    "iam:CreatePolicyVersion",
    "iam:SetDefaultPolicyVersion",
    "iam:DeletePolicyVersion",
    "iam:DeletePolicy",
)


@pytest.fixture(scope="module")
def pipeline() -> dict[str, Any]:
    from cfnlint.decode import cfn_yaml

    return json.loads(json.dumps(cfn_yaml.load(str(DEPLOY_ROLE))))  # plain dicts, intrinsic functions as Fn::*


def role_statements(pipeline: dict[str, Any], role: str) -> list[dict[str, Any]]:
    policies = pipeline["Resources"][role]["Properties"]["Policies"]
    return Resolve(pipeline, STAGE)([s for p in policies for s in p["PolicyDocument"]["Statement"]])


def ways_to_change(statements: list[dict[str, Any]], protected: dict[str, str]) -> list[str]:
    """The IAM calls `statements` allow on the pipeline's roles and its boundary (`protected`: name -> ARN)."""
    return [
        f"{action} on {name}"
        for name, arn in protected.items()
        for action in (CHANGES_A_POLICY if ":policy/" in arn else CHANGES_A_ROLE)
        if allows(statements, action, arn)
    ]


def protected_arns(pipeline: dict[str, Any]) -> dict[str, str]:
    resolve = Resolve(pipeline, STAGE)
    roles = {name: resolve({"Fn::GetAtt": [name, "Arn"]}) for name in ("DeployRole", "CloudFormationRole")}
    return {**roles, "AppPermissionsBoundary": resolve({"Ref": "AppPermissionsBoundary"})}


def test_cfn_lint_passes_on_the_github_deploy_role(pipeline: dict[str, Any]) -> None:
    packaging.lint(DEPLOY_ROLE)
    (statement,) = pipeline["Resources"]["DeployRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    condition = statement["Condition"]["StringEquals"]
    assert condition["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
    assert "environment:${GitHubEnvironment}" in condition["token.actions.githubusercontent.com:sub"]["Fn::Sub"]
    (service,) = pipeline["Resources"]["CloudFormationRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert service["Principal"] == {"Service": "cloudformation.amazonaws.com"}


def test_no_pipeline_role_can_change_itself_the_other_or_the_boundary(pipeline: dict[str, Any]) -> None:
    protected = protected_arns(pipeline)
    assert protected == {
        "DeployRole": f"arn:aws:iam::{ACCOUNT}:role/CartwiseGitHubDeploy",
        "CloudFormationRole": f"arn:aws:iam::{ACCOUNT}:role/CartwiseCloudFormation",
        "AppPermissionsBoundary": f"arn:aws:iam::{ACCOUNT}:policy/cartwise-app-boundary",
    }
    for role in ("DeployRole", "CloudFormationRole"):
        assert ways_to_change(role_statements(pipeline, role), protected) == [], role
    # The check is not a rubber stamp: the statement the deploy role had before (IAM writes on
    # role/cartwise-*, which matched its own name cartwise-github-deploy) is caught.
    before = {"Effect": "Allow", "Action": ["iam:PutRolePolicy", "iam:UpdateAssumeRolePolicy"]}
    before["Resource"] = f"arn:aws:iam::{ACCOUNT}:role/cartwise-*"
    assert ways_to_change([before], {"old": f"arn:aws:iam::{ACCOUNT}:role/cartwise-github-deploy"}) == [
        "iam:PutRolePolicy on old",
        "iam:UpdateAssumeRolePolicy on old",
    ]
    broad = {"Effect": "Allow", "Action": "iam:*", "Resource": "*"}
    assert "iam:DeletePolicy on AppPermissionsBoundary" in ways_to_change([broad], protected)


def test_the_deploy_role_acts_only_through_the_cloudformation_service_role(pipeline: dict[str, Any]) -> None:
    statements = role_statements(pipeline, "DeployRole")
    service_role = f"arn:aws:iam::{ACCOUNT}:role/CartwiseCloudFormation"
    iam = [s for s in statements if s["Effect"] == "Allow" and any(a.startswith("iam:") for a in as_list(s["Action"]))]
    assert [(s["Action"], s["Resource"], s["Condition"]) for s in iam] == [
        ("iam:PassRole", service_role, {"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}})
    ]
    for action in ("cloudformation:CreateChangeSet", "cloudformation:DeleteStack", "cloudformation:CreateStack"):
        for statement in statements:
            if statement["Effect"] == "Allow" and _matches(
                statement, action, "arn:aws:cloudformation:x:y:stack/cartwise-prod/1"
            ):
                assert statement["Condition"] == {"StringEquals": {"cloudformation:RoleArn": service_role}}, action
    stack = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/cartwise-prod/1"
    assert allows(statements, "cloudformation:CreateChangeSet", stack)
    assert not allows(statements, "cloudformation:UpdateStack", stack)  # only change sets, through the role
    assert not allows(
        statements, "lambda:CreateFunction", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:cartwise-prod-x"
    )


def test_the_service_role_creates_roles_only_with_the_boundary(pipeline: dict[str, Any]) -> None:
    statements = role_statements(pipeline, "CloudFormationRole")
    boundary = protected_arns(pipeline)["AppPermissionsBoundary"]
    app_role = f"arn:aws:iam::{ACCOUNT}:role/cartwise-prod-ApiHandlerRole-1A2B3C"
    bounded = ("iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:PutRolePermissionsBoundary")
    for action in bounded:
        granting = [s for s in statements if s["Effect"] == "Allow" and _matches(s, action, app_role)]
        assert granting, action
        assert all(s["Condition"] == {"StringEquals": {"iam:PermissionsBoundary": boundary}} for s in granting), action
    assert not allows(statements, "iam:DeleteRolePermissionsBoundary", app_role)
    assert not allows(statements, "iam:CreateRole", f"arn:aws:iam::{ACCOUNT}:role/Admin")
    assert not allows(statements, "iam:CreatePolicyVersion", boundary)
    # The boundary: what Cartwise functions do, never IAM, STS or a wildcard action.
    boundary_statements = pipeline["Resources"]["AppPermissionsBoundary"]["Properties"]["PolicyDocument"]["Statement"]
    actions = [a for s in boundary_statements for a in as_list(s["Action"])]
    assert not [a for a in actions if a.startswith(("iam:", "sts:")) or "*" in a]
    # ... and every role the app stack creates carries it when the pipeline deploys (PermissionsBoundaryArn).
    assert transforms.PERMISSIONS_BOUNDARY["Fn::If"][1] == {"Ref": "PermissionsBoundaryArn"}


def workflow(name: str) -> dict[str, Any]:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def test_every_action_is_pinned_by_commit_sha() -> None:
    """A tag can be moved to other code; a commit cannot. The comment says which release it is."""
    uses = [
        (path.name, line.strip())
        for path in sorted(WORKFLOWS.glob("*.yml"))
        for line in path.read_text().splitlines()
        if line.strip().startswith(("uses:", "- uses:"))
    ]
    parsed = [
        step["uses"]
        for path in sorted(WORKFLOWS.glob("*.yml"))
        for job in workflow(path.name)["jobs"].values()
        for step in job["steps"]
        if "uses" in step
    ]
    assert [line.split("uses: ")[1].split(" #")[0] for _, line in uses] == parsed  # every one, as written
    unpinned = [
        f"{name}: {line}"
        for name, line in uses
        if not re.fullmatch(r"(- )?uses: [\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+", line)
    ]
    assert unpinned == []


def test_the_deploy_job_installs_only_the_hashed_lock_before_any_credentials() -> None:
    triggers = workflow("deploy.yml")[True]  # YAML 1.1 reads the key `on` as True
    assert "workflow_dispatch" in triggers
    assert triggers["push"]["tags"]
    assert workflow("deploy.yml")["permissions"] == {"id-token": "write", "contents": "read"}
    (job,) = workflow("deploy.yml")["jobs"].values()
    steps = job["steps"]
    runs = [step.get("run", "") for step in steps]
    credentials = [
        i for i, s in enumerate(steps) if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@")
    ]
    assert len(credentials) == 1
    assert "role-to-assume" in steps[credentials[0]]["with"]
    assert not any("aws-secret-access-key" in s.get("with", {}) for s in steps)  # OIDC, no stored keys
    (install,) = [i for i, run in enumerate(runs) if "pip install" in run]
    assert "pip install --require-hashes --no-deps -r infra/deploy-requirements.txt" in runs[install]
    (package,) = [i for i, run in enumerate(runs) if "-m scripts.deploy package --stage prod" in run]
    (deploy_step,) = [i for i, run in enumerate(runs) if "-m scripts.deploy deploy --stage prod" in run]
    assert install < package < credentials[0] < deploy_step  # nothing is installed or built with credentials
    assert not any(word in run for run in runs for word in ("make ", "requirements-dev", "pip install -r"))
    assert '--role-arn "$CLOUDFORMATION_ROLE_ARN"' in runs[deploy_step]
    assert '"PermissionsBoundaryArn=$PERMISSIONS_BOUNDARY_ARN"' in runs[deploy_step]
    assert steps[deploy_step]["env"] == {
        "CLOUDFORMATION_ROLE_ARN": "${{ vars.AWS_CLOUDFORMATION_ROLE_ARN }}",
        "PERMISSIONS_BOUNDARY_ARN": "${{ vars.AWS_PERMISSIONS_BOUNDARY_ARN }}",
    }


def pins(path: Path) -> dict[str, str]:
    """name -> version of every `name==version` line (lower-case names, `-` for `_`)."""
    found = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==([^\s;#\\]+)", line)
        if match:
            found[match[1].lower().replace("_", "-")] = match[2]
    return found


def test_the_deploy_lock_has_a_hash_for_every_pin_and_the_versions_of_the_project() -> None:
    lock = REPO / "infra" / "deploy-requirements.txt"
    text = lock.read_text()
    hashes: dict[str, int] = {}  # pin -> how many hashes follow it
    for line in text.splitlines():
        if re.match(r"[A-Za-z0-9]", line):
            pin = line.split(" ")[0]
            hashes[pin] = 0
        elif re.match(r"\s+--hash=sha256:[0-9a-f]{64}", line):
            hashes[pin] += 1
    assert len(hashes) > 40
    assert [pin for pin, count in hashes.items() if count == 0] == []
    locked = pins(lock)
    assert len(hashes) == len(locked)
    wanted = pins(REPO / "requirements.txt") | pins(REPO / "requirements-dev.txt")
    direct = pins(REPO / "infra" / "deploy-requirements.in")
    assert {name: wanted[name] for name in direct if name != "pip"} == {n: v for n, v in direct.items() if n != "pip"}
    assert {name: locked[name] for name in wanted if name in locked} == {n: v for n, v in wanted.items() if n in locked}
    assert set(pins(REPO / "requirements.txt")) <= set(locked)  # demo data and packaging import the app
    assert not {"pytest", "moto", "hypothesis", "playwright", "schemathesis", "ruff"} & set(locked)
    assert [option for option in ("--find-links", "--index-url") if option in text] == []  # nothing of this machine
