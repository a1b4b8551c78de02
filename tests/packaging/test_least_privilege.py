"""Least privilege: each function has its own policy, which allows every AWS call that function makes
in a full journey (recorded under moto with the prod stage's settings, per function), and nothing broader.
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
import re
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.client import BaseClient

from scripts.deploy import REPO, DeployError, packaging
from scripts.deploy import template as transforms
from support.delivery import check_out
from tests.packaging.infra import (
    ACCOUNT,
    REGION,
    STAGE,
    Resolve,
    allows,
    as_list,
    function_statements,
    of_type,
    route_functions,
    views,
)
from tests.stripe_stub import DECLINED, StripeStub

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
        "NotifyShopper": ["NotifyShopperPolicy"],
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
    api, authorizer, stream, sweeper, payments, notifier = (
        function_statements(template, f)
        for f in ("APIHandler", "AdminKey", "OrderStream", "ExpireHolds", "PaymentsHandler", "NotifyShopper")
    )
    for statement in api + authorizer + stream + sweeper + payments + notifier:
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
    # The notifier reads the order and its shop, claims e-mails, drains its queue and sends with SES only
    # as the senders the stack names (ses:FromAddress): never writes an order or a shop, no key, no bus.
    assert allows(notifier, "dynamodb:GetItem", f"{table}orders")
    assert allows(notifier, "dynamodb:UpdateItem", f"{table}mail")
    for action in ("dynamodb:UpdateItem", "dynamodb:PutItem", "dynamodb:DeleteItem"):
        assert not allows(notifier, action, f"{table}orders"), action
        assert not allows(notifier, action, f"{table}tenants"), action
    assert not allows(notifier, "ssm:GetParameter", stripe_key)
    assert not allows(notifier, "events:PutEvents", bus)
    mail_queue = f"arn:aws:sqs:{REGION}:{ACCOUNT}:cartwise-prod-mail"
    for action in ("ReceiveMessage", "DeleteMessage", "GetQueueAttributes"):
        assert allows(notifier, f"sqs:{action}", mail_queue), action
    assert not allows(notifier, "sqs:ReceiveMessage", f"{mail_queue}-dead-letters")  # an operator redrives
    (ses,) = [s for s in notifier if any(a.startswith("ses:") for a in as_list(s["Action"]))]
    assert as_list(ses["Action"]) == ["ses:SendRawEmail"]
    assert ses["Resource"] == f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/*"
    unresolved = template["Resources"]["NotifyShopperPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    (condition,) = [s["Condition"] for s in unresolved if s["Sid"] == ses["Sid"]]
    assert condition == {"StringLike": {"ses:FromAddress": {"Ref": "MailSenders"}}}
    for function in (api, authorizer, stream, sweeper, payments):
        assert not allows(function, "ses:SendRawEmail", ses["Resource"])
    # An e-mail's link token is looked up by the shopper's routes, read only.
    for function in (api, payments):
        assert allows(function, "dynamodb:Query", f"{table}mail")
        assert not allows(function, "dynamodb:UpdateItem", f"{table}mail")
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
    if service == "ssm" and operation in ("PutParameter", "DeleteParameter"):  # the admin settings route
        return [(f"ssm:{operation}", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/{params['Name'].lstrip('/')}")]
    if service == "ssm" and operation in ("GetParameter", "GetParameters"):
        names = [params["Name"]] if operation == "GetParameter" else params["Names"]
        needed = [(f"ssm:{operation}", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/{n.lstrip('/')}") for n in names]
        if params.get("WithDecryption"):
            needed.append(("kms:Decrypt", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/aws-ssm-managed-key"))
        return needed
    if service == "ses" and operation in ("SendEmail", "SendRawEmail"):
        sender = params.get("FromEmailAddress") or params.get("Source")
        return [(f"ses:{operation}", f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/{sender}")]
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
    # What the merge template adds to a function's environment (the notifier's storefront link).
    for name, value in Resolve(template, STAGE)(
        template["Resources"]["NotifyShopper"]["Properties"]["Environment"]["Variables"]
    ).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LLM_BASE_URL", f"http://127.0.0.1:{free_port()}/v1")
    monkeypatch.setenv("CLIENT_LIMITS", "on")  # as deployed: every shopper route counts its client
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
    """What Lambda's event source mapping does with the function's role: read the stream, note failures;
    receive, delete and look at the queue."""
    resolve = Resolve(template, STAGE)
    needed = []
    for event in template["Resources"][function]["Properties"].get("Events", {}).values():
        if event["Type"] == "SQS":
            queue = resolve(event["Properties"]["Queue"])
            needed += [(f"sqs:{a}", queue) for a in ("ReceiveMessage", "DeleteMessage", "GetQueueAttributes")]
        if event["Type"] != "DynamoDB":
            continue
        stream = resolve(event["Properties"]["Stream"])
        needed += [(f"dynamodb:{a}", stream) for a in ("DescribeStream", "GetRecords", "GetShardIterator")]
        needed += [
            ("dynamodb:ListStreams", stream),
            ("sqs:SendMessage", resolve(event["Properties"]["DestinationConfig"]["OnFailure"]["Destination"])),
        ]
    return needed


# Routes that answer from the function's own code (the shipping methods from the tenant it has cached):
# the journey cannot record an AWS call for them.
ROUTES_WITHOUT_AWS_CALLS = {
    ("GET", "/health"),
    ("GET", "/openapi.yaml"),
    ("GET", "/tenants/{tenant_id}/shipping-methods"),
}

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
        assert api.get("/tenants/acme/shipping-methods?country=DE").status_code == 200
        address = {"name": "Ada", "line1": "Hauptstr. 1", "city": "Berlin", "postal_code": "10115", "country": "DE"}
        delivery = {"email": "ada@example.com", "address": address, "method": "standard"}
        assert api.put(f"{carts}/{cart_id}/delivery", delivery).status_code == 200
        assert api.get(f"{carts}/{cart_id}").status_code == 200
        upsell = api.get(f"{carts}/{cart_id}/upsell")
        assert upsell.status_code == 200
        assert upsell.data["source"] == "fallback"  # the flag is on; the LLM call failed on the closed port
        suggested = {"quantity": 1, "upsell_set_id": upsell.data["set_id"]}
        pick = upsell.data["suggestions"][0]["product_id"]
        with prod_like.paused():
            cart_before = cart_item(cart_id)
        assert api.put(f"{carts}/{cart_id}/items/{pick}", suggested).status_code == 200
        assert api.get(f"{carts}/{cart_id}/upsell").status_code == 200  # the new content's answer, kept
        order = api.post(f"{carts}/{cart_id}/checkout", {"email": "ada@example.com"}, headers={"Idempotency-Key": "k1"})
        assert order.status_code == 201
        order_id = order.data["order"]["order_id"]
        again = api.post(f"{carts}/{cart_id}/checkout", {"email": "ada@example.com"}, headers={"Idempotency-Key": "k1"})
        assert again.data["order"]["order_id"] == order_id
        assert api.get(f"/tenants/acme/orders/{order_id}").status_code == 200
        spare = api.post(carts, {"items": [{"product_id": "headlamp", "quantity": 1}]}).data["cart_id"]
        placed = check_out(api, "acme", spare).data
        cancel = api.post(
            f"/tenants/acme/orders/{placed['order']['order_id']}/cancel",
            headers={"X-Order-Token": placed["order_token"]},
        )
        assert (cancel.status_code, cancel.data["status"]) == (200, "cancelled")
        sold_out = api.post(carts, {"items": [{"product_id": "sleeping-pad", "quantity": 2}]}).data["cart_id"]
        with prod_like.paused():
            set_stock("acme", "sleeping-pad", 1)
        assert check_out(api, "acme", sold_out).status_code == 409
        admin = {"X-Api-Key": demo_key}
        shipment = {"carrier": "DHL", "tracking_number": "JD1", "tracking_url": "https://dhl.example/JD1"}
        assert api.post(f"/tenants/acme/orders/{order_id}/shipment", shipment, headers=admin).status_code == 200
        assert api.post(f"/tenants/acme/orders/{order_id}/delivered", headers=admin).status_code == 200
        assert api.get("/tenants/acme/orders", headers=admin).status_code == 200
        cancelled = api.get("/tenants/acme/orders?status=cancelled", headers=admin).data["items"]
        assert [o["order_id"] for o in cancelled] == [placed["order"]["order_id"]]
        product = {"name": "Tent v2", "category": "camping", "price": "139.00", "stock": 5}
        assert api.put("/tenants/acme/products/tent-3p", product, headers=admin).status_code in (200, 201)
        keyless = api.post("/tenants/acme/products/tent-2p/stock", {"delta": 1}, headers=admin)
        assert (keyless.status_code, keyless.data["error"]["code"]) == (400, "IDEMPOTENCY_KEY_REQUIRED")
        keyed = {**admin, "Idempotency-Key": "restock-1"}
        assert api.post("/tenants/acme/products/tent-2p/stock", {"delta": 1}, headers=keyed).status_code == 200
        assert api.get("/tenants/acme/orders", headers={"X-Api-Key": "cw_acme_" + "x" * 43}).status_code == 401
        settings = {"enabled": True, "holdout_percent": 0}
        assert api.put("/tenants/acme/upsell/settings", settings, headers=admin).data == settings
        assert api.get("/tenants/acme/upsell/settings", headers=admin).data == settings
        assert api.put("/tenants/acme/upsell/settings", {**settings, "enabled": None}, headers=admin).status_code == 200
        assert api.get("/tenants/acme/upsell/stats?days=7", headers=admin).status_code == 200
        inventory = api.get("/tenants/acme/inventory?limit=2", headers=admin)  # the console's: one Query
        assert (inventory.status_code, len(inventory.data["items"])) == (200, 2)

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
    # ... and from the carts table's stream, the up-sell stats: the cart's answer kept, a suggestion added.
    cart_record = {**record, "eventName": "MODIFY"}
    cart_record["dynamodb"] = {
        **record["dynamodb"],
        "Keys": {name: cart_before[name] for name in ("tenant_id", "cart_id")},
        "OldImage": cart_before,
        "NewImage": cart_item(cart_id),
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    cart_record["eventSourceARN"] = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/cartwise-prod-carts/stream/x"
    with prod_like.on():
        assert app_module.order_stream({"Records": [cart_record]}, None) == {"batchItemFailures": []}

    # The notifier: an on-delivery order's confirmation, its queue message handed over twice (the second a
    # duplicate), then the e-mail's link token used on the order (API) and to cancel it (PaymentsHandler).
    from scripts.notifier import lambda_record
    from tests.mail import link_token, order_link, sent_by_ses

    with prod_like.paused():
        clients.client("ses").verify_email_identity(EmailAddress="orders@acme.example")
    with Client(app_module.app) as client, prod_like.on():
        api = Api(client)
        cart_id = api.post(carts, {"items": [{"product_id": "headlamp", "quantity": 1}]}).data["cart_id"]
        assert api.put(f"{carts}/{cart_id}/delivery", delivery).status_code == 200
        mailed = api.post(f"{carts}/{cart_id}/checkout", headers={"Idempotency-Key": "k-mail"}).data["order"]
        with prod_like.paused():  # the stream record and the queue's messages, as Lambda hands them over
            item = clients.client("dynamodb").get_item(
                TableName="cartwise-prod-orders",
                Key={"tenant_id": {"S": "acme"}, "order_id": {"S": mailed["order_id"]}},
            )["Item"]
        inserted = {**record, "dynamodb": {**record["dynamodb"], "NewImage": item, "SequenceNumber": "2"}}
        inserted["dynamodb"]["Keys"] = {name: item[name] for name in ("tenant_id", "order_id")}
        assert app_module.order_stream({"Records": [inserted]}, None) == {"batchItemFailures": []}
        with prod_like.paused():
            sqs = clients.client("sqs")
            queue = sqs.get_queue_url(QueueName="cartwise-prod-mail")["QueueUrl"]
            # The first order's order_created too (it was delivered by then: it mails nothing).
            messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
            from chalicelib import tenants as tenant_cache

            tenant_cache.clear_cache()  # the notifier is a process of its own: it reads the shop itself
        assert len(messages) == 2
        arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:cartwise-prod-mail"
        batch = {"Records": [lambda_record(message, arn, REGION) for message in messages]}
        for _ in range(2):
            assert app_module.notify_shopper(batch, None) == {"batchItemFailures": []}
        (confirmation,) = sent_by_ses()
        _, _, mail_token = link_token(order_link(confirmation))
        assert order_link(confirmation).startswith("https://storefrontdistribution.cloudfront.net/index.html?")
        by_mail = {"X-Order-Token": mail_token}
        assert api.get(f"/tenants/acme/orders/{mailed['order_id']}", headers=by_mail).status_code == 200
        cancelled = api.post(f"/tenants/acme/orders/{mailed['order_id']}/cancel", headers=by_mail)
        assert (cancelled.status_code, cancelled.data["status"]) == (200, "cancelled")

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
            placed = check_out(api, "globex", cart["cart_id"]).data
            assert placed["order"]["status"] == "pending_payment"
            return f"{globex}/orders/{placed['order']['order_id']}", {"X-Order-Token": placed["order_token"]}

        def declined_card(order: str, token: dict[str, str]) -> str:
            """The declining test card, set up for the order's customer as the storefront sets cards up."""
            setup = api.post(f"{order}/payment/setup", {"attempt": "attempt-declined"}, headers=token)
            stripe_stub.save_card(DECLINED, setup.data["client_secret"])
            return DECLINED

        paid, token = card_order()
        with prod_like.paused():  # PaymentsHandler is a process of its own: it reads the tenant itself
            tenants.clear_cache()
        setup = api.post(f"{paid}/payment/setup", {"attempt": "attempt-0001"}, headers=token)
        assert setup.status_code == 200
        stripe_stub.save_card("pm_card_visa", setup.data["client_secret"])  # Stripe.js, in the browser
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
        declined = api.post(f"{cancelled}/payment", {"payment_method": declined_card(cancelled, token)}, headers=token)
        assert (declined.status_code, declined.data["error"]["code"]) == (402, "PAYMENT_FAILED")
        cancel = api.post(f"{cancelled}/cancel", headers=token)
        assert (cancel.status_code, cancel.data["status"]) == (200, "cancelled")
        lapsed, token = card_order()  # declined too: its PaymentIntent awaits another card when the hold lapses
        assert (
            api.post(f"{lapsed}/payment", {"payment_method": declined_card(lapsed, token)}, headers=token).status_code
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

    # The permissions boundary every role carries when the pipeline deploys (infra/deploy-role.yml)
    # lets each of those calls through too: the effective permission is the policy and the boundary.
    boundary = permissions_boundary()
    for function in functions:
        needed = {pair for call in prod_like.of(function) for pair in required_permissions(*call)}
        needed |= set(stream_event_source_needs(template, function))
        capped = sorted(
            f"{action} on {resource}" for action, resource in needed if not allows(boundary, action, resource)
        )
        assert not capped, f"the permissions boundary denies {function}:\n" + "\n".join(capped)

    # The stream function updates, on each table, only the attributes its policy names there, and
    # its policy names no attribute it does not update (a tenant's admin key hashes least of all).
    granted = updatable_attributes(function_statements(template, "OrderStream"))
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/cartwise-prod-"
    assert granted == {
        f"{table}products": {"tenant_id", "product_id", "co_purchases"},
        f"{table}tenants": {"tenant_id", "best_sellers"},
        f"{table}orders": {"tenant_id", "order_id", "co_purchases_counted_at", "upsell_refund_counted_at"},
        f"{table}stats": {"tenant_id", "entry", *UPSELL_COUNTERS},
    }
    updated: dict[str, set[str]] = {}
    for _, operation, params in prod_like.of("OrderStream"):
        for arn, names in updates_of(operation, params):
            assert names <= granted[arn], f"OrderStream updates {sorted(names - granted[arn])} of {arn}"
            updated.setdefault(arn, set()).update(names)
    # The journey reaches the up-sell figures of one treated cart (no LLM, no holdout, no refund): the
    # stats' other counters and the refund mark are granted for the same stream function's other facts.
    not_reached = {f"{table}orders": {"upsell_refund_counted_at"}, f"{table}stats": UPSELL_COUNTERS_NOT_REACHED}
    assert {arn: names | not_reached.get(arn, set()) for arn, names in updated.items()} == granted


UPSELL_COUNTERS = {
    "carts_shown",
    "carts_holdout",
    "suggestions_added",
    "orders_treated",
    "orders_holdout",
    "revenue_treated",
    "revenue_holdout",
    "upsell_revenue",
    "carts_shown_llm",
    "carts_shown_fallback",
    "suggestions_added_llm",
    "suggestions_added_fallback",
    "upsell_revenue_llm",
    "upsell_revenue_fallback",
}
UPSELL_COUNTERS_NOT_REACHED = {
    "carts_holdout",
    "orders_holdout",
    "revenue_holdout",
    "carts_shown_llm",
    "suggestions_added_llm",
    "upsell_revenue_llm",
}


def permissions_boundary() -> list[dict[str, Any]]:
    """The statements of the permissions boundary of infra/deploy-role.yml, resolved for this account."""
    from cfnlint.decode import cfn_yaml

    pipeline = json.loads(json.dumps(cfn_yaml.load(str(REPO / "infra" / "deploy-role.yml"))))
    document = pipeline["Resources"]["AppPermissionsBoundary"]["Properties"]["PolicyDocument"]
    return Resolve(pipeline, STAGE)(document["Statement"])


def updatable_attributes(statements: list[dict[str, Any]]) -> dict[str, set[str]]:
    """table ARN -> the attributes an UpdateItem may name there (`dynamodb:Attributes`, which every
    UpdateItem statement of the function must carry: ForAllValues:StringEquals, so a request naming
    any other attribute is denied), and UPDATED_* or no return values at most."""
    granted: dict[str, set[str]] = {}
    for statement in statements:
        if "dynamodb:UpdateItem" not in as_list(statement["Action"]):
            continue
        condition = statement.get("Condition", {})
        assert as_list(statement["Action"]) == ["dynamodb:UpdateItem"], statement["Sid"]
        assert set(condition) == {"ForAllValues:StringEquals", "StringEqualsIfExists"}, statement["Sid"]
        assert condition["StringEqualsIfExists"] == {"dynamodb:ReturnValues": ["NONE", "UPDATED_OLD", "UPDATED_NEW"]}
        for resource in as_list(statement["Resource"]):
            granted[resource] = set(condition["ForAllValues:StringEquals"]["dynamodb:Attributes"])
    return granted


def cart_item(cart_id: str) -> dict[str, Any]:
    from chalicelib import clients

    return clients.client("dynamodb").get_item(
        TableName="cartwise-prod-carts", Key={"tenant_id": {"S": "acme"}, "cart_id": {"S": cart_id}}
    )["Item"]


def updates_of(operation: str, params: dict[str, Any]) -> list[tuple[str, set[str]]]:
    """(table ARN, the top-level attributes a request names: its key, what it updates, what its
    condition reads) of every update in an UpdateItem or TransactWriteItems call."""
    if operation == "UpdateItem":
        updates = [params]
    elif operation == "TransactWriteItems":
        updates = [item["Update"] for item in params["TransactItems"] if "Update" in item]
    else:
        return []
    found = []
    for update in updates:
        aliases = update.get("ExpressionAttributeNames", {})
        expressions = " ".join(update.get(key, "") for key in ("UpdateExpression", "ConditionExpression"))
        # PynamoDB names every attribute by placeholder; a path's head is one not after a ".".
        names = {aliases[head] for head in re.findall(r"(?<![.\w])#\w+", expressions)}
        table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{update['TableName']}"
        found.append((table, names | set(update["Key"])))
    return found
