"""The storefront upload, the stack wiring, and `make deploy|destroy` against a stand-in AWS (moto and
a fake `aws` CLI that refuses what the real one refuses).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from scripts.deploy import REPO, DeployError, packaging
from scripts.deploy import aws as orchestration
from scripts.deploy import template as transforms
from tests.packaging.infra import ACCOUNT, REGION, STAGE, stream_function

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
        assert "Console:     https://d111111abcdef8.cloudfront.net/console/index.html?tenant=acme" in printed
        assert s3.get_object(Bucket=bucket, Key="console/config.js")["Body"].read().decode() == config

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
    """deploy uploads with provisioning's code: every file of the storefront, and of the operator's
    console under console/, its type, a config.js for the API beside each, nothing stale."""
    from chalicelib import clients

    s3 = clients.s3()
    bucket = "cartwise-prod-storefrontbucket-abc"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="old.js", Body=b"gone")
    s3.put_object(Bucket=bucket, Key="console/old.js", Body=b"gone")
    keys = orchestration.upload_storefront(s3, bucket, "https://abc123.execute-api.us-east-1.amazonaws.com/api/")
    stored = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert set(keys) == stored  # old.js and console/old.js, in neither folder, were deleted
    console = {f"console/{p.relative_to(REPO / 'console').as_posix()}" for p in (REPO / "console").rglob("*.*")}
    storefront = {p.relative_to(REPO / "storefront").as_posix() for p in (REPO / "storefront").rglob("*.*")}
    assert stored == storefront | console | {"config.js", "console/config.js"}
    assert {"index.html", "main.js", "console/index.html", "console/main.js", "console/view.js"} <= stored
    for key in ("main.js", "console/main.js", "console/controller.js"):
        assert s3.get_object(Bucket=bucket, Key=key)["ContentType"] == "text/javascript"  # ES modules
    for key in ("index.html", "console/index.html"):
        assert s3.get_object(Bucket=bucket, Key=key)["ContentType"] == "text/html"
    assert s3.get_object(Bucket=bucket, Key="console/styles.css")["ContentType"] == "text/css"
    config = s3.get_object(Bucket=bucket, Key="config.js")["Body"].read().decode()
    assert config == (
        'export const API_BASE_URL = "https://abc123.execute-api.us-east-1.amazonaws.com/api";\n'
        'export const STRIPE_JS_URL = "https://js.stripe.com/v3/";\n'  # Stripe's own in the cloud
    )
    assert s3.get_object(Bucket=bucket, Key="console/config.js")["Body"].read().decode() == config


def test_stream_placeholders_must_name_a_table_of_the_stack(template: dict[str, Any]) -> None:
    broken = json.loads(json.dumps(template))
    event = next(iter(stream_function(broken)["Properties"]["Events"].values()))  # orders' or carts' stream
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
