"""The cloud package, checked offline: `chalice package` of the real app with infra/template.yml merged.

- cfn-lint passes on the packaged template (and fails on a broken one);
- the tables equal the PynamoDB models (keys, PAY_PER_REQUEST, orders stream, carts TTL) and what the
  provisioning code creates;
- the least-privilege policy is attached to every Lambda role and allows every AWS call the app makes
  in a full journey (recorded under moto with the prod stage's settings), and nothing broader;
- the deployment zip ships no boto3/botocore, fits Lambda's limits, imports with only the Lambda
  runtime's libraries beside it, without importing openai, and answers /health;
- the storefront upload, the stack wiring and the deploy workflow.

What is not checked here: that CloudFormation accepts the stack in a real account (no account here).
"""

from __future__ import annotations

import contextlib
import fnmatch
import importlib.util
import json
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from botocore.client import BaseClient

from scripts import deploy

REPO = deploy.REPO
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
def packaged(tmp_path_factory: pytest.TempPathFactory) -> deploy.Package:
    """The real packaging (scripts/deploy.py), once per session. It builds in .local/test-build, where
    Chalice caches the dependencies, and the results are copied out for this session."""
    return deploy.package(
        STAGE, build_root=REPO / ".local" / "test-build", copy_to=tmp_path_factory.mktemp("package"), quiet=True
    )


@pytest.fixture(scope="session")
def template(packaged: deploy.Package) -> dict[str, Any]:
    return yaml.safe_load(packaged.template.read_text())


def of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: resource for name, resource in template["Resources"].items() if resource["Type"] == kind}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


class Resolve:
    """Resolves the intrinsic functions the template uses, for a stage, region and account."""

    def __init__(self, template: dict[str, Any], stage: str) -> None:
        self.resources = template["Resources"]
        defaults = {name: str(p["Default"]) for name, p in template.get("Parameters", {}).items() if "Default" in p}
        self.pseudo = {**defaults, "Stage": stage, "AWS::Region": REGION, "AWS::AccountId": ACCOUNT}
        self.pseudo["AWS::Partition"] = "aws"

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
            return {key: self(item) for key, item in value.items()}
        return value

    def ref(self, name: str) -> str:
        if name in self.pseudo:
            return self.pseudo[name]
        resource = self.resources[name]
        name_property = {"AWS::DynamoDB::Table": "TableName", "AWS::Events::EventBus": "Name"}.get(resource["Type"])
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
        raise KeyError(f"{name}.{attribute}")

    def sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument

        def replace(match: re.Match[str]) -> str:
            name = match[1]
            if name in variables:
                return str(self(variables[name]))
            return self.get_att(*name.split(".", 1)) if "." in name else str(self.ref(name))

        return re.sub(r"\$\{([^}!]+)\}", replace, text)


def policy_statements(template: dict[str, Any], stage: str) -> list[dict[str, Any]]:
    return Resolve(template, stage)(
        template["Resources"][deploy.POLICY_ID]["Properties"]["PolicyDocument"]["Statement"]
    )


def allows(statements: list[dict[str, Any]], action: str, resource: str) -> bool:
    for statement in statements:
        if statement["Effect"] != "Allow":
            continue
        actions = [a.lower() for a in as_list(statement["Action"])]
        if any(fnmatch.fnmatchcase(action.lower(), a) for a in actions) and any(
            fnmatch.fnmatchcase(resource, r) for r in as_list(statement["Resource"])
        ):
            return True
    return False


# --- the template itself -------------------------------------------------------------------------


def test_cfn_lint_passes_on_the_packaged_template(packaged: deploy.Package) -> None:
    deploy.lint(packaged.template)  # raises with cfn-lint's findings


