"""`make test-cloud`: the cloud rehearsal. `make deploy STAGE=prod` against LocalStack, its Lambdas run.

    python -m cloud.run

What a user runs against AWS, with only the endpoint changed (AWS_ENDPOINT_URL): the package, its
six functions in Lambda containers, API Gateway, DynamoDB and its stream, EventBridge, the schedule,
SSM, S3 and CloudFormation, on LocalStack 4.14.0 (docs/deploy.md, "The cloud rehearsal"):

1. the tools and the engine of `make test-compose` (compose/run.py: docker.io, debootstrap, npm;
   dockerd started, and stopped at the end, when no engine answers), and Debian's docker-registry;
2. the images, each built only when its inputs changed (the compose stand-ins' labels):
   - `localstack/localstack:4.14.0` as `make test-compose` has it (its stand-in when the official
     image is absent), and `cartwise-stand-in/localstack-lambda:4.14.0`, that image with the stand-in
     for LocalStack's Lambda init (cloud/images/rapid_init.py), which LocalStack would download from
     GitHub;
   - `cartwise-stand-in/lambda-python:3.11`, the stand-in for the python3.11 runtime image
     (cloud/images/lambda-python.Dockerfile, on compose's debootstrapped bookworm);
   LocalStack pulls a function's runtime image every time it creates the function, so that image is
   served by a registry on 127.0.0.1 for the run (its storage kept in .local/cloud/registry);
3. a bridge network of its own; localstripe on the network's gateway, which the host and the Lambda
   containers both reach; LocalStack on the network with the engine's socket (it starts the Lambda
   containers there), published on 127.0.0.1:4599;
4. `make deploy STAGE=prod SEED=1`, then the journey (cloud/journey/test_journey.py) through the API
   Gateway URL; `make destroy STAGE=prod YES=1`, then what is left is checked
   (cloud/journey/test_destroyed.py);
5. always: LocalStack and its Lambda containers removed, the network, the registry and localstripe
   stopped, and the engine if this run started it.

Images and containers it did not create are never removed or replaced. Logs: .local/cloud/.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from compose import run as compose
from scripts.local_stack import HOST, ChildProcess, wait_for_port

REPO = Path(__file__).resolve().parent.parent
IMAGES = REPO / "cloud" / "images"
WORK = REPO / ".local" / "cloud"
JOURNEY = REPO / "cloud" / "journey"

LOCALSTACK_BASE = "localstack/localstack:4.14.0"
LOCALSTACK_IMAGE = "cartwise-stand-in/localstack-lambda:4.14.0"
RUNTIME_IMAGE = "cartwise-stand-in/lambda-python:3.11"
REGISTRY = f"{HOST}:5055"  # dockerd pulls from 127.0.0.0/8 registries over plain HTTP
RUNTIME_IN_REGISTRY = f"{REGISTRY}/cartwise/lambda-python:3.11"
# A network of its own: LocalStack and the Lambda containers it starts talk over it, and its gateway
# is this machine as they see it (localstripe listens there).
NETWORK = "cartwise-cloud-test"
SUBNET = "10.213.58.0/24"
GATEWAY = "10.213.58.1"
BRIDGE = "cwcloud0"
CONTAINER = "cartwise-cloud-localstack"  # its Lambda containers are named after it: CONTAINER-lambda-...
RUN_LABEL = "org.cartwise.cloud-test"
# LocalStack listens on the same port inside its container as on the host, so a URL it hands out
# (the template's, the Lambdas' AWS_ENDPOINT_URL) works on both sides with the right host.
AWS_PORT = 4599
STRIPE_PORT = 8421
STAGE = "prod"
STARTUP_TIMEOUT_SECONDS = 180


def say(message: str) -> None:
    print(f"test-cloud: {message}", flush=True)


def run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess:
    return compose.run(command, **kwargs)


# ---- 1. tools ----


def ensure_tools() -> None:
    compose.ensure_tools()
    if shutil.which("docker-registry") is None:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        run(["apt-get", "update", "-q"], env=env)
        run(["apt-get", "install", "-y", "-q", "--no-install-recommends", "docker-registry"], env=env)


# ---- 2. images ----


def digest(*parts: bytes) -> str:
    hashed = hashlib.sha256()
    for part in parts:
        hashed.update(part)
    return hashed.hexdigest()[:16]


def docker(*args: str) -> subprocess.CompletedProcess[str]:
    """A question to the engine (no output shown): its answer, whatever the exit status."""
    return subprocess.run(["docker", *args], capture_output=True, text=True)  # noqa: S603, S607


def image_id(tag: str) -> str:
    return docker("image", "inspect", "--format", "{{.Id}}", tag).stdout.strip()


def ensure_localstack_base() -> None:
    """LocalStack 4.14.0 as `make test-compose` has it: the image there, or compose's stand-in."""
    stand_in = compose.STAND_INS[LOCALSTACK_BASE]
    labels = compose.image_labels(LOCALSTACK_BASE)
    if labels is not None and compose.STAND_IN_LABEL not in labels:
        say(f"{LOCALSTACK_BASE}: using the image that is there (not a stand-in)")
        return
    inputs = stand_in.inputs()
    if labels is None or labels.get(compose.INPUTS_LABEL) != inputs:
        say(f"{LOCALSTACK_BASE}: building the stand-in from compose/images/{stand_in.dockerfile}")
        compose.build_stand_in(LOCALSTACK_BASE, stand_in, inputs)


