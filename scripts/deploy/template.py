"""The packaged template completed with what Chalice cannot emit: pure functions of the template dict.

Chalice generates the functions, their roles and the API; infra/template.yml is merged into that
(deep-merged by resource, so it can also add properties to Chalice's own resources). What neither can
say is done here, after `chalice package`, and checked so a new function cannot slip through:

- the payment routes run in a function of their own, PaymentsHandler, on the payments package, as
  does the hold sweeper (decision 20): Chalice makes one function of every route;
- every function has its own policy (an AWS::IAM::Policy in infra/template.yml attached to exactly
  its role) and waits for it;
- stream event sources read the stack's own table and say what happens to a record that fails;
- every function has a log group with retention;
- every role is capped by the permissions boundary when the stack is deployed with one.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from scripts.deploy import DeployError

STREAM_PLACEHOLDER = re.compile(r"^arn:aws:dynamodb:[^:]*:[^:]*:table/cartwise-[a-z0-9]+-(?P<entity>[a-z_]+)/stream/")
# A stream consumer without these retries a failing record until it expires (24 h) and holds its shard
# back meanwhile. Chalice cannot set them; infra/template.yml does, merged by the event's name.
STREAM_FAILURE_HANDLING = (
    "BisectBatchOnFunctionError",
    "MaximumRetryAttempts",
    "MaximumRecordAgeInSeconds",
    "DestinationConfig",
    "FunctionResponseTypes",
)
# The merge template's parameter PermissionsBoundaryArn, when set (the CI pipeline always sets it).
PERMISSIONS_BOUNDARY = {
    "Fn::If": ["HasPermissionsBoundary", {"Ref": "PermissionsBoundaryArn"}, {"Ref": "AWS::NoValue"}]
}


# Chalice's function for every route, and the one split from it for the payment routes.
API_FUNCTION = "APIHandler"
PAYMENTS_FUNCTION = "PaymentsHandler"
PAYMENTS_ZIP = "payments.zip"
# Functions Chalice generates that call Stripe, so run on the payments package too: the hold sweeper
# cancels the PaymentIntents of the orders it expires.
ON_PAYMENTS_PACKAGE = ("ExpireHolds",)


def complete(template: dict[str, Any], payment_routes: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Apply every step below (`payment_routes`: (METHOD, path) of the payments blueprint's routes);
    returns each function's policies."""
    split_payments(template, payment_routes)
    policies = function_policies(template)
    wire_table_streams(template)
    check_stream_failure_handling(template)
    depend_on_policies(template, policies)
    add_log_groups(template)
    cap_roles_with_boundary(template)
    return policies


def of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: resource for name, resource in template["Resources"].items() if resource.get("Type") == kind}


def function_role(function: dict[str, Any]) -> str:
    return function["Properties"]["Role"]["Fn::GetAtt"][0]


def split_payments(template: dict[str, Any], payment_routes: list[tuple[str, str]]) -> None:
    """PaymentsHandler: APIHandler's twin (handler, runtime, memory, timeout, environment, tracing) on
    the payments package, with a role of its own, serving exactly `payment_routes`.

    The swagger integration of each of those routes invokes it instead of APIHandler, and API Gateway
    may invoke it as it may APIHandler (a copy of Chalice's permission, scoped to this API). The
    functions of ON_PAYMENTS_PACKAGE run on the payments package too.
    """
    resources = template["Resources"]
    api = resources[API_FUNCTION]
    api_role = function_role(api)
    role = f"{PAYMENTS_FUNCTION}Role"
    resources[role] = copy.deepcopy(resources[api_role])
    for inline in resources[role]["Properties"].get("Policies", []):
        inline["PolicyName"] = inline["PolicyName"].replace(api_role, role)
    function = resources[PAYMENTS_FUNCTION] = copy.deepcopy(api)
    function["Properties"]["CodeUri"] = f"./{PAYMENTS_ZIP}"
    function["Properties"]["Role"] = {"Fn::GetAtt": [role, "Arn"]}
    permission = resources[f"{PAYMENTS_FUNCTION}InvokePermission"] = copy.deepcopy(
        resources[f"{API_FUNCTION}InvokePermission"]
    )
    permission["Properties"]["FunctionName"] = {"Ref": PAYMENTS_FUNCTION}
    for name in ON_PAYMENTS_PACKAGE:
        resources[name]["Properties"]["CodeUri"] = f"./{PAYMENTS_ZIP}"

    paths = resources["RestAPI"]["Properties"]["DefinitionBody"]["paths"]
    for method, path in payment_routes:
        integration = paths.get(path, {}).get(method.lower(), {}).get("x-amazon-apigateway-integration", {})
        uri = integration.get("uri", {}).get("Fn::Sub", "")
        if f"${{{API_FUNCTION}.Arn}}" not in uri:
            raise DeployError(f"{method} {path} is not a route of {API_FUNCTION} in the packaged API")
        integration["uri"] = {"Fn::Sub": uri.replace(f"${{{API_FUNCTION}.Arn}}", f"${{{PAYMENTS_FUNCTION}.Arn}}")}

    outputs = template.setdefault("Outputs", {})
    outputs[f"{PAYMENTS_FUNCTION}Arn"] = {"Value": {"Fn::GetAtt": [PAYMENTS_FUNCTION, "Arn"]}}
    outputs[f"{PAYMENTS_FUNCTION}Name"] = {"Value": {"Ref": PAYMENTS_FUNCTION}}


