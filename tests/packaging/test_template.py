"""The packaged template (the real `chalice package` of the app with infra/template.yml merged):
cfn-lint, the tables against the PynamoDB models, the stream, the payments function, API limits,
gateway answers in the error envelope, the storefront behind CloudFront.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts.deploy import REPO, DeployError, packaging
from scripts.deploy import template as transforms
from tests.packaging.infra import (
    ACCOUNT,
    REGION,
    STAGE,
    TABLE_RESOURCES,
    Resolve,
    api_routes,
    of_type,
    route_functions,
    stream_function,
    views,
)

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
    assert models["cartwise-prod-tenants"]["indexes"] == {
        "by-payment-mode": {"keys": {"HASH": "payment_mode", "RANGE": "tenant_id"}, "projection": "INCLUDE"}
    }
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


def test_stream_handlers_read_the_orders_and_carts_table_streams(template: dict[str, Any]) -> None:
    sources = [
        event["Properties"]["Stream"]
        for function in of_type(template, "AWS::Serverless::Function").values()
        for event in function["Properties"].get("Events", {}).values()
        if event["Type"] == "DynamoDB"
    ]
    assert sources, "the orders stream handler (app.on_dynamodb_record) is not in the package"
    # The one stream function: the orders table's stream (Chalice's) and the carts table's (infra/, the up-sell stats).
    assert sorted(source["Fn::GetAtt"][0] for source in sources) == ["CartsTable", "OrdersTable"], sources


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
    sources = [
        event["Properties"]
        for function in of_type(template, "AWS::Serverless::Function").values()
        for event in function["Properties"].get("Events", {}).values()
        if event["Type"] == "DynamoDB"
    ]
    assert len(sources) == 2  # the orders table's stream and the carts table's
    for source in sources:
        assert source["FunctionResponseTypes"] == [
            "ReportBatchItemFailures"
        ]  # chalicelib/orders_stream.py reports them
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
    event = stream_function(broken)["Properties"]["Events"]["OrderStreamDynamodbEventSource"]
    del event["Properties"]["DestinationConfig"], event["Properties"]["FunctionResponseTypes"]
    with pytest.raises(DeployError, match=r"OrderStream\.OrderStreamDynamodbEventSource lacks DestinationConfig"):
        transforms.check_stream_failure_handling(broken)


def test_order_events_that_mail_reach_the_notifier_through_a_queue_with_a_dead_letter_queue(
    template: dict[str, Any],
) -> None:
    from chalicelib.config import Settings
    from chalicelib.mail import notifier

    resources = template["Resources"]
    rule = resources["MailRule"]["Properties"]
    assert rule["EventPattern"] == notifier.event_pattern()  # what provisioning makes locally
    assert rule["EventBusName"] == {"Ref": "EventBus"}
    assert rule["Targets"] == [{"Id": "mail-queue", "Arn": {"Fn::GetAtt": ["MailQueue", "Arn"]}}]
    queue = resources["MailQueue"]["Properties"]
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["MailDeadLetters", "Arn"]},
        "maxReceiveCount": notifier.MAX_RECEIVE_COUNT,
    }
    dead_letters = resources["MailDeadLetters"]["Properties"]
    assert dead_letters["MessageRetentionPeriod"] == notifier.DEAD_LETTER_RETENTION_SECONDS
    # A message redelivered after its notifier stopped finds that claim's lease run out; a live notifier
    # is never overtaken (its function times out first).
    function = resources["NotifyShopper"]["Properties"]
    lease = Settings.__dataclass_fields__["mail_lease_seconds"].default
    assert function["Timeout"] < lease < queue["VisibilityTimeout"] == notifier.VISIBILITY_TIMEOUT_SECONDS
    (source,) = function["Events"].values()
    assert source["Type"] == "SQS"
    assert source["Properties"]["Queue"] == {"Fn::GetAtt": ["MailQueue", "Arn"]}
    assert source["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]  # notifier reports them
    assert source["Properties"]["BatchSize"] == 10
    assert function["Environment"]["Variables"]["STOREFRONT_URL"] == {
        "Fn::Sub": "https://${StorefrontDistribution.DomainName}"
    }
    (only,) = resources["MailQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert only["Principal"] == {"Service": "events.amazonaws.com"}
    assert only["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["MailRule", "Arn"]}}}
    resolve = Resolve(template, STAGE)
    assert resolve(queue["QueueName"]) == "cartwise-prod-mail"
    assert {"MailQueueUrl", "MailDeadLetterQueueUrl"} <= set(template["Outputs"])


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
        "NotifyShopper": "./deployment.zip",
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
        ("POST", "/tenants/{tenant_id}/orders/{order_id}/shipment"): (2, 5),
        ("POST", "/tenants/{tenant_id}/orders/{order_id}/delivered"): (2, 5),
        ("GET", "/tenants/{tenant_id}/carts/{cart_id}/upsell"): (5, 10),
        ("GET", "/health/ready"): (1, 2),
        ("GET", "/tenants/{tenant_id}/orders"): (2, 5),
        ("GET", "/tenants/{tenant_id}/inventory"): (2, 5),
        ("PUT", "/tenants/{tenant_id}/products/{product_id}"): (2, 5),
        ("POST", "/tenants/{tenant_id}/products/{product_id}/stock"): (2, 5),
        ("GET", "/tenants/{tenant_id}/upsell/settings"): (2, 5),
        ("PUT", "/tenants/{tenant_id}/upsell/settings"): (2, 5),
        ("GET", "/tenants/{tenant_id}/upsell/stats"): (2, 5),
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
    # Nothing inline to allow, in the storefront and in the operator's console behind the same policy.
    for page in (REPO / "storefront" / "index.html", REPO / "console" / "index.html"):
        assert [tag for tag in ("<script>", "<style", " style=") if tag in page.read_text()] == [], page
    # The console's scripts: its own modules only (script-src 'self'), no eval or inline handlers.
    for module in (REPO / "console").glob("*.js"):
        code = module.read_text()
        unsafe = ("eval(", "new Function", 'setAttribute("on', ".style.")
        assert [word for word in unsafe if word in code] == [], module


def test_chalice_stage_is_set_up_for_cloudformation() -> None:
    settings = packaging.stage_config(STAGE)  # raises unless autogen_policy is false and the policy file exists
    assert settings["autogen_policy"] is False
    env = settings["environment_variables"]
    assert env["CARTWISE_STAGE"] == STAGE
    assert env["LLM_API_KEY_PARAMETER"] == "/cartwise/prod/llm/api_key"
    assert "aws ssm put-parameter --type SecureString --name /cartwise/prod/llm/api_key" in (
        REPO / "docs" / "deploy.md"
    ).read_text().replace("\\\n", "").replace("  ", " ")