def build_image(tag: str, dockerfile: str, files: tuple[str, ...], base: str, ca_bundle: bool = False) -> None:
    """Build `tag` from cloud/images/, unless an image built from the same files on the same base is there."""
    inputs = digest(image_id(base).encode(), *((IMAGES / name).read_bytes() for name in (dockerfile, *files)))
    labels = compose.image_labels(tag)
    if labels is not None and compose.STAND_IN_LABEL not in labels:
        raise SystemExit(f"{tag} exists and is not a stand-in this test built: remove or rename it")
    if labels is not None and labels.get(compose.INPUTS_LABEL) == inputs:
        return
    say(f"{tag}: building from cloud/images/{dockerfile}")
    context = WORK / "build" / tag.replace("/", "_").replace(":", "_")
    shutil.rmtree(context, ignore_errors=True)
    context.mkdir(parents=True)
    for name in (dockerfile, *files):
        shutil.copy(IMAGES / name, context / name)
    if ca_bundle:
        shutil.copy(compose.CA_BUNDLE, context / "build-ca.crt")
    build = ["docker", "build", "--quiet", "-f", str(context / dockerfile), "-t", tag]
    run([*build, "--label", f"{compose.INPUTS_LABEL}={inputs}", str(context)], env=os.environ | compose.COMPOSE_ENV)


def ensure_images() -> None:
    ensure_localstack_base()
    build_image(LOCALSTACK_IMAGE, "localstack-lambda.Dockerfile", ("rapid_init.py",), LOCALSTACK_BASE)
    base = compose.ensure_debian_base("bookworm")
    files = ("lambda-runtime.txt", "bootstrap")
    build_image(RUNTIME_IMAGE, "lambda-python.Dockerfile", files, base, ca_bundle=True)


@contextmanager
def registry() -> Iterator[None]:
    """Debian's docker-registry on 127.0.0.1:5055 for the run, with the runtime image pushed to it."""
    if not port_free(HOST, int(REGISTRY.rsplit(":", 1)[1])):
        raise SystemExit(f"{REGISTRY} is in use: the rehearsal's image registry listens there")
    storage = WORK / "registry"
    storage.mkdir(parents=True, exist_ok=True)
    config = WORK / "registry.yml"
    config.write_text(
        "version: 0.1\n"
        "log: {level: warn}\n"
        f"storage: {{filesystem: {{rootdirectory: {storage}}}, delete: {{enabled: true}}}}\n"
        f"http: {{addr: {REGISTRY}}}\n"
    )
    server = ChildProcess("docker-registry", ["docker-registry", "serve", str(config)], WORK / "registry.log")
    try:
        host, port = REGISTRY.rsplit(":", 1)
        wait_for_port(host, int(port), timeout=30, process=server)
        run(["docker", "tag", RUNTIME_IMAGE, RUNTIME_IN_REGISTRY])
        run(["docker", "push", "--quiet", RUNTIME_IN_REGISTRY], stdout=subprocess.DEVNULL)
        yield
    finally:
        server.stop()


