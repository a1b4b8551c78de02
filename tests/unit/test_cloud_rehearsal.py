"""`make test-cloud` checked offline: its target, its place in CI, its lock and its images' inputs.

The rehearsal itself (cloud/run.py) needs Docker and runs in CI after `make test-compose`; its init
stand-in is checked without Docker in tests/stack/test_lambda_init.py.
"""

from __future__ import annotations

import json
import re

from cloud import run
from scripts.deploy import REPO, packaging

RUNTIME_LOCK = REPO / "cloud" / "images" / "lambda-runtime.txt"


def test_the_make_target_runs_the_rehearsal_and_ci_runs_it_after_the_compose_test() -> None:
    makefile = (REPO / "Makefile").read_text()
    assert "\ntest-cloud: install\n\t$(PY) -m cloud.run\n" in makefile
    assert "lambda-runtime.in -o lambda-runtime.txt" in makefile  # `make lock` writes its lock
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    assert ci.index("make test") < ci.index("make test-compose") < ci.index("make test-cloud")


def test_the_runtime_image_installs_a_hashed_lock_at_the_development_locks_versions() -> None:
    entries = packaging.lock_entries(RUNTIME_LOCK)
    assert all(entry.hashes for entry in entries.values())
    assert not re.search(r"--(find-links|index-url|extra-index-url)|file://|/opt/", RUNTIME_LOCK.read_text())
    assert entries["awslambdaric"].version == "4.2.2"
    dev = packaging.lock_entries(REPO / "requirements-dev.lock")
    shared = set(entries) & set(dev)
    assert {"boto3", "botocore"} <= shared
    assert {name: entries[name].version for name in shared} == {name: dev[name].version for name in shared}
    dockerfile = (REPO / "cloud" / "images" / "lambda-python.Dockerfile").read_text()
    assert "--require-hashes --no-deps -r /tmp/runtime/lambda-runtime.txt" in dockerfile
    assert "\nCMD" not in dockerfile  # the init would take it for the bootstrap command


def test_the_init_stand_in_sits_where_localstack_looks_for_its_init() -> None:
    dockerfile = (REPO / "cloud" / "images" / "localstack-lambda.Dockerfile").read_text()
    assert "FROM localstack/localstack:4.14.0\n" in dockerfile
    assert "COPY rapid_init.py /usr/lib/localstack/lambda-runtime/v0.1.41-pre/x86_64/var/rapid/init\n" in dockerfile
    assert run.LOCALSTACK_BASE in (REPO / "docker-compose.yml").read_text()  # the version compose pins
    init = (REPO / "cloud" / "images" / "rapid_init.py").read_text()
    assert init.startswith("#!/var/lang/bin/python3 -I\n")  # the runtime image's Python


def test_localstack_starts_lambdas_on_the_runs_network_from_the_registrys_image() -> None:
    settings = run.localstack_settings()
    assert settings["LAMBDA_DOCKER_NETWORK"] == run.NETWORK
    assert json.loads(settings["LAMBDA_RUNTIME_IMAGE_MAPPING"]) == {"python3.11": run.RUNTIME_IN_REGISTRY}
    assert run.RUNTIME_IN_REGISTRY.startswith(f"{run.REGISTRY}/")
    assert settings["GATEWAY_LISTEN"] == f"0.0.0.0:{run.AWS_PORT}"


def test_the_environment_of_deploy_points_at_localstack_and_nowhere_else(monkeypatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "someone")
    monkeypatch.setenv("CARTWISE_STAGE", "dev")
    monkeypatch.setenv("STRIPE_API_BASE", "https://api.stripe.com")
    env = run.aws_env("http://127.0.0.1:4599", "http://10.213.58.1:8421")
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4599"
    assert "AWS_PROFILE" not in env
    assert "CARTWISE_STAGE" not in env
    assert "STRIPE_API_BASE" not in env


def test_the_docs_say_what_the_rehearsal_proves_and_what_only_aws_can() -> None:
    docs = (REPO / "docs" / "deploy.md").read_text()
    assert "## The cloud rehearsal (`make test-cloud`)" in docs
    section = docs.split("### What it proves, and what only a real AWS account can", 1)[1]
    for limit in ("authorizer", "CloudFront", "Throttling", "IAM enforcement"):
        assert limit in section.split("## ", 1)[0], limit
