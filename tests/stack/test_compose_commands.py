"""The commands docker-compose.yml gives its services, run for real against stand-ins: provisioning
and `chalice local` against a moto server in LocalStack's place, paying against localstripe."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

from scripts import local_stack
from tests.unit.test_compose import COMPOSE, REPO, STOREFRONT_URL, environment, option


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture
def aws_stand_in(tmp_path: Path) -> Iterator[str]:
    """A moto server on a free loopback port, standing in for LocalStack."""
    port = local_stack.free_port()
    process = local_stack.start_moto_server(port, log_dir=tmp_path)
    try:
        yield f"http://{local_stack.HOST}:{port}"
    finally:
        process.stop()


def run_env(compose: dict[str, Any], endpoint: str) -> dict[str, str]:
    """The compose environment of the app services, with the AWS endpoint swapped for `endpoint`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "LLM_", "OPENAI_"))}
    env.update(environment(compose["services"]["provision"]))
    env["AWS_ENDPOINT_URL"] = endpoint
    return env


def test_the_compose_commands_provision_and_serve(
    compose: dict[str, Any], aws_stand_in: str, localstripe_url: str, tmp_path: Path
) -> None:
    import boto3

    env = run_env(compose, aws_stand_in)
    env["STRIPE_API_BASE"] = localstripe_url
    command = list(compose["services"]["provision"]["command"])
    command = [sys.executable if part == "python" else part for part in command]
    command[command.index("--localstripe-url") + 1] = localstripe_url  # the session's, for the compose service
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "init hook: dynamodb is ready" in result.stdout
    assert "seeded tenant acme" in result.stdout
    assert f"stripe webhooks registered with {localstripe_url}" in result.stdout

    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
    tables = session.client("dynamodb", endpoint_url=aws_stand_in).list_tables()["TableNames"]
    assert set(tables) == {
        f"cartwise-dev-{entity}"
        for entity in ("tenants", "products", "carts", "orders", "idempotency", "limits", "stats", "mail")
    }
    # LocalStack's SES sends only as verified identities: provisioning verified the demo tenants' senders.
    identities = session.client("ses", endpoint_url=aws_stand_in).list_identities()["Identities"]
    assert {"orders@acme.example", "orders@globex.example"} <= set(identities)
    assert "mail senders verified in SES: orders@acme.example, orders@globex.example" in result.stdout
    flag = session.client("ssm", endpoint_url=aws_stand_in).get_parameter(Name="/cartwise/dev/flags/UPSELL_ENABLED")
    assert flag["Parameter"]["Value"] == "true"
    s3 = session.client("s3", endpoint_url=aws_stand_in)
    bucket, key = urlparse(STOREFRONT_URL).path.lstrip("/").split("/", 1)
    assert s3.get_object(Bucket=bucket, Key=key)["ContentType"] == "text/html"
    config_js = s3.get_object(Bucket=bucket, Key="config.js")["Body"].read().decode()
    assert config_js == (
        f'export const API_BASE_URL = "{option(command, "--api-url")}";\n'
        f'export const STRIPE_JS_URL = "{option(command, "--stripe-js-url")}";\n'
    )

    api = list(compose["services"]["api"]["command"])
    port = local_stack.free_port()
    api[0] = str(Path(sys.executable).with_name("chalice"))
    api[api.index("--host") + 1] = local_stack.HOST  # the test binds loopback only
    api[api.index("--port") + 1] = str(port)
    server = local_stack.ChildProcess("chalice", api, tmp_path / "chalice.log", cwd=REPO, env=env)
    try:
        local_stack.wait_for_port(local_stack.HOST, port, timeout=60, process=server)
        check = compose["services"]["api"]["healthcheck"]["test"]
        probe = [sys.executable, *check[2:-1], check[-1].replace(":8000/", f":{port}/")]
        assert subprocess.run(probe, env=env, timeout=30).returncode == 0
        with urllib.request.urlopen(f"http://{local_stack.HOST}:{port}/tenants/acme/products", timeout=30) as answer:
            products = json.loads(answer.read())
    finally:
        server.stop()
    assert products["items"]

    # The workers' services start on the same environment: the orders stream and the notifier's queue.
    for name, ready in (("orders-stream", "Reading arn:"), ("notifier", "Draining arn:")):
        worker = local_stack.ChildProcess(
            name,
            [sys.executable if part == "python" else part for part in compose["services"][name]["command"]],
            tmp_path / f"{name}.log",
            cwd=REPO,
            env=env,
        )
        try:
            deadline = time.monotonic() + 60
            while ready not in worker.output_tail():
                assert worker.poll() is None, worker.output_tail()
                assert time.monotonic() < deadline, worker.output_tail()
                time.sleep(0.2)
        finally:
            worker.stop()