def function_policies(template: dict[str, Any]) -> dict[str, list[str]]:
    """Each function's policies: the AWS::IAM::Policy resources attached to its role, one role per policy."""
    policies = of_type(template, "AWS::IAM::Policy")
    by_role: dict[str, list[str]] = {}
    for name, policy in policies.items():
        roles = [ref["Ref"] for ref in policy["Properties"].get("Roles", [])]
        if len(roles) != 1:
            raise DeployError(f"policy {name} is attached to {roles or 'no role'}: a policy belongs to one function")
        by_role.setdefault(roles[0], []).append(name)
    attached = {}
    for name, function in of_type(template, "AWS::Serverless::Function").items():
        role = function_role(function)
        if role not in by_role:
            raise DeployError(
                f"function {name} has no policy: add an AWS::IAM::Policy with Roles: [!Ref {role}] and only"
                " the calls it makes to infra/template.yml"
            )
        attached[name] = sorted(by_role[role])
    return attached


def wire_table_streams(template: dict[str, Any]) -> list[str]:
    """Point DynamoDB stream event sources at the stack's own tables.

    Chalice needs a literal stream ARN at import time (chalicelib/orders_stream.py has a placeholder
    naming the table, e.g. .../table/cartwise-dev-orders/stream/set-by-infra). Each such source gets
    the `StreamArn` of the table resource with that entity's name in this template.
    """
    tables = {
        json.dumps(resource["Properties"].get("TableName")): name
        for name, resource in of_type(template, "AWS::DynamoDB::Table").items()
    }
    wired = []
    for function_name, event_name, event in _stream_events(template):
        stream = event["Properties"]["Stream"]
        if not isinstance(stream, str):
            continue
        match = STREAM_PLACEHOLDER.match(stream)
        table = tables.get(json.dumps({"Fn::Sub": f"cartwise-${{Stage}}-{match['entity']}"})) if match else None
        if table is None:
            raise DeployError(f"{function_name}.{event_name}: no table in infra/template.yml for stream {stream}")
        event["Properties"]["Stream"] = {"Fn::GetAtt": [table, "StreamArn"]}
        wired.append(f"{function_name}.{event_name} -> {table}")
    return wired


def check_stream_failure_handling(template: dict[str, Any]) -> None:
    """Every stream source reports failed records, gives up on them and notes them (STREAM_FAILURE_HANDLING)."""
    for function_name, event_name, event in _stream_events(template):
        missing = [key for key in STREAM_FAILURE_HANDLING if key not in event["Properties"]]
        if missing:
            raise DeployError(
                f"{function_name}.{event_name} lacks {', '.join(missing)}: set them in infra/template.yml"
                f" under Resources.{function_name}.Properties.Events.{event_name}.Properties"
            )


def _stream_events(template: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (function_name, event_name, event)
        for function_name, function in of_type(template, "AWS::Serverless::Function").items()
        for event_name, event in function["Properties"].get("Events", {}).items()
        if event.get("Type") in ("DynamoDB", "Kinesis")
    ]


def depend_on_policies(template: dict[str, Any], policies: dict[str, list[str]]) -> None:
    """Functions wait for their policies: a stream event source is checked against the role when created."""
    for name, needed in policies.items():
        function = template["Resources"][name]
        depends = function.get("DependsOn", [])
        depends = [depends] if isinstance(depends, str) else depends
        function["DependsOn"] = [*depends, *(policy for policy in needed if policy not in depends)]


def add_log_groups(template: dict[str, Any]) -> list[str]:
    """One log group per function, with the template's retention, deleted with the stack.

    Lambda would otherwise create them on first use, without retention, outside the stack. The
    function is pointed at its group (LoggingConfig), so it depends on it: the group exists before
    the function can run, and Lambda never races CloudFormation to create it.
    """
    resources = template["Resources"]
    added = []
    for name in of_type(template, "AWS::Serverless::Function"):
        group = f"{name}LogGroup"
        resources[group] = {
            "Type": "AWS::Logs::LogGroup",
            "DeletionPolicy": "Delete",
            "UpdateReplacePolicy": "Delete",
            "Properties": {
                # Within infra/policy-<stage>.json's /aws/lambda/cartwise-<stage>-* (the stack's name).
                "LogGroupName": {"Fn::Sub": f"/aws/lambda/cartwise-${{Stage}}-{name}"},
                "RetentionInDays": {"Ref": "LogRetentionDays"},
            },
        }
        resources[name]["Properties"]["LoggingConfig"] = {"LogGroup": {"Ref": group}, "LogFormat": "Text"}
        added.append(group)
    return added


def cap_roles_with_boundary(template: dict[str, Any]) -> list[str]:
    """Every role of the stack carries the permissions boundary: the CloudFormation service role of the
    pipeline may create roles only with it (infra/deploy-role.yml), so nothing the stack creates can
    do more than the boundary allows, whatever its policies say."""
    roles = of_type(template, "AWS::IAM::Role")
    for role in roles.values():
        role["Properties"]["PermissionsBoundary"] = PERMISSIONS_BOUNDARY
    return sorted(roles)
