"""Package, deploy and destroy a Cartwise stage on AWS: `make package|deploy|destroy STAGE=prod`.

package  `chalice package --merge-template infra/template.yml` run on a staging copy of the app
         (.local/build/<stage>/project) whose requirements leave out what the Lambda Python
         runtime already has: pynamodb goes into Chalice's vendor/ without its one dependency,
         botocore. Wheels come from a local cache (.local/wheels, filled from PyPI once, for
         manylinux2014_x86_64 / CPython 3.11), so packaging again needs no network. The packaged
         template is then completed: AppPolicy attached to every Lambda role Chalice emitted, stream
         event sources pointed at the stack's tables, one log group (with retention) per function.
deploy   package, cfn-lint, `aws cloudformation package` (artifacts to an S3 bucket of the account),
         `aws cloudformation deploy --capabilities CAPABILITY_IAM`, optional demo data, the storefront
         uploaded with a config.js pointing at the API, and the URLs printed.
destroy  empty the storefront bucket, delete the stack, delete the stage's artifacts.

See docs/deploy.md and docs/decisions/0007-deploy.md.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scripts import bytecode
from scripts.provision import delete_keys, object_keys, upload_storefront

REPO = Path(__file__).resolve().parent.parent
MERGE_TEMPLATE_NAME = "template.yml"
CHALICE_CONFIG = REPO / ".chalice" / "config.json"
REQUIREMENTS = REPO / "requirements.txt"
STOREFRONT = REPO / "storefront"
BUILD_ROOT = REPO / ".local" / "build"
WHEEL_CACHE = REPO / ".local" / "wheels"

# What the deployment package is built for: the python3.11 runtime on x86_64 (Chalice's default).
LAMBDA_PLATFORM = "manylinux2014_x86_64"
LAMBDA_PYTHON_VERSION = "3.11"
# The Lambda Python runtime has these; shipping them would only add ~25 MB unpacked.
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer"})
# Requirements whose dependencies are all runtime-provided. Chalice resolves every requirement with
# its dependencies (pynamodb -> botocore), so these go into vendor/ without them instead.
WITHOUT_DEPENDENCIES = frozenset({"pynamodb"})
# The app as Chalice packages it: what app.py imports, the config, and infra/ for the policy file
# (.chalice/config.json names it as ../infra/policy-<stage>.json).
APP_PATHS = ("app.py", "chalicelib", "infra")
POLICY_ID = "AppPolicy"
STREAM_PLACEHOLDER = re.compile(r"^arn:aws:dynamodb:[^:]*:[^:]*:table/cartwise-[a-z0-9]+-(?P<entity>[a-z_]+)/stream/")


class DeployError(RuntimeError):
    """A step failed; the message says which and why."""


@dataclass(frozen=True)
class Package:
    template: Path
    zip_path: Path

    @property
    def zip_bytes(self) -> int:
        return self.zip_path.stat().st_size

    @property
    def unpacked_bytes(self) -> int:
        with zipfile.ZipFile(self.zip_path) as archive:
            return sum(info.file_size for info in archive.infolist())


def stack_name(stage: str) -> str:
    return f"cartwise-{stage}"


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# --- packaging ---------------------------------------------------------------------------------


def stage_config(stage: str, config_path: Path = CHALICE_CONFIG) -> dict[str, Any]:
    """The stage's Chalice settings, checked for what a CloudFormation deployment needs."""
    config = json.loads(config_path.read_text())
    settings = config.get("stages", {}).get(stage)
    if settings is None:
        raise DeployError(f"stage {stage!r} is not in {config_path}")
    if settings.get("autogen_policy", config.get("autogen_policy", True)):
        raise DeployError(
            f"stage {stage!r} must set autogen_policy: false (the policy is in infra/{MERGE_TEMPLATE_NAME})"
        )
    policy_file = settings.get("iam_policy_file", f"policy-{stage}.json")
    if not (config_path.parent / policy_file).is_file():
        raise DeployError(f"stage {stage!r}: iam_policy_file {policy_file} does not exist next to {config_path}")
    env_stage = settings.get("environment_variables", {}).get("CARTWISE_STAGE")
    if env_stage != stage:
        raise DeployError(f"stage {stage!r} sets CARTWISE_STAGE={env_stage!r}; table and parameter names would differ")
    return settings


