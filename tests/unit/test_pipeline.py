"""The pipeline's trust model (infra/deploy-role.yml: no role can change itself or its boundary) and
its supply chain (actions pinned by commit, the deploy job's hashed lock).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts.deploy import REPO, packaging
from scripts.deploy import template as transforms
from tests.packaging.infra import ACCOUNT, REGION, STAGE, Resolve, _matches, allows, as_list

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


def unconditionally_allows(statements: list[dict[str, Any]], action: str, resource: str) -> bool:
    """Whether an Allow statement without a Condition covers the call (and no Deny does)."""
    if any(s["Effect"] == "Deny" and _matches(s, action, resource) for s in statements):
        return False
    return any(s["Effect"] == "Allow" and "Condition" not in s and _matches(s, action, resource) for s in statements)


STACK_TAG = {"StringLike": {"aws:ResourceTag/aws:cloudformation:stack-name": "cartwise-*"}}


def test_the_service_role_changes_only_the_apis_and_distributions_of_cartwise_stacks(pipeline: dict[str, Any]) -> None:
    """Any other REST API or CloudFront distribution of the account is out of its reach: every grant on
    an existing one is conditioned on the aws:cloudformation:stack-name tag CloudFormation puts on what
    a cartwise-* stack creates; only creations (which change nothing that exists) are not."""
    statements = role_statements(pipeline, "CloudFormationRole")
    api = f"arn:aws:apigateway:{REGION}::/restapis/a1b2c3d4e5"
    children = [
        api,
        f"{api}/stages/api",
        f"{api}/resources/x1/methods/POST",
        f"{api}/deployments",
        f"{api}/gatewayresponses/THROTTLED",
    ]
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        for resource in children:
            assert allows(statements, f"apigateway:{method}", resource), (method, resource)
            assert not unconditionally_allows(statements, f"apigateway:{method}", resource), (method, resource)
    granting = [s for s in statements if s["Effect"] == "Allow" and _matches(s, "apigateway:PATCH", api)]
    assert [s["Condition"] for s in granting] == [STACK_TAG]
    # Creating an API is the one grant without a condition, on the collection only.
    unconditioned = [
        s for s in statements if "Condition" not in s and any(a.startswith("apigateway:") for a in as_list(s["Action"]))
    ]
    assert [(s["Action"], s["Resource"]) for s in unconditioned] == [
        ("apigateway:POST", f"arn:aws:apigateway:{REGION}::/restapis")
    ]

    distribution = f"arn:aws:cloudfront::{ACCOUNT}:distribution/E2QWRUHEXAMPLE"
    for action in (
        "GetDistribution",
        "GetDistributionConfig",
        "UpdateDistribution",
        "DeleteDistribution",
        "UntagResource",
    ):
        assert allows(statements, f"cloudfront:{action}", distribution), action
        assert not unconditionally_allows(statements, f"cloudfront:{action}", distribution), action
        granting = [
            s for s in statements if s["Effect"] == "Allow" and _matches(s, f"cloudfront:{action}", distribution)
        ]
        assert [s["Condition"] for s in granting] == [STACK_TAG], action
    # Tags go on a distribution it created (its tag) or one being created (the creation request's tag).
    tagging = [
        s["Condition"]
        for s in statements
        if s["Effect"] == "Allow" and _matches(s, "cloudfront:TagResource", distribution)
    ]
    assert tagging == [STACK_TAG, {"StringLike": {"aws:RequestTag/aws:cloudformation:stack-name": "cartwise-*"}}]
    # Creations take no resource at AWS ("*"), and nothing else is granted on "*" but read-only look-ups.
    star = [s for s in statements if s["Effect"] == "Allow" and s["Resource"] == "*"]
    assert [sorted(as_list(s["Action"])) for s in star] == [
        [
            "lambda:CreateEventSourceMapping",
            "lambda:DeleteEventSourceMapping",
            "lambda:GetEventSourceMapping",
            "lambda:UpdateEventSourceMapping",
        ],
        [
            "cloudfront:CreateDistribution",
            "cloudfront:CreateOriginAccessControl",
            "cloudfront:CreateResponseHeadersPolicy",
        ],
        ["logs:DescribeLogGroups", "ssm:DescribeParameters"],
    ]


def test_the_deploy_role_reads_and_writes_no_table_item(pipeline: dict[str, Any]) -> None:
    statements = role_statements(pipeline, "DeployRole")
    for table in ("tenants", "products", "carts", "orders", "idempotency", "limits"):
        arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/cartwise-prod-{table}"
        for action in (
            "PutItem", "BatchWriteItem", "UpdateItem", "DeleteItem", "GetItem", "BatchGetItem", "Query", "Scan",
            "TransactWriteItems", "PartiQLInsert", "PartiQLUpdate", "PartiQLDelete", "PartiQLSelect",
        ):  # fmt: skip
            assert not allows(statements, f"dynamodb:{action}", arn), (action, table)
        assert allows(statements, "dynamodb:DescribeTable", arn)  # `make destroy` says which tables it kept
    dynamodb = sorted({a for s in statements for a in as_list(s["Action"]) if a.startswith("dynamodb:")})
    assert dynamodb == ["dynamodb:DescribeTable"]


def function_policy_statements() -> list[dict[str, Any]]:
    """Every statement of the functions' policies in infra/template.yml (stage prod), and Chalice's
    logs-only policy of every role (infra/policy-prod.json)."""
    from cfnlint.decode import cfn_yaml

    merged = json.loads(json.dumps(cfn_yaml.load(str(REPO / "infra" / "template.yml"))))
    policies = [r for r in merged["Resources"].values() if r.get("Type") == "AWS::IAM::Policy"]
    statements = [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]]
    logs = json.loads((REPO / "infra" / "policy-prod.json").read_text())["Statement"]
    return Resolve(merged, STAGE)(statements) + logs


def test_the_boundary_allows_exactly_what_the_functions_policies_grant(pipeline: dict[str, Any]) -> None:
    """The permissions boundary is the most a function may ever do: every action a function's policy
    grants, on every resource it grants it on, and no action none of them grants (no DeleteItem,
    Scan or BatchWriteItem, no table changes, no CreateLogGroup: the stack creates the log groups)."""
    boundary = Resolve(pipeline, STAGE)(
        pipeline["Resources"]["AppPermissionsBoundary"]["Properties"]["PolicyDocument"]["Statement"]
    )
    granted = function_policy_statements()
    assert len(granted) > 30
    outside = []
    for statement in granted:
        for action in as_list(statement["Action"]):
            for resource in as_list(statement["Resource"]):
                # A concrete resource of the granted pattern (any region and account: this stack's).
                example = resource.replace(":*:*:", f":{REGION}:{ACCOUNT}:").replace("*", "x1")
                if not allows(boundary, action, example):
                    outside.append(f"{statement.get('Sid')}: {action} on {example}")
    assert outside == []
    boundary_actions = {a for s in boundary for a in as_list(s["Action"])}
    assert boundary_actions == {a for s in granted for a in as_list(s["Action"])}
    for action in ("DeleteItem", "BatchWriteItem", "Scan", "UpdateTable", "DeleteTable", "PartiQLUpdate"):
        assert not allows(
            boundary, f"dynamodb:{action}", f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/cartwise-prod-orders"
        )
    assert not allows(
        boundary, "logs:CreateLogGroup", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/cartwise-prod-x"
    )
    # Parameters: the flags, the LLM key and the tenants' Stripe keys, not the rest of /cartwise/.
    parameter = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/cartwise/prod"
    for name in (
        "flags/UPSELL_ENABLED",
        "llm/api_key",
        "tenants/acme/flags/UPSELL_ENABLED",
        "tenants/acme/stripe/secret_key",
    ):
        assert allows(boundary, "ssm:GetParameter", f"{parameter}/{name}"), name
    assert not allows(boundary, "ssm:GetParameter", f"{parameter}/operator/notes")
    (kms,) = [s for s in boundary if s["Action"] == "kms:Decrypt"]
    assert kms["Condition"]["ForAnyValue:StringEquals"] == {"kms:ResourceAliases": "alias/aws/ssm"}


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
