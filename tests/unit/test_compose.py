"""docker-compose.yml, checked without Docker, inside `make test`.

`make test-compose` (compose/run.py) runs the file for real with Docker; these checks need no engine.
Every file, port, command and environment variable the compose file names must exist and match
what the app reads (chalicelib/config.py), what botocore reads (AWS_ENDPOINT_URL*, credentials,
region) and the local defaults of `make run`. Then the provisioning and API commands of the compose
file are run for real, with the compose environment, against a moto server standing in for
LocalStack: the same provisioning code `make run` uses, and `chalice local` serving from it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

from scripts import local_stack

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
LOCALSTACK_IMAGE = "localstack/localstack:4.14.0"  # the last release that starts without an account
STOREFRONT_URL = "http://127.0.0.1:4566/cartwise-dev-storefront/index.html?tenant=acme"
# LocalStack settings the file uses (docs.localstack.cloud, "Configuration").
LOCALSTACK_SETTINGS = {"SERVICES", "EAGER_SERVICE_LOADING"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def interpolate(value: str, host_env: dict[str, str]) -> str:
    """Compose's ${VAR:-default} and ${VAR} interpolation, from `host_env`."""
    return re.sub(r"\$\{(\w+)(?::-([^}]*))?\}", lambda m: host_env.get(m[1]) or (m[2] or ""), value)


def environment(service: dict[str, Any], host_env: dict[str, str] | None = None) -> dict[str, str]:
    return {name: interpolate(str(value), host_env or {}) for name, value in service.get("environment", {}).items()}


def published(service: dict[str, Any]) -> dict[int, tuple[str, int]]:
    """container port -> (host ip, host port)."""
    ports = {}
    for mapping in service.get("ports", []):
        ip, host, container = str(mapping).split(":")
        ports[int(container)] = (ip, int(host))
    return ports