def lambda_requirements(requirements: Path = REQUIREMENTS) -> tuple[list[str], list[str]]:
    """(pins Chalice resolves with their dependencies, pins vendored without them) from requirements.txt."""
    bundled: list[str] = []
    vendored: list[str] = []
    for raw in requirements.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        if not sep or not version or line.startswith("-"):
            raise DeployError(f"{requirements}: {line!r} is not a plain pin (name==version)")
        if _normalise(name) in RUNTIME_PROVIDED:
            continue
        (vendored if _normalise(name) in WITHOUT_DEPENDENCIES else bundled).append(f"{name.strip()}=={version.strip()}")
    return bundled, vendored


def _pip_download(pins: list[str], cache: Path, *, no_deps: bool, offline: bool) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--only-binary=:all:",
        "--platform",
        LAMBDA_PLATFORM,
        "--implementation",
        "cp",
        "--python-version",
        LAMBDA_PYTHON_VERSION,
        "--dest",
        str(cache),
        *(["--no-deps"] if no_deps else []),
        *pins,
    ]
    env = dict(os.environ)
    if offline:
        env.update(PIP_NO_INDEX="1", PIP_FIND_LINKS=str(cache))
    return subprocess.run(command, env=env, capture_output=True, text=True)


def ensure_wheels(bundled: list[str], vendored: list[str], cache: Path = WHEEL_CACHE) -> None:
    """Make the cache hold Lambda-compatible wheels for every package: offline if it already does."""
    cache.mkdir(parents=True, exist_ok=True)
    for pins, no_deps in ((bundled, False), (vendored, True)):
        if not pins or _pip_download(pins, cache, no_deps=no_deps, offline=True).returncode == 0:
            continue
        result = _pip_download(pins, cache, no_deps=no_deps, offline=False)
        if result.returncode != 0:
            raise DeployError(f"pip download of {pins} for {LAMBDA_PLATFORM} failed:\n{result.stdout}{result.stderr}")


def _copy(source: Path, target: Path) -> None:
    if target.is_dir():
        shutil.rmtree(target)
    elif target.exists():
        target.unlink()
    if source.is_dir():
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    else:
        shutil.copy2(source, target)


def stage_project(stage: str, project: Path, cache: Path = WHEEL_CACHE, repo: Path = REPO) -> Path:
    """A copy of the app for `chalice package`; Chalice's cache in .chalice/deployments survives."""
    bundled, vendored = lambda_requirements(repo / "requirements.txt")
    ensure_wheels(bundled, vendored, cache)
    (project / ".chalice").mkdir(parents=True, exist_ok=True)
    for relative in APP_PATHS:
        _copy(repo / relative, project / relative)
    _copy(repo / ".chalice" / "config.json", project / ".chalice" / "config.json")
    (project / "requirements.txt").write_text(
        "# Generated by scripts/deploy.py from requirements.txt: what Chalice resolves with dependencies.\n"
        + "".join(f"{pin}\n" for pin in bundled)
    )
    vendor = project / "vendor"
    if vendor.exists():
        shutil.rmtree(vendor)
    vendor.mkdir()
    if vendored:
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-compile", "--no-index"]
        command += ["--find-links", str(cache), "--target", str(vendor), *vendored]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise DeployError(f"installing {vendored} into vendor/ failed:\n{result.stdout}{result.stderr}")
        check_vendored_dependencies(vendor)
    return project