def test_cfn_lint_passes_on_the_github_deploy_role() -> None:
    deploy.lint(REPO / "infra" / "deploy-role.yml")
    role = yaml.safe_load((REPO / "infra" / "deploy-role.yml").read_text().replace("!", ""))
    (statement,) = role["Resources"]["DeployRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    condition = statement["Condition"]["StringEquals"]
    assert condition["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
    assert "environment:${GitHubEnvironment}" in condition["token.actions.githubusercontent.com:sub"]


def test_cfn_lint_catches_a_broken_template(template: dict[str, Any], tmp_path: Path) -> None:
    """The lint step is not a rubber stamp: a wrong billing mode and a dangling Ref fail it."""
    broken = json.loads(json.dumps(template))
    broken["Resources"]["OrdersTable"]["Properties"]["BillingMode"] = "PAY_AS_YOU_GO"
    broken["Resources"]["AppPolicy"]["Properties"]["Roles"].append({"Ref": "NoSuchRole"})
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(broken))
    with pytest.raises(deploy.DeployError) as failure:
        deploy.lint(path)
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


def template_tables(template: dict[str, Any], stage: str) -> dict[str, dict[str, Any]]:
    resolve = Resolve(template, stage)
    tables = {}
    for resource in of_type(template, "AWS::DynamoDB::Table").values():
        properties = resolve(resource["Properties"])
        ttl = properties.get("TimeToLiveSpecification", {})
        tables[properties["TableName"]] = {
            "keys": {k["KeyType"]: k["AttributeName"] for k in properties["KeySchema"]},
            "attributes": sorted((a["AttributeName"], a["AttributeType"]) for a in properties["AttributeDefinitions"]),
            "indexes": {
                index["IndexName"]: {
                    "keys": {k["KeyType"]: k["AttributeName"] for k in index["KeySchema"]},
                    "projection": index["Projection"]["ProjectionType"],
                }
                for index in properties.get("GlobalSecondaryIndexes", [])
            },
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
                "indexes": {
                    index["IndexName"]: {
                        "keys": {k["KeyType"]: k["AttributeName"] for k in index["KeySchema"]},
                        "projection": index["Projection"]["ProjectionType"],
                    }
                    for index in table.get("GlobalSecondaryIndexes", [])
                },
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


def test_the_stack_has_a_website_bucket_flags_bus_and_throttling(template: dict[str, Any]) -> None:
    resolve = Resolve(template, STAGE)
    resources = template["Resources"]
    bucket = resources["StorefrontBucket"]["Properties"]
    assert bucket["WebsiteConfiguration"] == {"IndexDocument": "index.html"}
    assert "BucketName" not in bucket  # global namespace: CloudFormation picks a free name
    assert resolve(resources["StorefrontBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]) == [
        {
            "Sid": "PublicReadOfTheStorefront",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::StorefrontBucket/*",
        }
    ]
    flags = [resolve(p["Properties"]) for p in of_type(template, "AWS::SSM::Parameter").values()]
    assert [(p["Name"], p["Type"], p["Value"]) for p in flags] == [
        ("/cartwise/prod/flags/UPSELL_ENABLED", "String", "false")
    ]
    assert [resolve(b["Properties"]["Name"]) for b in of_type(template, "AWS::Events::EventBus").values()] == [
        "cartwise-prod"
    ]
    api = resources["RestAPI"]["Properties"]
    assert api["MethodSettings"] == [
        {
            "ResourcePath": "/*",
            "HttpMethod": "*",
            "ThrottlingRateLimit": {"Ref": "ApiRateLimit"},
            "ThrottlingBurstLimit": {"Ref": "ApiBurstLimit"},
        }
    ]
    throttled = api["GatewayResponses"]["THROTTLED"]
    assert throttled["StatusCode"] == 429
    assert json.loads(throttled["ResponseTemplates"]["application/json"])["error"]["code"] == "RATE_LIMITED"
    unauthorized = api["GatewayResponses"]["UNAUTHORIZED"]
    assert json.loads(unauthorized["ResponseTemplates"]["application/json"])["error"]["code"] == "UNAUTHORIZED"
    assert {"EndpointURL", "StorefrontBucketName", "StorefrontWebsiteURL"} <= set(template["Outputs"])


def test_chalice_stage_is_set_up_for_cloudformation() -> None:
    settings = deploy.stage_config(STAGE)  # raises unless autogen_policy is false and the policy file exists
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


def test_the_policy_is_attached_to_every_lambda_role(template: dict[str, Any]) -> None:
    roles = of_type(template, "AWS::IAM::Role")
    functions = of_type(template, "AWS::Serverless::Function")
    assert {f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions.values()} == set(roles)
    policy = template["Resources"][deploy.POLICY_ID]
    assert policy["Type"] == "AWS::IAM::Policy"
    assert sorted(ref["Ref"] for ref in policy["Properties"]["Roles"]) == sorted(roles)
    assert all(deploy.POLICY_ID in f["DependsOn"] for f in functions.values())
    # Chalice's inline policy on each role is the logs-only policy file, nothing more.
    logs_only = json.loads((REPO / "infra" / "policy-prod.json").read_text())
    for role in roles.values():
        assert [p["PolicyDocument"] for p in role["Properties"]["Policies"]] == [logs_only]


def test_the_policy_is_least_privilege(template: dict[str, Any]) -> None:
    statements = policy_statements(template, STAGE)
    for statement in statements:
        assert statement["Effect"] == "Allow"
        assert all("*" not in action for action in as_list(statement["Action"])), statement
        assert all(resource != "*" and ":*:" not in resource for resource in as_list(statement["Resource"])), statement
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/cartwise-prod-orders"
    assert allows(statements, "dynamodb:ConditionCheckItem", table)
    assert not allows(statements, "dynamodb:Scan", table)
    assert not allows(statements, "dynamodb:DeleteTable", table)
    assert not allows(statements, "dynamodb:GetItem", f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/cartwise-dev-orders")
    stream = f"{table}/stream/2026-11-21T00:00:00.000"
    for action in ("DescribeStream", "GetRecords", "GetShardIterator", "ListStreams"):
        assert allows(statements, f"dynamodb:{action}", stream), action
    assert not allows(statements, "dynamodb:GetRecords", f"{table.replace('orders', 'carts')}/stream/x")
    parameter = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/cartwise/prod/llm/api_key"
    assert allows(statements, "ssm:GetParameter", parameter)
    assert allows(statements, "ssm:GetParameters", parameter.replace("llm/api_key", "flags/UPSELL_ENABLED"))
    assert not allows(statements, "ssm:PutParameter", parameter)
    assert not allows(statements, "ssm:GetParameter", parameter.replace("/prod/", "/dev/"))
    assert allows(statements, "events:PutEvents", f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/cartwise-prod")
    assert not allows(statements, "events:PutEvents", f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default")
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
            return [(f"dynamodb:{operation}", table(params["TableName"]))]
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
    """Records every AWS API call made through botocore (boto3, PynamoDB, Powertools) while active."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.active = False

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
def prod_like(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    """moto provisioned for stage prod, with the prod stage's environment from .chalice/config.json.

    The LLM endpoint is replaced by a closed loopback port (the call fails fast and falls back), so
    the key's SecureString is read as in production but nothing leaves the machine.
    """
    from moto import mock_aws

    from chalicelib import clients
    from scripts.local_stack import free_port
    from scripts.provision import provision

    for name, value in deploy.stage_config(STAGE)["environment_variables"].items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LLM_BASE_URL", f"http://127.0.0.1:{free_port()}/v1")
    clients.reset()
    recorder = Recorder()
    original = BaseClient._make_api_call

    def recording(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        if recorder.active:
            recorder.calls.append((client.meta.service_model.signing_name, operation, dict(params)))
        return original(client, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)
    with mock_aws():
        provision(seed=True, upsell_enabled="true")
        ssm = clients.ssm()
        ssm.put_parameter(
            Name="/cartwise/prod/llm/api_key", Value="sk-test-not-a-real-key", Type="SecureString", Overwrite=True
        )
        events = clients.events()
        with contextlib.suppress(events.exceptions.ResourceAlreadyExistsException):
            events.create_event_bus(Name="cartwise-prod")
        yield recorder
    clients.reset()


def test_the_policy_allows_every_aws_call_of_a_full_journey(template: dict[str, Any], prod_like: Recorder) -> None:
    """Browse, cart, promo, up-sell (flag on, SecureString key), checkout, retry, sold out, admin, order stream."""
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
        sold_out = api.post(carts, {"items": [{"product_id": "sleeping-pad", "quantity": 2}]}).data["cart_id"]
        with prod_like.paused():
            set_stock("acme", "sleeping-pad", 1)
        assert api.post(f"{carts}/{sold_out}/checkout").status_code == 409
        admin = {"X-Api-Key": demo_key}
        api.get("/tenants/acme/orders", headers=admin)
        api.post("/tenants/acme/products/tent-2p/stock", {"delta": 1}, headers=admin)
        api.get("/tenants/acme/orders", headers={"X-Api-Key": "cw_acme_" + "x" * 43})

    stream_handler = getattr(app_module, "order_stream", None)
    if stream_handler is not None:  # the orders stream handler: co-purchase counts and the order event
        item = clients.client("dynamodb").get_item(
            TableName="cartwise-prod-orders", Key={"tenant_id": {"S": "acme"}, "order_id": {"S": order_id}}
        )["Item"]
        record = {"eventID": "1", "eventName": "INSERT", "eventSource": "aws:dynamodb", "awsRegion": REGION}
        keys = {name: item[name] for name in ("tenant_id", "order_id")}
        record["dynamodb"] = {"Keys": keys, "NewImage": item, "StreamViewType": "NEW_IMAGE"}
        record["dynamodb"] |= {"ApproximateCreationDateTime": 1795278422, "SequenceNumber": "1", "SizeBytes": 1}
        record["eventSourceARN"] = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/cartwise-prod-orders/stream/x"
        with prod_like.on():
            stream_handler({"Records": [record]}, None)

    statements = policy_statements(template, STAGE)
    denied = sorted(
        {
            f"{service}:{operation} needs {action} on {resource}"
            for service, operation, params in prod_like.calls
            for action, resource in required_permissions(service, operation, params)
            if not allows(statements, action, resource)
        }
    )
    assert not denied, "AppPolicy in infra/template.yml does not allow:\n" + "\n".join(denied)
    made = {(service, operation) for service, operation, _ in prod_like.calls}
    assert {("dynamodb", "TransactWriteItems"), ("dynamodb", "BatchGetItem"), ("dynamodb", "Query")} <= made
    assert {("ssm", "GetParameters"), ("ssm", "GetParameter"), ("dynamodb", "DescribeTable")} <= made
    decrypted = [p["Name"] for s, o, p in prod_like.calls if o == "GetParameter" and p.get("WithDecryption")]
    assert decrypted == ["/cartwise/prod/llm/api_key"]
    # ... and grants no table action the app does not use (ConditionCheckItem is the contract's).
    used = {action for s, o, p in prod_like.calls for action, _ in required_permissions(s, o, p)}
    (tables,) = [s for s in statements if s["Sid"] == "TenantData"]
    assert set(tables["Action"]) - used == {"dynamodb:ConditionCheckItem"}


# --- the deployment zip -------------------------------------------------------------------------

LAMBDA_RUNTIME_LIBRARIES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six.py", "urllib3")


def test_the_zip_ships_no_aws_sdk_and_fits_lambda(packaged: deploy.Package) -> None:
    with zipfile.ZipFile(packaged.zip_path) as archive:
        top = {name.split("/", 1)[0] for name in archive.namelist()}
    assert not top & {"boto3", "botocore", "s3transfer"}
    assert {"app.py", "chalicelib", "pynamodb", "aws_lambda_powertools", "openai", "pydantic_core"} <= top
    assert packaged.zip_bytes < 15_000_000  # measured 7.1 MB; Lambda's limit for a direct upload is 50 MB
    assert packaged.unpacked_bytes < 60_000_000  # measured 24 MB; Lambda's limit is 250 MB
    with zipfile.ZipFile(packaged.zip_path) as archive:
        binaries = [n for n in archive.namelist() if n.endswith(".so")]
    assert binaries
    assert all("x86_64-linux-gnu" in n for n in binaries), binaries  # manylinux cp311 wheels


def test_the_zip_ships_only_runtime_code(packaged: deploy.Package) -> None:
    """The app's own code in the zip is app.py and chalicelib, and none of it reads the repository's
    other directories (they are not in the zip: tests/data, bench/, ...)."""
    with zipfile.ZipFile(packaged.zip_path) as archive:
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


def test_the_zip_imports_with_only_the_lambda_runtime_beside_it(packaged: deploy.Package, tmp_path: Path) -> None:
    """Lambda's sys.path is the package plus the runtime's boto3/botocore: the app must import (without
    openai, which is imported on the first LLM call) and answer /health through the handler."""
    import botocore

    code = tmp_path / "task"
    with zipfile.ZipFile(packaged.zip_path) as archive:
        archive.extractall(code)
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    site = Path(botocore.__file__).parent.parent
    for name in LAMBDA_RUNTIME_LIBRARIES:
        (runtime / name).symlink_to(site / name)
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
print(json.dumps({"status": response["statusCode"], "body": response["body"], "leaked": leaked,
                  "spec": [spec["statusCode"], spec["body"][:8]]}))
"""
    env = {"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": REGION, "CARTWISE_STAGE": STAGE, "PYTHONNOUSERSITE": "1"}
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", script, str(code), str(runtime)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["leaked"] == []  # -S: nothing came from the venv's site-packages
    assert (answer["status"], json.loads(answer["body"])) == (200, {"status": "ok"})
    assert answer["spec"] == [200, "openapi:"]


def test_the_zip_ships_bytecode_for_what_the_functions_import(packaged: deploy.Package, tmp_path: Path) -> None:
    """Lambda's code directory is read-only: without .pyc files in the zip every cold start compiles
    every module. With them, importing the app and what requests import compiles nothing from the zip."""
    code = tmp_path / "task"
    with zipfile.ZipFile(packaged.zip_path) as archive:
        archive.extractall(code)
        names = set(archive.namelist())
    assert {"app.py", "__pycache__/app.cpython-311.pyc", "chalicelib/checkout.py"} <= names  # sources kept
    assert "chalicelib/__pycache__/checkout.cpython-311.pyc" in names
    header = (code / "__pycache__" / "app.cpython-311.pyc").read_bytes()[:8]
    assert header[:4] == importlib.util.MAGIC_NUMBER  # Python 3.11's, the runtime's
    assert int.from_bytes(header[4:8], "little") == 0b01  # hash-based, unchecked: no source mtime check
    script = """
import json, sys
import importlib._bootstrap_external as loaders
compiled = []
original = loaders.SourceLoader.source_to_code
def counting(self, data, path, *args, **kwargs):
    compiled.append(str(path))
    return original(self, data, path, *args, **kwargs)
loaders.SourceLoader.source_to_code = counting
sys.path.insert(0, sys.argv[1])
import app, chalicelib.api.schemas, aws_lambda_powertools.utilities.parameters, openai
files = [getattr(m, "__file__", None) or "" for m in list(sys.modules.values())]
loaded = [f for f in files if f.startswith(sys.argv[1])]
print(json.dumps({"compiled": [p for p in compiled if p.startswith(sys.argv[1])], "loaded": len(loaded)}))
"""
    env = {"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": REGION, "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run(
        [sys.executable, "-c", script, str(code) + "/"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["compiled"] == []
    assert answer["loaded"] > 600  # app, chalicelib, pydantic, Powertools, openai ... all from the zip
    assert packaged.zip_bytes < 10_000_000  # the target, bytecode included


def test_requirements_split_keeps_botocore_out() -> None:
    bundled, vendored = deploy.lambda_requirements()
    assert vendored == ["pynamodb==6.1.0"]
    assert not any(pin.split("==")[0].lower() in deploy.RUNTIME_PROVIDED for pin in bundled)
    assert {pin.split("==")[0] for pin in bundled} >= {"aws-lambda-powertools", "openai"}


def test_a_vendored_package_with_other_dependencies_is_refused(tmp_path: Path) -> None:
    info = tmp_path / "thing-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Name: thing\nRequires-Dist: botocore>=1\nRequires-Dist: tomli; python_version < '3.11'\n"
    )
    deploy.check_vendored_dependencies(tmp_path)  # botocore is provided; tomli is not needed on 3.11
    (info / "METADATA").write_text("Name: thing\nRequires-Dist: botocore>=1\nRequires-Dist: requests\n")
    with pytest.raises(deploy.DeployError, match="requests"):
        deploy.check_vendored_dependencies(tmp_path)


def test_package_size_script_reports_the_zip(capsys: pytest.CaptureFixture[str], packaged: deploy.Package) -> None:
    from scripts import package_size

    report = package_size.report(packaged)
    assert report["zip_bytes"] == packaged.zip_path.stat().st_size
    assert report["unpacked_bytes"] == packaged.unpacked_bytes
    assert report["largest"][0]["name"] in {"pydantic_core", "openai"}
    package_size.print_report(report)
    assert f"{report['zip_bytes'] / 1e6:.1f} MB" in capsys.readouterr().out


# --- storefront, wiring, workflow -------------------------------------------------------------------


FAKE_AWS_CLI = """#!{python}
# Stands in for the AWS CLI: logs its arguments; `cloudformation package` uploads the zip and copies
# the template, `cloudformation deploy` creates a small stack with the outputs the real one has.
import json, shutil, sys
import boto3

args = sys.argv[1:]
with open({log!r}, "a") as log:
    log.write(json.dumps(args) + "\\n")
option = lambda name: args[args.index(name) + 1]
if args[:2] == ["cloudformation", "package"]:
    shutil.copy(option("--template-file"), option("--output-template-file"))
    boto3.client("s3").put_object(Bucket=option("--s3-bucket"), Key=option("--s3-prefix") + "/code.zip", Body=b"zip")
elif args[:2] == ["cloudformation", "deploy"]:
    outputs = {{
        "EndpointURL": {{"Value": "https://abc123.execute-api.us-east-1.amazonaws.com/api/"}},
        "StorefrontBucketName": {{"Value": {{"Ref": "StorefrontBucket"}}}},
        "StorefrontWebsiteURL": {{"Value": "http://site.s3-website-us-east-1.amazonaws.com"}},
    }}
    template = {{"Resources": {{"StorefrontBucket": {{"Type": "AWS::S3::Bucket"}}}}, "Outputs": outputs}}
    boto3.client("cloudformation").create_stack(StackName=option("--stack-name"), TemplateBody=json.dumps(template))
"""


def test_deploy_and_destroy_against_a_stand_in_aws(
    packaged: deploy.Package, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The orchestration of `make deploy` / `make destroy`, with a moto server as AWS and a fake `aws` CLI."""
    import boto3

    from scripts.local_stack import free_port, start_moto_server

    port = free_port()
    server = start_moto_server(port, log_dir=tmp_path)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "aws.log"
    (bin_dir / "aws").write_text(FAKE_AWS_CLI.format(python=sys.executable, log=str(log)))
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
    monkeypatch.setattr(deploy, "package", lambda stage: packaged)  # the session's package (tested above)
    linted: list[tuple[Path, bool]] = []  # (template, had the AWS CLI been called yet)
    monkeypatch.setattr(deploy, "lint", lambda template: linted.append((template, log.exists())))
    try:
        result = deploy.deploy(STAGE, parameters={"ApiRateLimit": "50"})
        assert linted == [(packaged.template, False)]  # linted before anything is sent to CloudFormation
        calls = [json.loads(line) for line in log.read_text().splitlines()]
        artifacts = f"cartwise-artifacts-{ACCOUNT}-{REGION}"
        assert [call[:2] for call in calls] == [["cloudformation", "package"], ["cloudformation", "deploy"]]
        package_call, deploy_call = calls
        assert package_call[package_call.index("--s3-bucket") + 1] == artifacts
        assert deploy_call[deploy_call.index("--stack-name") + 1] == "cartwise-prod"
        assert deploy_call[deploy_call.index("--capabilities") + 1] == "CAPABILITY_IAM"
        overrides = deploy_call[deploy_call.index("--parameter-overrides") + 1 : deploy_call.index("--tags")]
        assert overrides == ["Stage=prod", "ApiRateLimit=50"]
        s3 = boto3.client("s3")
        assert s3.get_bucket_lifecycle_configuration(Bucket=artifacts)["Rules"][0]["Expiration"] == {"Days": 30}
        assert s3.get_public_access_block(Bucket=artifacts)["PublicAccessBlockConfiguration"]["BlockPublicPolicy"]
        bucket = result["StorefrontBucketName"]
        config = s3.get_object(Bucket=bucket, Key="config.js")["Body"].read().decode()
        assert config == 'export const API_BASE_URL = "https://abc123.execute-api.us-east-1.amazonaws.com/api";\n'
        printed = capsys.readouterr().out
        assert "API:         https://abc123.execute-api.us-east-1.amazonaws.com/api/" in printed
        assert "Storefront:  http://site.s3-website-us-east-1.amazonaws.com/index.html?tenant=acme" in printed

        boto3.client("ssm").put_parameter(Name="/cartwise/prod/llm/api_key", Value="k", Type="SecureString")
        deploy.destroy(STAGE)
        printed = capsys.readouterr().out
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
        assert deploy.clear_failed_creation(cloudformation, "cartwise-prod") is False  # a live stack is kept
        stub.add_response("describe_stacks", {"Stacks": [{**stack, "StackStatus": "ROLLBACK_COMPLETE"}]})
        stub.add_response("delete_stack", {}, {"StackName": "cartwise-prod"})
        stub.add_client_error("describe_stacks", "ValidationError", "Stack with id cartwise-prod does not exist")
        assert deploy.clear_failed_creation(cloudformation, "cartwise-prod") is True
        stub.add_client_error("describe_stacks", "ValidationError", "Stack with id cartwise-prod does not exist")
        assert deploy.clear_failed_creation(cloudformation, "cartwise-prod") is False
        stub.assert_no_pending_responses()


def test_cloud_demo_data_never_carries_the_published_admin_key(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from moto import mock_aws

    from chalicelib import clients
    from chalicelib.models import ProductModel, TenantModel
    from scripts.provision import create_tables, load_tenant_files

    monkeypatch.setenv("CARTWISE_STAGE", STAGE)
    clients.reset()
    with mock_aws():
        create_tables()
        assert deploy.seed_demo_data(STAGE) == ["acme", "globex"]
        for data in load_tenant_files():
            tenant = TenantModel.get(data["tenant_id"])
            assert tenant.name == data["name"]
            assert not tenant.api_key_hashes  # `make run` gives acme the published demo key; the cloud never
            assert ProductModel.count(data["tenant_id"]) == len(data["products"])
    clients.reset()


def test_storefront_upload_replaces_stale_objects_and_points_at_the_api(aws: None) -> None:
    """deploy uploads with provisioning's code: every file, its type, a config.js for the API, nothing stale."""
    from chalicelib import clients

    s3 = clients.s3()
    bucket = "cartwise-prod-storefrontbucket-abc"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="old.js", Body=b"gone")
    keys = deploy.upload_storefront(s3, bucket, "https://abc123.execute-api.us-east-1.amazonaws.com/api/")
    stored = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert set(keys) == stored  # old.js, no longer in storefront/, was deleted
    assert {"index.html", "config.js", "main.js"} <= stored
    assert s3.get_object(Bucket=bucket, Key="main.js")["ContentType"] == "text/javascript"
    assert s3.get_object(Bucket=bucket, Key="index.html")["ContentType"] == "text/html"
    config = s3.get_object(Bucket=bucket, Key="config.js")["Body"].read().decode()
    assert config == 'export const API_BASE_URL = "https://abc123.execute-api.us-east-1.amazonaws.com/api";\n'


def test_stream_placeholders_must_name_a_table_of_the_stack(template: dict[str, Any]) -> None:
    broken = json.loads(json.dumps(template))
    (function,) = [f for f in of_type(broken, "AWS::Serverless::Function").values() if f["Properties"].get("Events")]
    (event,) = function["Properties"]["Events"].values()
    event["Properties"]["Stream"] = "arn:aws:dynamodb:us-east-1:000000000000:table/cartwise-dev-invoices/stream/x"
    with pytest.raises(deploy.DeployError, match="cartwise-dev-invoices"):
        deploy.wire_table_streams(broken)
    event["Properties"]["Stream"] = "arn:aws:dynamodb:us-east-1:000000000000:table/cartwise-dev-carts/stream/x"
    assert deploy.wire_table_streams(broken)
    assert event["Properties"]["Stream"] == {"Fn::GetAtt": ["CartsTable", "StreamArn"]}


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


def test_deploy_workflow_uses_oidc_and_make_deploy() -> None:
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "deploy.yml").read_text())
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as True
    assert "workflow_dispatch" in triggers
    assert triggers["push"]["tags"]
    assert workflow["permissions"] == {"id-token": "write", "contents": "read"}
    (job,) = workflow["jobs"].values()
    steps = job["steps"]
    credentials = [s for s in steps if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@")]
    assert len(credentials) == 1
    assert "role-to-assume" in credentials[0]["with"]
    assert not any("aws-secret-access-key" in s.get("with", {}) for s in steps)  # OIDC, no stored keys
    assert any("make deploy STAGE=prod" in s.get("run", "") for s in steps)