# ---- 3. network, localstripe, LocalStack ----


def port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def remove_leftovers() -> None:
    """What an interrupted run left: its LocalStack and Lambda containers, then its network."""
    listed = docker("ps", "--all", "--quiet", "--filter", f"name=^{CONTAINER}").stdout.split()
    if listed:
        run(["docker", "rm", "--force", "--volumes", *listed], stdout=subprocess.DEVNULL)
    if docker("network", "inspect", NETWORK).returncode == 0:
        run(["docker", "network", "rm", NETWORK], stdout=subprocess.DEVNULL)


@contextmanager
def network() -> Iterator[None]:
    remove_leftovers()
    run(
        [
            "docker",
            "network",
            "create",
            "--driver",
            "bridge",
            "--subnet",
            SUBNET,
            "--gateway",
            GATEWAY,
            "--label",
            f"{RUN_LABEL}=true",
            "-o",
            f"com.docker.network.bridge.name={BRIDGE}",
            NETWORK,
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        remove_leftovers()


@contextmanager
def localstripe() -> Iterator[str]:
    """localstripe on the network's gateway: the test reaches it there, and so do the Lambda containers."""
    store = WORK / "localstripe.pickle"
    store.unlink(missing_ok=True)
    command = [sys.executable, "-m", "scripts.localstripe_server", "--host", GATEWAY, "--port", str(STRIPE_PORT)]
    server = ChildProcess("localstripe", [*command, "--store", str(store)], WORK / "localstripe.log", cwd=REPO)
    try:
        wait_for_port(GATEWAY, STRIPE_PORT, timeout=30, process=server)
        yield f"http://{GATEWAY}:{STRIPE_PORT}"
    finally:
        server.stop()


def localstack_settings() -> dict[str, str]:
    return {
        "GATEWAY_LISTEN": f"0.0.0.0:{AWS_PORT}",
        # Lambda: the docker executor (community's only one) starts each function's container on our
        # network from the runtime image in our registry; containers go when their function does.
        "LAMBDA_DOCKER_NETWORK": NETWORK,
        "LAMBDA_RUNTIME_IMAGE_MAPPING": json.dumps({"python3.11": RUNTIME_IN_REGISTRY}),
        "LAMBDA_REMOVE_CONTAINERS": "1",
        # No DNS server of LocalStack's own (nothing to resolve; the Lambdas get its address), no
        # certificate download, no analytics: nothing here reaches out.
        "DNS_ADDRESS": "0",
        "SKIP_SSL_CERT_DOWNLOAD": "1",
        "DISABLE_EVENTS": "1",
    }


@contextmanager
def localstack() -> Iterator[str]:
    if not port_free(HOST, AWS_PORT):
        raise SystemExit(f"port {AWS_PORT} on {HOST} is in use: `ss -ltnp 'sport = :{AWS_PORT}'` names the process")
    settings = [arg for name, value in localstack_settings().items() for arg in ("--env", f"{name}={value}")]
    run(
        [
            "docker",
            "run",
            "--detach",
            "--name",
            CONTAINER,
            "--label",
            f"{RUN_LABEL}=true",
            "--network",
            NETWORK,
            "--publish",
            f"{HOST}:{AWS_PORT}:{AWS_PORT}",
            "--volume",
            f"{engine_socket()}:/var/run/docker.sock",
            *settings,
            LOCALSTACK_IMAGE,
        ],
        stdout=subprocess.DEVNULL,
    )
    url = f"http://{HOST}:{AWS_PORT}"
    try:
        started = time.monotonic()
        while not localstack_answers(url):
            state = docker("inspect", "--format", "{{.State.Running}}", CONTAINER).stdout.strip()
            if state != "true" or time.monotonic() - started > STARTUP_TIMEOUT_SECONDS:
                raise SystemExit(f"LocalStack did not start; its log is in {save_localstack_log().relative_to(REPO)}")
            time.sleep(1)
        say(f"LocalStack answers after {time.monotonic() - started:.0f} s")
        yield url
    finally:
        save_localstack_log()


def engine_socket() -> str:
    """The engine's socket on this machine (DOCKER_HOST's when it names one), for LocalStack to start containers."""
    host = os.environ.get("DOCKER_HOST", "")
    if host and not host.startswith("unix://"):
        raise SystemExit(f"DOCKER_HOST={host}: LocalStack needs the engine's Unix socket mounted")
    return host.removeprefix("unix://") or "/var/run/docker.sock"


def localstack_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_localstack/health", timeout=5) as answer:  # noqa: S310 - http only
            return answer.status == 200
    except OSError:
        return False


def save_localstack_log() -> Path:
    log = WORK / "localstack.log"
    with log.open("w") as out:
        subprocess.run(["docker", "logs", CONTAINER], stdout=out, stderr=subprocess.STDOUT)  # noqa: S603, S607
    return log


# ---- 4. deploy, journey, destroy ----


def aws_env(aws_url: str, stripe_url: str) -> dict[str, str]:
    """This environment pointed at LocalStack as a user points theirs at AWS, with nothing of ours left."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "CARTWISE_", "LLM_", "OPENAI_", "STRIPE_"))
    }
    return env | {
        "AWS_ENDPOINT_URL": aws_url,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "CARTWISE_CLOUD_STRIPE_URL": stripe_url,
        "CARTWISE_CLOUD_FIGURES": str(WORK / "figures.json"),
    }


def timed(label: str, command: list[str], env: dict[str, str]) -> int:
    started = time.monotonic()
    say("$ " + " ".join(command))
    code = subprocess.run(command, cwd=REPO, env=env).returncode  # noqa: S603 - make and pytest, ours
    say(f"{label} {'passed' if code == 0 else 'FAILED'} in {time.monotonic() - started:.0f} s")
    return code


def rehearse(aws_url: str, stripe_url: str) -> int:
    env = aws_env(aws_url, stripe_url)
    make = ["make", "--no-print-directory"]
    pytest = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"]
    code = timed("make deploy", [*make, "deploy", f"STAGE={STAGE}", "SEED=1"], env)
    if code == 0:
        code = timed("the journey", [*pytest, str(JOURNEY / "test_journey.py")], env)
    # Whatever happened, the stack goes, as a user's would, and what is left is checked.
    destroyed = timed("make destroy", [*make, "destroy", f"STAGE={STAGE}", "YES=1"], env)
    if destroyed == 0:
        destroyed = timed("what is left", [*pytest, str(JOURNEY / "test_destroyed.py")], env)
    return code or destroyed


def main() -> int:
    started = time.monotonic()
    # A CI timeout or `kill` sends SIGTERM: exit through the `finally` blocks.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "figures.json").unlink(missing_ok=True)
    ensure_tools()
    with compose.docker_engine():
        ensure_images()
        say(f"images ready after {time.monotonic() - started:.0f} s")
        with ExitStack() as stack:
            stack.enter_context(registry())
            stack.enter_context(network())
            stripe_url = stack.enter_context(localstripe())
            aws_url = stack.enter_context(localstack())
            code = rehearse(aws_url, stripe_url)
    figures = WORK / "figures.json"
    if figures.is_file():
        say(f"figures: {figures.read_text().strip()}")
    say(f"{'passed' if code == 0 else 'FAILED'} in {time.monotonic() - started:.0f} s")
    return code


if __name__ == "__main__":
    sys.exit(main())