def check_vendored_dependencies(vendor: Path) -> None:
    """A vendored package may only depend on what the Lambda runtime provides (its deps are not shipped)."""
    from packaging.requirements import Requirement

    # Marker.evaluate overrides this machine's environment with these values.
    environment = {"python_version": LAMBDA_PYTHON_VERSION, "extra": ""}
    for metadata in vendor.glob("*.dist-info/METADATA"):
        for line in metadata.read_text().splitlines():
            if not line.startswith("Requires-Dist:"):
                continue
            requirement = Requirement(line.partition(":")[2].strip())
            if requirement.marker is not None and not requirement.marker.evaluate(environment):
                continue
            if _normalise(requirement.name) not in RUNTIME_PROVIDED:
                raise DeployError(
                    f"{metadata.parent.name} needs {requirement.name}, which the Lambda runtime lacks: "
                    "take it out of WITHOUT_DEPENDENCIES in scripts/deploy.py"
                )


def attach_policy_to_lambda_roles(template: dict[str, Any]) -> list[str]:
    """Point AppPolicy at every role Lambda assumes (one per Chalice function with autogen_policy false)."""
    resources = template["Resources"]
    roles = sorted(
        name
        for name, resource in resources.items()
        if resource.get("Type") == "AWS::IAM::Role" and "lambda.amazonaws.com" in json.dumps(resource["Properties"])
    )
    if not roles:
        raise DeployError("the packaged template has no Lambda role to attach the policy to")
    resources[POLICY_ID]["Properties"]["Roles"] = [{"Ref": role} for role in roles]
    return roles


def wire_table_streams(template: dict[str, Any]) -> list[str]:
    """Point DynamoDB stream event sources at the stack's own tables.

    Chalice needs a literal stream ARN at import time (chalicelib/events.py has a placeholder naming
    the table, e.g. .../table/cartwise-dev-orders/stream/set-by-infra). Each such source gets the
    `StreamArn` of the table resource with that entity's name in this template.
    """
    resources = template["Resources"]
    tables = {
        json.dumps(resource["Properties"].get("TableName")): name
        for name, resource in resources.items()
        if resource.get("Type") == "AWS::DynamoDB::Table"
    }
    wired = []
    for function_name, resource in resources.items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        for event_name, event in resource["Properties"].get("Events", {}).items():
            stream = event.get("Properties", {}).get("Stream")
            if event.get("Type") != "DynamoDB" or not isinstance(stream, str):
                continue
            match = STREAM_PLACEHOLDER.match(stream)
            table = tables.get(json.dumps({"Fn::Sub": f"cartwise-${{Stage}}-{match['entity']}"})) if match else None
            if table is None:
                raise DeployError(
                    f"{function_name}.{event_name}: no table in {MERGE_TEMPLATE_NAME} for stream {stream}"
                )
            event["Properties"]["Stream"] = {"Fn::GetAtt": [table, "StreamArn"]}
            wired.append(f"{function_name}.{event_name} -> {table}")
    return wired


def depend_on_policy(template: dict[str, Any]) -> None:
    """Functions wait for AppPolicy: a stream event source is checked against the role when created."""
    for resource in template["Resources"].values():
        if resource.get("Type") == "AWS::Serverless::Function":
            depends = resource.get("DependsOn", [])
            depends = [depends] if isinstance(depends, str) else depends
            if POLICY_ID not in depends:
                resource["DependsOn"] = [*depends, POLICY_ID]


def add_log_groups(template: dict[str, Any]) -> list[str]:
    """One log group per function, with the template's retention, deleted with the stack.

    Lambda would otherwise create them on first use, without retention, outside the stack. The
    function is pointed at its group (LoggingConfig), so it depends on it: the group exists before
    the function can run, and Lambda never races CloudFormation to create it.
    """
    resources = template["Resources"]
    added = []
    for name in [n for n, r in resources.items() if r.get("Type") == "AWS::Serverless::Function"]:
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


def check_zip(zip_path: Path) -> None:
    with zipfile.ZipFile(zip_path) as archive:
        top = {name.split("/", 1)[0] for name in archive.namelist()}
    shipped = sorted(top & RUNTIME_PROVIDED)
    if shipped:
        raise DeployError(f"{zip_path} contains {shipped}, which the Lambda runtime provides")


