"""`make deploy` and `make destroy`: the AWS side, around the package of `scripts.deploy.packaging`.

deploy   package, cfn-lint, `aws cloudformation package` (artifacts to an S3 bucket of the account),
         `aws cloudformation deploy --capabilities CAPABILITY_IAM` (the template through that bucket,
         and through the CloudFormation service role when one is given, as the CI pipeline does),
         optional demo data, the storefront uploaded with a config.js pointing at the API, and the
         URLs printed (the storefront's is CloudFront's).
destroy  empty the storefront bucket, delete the stack, delete the stage's artifacts, and say what is
         kept: the tables with DeletionPolicy Retain, and the parameters the operator created.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from typing import Any

from scripts.deploy import DeployError, packaging, stack_name
from scripts.provision import delete_keys, object_keys, upload_storefront

# Demo-data fields the cloud never gets: their secrets are published in this repository.
PUBLISHED_SECRETS = ("demo_admin_key", "payment")


def _run(command: list[str]) -> None:
    print("+ " + " ".join(command), flush=True)
    if subprocess.run(command).returncode != 0:
        raise DeployError(f"{command[0]} {command[1]} {command[2]} failed")


def _session() -> Any:
    import boto3

    session = boto3.session.Session()
    if not session.region_name:
        raise DeployError("no AWS region: run `aws configure` or set AWS_REGION")
    return session


def _missing(exc: Exception, *codes: str) -> bool:
    from botocore.exceptions import ClientError

    return isinstance(exc, ClientError) and exc.response["Error"]["Code"] in codes


def artifact_bucket_name(account: str, region: str) -> str:
    return f"cartwise-artifacts-{account}-{region}"


def ensure_artifact_bucket(s3: Any, bucket: str, region: str) -> str:
    """A private bucket for the zips and the template of a deploy; old artifacts expire after 30 days."""
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=bucket)
        return bucket
    except ClientError as exc:
        if not _missing(exc, "404", "NoSuchBucket", "NotFound"):
            raise
    location = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=bucket, **location)
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={
            "Rules": [{"ID": "expire-old-artifacts", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 30}}]
        },
    )
    print(f"created artifact bucket {bucket}", flush=True)
    return bucket


def clear_failed_creation(cloudformation: Any, stack: str, role_arn: str | None = None) -> bool:
    """Delete a stack whose first creation rolled back (ROLLBACK_COMPLETE): it holds nothing, and
    CloudFormation can neither update nor re-create it until it is gone."""
    from botocore.exceptions import ClientError

    try:
        status = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
    except ClientError as exc:
        if "does not exist" in str(exc):
            return False
        raise
    if status != "ROLLBACK_COMPLETE":
        return False
    print(f"stack {stack} failed to create before (ROLLBACK_COMPLETE); deleting it first", flush=True)
    _delete_stack(cloudformation, stack, role_arn)
    return True


def _delete_stack(cloudformation: Any, stack: str, role_arn: str | None) -> None:
    cloudformation.delete_stack(StackName=stack, **({"RoleARN": role_arn} if role_arn else {}))
    cloudformation.get_waiter("stack_delete_complete").wait(StackName=stack, WaiterConfig={"MaxAttempts": 120})


def stack_outputs(cloudformation: Any, stack: str) -> dict[str, str]:
    stacks = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    return {output["OutputKey"]: output["OutputValue"] for output in stacks[0].get("Outputs", [])}


def seed_demo_data(stage: str) -> list[str]:
    """The demo tenants and catalogues from data/tenants, written by the provisioning code of `make run`.

    Without their `demo_admin_key` and `payment` block: that key and the demo Stripe secrets are
    published in this repository and must never open a deployed stage (a published webhook secret
    would let anyone forge payments). Admin keys for a deployed tenant come from
    `python -m scripts.tenants rotate-key`, Stripe keys from `set-payment`.
    """
    os.environ["CARTWISE_STAGE"] = stage
    from chalicelib import catalog, clients
    from scripts import provision

    clients.reset()
    seeded = []
    for data in provision.load_tenant_files():
        try:
            provision.seed_tenant({key: value for key, value in data.items() if key not in PUBLISHED_SECRETS})
        except catalog.LiveHolds as refusal:  # a re-seed of a stage that has taken card orders
            raise DeployError(f"the demo data was not seeded again: {refusal}") from None
        seeded.append(data["tenant_id"])
    return seeded


def deploy(
    stage: str,
    *,
    seed: bool = False,
    parameters: Mapping[str, str] | None = None,
    role_arn: str | None = None,
) -> dict[str, str]:
    """Package, lint and deploy the stage; `role_arn` is the CloudFormation service role to act through."""
    if shutil.which("aws") is None:
        raise DeployError("the AWS CLI (`aws`) is not on PATH; see docs/deploy.md")
    session = _session()
    region = session.region_name
    account = session.client("sts").get_caller_identity()["Account"]
    print(f"deploying stage {stage} to account {account}, region {region}", flush=True)
    built = packaging.package(stage)
    packaging.lint(built.template)
    s3 = session.client("s3")
    bucket = ensure_artifact_bucket(s3, artifact_bucket_name(account, region), region)
    stack = stack_name(stage)
    clear_failed_creation(session.client("cloudformation"), stack, role_arn)
    packaged = built.template.with_name("packaged.yaml")
    _run(
        [
            "aws",
            "cloudformation",
            "package",
            "--region",
            region,
            "--template-file",
            str(built.template),
            "--s3-bucket",
            bucket,
            "--s3-prefix",
            stack,
            "--output-template-file",
            str(packaged),
        ]
    )
    overrides = [f"Stage={stage}", *(f"{key}={value}" for key, value in (parameters or {}).items())]
    _run(
        [
            "aws",
            "cloudformation",
            "deploy",
            "--region",
            region,
            "--template-file",
            str(packaged),
            "--stack-name",
            stack,
            # The template is over the 51,200 bytes CloudFormation takes inline, so the CLI refuses it
            # without a bucket to upload it to; under the stack's prefix, `destroy` deletes it with the zips.
            "--s3-bucket",
            bucket,
            "--s3-prefix",
            stack,
            "--capabilities",
            "CAPABILITY_IAM",
            *(["--role-arn", role_arn] if role_arn else []),
            "--no-fail-on-empty-changeset",
            "--parameter-overrides",
            *overrides,
            "--tags",
            "app=cartwise",
            f"stage={stage}",
        ]
    )
    outputs = stack_outputs(session.client("cloudformation"), stack)
    api_url = outputs["EndpointURL"]
    if seed:
        print(f"seeded demo tenants: {', '.join(seed_demo_data(stage))}", flush=True)
    # Uploaded with Cache-Control: no-cache, so CloudFront revalidates and a new storefront needs no invalidation.
    upload_storefront(s3, outputs["StorefrontBucketName"], api_url)
    storefront = outputs["StorefrontURL"].rstrip("/") + "/index.html?tenant=acme"
    console = outputs["StorefrontURL"].rstrip("/") + "/console/index.html?tenant=acme"
    print(
        f"""
