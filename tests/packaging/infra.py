"""What the packaging tests share: the stage, account and region they resolve the template for,
and a resolver of its intrinsic functions."""

from __future__ import annotations

import fnmatch
import re
from typing import Any

from scripts.deploy import template as transforms

STAGE = "prod"
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
TABLE_RESOURCES = {
    "tenants": "TenantsTable",
    "products": "ProductsTable",
    "carts": "CartsTable",
    "orders": "OrdersTable",
    "idempotency": "IdempotencyTable",
    "limits": "LimitsTable",
    "stats": "StatsTable",
    "mail": "MailTable",
}


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