def package(
    stage: str = "prod",
    *,
    build_root: Path = BUILD_ROOT,
    cache: Path = WHEEL_CACHE,
    repo: Path = REPO,
    copy_to: Path | None = None,
    quiet: bool = False,
) -> Package:
    """Build the deployment zip and the CloudFormation (SAM) template for `stage`.

    Builds in `build_root` under a lock, so parallel runs (two test sessions in one checkout) take
    turns; with `copy_to`, the results are copied there before the lock is released.
    """
    build_root.mkdir(parents=True, exist_ok=True)
    with (build_root / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        built, roles = _package(stage, build_root / stage, cache, repo)
        if copy_to is not None:
            copy_to.mkdir(parents=True, exist_ok=True)
            built = Package(
                template=Path(shutil.copy2(built.template, copy_to)),
                zip_path=Path(shutil.copy2(built.zip_path, copy_to)),
            )
    if not quiet:
        print(
            f"packaged {stage}: {built.template}"
            f" + deployment.zip {built.zip_bytes / 1e6:.1f} MB ({built.unpacked_bytes / 1e6:.1f} MB unpacked);"
            f" {POLICY_ID} attached to {', '.join(roles)}",
            flush=True,
        )
    return built


def _package(stage: str, build: Path, cache: Path, repo: Path) -> tuple[Package, list[str]]:
    import yaml

    stage_config(stage, repo / ".chalice" / "config.json")
    project = stage_project(stage, build / "project", cache, repo)
    output = build / "package"
    if output.exists():
        shutil.rmtree(output)
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(cache)}
    env.setdefault("AWS_DEFAULT_REGION", env.get("AWS_REGION", "us-east-1"))
    chalice = Path(sys.executable).with_name("chalice")
    command = [str(chalice), "package", "--stage", stage, "--template-format", "yaml"]
    command += ["--merge-template", str(project / "infra" / MERGE_TEMPLATE_NAME), str(output)]
    result = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise DeployError(f"chalice package failed:\n{result.stdout}{result.stderr}")
    template_path = output / "sam.yaml"
    template = yaml.safe_load(template_path.read_text())
    roles = attach_policy_to_lambda_roles(template)
    wire_table_streams(template)
    depend_on_policy(template)
    add_log_groups(template)
    template_path.write_text(yaml.safe_dump(template, sort_keys=False, allow_unicode=True))
    built = Package(template=template_path, zip_path=output / "deployment.zip")
    bytecode.add_to_zip(built.zip_path, LAMBDA_PYTHON_VERSION)
    check_zip(built.zip_path)
    return built, roles


def lint(template: Path) -> None:
    result = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), str(template)], capture_output=True, text=True
    )
    if result.returncode != 0:
        raise DeployError(f"cfn-lint found problems in {template}:\n{result.stdout}{result.stderr}")


# --- AWS ---------------------------------------------------------------------------------------


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


def artifact_bucket_name(account: str, region: str) -> str:
    return f"cartwise-artifacts-{account}-{region}"


def ensure_artifact_bucket(s3: Any, bucket: str, region: str) -> str:
    """A private bucket for `aws cloudformation package`; old artifacts expire after 30 days."""
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=bucket)
        return bucket
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in ("404", "NoSuchBucket", "NotFound"):
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


def clear_failed_creation(cloudformation: Any, stack: str) -> bool:
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
    cloudformation.delete_stack(StackName=stack)
    cloudformation.get_waiter("stack_delete_complete").wait(StackName=stack, WaiterConfig={"MaxAttempts": 120})
    return True


def stack_outputs(cloudformation: Any, stack: str) -> dict[str, str]:
    stacks = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    return {output["OutputKey"]: output["OutputValue"] for output in stacks[0].get("Outputs", [])}


def seed_demo_data(stage: str) -> list[str]:
    """The demo tenants and catalogues from data/tenants, written by the provisioning code of `make run`.

    Without their `demo_admin_key`: that key is published in this repository and must never open a
    deployed stage. Admin keys for a deployed tenant come from `python -m scripts.tenants rotate-key`.
    """
    os.environ["CARTWISE_STAGE"] = stage
    from chalicelib import clients
    from scripts import provision

    clients.reset()
    seeded = []
    for data in provision.load_tenant_files():
        provision.seed_tenant({key: value for key, value in data.items() if key != "demo_admin_key"})
        seeded.append(data["tenant_id"])
    return seeded