Cartwise {stage} is deployed (stack {stack}, {region}).

  API:         {api_url}
  Storefront:  {storefront}
  Console:     {console} (the operator's; sign in with the tenant's admin key)
  Up-sell on:  aws ssm put-parameter --overwrite --type String --value true \\
                 --name /cartwise/{stage}/flags/UPSELL_ENABLED
""",
        flush=True,
    )
    return {"api_url": api_url, "storefront_url": storefront, "console_url": console, **outputs}


def stack_tables(cloudformation: Any, stack: str) -> list[str]:
    return sorted(
        resource["PhysicalResourceId"]
        for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack)
        for resource in page["StackResourceSummaries"]
        if resource["ResourceType"] == "AWS::DynamoDB::Table" and resource.get("PhysicalResourceId")
    )


def existing_tables(dynamodb: Any, names: list[str]) -> list[str]:
    kept = []
    for name in names:
        try:
            dynamodb.describe_table(TableName=name)
        except dynamodb.exceptions.ResourceNotFoundException:
            continue
        kept.append(name)
    return kept


def destroy(stage: str, role_arn: str | None = None) -> dict[str, list[str]]:
    """Delete the stack and the stage's artifacts; returns (and prints) what is kept."""
    from botocore.exceptions import ClientError

    session = _session()
    cloudformation = session.client("cloudformation")
    s3 = session.client("s3")
    stack = stack_name(stage)
    try:
        outputs = stack_outputs(cloudformation, stack)
    except ClientError as exc:
        if "does not exist" not in str(exc):
            raise
        print(f"stack {stack} does not exist", flush=True)
        outputs = None
    tables: list[str] = []
    if outputs is not None:
        tables = stack_tables(cloudformation, stack)
        bucket = outputs.get("StorefrontBucketName")
        if bucket:
            try:
                delete_keys(s3, bucket, object_keys(s3, bucket))  # CloudFormation cannot delete a full bucket
            except ClientError as exc:
                if not _missing(exc, "NoSuchBucket"):
                    raise
        print(f"deleting stack {stack} ...", flush=True)
        _delete_stack(cloudformation, stack, role_arn)
    account = session.client("sts").get_caller_identity()["Account"]
    artifacts = artifact_bucket_name(account, session.region_name)
    try:
        delete_keys(s3, artifacts, object_keys(s3, artifacts, prefix=f"{stack}/"))
        if not object_keys(s3, artifacts):
            s3.delete_bucket(Bucket=artifacts)
    except ClientError as exc:
        if not _missing(exc, "NoSuchBucket"):
            raise
    ssm = session.client("ssm")
    kept = {
        "tables": existing_tables(session.client("dynamodb"), tables),
        "parameters": [
            parameter["Name"]
            for page in ssm.get_paginator("get_parameters_by_path").paginate(Path=f"/cartwise/{stage}", Recursive=True)
            for parameter in page["Parameters"]
        ],
    }
    print(f"stack {stack} and its artifacts are gone.", flush=True)
    if kept["tables"]:
        print(
            "Tables kept with their data (DeletionPolicy Retain, deletion protection on); a new deployment of"
            " this stage needs them gone or imported (docs/deploy.md). To delete one for good:",
            flush=True,
        )
        for name in kept["tables"]:
            print(
                f"  aws dynamodb update-table --table-name {name} --no-deletion-protection-enabled"
                f" && aws dynamodb delete-table --table-name {name}",
                flush=True,
            )
    if kept["parameters"]:
        print("Parameters you created yourself are kept (delete them if you want):", flush=True)
        for name in kept["parameters"]:
            print(f"  aws ssm delete-parameter --name {name}", flush=True)
    return kept