def option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def app_environment_names(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """The environment variables chalicelib/config.py reads, recorded from a real get_settings()."""
    from chalicelib import config

    read: set[str] = set()

    class Recording(dict):
        def get(self, key: str, default: Any = None) -> Any:
            read.add(key)
            return super().get(key, default)

        def __getitem__(self, key: str) -> Any:
            read.add(key)
            return super().__getitem__(key)

    monkeypatch.setattr(os, "environ", Recording(os.environ))
    config.reset()
    config.get_settings()
    config.reset()
    return read


def botocore_environment_names() -> set[str]:
    """Names botocore reads: session variables, credentials, AWS_REGION, AWS_ENDPOINT_URL and the
    service-specific AWS_ENDPOINT_URL_<SERVICE ID> of the four services Cartwise uses."""
    import inspect

    import botocore.session
    from botocore import configprovider, credentials

    names = {spec[1] for spec in configprovider.BOTOCORE_DEFAUT_SESSION_VARIABLES.values() if isinstance(spec[1], str)}
    names |= {credentials.EnvProvider.ACCESS_KEY, credentials.EnvProvider.SECRET_KEY}
    source = inspect.getsource(configprovider)
    names |= {name for name in ("AWS_REGION", "AWS_ENDPOINT_URL") if f"'{name}'" in source}
    session = botocore.session.get_session()
    for service in ("dynamodb", "ssm", "s3", "events"):
        service_id = session.get_service_model(service).service_id
        names.add("AWS_ENDPOINT_URL_" + re.sub(r"[^A-Z0-9]", "_", service_id.upper()))
    return names


def test_six_services_with_a_pinned_localstack(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"localstack", "localstripe", "provision", "api", "orders-stream", "notifier"}
    localstack = services["localstack"]
    assert localstack["image"] == LOCALSTACK_IMAGE
    aws_services = {"dynamodb", "dynamodbstreams", "ssm", "s3", "events", "sqs", "ses"}
    assert set(localstack["environment"]["SERVICES"].split(",")) == aws_services
    assert set(localstack["environment"]) <= LOCALSTACK_SETTINGS
    assert services["provision"]["depends_on"] == {
        "localstack": {"condition": "service_started"},
        "localstripe": {"condition": "service_healthy"},  # provisioning registers webhooks with it
    }
    assert services["api"]["depends_on"] == {"provision": {"condition": "service_completed_successfully"}}
    # The workers of `make run`, on the app's image: order events from the stream, e-mails to LocalStack's SES.
    for worker, module in (("orders-stream", "scripts.orders_stream"), ("notifier", "scripts.notifier")):
        assert services[worker]["command"] == ["python", "-m", module]
        assert services[worker]["image"] == services["api"]["image"]
        assert services[worker]["environment"] == services["api"]["environment"]  # no MAIL_SMTP_URL: SES
        assert services[worker]["depends_on"] == {"provision": {"condition": "service_completed_successfully"}}
    assert "--verify-mail-senders" in services["provision"]["command"]


def test_environment_names_are_read_by_the_app_or_botocore(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    app_names = app_environment_names(monkeypatch)
    assert {"CARTWISE_STAGE", "LLM_BASE_URL", "LLM_MODEL", "OPENAI_API_KEY"} <= app_names  # the recorder works
    botocore_names = botocore_environment_names()
    assert {"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_DEFAULT_REGION", "AWS_REGION"} <= botocore_names
    known = app_names | botocore_names
    for name in ("provision", "api", "orders-stream", "notifier"):
        unknown = set(compose["services"][name]["environment"]) - known
        assert not unknown, f"{name}: nobody reads {sorted(unknown)}"
    assert compose["services"]["provision"]["environment"] == compose["services"]["api"]["environment"]


def test_the_aws_endpoint_is_the_localstack_service(compose: dict[str, Any]) -> None:
    services = compose["services"]
    env = environment(services["api"])
    assert not [name for name in env if name.startswith("AWS_ENDPOINT_URL_")]  # one endpoint for all four
    endpoint = urlparse(env["AWS_ENDPOINT_URL"])
    assert endpoint.hostname == "localstack"
    assert endpoint.hostname in services
    assert published(services["localstack"]) == {endpoint.port: ("127.0.0.1", local_stack.DEFAULT_AWS_PORT)}
    assert (env["AWS_DEFAULT_REGION"], env["AWS_REGION"]) == (local_stack.REGION, local_stack.REGION)
    assert env["CARTWISE_STAGE"] == local_stack.STAGE


def test_ports_and_urls_agree(compose: dict[str, Any]) -> None:
    services = compose["services"]
    api = services["api"]["command"]
    assert api[:2] == ["chalice", "local"]
    assert "--no-autoreload" in api
    assert option(api, "--host") == "0.0.0.0"  # noqa: S104 - inside its container, reached via the published port
    port = int(option(api, "--port"))
    assert published(services["api"]) == {port: ("127.0.0.1", local_stack.DEFAULT_API_PORT)}
    stage = option(api, "--stage")
    assert stage == environment(services["api"])["CARTWISE_STAGE"]
    assert stage in json.loads((REPO / ".chalice" / "config.json").read_text())["stages"]
    provision = services["provision"]["command"]
    assert provision[provision.index("--") + 1 :][:5] == ["python", "-m", "scripts.provision", "--seed", "--api-url"]
    api_url = urlparse(option(provision, "--api-url"))  # what the browser calls, from the host
    host_ip, host_port = published(services["api"])[port]
    assert (api_url.hostname, api_url.port) == (host_ip, host_port)
    storefront = urlparse(STOREFRONT_URL)
    assert (storefront.hostname, storefront.port) == published(services["localstack"])[4566]
    healthcheck = services["api"]["healthcheck"]["test"]
    assert f"http://127.0.0.1:{port}/health" in healthcheck[-1]

    localstripe = services["localstripe"]["command"]
    assert localstripe[:3] == ["python", "-m", "scripts.localstripe_server"]
    assert option(localstripe, "--host") == "0.0.0.0"  # noqa: S104 - inside its container, published on loopback
    stripe_port = int(option(localstripe, "--port"))
    assert published(services["localstripe"]) == {stripe_port: ("127.0.0.1", local_stack.DEFAULT_STRIPE_PORT)}
    assert not option(localstripe, "--store").startswith("/app")  # the checkout is mounted read-only
    stripe_api = urlparse(environment(services["api"])["STRIPE_API_BASE"])  # the API, inside the network
    assert (stripe_api.hostname, stripe_api.port) == ("localstripe", stripe_port)
    assert f"http://127.0.0.1:{stripe_port}/js.stripe.com/v3/" in services["localstripe"]["healthcheck"]["test"][-1]
    stripe_js = urlparse(option(provision, "--stripe-js-url"))  # the browser, from the host
    assert (stripe_js.hostname, stripe_js.port, stripe_js.path) == published(services["localstripe"])[stripe_port] + (
        "/js.stripe.com/v3/",
    )
    assert option(provision, "--localstripe-url") == environment(services["provision"])["STRIPE_API_BASE"]
    webhooks = urlparse(option(provision, "--webhook-api-url"))  # localstripe calls the API inside the network
    assert (webhooks.hostname, webhooks.port) == ("api", port)


def test_every_file_it_names_exists(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("localstripe", "provision", "api"):
        service = services[name]
        build = service["build"]
        dockerfile = REPO / build["context"] / build["dockerfile"]
        assert dockerfile.is_file()
        (volume,) = service["volumes"]
        source, target, mode = volume.split(":")
        assert (REPO / source).resolve() == REPO
        assert (target, mode) == (service["working_dir"], "ro")
    command = services["provision"]["command"]
    assert command[:2] == ["python", "localstack/init_hook.py"]
    assert (REPO / command[1]).is_file()
    assert (REPO / "scripts" / "provision.py").is_file()

    dockerfile = REPO / "localstack" / "api.Dockerfile"
    text = dockerfile.read_text()
    assert re.search(r"^FROM python:3\.11-slim$", text, re.MULTILINE)  # the Lambda runtime's Python
    copied = [line.split()[1] for line in text.splitlines() if line.startswith("COPY ")]
    assert copied == ["localstack/requirements-compose.lock"]
    ignore = (REPO / ".dockerignore").read_text().splitlines()
    assert "*" in ignore  # the build context is the repository: send only what the image needs
    for source in copied:
        assert (REPO / source).is_file()
        assert f"!{source}" in ignore
    assert "WORKDIR /app" in text
    installed = re.search(r"^RUN pip install --require-hashes --no-deps -r (\S+)$", text, re.MULTILINE)[1]
    assert installed == "/tmp/requirements-compose.lock"


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==")
            found[re.sub(r"\[.*\]", "", name).lower()] = version
    return found


def test_the_image_installs_the_pins_of_requirements_dev() -> None:
    compose_requirements = REPO / "localstack" / "requirements-compose.txt"
    assert compose_requirements.read_text().splitlines()[2] == "-r ../requirements.txt"
    image = pins(compose_requirements)
    dev = pins(REPO / "requirements-dev.txt")
    assert set(image) == {"chalice", "boto3", "localstripe", "aiohttp", "python-dateutil"}
    assert all(dev[name] == version for name, version in image.items())


def test_s3_requests_at_the_compose_endpoint_are_path_style(compose: dict[str, Any]) -> None:
    """Virtual-hosted style would send the storefront upload to cartwise-dev-storefront.localstack."""
    import boto3
    from botocore.awsrequest import AWSResponse

    env = environment(compose["services"]["provision"])
    s3 = boto3.session.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_DEFAULT_REGION"],
    ).client("s3", endpoint_url=env["AWS_ENDPOINT_URL"])
    sent: list[str] = []

    def answer(request: Any, **kwargs: Any) -> AWSResponse:
        sent.append(request.url)
        return AWSResponse(request.url, 200, {}, _Raw())

    s3.meta.events.register("before-send", answer)
    s3.put_object(Bucket="cartwise-dev-storefront", Key="index.html", Body=b"<!doctype html>")
    assert sent == ["http://localstack:4566/cartwise-dev-storefront/index.html"]


class _Raw:
    def stream(self, **kwargs: Any) -> Iterator[bytes]:
        yield b""


def test_the_init_hook_gives_up_with_the_reason(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env |= {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{local_stack.free_port()}", "AWS_DEFAULT_REGION": "us-east-1"}
    env |= {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
    command = [sys.executable, "localstack/init_hook.py", "--timeout", "0", "--", "false"]
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "not ready after 0 s" in result.stderr
    assert "EndpointConnectionError" in result.stderr


def test_docs_say_how_to_use_compose_and_how_it_is_tested() -> None:
    docs = (REPO / "docs" / "deploy.md").read_text()
    assert "docker compose up" in docs
    assert STOREFRONT_URL in docs
    assert "make test-compose" in docs
    assert "not run" not in docs
    assert "docker compose down" in docs
    makefile = (REPO / "Makefile").read_text()
    assert "\ntest-compose: install\n\t$(PY) -m compose.run\n" in makefile
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    assert ci.index("make test") < ci.index("make test-compose")