def deploy(stage: str, *, seed: bool = False, parameters: Mapping[str, str] | None = None) -> dict[str, str]:
    if shutil.which("aws") is None:
        raise DeployError("the AWS CLI (`aws`) is not on PATH; see docs/deploy.md")
    session = _session()
    region = session.region_name
    account = session.client("sts").get_caller_identity()["Account"]
    print(f"deploying stage {stage} to account {account}, region {region}", flush=True)
    built = package(stage)
    lint(built.template)
    s3 = session.client("s3")
    bucket = ensure_artifact_bucket(s3, artifact_bucket_name(account, region), region)
    stack = stack_name(stage)
    clear_failed_creation(session.client("cloudformation"), stack)
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
            "--capabilities",
            "CAPABILITY_IAM",
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
    upload_storefront(s3, outputs["StorefrontBucketName"], api_url)
    storefront = outputs["StorefrontWebsiteURL"].rstrip("/") + "/index.html?tenant=acme"
    print(
        f"""
Cartwise {stage} is deployed (stack {stack}, {region}).

  API:         {api_url}
  Storefront:  {storefront}
  Up-sell on:  aws ssm put-parameter --overwrite --type String --value true \\
                 --name /cartwise/{stage}/flags/UPSELL_ENABLED
""",
        flush=True,
    )
    return {"api_url": api_url, "storefront_url": storefront, **outputs}


def destroy(stage: str) -> None:
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
    if outputs is not None:
        bucket = outputs.get("StorefrontBucketName")
        if bucket:
            try:
                delete_keys(s3, bucket, object_keys(s3, bucket))  # CloudFormation cannot delete a full bucket
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "NoSuchBucket":
                    raise
        print(f"deleting stack {stack} ...", flush=True)
        cloudformation.delete_stack(StackName=stack)
        cloudformation.get_waiter("stack_delete_complete").wait(StackName=stack, WaiterConfig={"MaxAttempts": 120})
    account = session.client("sts").get_caller_identity()["Account"]
    artifacts = artifact_bucket_name(account, session.region_name)
    try:
        delete_keys(s3, artifacts, object_keys(s3, artifacts, prefix=f"{stack}/"))
        if not object_keys(s3, artifacts):
            s3.delete_bucket(Bucket=artifacts)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "NoSuchBucket":
            raise
    ssm = session.client("ssm")
    left = [
        parameter["Name"]
        for page in ssm.get_paginator("get_parameters_by_path").paginate(Path=f"/cartwise/{stage}", Recursive=True)
        for parameter in page["Parameters"]
    ]
    print(f"stack {stack} and its artifacts are gone.", flush=True)
    if left:
        print("Parameters you created yourself are kept (delete them if you want):", flush=True)
        for name in left:
            print(f"  aws ssm delete-parameter --name {name}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("package", "deploy", "destroy"):
        command = commands.add_parser(name)
        command.add_argument("--stage", default="prod")
        if name == "deploy":
            command.add_argument("--seed", action="store_true", help="write the demo tenants acme and globex")
            command.add_argument(
                "--parameter", action="append", default=[], metavar="KEY=VALUE", help="a template parameter"
            )
        if name == "destroy":
            command.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    args = parser.parse_args(argv)
    try:
        if args.command == "package":
            built = package(args.stage)
            lint(built.template)
            print(f"cfn-lint: {built.template} passes", flush=True)
        elif args.command == "deploy":
            parameters = dict(item.split("=", 1) for item in args.parameter)
            deploy(args.stage, seed=args.seed, parameters=parameters)
        else:
            stack = stack_name(args.stage)
            if not args.yes:
                answer = input(f"Delete stack {stack}, its tables (and their data) and storefront? Type {stack}: ")
                if answer.strip() != stack:
                    print("not deleted", file=sys.stderr)
                    return 1
            destroy(args.stage)
    except DeployError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
