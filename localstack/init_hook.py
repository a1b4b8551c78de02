"""Cartwise's LocalStack init hook (docker-compose.yml, service `provision`).

    python localstack/init_hook.py [--timeout 180] -- python -m scripts.provision --seed --api-url URL

Waits until the AWS endpoint (AWS_ENDPOINT_URL, i.e. LocalStack) answers a cheap call for each
service Cartwise uses (DynamoDB and its streams, SSM, S3, EventBridge, SQS, SES), then replaces
itself with the command after `--`: the provisioning of `make run`, so both stacks get the same
tables, flags, demo data and storefront.

Why not a script in LocalStack's /etc/localstack/init/ready.d: those run inside the LocalStack
image, whose Python has neither the app nor its dependencies (pynamodb, Powertools, pydantic).
Installing them there at every start would mix two dependency sets and need the network each
time. This hook runs in the app's own image instead, right after LocalStack is up; see
docs/decisions/0007-deploy.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config

PROBES: dict[str, Callable[[Any], Any]] = {
    "dynamodb": lambda client: client.list_tables(Limit=1),
    "ssm": lambda client: client.describe_parameters(MaxResults=1),
    "s3": lambda client: client.list_buckets(),
    "events": lambda client: client.list_event_buses(Limit=1),
    "dynamodbstreams": lambda client: client.list_streams(Limit=1),
    "sqs": lambda client: client.list_queues(MaxResults=1),
    "ses": lambda client: client.list_identities(MaxItems=1),
}
PROBE_CONFIG = Config(connect_timeout=2, read_timeout=10, retries={"mode": "standard", "total_max_attempts": 1})


def wait_for_services(timeout: float, interval: float = 1.0) -> None:
    """Return once every service answers; raise SystemExit naming the ones that never did."""
    deadline = time.monotonic() + timeout
    pending = dict(PROBES)
    errors: dict[str, str] = {}
    while True:
        for name, probe in list(pending.items()):
            try:
                probe(boto3.session.Session().client(name, config=PROBE_CONFIG))
            except Exception as exc:  # noqa: BLE001 - any failure means "not ready yet"
                errors[name] = f"{type(exc).__name__}: {exc}"
            else:
                del pending[name]
                print(f"init hook: {name} is ready", flush=True)
        if not pending:
            return
        if time.monotonic() > deadline:
            detail = "; ".join(f"{name}: {errors[name]}" for name in pending)
            raise SystemExit(
                f"init hook: not ready after {timeout:.0f} s at {os.environ.get('AWS_ENDPOINT_URL')}: {detail}"
            )
        time.sleep(interval)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    own, command = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for LocalStack")
    args = parser.parse_args(own)
    wait_for_services(args.timeout)
    if command:
        sys.stdout.flush()
        os.execvp(command[0], command)  # noqa: S606 - the command comes from docker-compose.yml
    return 0


if __name__ == "__main__":
    sys.exit(main())
