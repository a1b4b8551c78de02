"""Every install comes from a lock with hashes, and the locks agree with their inputs and each other.

`make lock` writes them all (Makefile); these checks fail when an input was edited without it.
"""

from __future__ import annotations

import re
from pathlib import Path

from scripts.deploy import REPO, packaging

DEV_LOCK = REPO / "requirements-dev.lock"
# Each lock, and the input it is compiled from.
LOCKS = {
    DEV_LOCK: REPO / "requirements-dev.txt",
    REPO / "requirements-uv.txt": REPO / "requirements-uv.txt",
    REPO / "infra" / "deploy-requirements.txt": REPO / "infra" / "deploy-requirements.in",
    REPO / "localstack" / "requirements-compose.lock": REPO / "localstack" / "requirements-compose.txt",
}


def direct_pins(path: Path) -> dict[str, str]:
    """normalised name -> version of an input's `name==version` lines, following its `-r` includes."""
    found: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r "):
            found |= direct_pins(path.parent / line[3:].strip())
        elif match := re.match(r"([A-Za-z0-9._-]+)(?:\[[^]]*\])?==(\S+)", line):
            found[packaging._normalise(match[1])] = match[2]
    return found


def test_every_pin_of_every_lock_has_hashes_and_no_machine_of_ours() -> None:
    for lock in LOCKS:
        entries = packaging.lock_entries(lock)
        assert entries, lock
        assert [name for name, entry in entries.items() if not entry.hashes] == [], lock
        text = lock.read_text()
        assert len(re.findall(r"^[A-Za-z0-9]", text, re.MULTILINE)) == len(entries), lock
        assert not re.search(r"--(find-links|index-url|extra-index-url)|file://|/opt/", text), lock


def test_each_lock_holds_its_inputs_pins() -> None:
    for lock, source in LOCKS.items():
        entries = packaging.lock_entries(lock)
        locked = {name: entries[name].version for name in direct_pins(source)}
        assert locked == direct_pins(source), f"{lock.name} is older than {source.name}: run `make lock`"


def test_every_lock_has_the_development_locks_versions() -> None:
    """What the tests run on is what the image, the deploy job and the Lambda package install."""
    dev = {name: entry.version for name, entry in packaging.lock_entries(DEV_LOCK).items()}
    for lock in LOCKS:
        other = {name: entry.version for name, entry in packaging.lock_entries(lock).items()}
        assert {name: dev.get(name) for name in other} == other, lock


def test_the_lambda_package_is_the_runtime_requirements_and_what_they_need() -> None:
    bundled, vendored = packaging.lambda_requirements()
    shipped = {line.split("==")[0] for line in packaging.lambda_lock(bundled, vendored).splitlines()}
    assert set(direct_pins(REPO / "requirements.txt")) <= shipped
    # stripe's HTTP stack, pydantic's core, openai's: brought in by the lock's record of who needs what
    assert {"requests", "urllib3", "idna", "pydantic-core", "httpx2", "jiter"} <= shipped
    # pynamodb ships without botocore (the runtime has it); no test or deploy tool ships
    assert not {"botocore", "boto3", "chalice", "cfn-lint", "awscli", "pytest", "moto"} & shipped
