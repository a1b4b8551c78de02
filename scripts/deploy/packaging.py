"""Build the two function packages and the CloudFormation (SAM) template of a stage, offline once the wheels are cached.

`chalice package --merge-template infra/template.yml` runs on a staging copy of the app
(.local/build/<stage>/project) whose requirements leave out what the Lambda Python runtime already
has: pynamodb goes into Chalice's vendor/ without its one dependency, botocore. Wheels come from a
local cache (.local/wheels, filled from PyPI once, for manylinux2014_x86_64 / CPython 3.11).

Chalice's one zip is then made into two with the same app code (decision 20): deployment.zip
without stripe and what only stripe needs, for every function but the payment ones, and
payments.zip without openai and what only openai needs, for the payment routes (PaymentsHandler)
and the hold sweeper. The packaged template is completed by `scripts.deploy.template`.
"""

from __future__ import annotations

import copy
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scripts import bytecode
from scripts.deploy import REPO, DeployError, dependencies, template

MERGE_TEMPLATE_NAME = "template.yml"
CHALICE_CONFIG = REPO / ".chalice" / "config.json"
REQUIREMENTS = REPO / "requirements.txt"
BUILD_ROOT = REPO / ".local" / "build"
WHEEL_CACHE = REPO / ".local" / "wheels"
# The deploy job's lock (pip-compile --generate-hashes): every wheel shipped in the zip must be one it names.
DEPLOY_LOCK = REPO / "infra" / "deploy-requirements.txt"

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
# Each function package and the requirement it leaves out, with whatever only that requirement needs:
# the payment functions never call the LLM, the others never call Stripe (decision 20).
LEFT_OUT = {"deployment.zip": "stripe", template.PAYMENTS_ZIP: "openai"}
# The routes of this blueprint call Stripe: they run in PaymentsHandler, on the payments package.
PAYMENTS_BLUEPRINT = "chalicelib.api.payments"
_PAYMENT_ROUTES = f"""
import json, app
print(json.dumps(sorted(
    [method, path]
    for path, methods in app.app.routes.items()
    for method, entry in methods.items()
    if entry.view_function.__module__ == {PAYMENTS_BLUEPRINT!r}
)))
"""


@dataclass(frozen=True)
class Package:
    template: Path
    zip_path: Path  # deployment.zip: the API, the admin-key authorizer, the orders stream consumer
    payments_zip_path: Path  # payments.zip: the payment routes and the hold sweeper

    @property
    def zips(self) -> tuple[Path, Path]:
        return self.zip_path, self.payments_zip_path


def unpacked_bytes(zip_path: Path) -> int:
    with zipfile.ZipFile(zip_path) as archive:
        return sum(info.file_size for info in archive.infolist())


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def stage_config(stage: str, config_path: Path = CHALICE_CONFIG) -> dict[str, Any]:
    """The stage's Chalice settings, checked for what a CloudFormation deployment needs."""
    config = json.loads(config_path.read_text())
    settings = config.get("stages", {}).get(stage)
    if settings is None:
        raise DeployError(f"stage {stage!r} is not in {config_path}")
    if settings.get("autogen_policy", config.get("autogen_policy", True)):
        raise DeployError(
            f"stage {stage!r} must set autogen_policy: false (the policies are in infra/{MERGE_TEMPLATE_NAME})"
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


def _pip_download(locked: Path, cache: Path, *, offline: bool) -> subprocess.CompletedProcess:
    """`pip download` of exactly the files `locked` names (no resolution: --no-deps, pins with hashes)."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--no-deps",
        "--require-hashes",
        "--only-binary=:all:",
        "--platform",
        LAMBDA_PLATFORM,
        "--implementation",
        "cp",
        "--python-version",
        LAMBDA_PYTHON_VERSION,
        "--dest",
        str(cache),
        "--requirement",
        str(locked),
    ]
    env = dict(os.environ)
    if offline:
        env.update(PIP_NO_INDEX="1", PIP_FIND_LINKS=str(cache))
    return subprocess.run(command, env=env, capture_output=True, text=True)


def ensure_wheels(bundled: list[str], vendored: list[str], cache: Path = WHEEL_CACHE, lock: Path = DEPLOY_LOCK) -> None:
    """Make the cache hold the lock's Lambda wheels for every package: offline if it already does.

    What is downloaded is what the lock names, file by file with its hashes; nothing is resolved
    here, so a newer release on the index can never change or break a package. Chalice then
    resolves `bundled` from this cache alone, where each package has exactly one version.
    """
    cache.mkdir(parents=True, exist_ok=True)
    locked = cache / "lambda-requirements.txt"
    locked.write_text(lambda_lock(bundled, vendored, lock))
    if _pip_download(locked, cache, offline=True).returncode != 0:
        result = _pip_download(locked, cache, offline=False)
        if result.returncode != 0:
            raise DeployError(
                f"pip download of the Lambda wheels {lock.name} names, for {LAMBDA_PLATFORM}, failed:\n"
                f"{result.stdout}{result.stderr}"
            )
    check_wheels_against_lock(cache, lock)


def lambda_lock(bundled: list[str], vendored: list[str], lock: Path = DEPLOY_LOCK) -> str:
    """The lock's entries (pin and hashes) of what the Lambda package ships: `bundled` with every
    dependency the lock records for them (its `# via` lines), and `vendored` alone."""
    entries = lock_entries(lock)
    wanted = {_normalise(pin.partition("==")[0]) for pin in bundled}
    missing = sorted(wanted - set(entries))
    while True:  # add whatever a wanted package brought in, until nothing is added
        more = {name for name, entry in entries.items() if name not in wanted and entry.via & wanted}
        if not more:
            break
        wanted |= more
    wanted |= {_normalise(pin.partition("==")[0]) for pin in vendored}
    missing += sorted(wanted - set(entries) - set(missing))
    if missing:
        raise DeployError(f"{lock.name} does not name {', '.join(missing)}: regenerate the locks (make lock)")
    for pin in bundled + vendored:
        name, _, version = pin.partition("==")
        if entries[_normalise(name)].version != version:
            raise DeployError(f"{pin} is not the version {lock.name} names: regenerate the locks (make lock)")
    return "".join(entries[name].requirement(name) for name in sorted(wanted))


@dataclass(frozen=True)
class LockEntry:
    version: str
    hashes: frozenset[str]  # sha256 digests of the files the lock allows
    via: frozenset[str]  # what needs it: normalised package names (or a `-r file` line)

    def requirement(self, name: str) -> str:
        return f"{name}=={self.version} " + " ".join(f"--hash=sha256:{digest}" for digest in sorted(self.hashes)) + "\n"


def lock_entries(lock: Path = DEPLOY_LOCK) -> dict[str, LockEntry]:
    """normalised name -> entry, from a hashed lock as pip-compile and uv write it: a pin line, its
    indented `--hash` lines, then its indented `# via` lines (one name each, or `# via name`)."""
    entries: dict[str, LockEntry] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", lock.read_text()):
        pin = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", block)
        if not pin:
            continue
        via = re.findall(r"^[ \t]+#[ \t]+(?:via[ \t]+)?(\S.*?)[ \t]*$", block, re.MULTILINE)
        entries[_normalise(pin[1])] = LockEntry(
            version=pin[2],
            hashes=frozenset(re.findall(r"--hash=sha256:([0-9a-f]{64})", block)),
            via=frozenset(_normalise(item) for item in via if item != "via"),
        )
    return entries


def check_wheels_against_lock(cache: Path, lock: Path = DEPLOY_LOCK) -> None:
    """Every cached wheel is a file the lock names by hash: what PyPI served then is what ships now.

    pip checked the hashes of what it downloaded; this checks the whole cache, which Chalice resolves
    from, so a file left by an earlier lock (or put there by hand) cannot ship.
    """
    from packaging.utils import parse_wheel_filename

    allowed = {(name, entry.version): entry.hashes for name, entry in lock_entries(lock).items()}
    locked_names = {name for name, _ in allowed}
    for wheel in sorted(cache.glob("*.whl")):
        name, version, _, _ = parse_wheel_filename(wheel.name)
        if name in locked_names and (name, str(version)) not in allowed:
            wheel.unlink()  # a version the lock has moved on from: left by an earlier pin, never shipped again
            continue
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        if digest not in allowed.get((name, str(version)), set()):
            raise DeployError(
                f"{wheel.name} (sha256 {digest}) is not in {lock.name}: a different file than the lock's, or a"
                f" package it lacks; regenerate the lock (docs/deploy.md) or remove the file from {cache}"
            )


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
        "# Generated by scripts/deploy/packaging.py from requirements.txt: what Chalice resolves with dependencies.\n"
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
                    "take it out of WITHOUT_DEPENDENCIES in scripts/deploy/packaging.py"
                )


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
    """Build the two function zips and the CloudFormation (SAM) template for `stage`.

    Builds in `build_root` under a lock, so parallel runs (two test sessions in one checkout) take
    turns; with `copy_to`, the results are copied there before the lock is released.
    """
    build_root.mkdir(parents=True, exist_ok=True)
    with (build_root / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        built, policies = _package(stage, build_root / stage, cache, repo)
        if copy_to is not None:
            copy_to.mkdir(parents=True, exist_ok=True)
            built = Package(*(Path(shutil.copy2(path, copy_to)) for path in (built.template, *built.zips)))
    if not quiet:
        attached = "; ".join(f"{function}: {', '.join(names)}" for function, names in policies.items())
        sizes = " + ".join(
            f"{path.name} {path.stat().st_size / 1e6:.2f} MB ({unpacked_bytes(path) / 1e6:.1f} MB unpacked)"
            for path in built.zips
        )
        print(f"packaged {stage}: {built.template} + {sizes}; policies {attached}", flush=True)
    return built


def _package(stage: str, build: Path, cache: Path, repo: Path) -> tuple[Package, dict[str, list[str]]]:
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
    packaged = yaml.safe_load(template_path.read_text())
    policies = template.complete(packaged, payment_routes(project, env))
    template_path.write_text(yaml.safe_dump(packaged, sort_keys=False, allow_unicode=True))
    everything = output / "deployment.zip"
    bundled, vendored = lambda_requirements(repo / "requirements.txt")
    zips = split_zip(everything, bundled + vendored)
    for zip_path in zips:
        bytecode.add_to_zip(zip_path, LAMBDA_PYTHON_VERSION)
        check_zip(zip_path)
    return Package(template_path, *zips), policies


def payment_routes(project: Path, env: dict[str, str]) -> list[tuple[str, str]]:
    """(METHOD, path) of every route the staged app serves from the payments blueprint."""
    result = subprocess.run(
        [sys.executable, "-c", _PAYMENT_ROUTES],
        cwd=project,
        env={**env, "PYTHONPATH": str(project)},
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise DeployError(f"reading the app's routes failed:\n{result.stderr[-3000:]}")
    return [(method, path) for method, path in json.loads(result.stdout)]


def split_zip(everything: Path, pins: list[str]) -> tuple[Path, ...]:
    """Write each package of LEFT_OUT beside `everything` (Chalice's zip, overwritten by its own), each
    without the files of the distributions only its left-out requirement needs."""
    from packaging.requirements import Requirement

    roots = [Requirement(pin) for pin in pins]
    with zipfile.ZipFile(everything) as archive:
        distributions = dependencies.read_distributions(archive)
        contents = {info.filename: (info, archive.read(info)) for info in archive.infolist()}
    written = []
    for name, requirement in LEFT_OUT.items():
        left_out = dependencies.only_needed_by(distributions, roots, requirement)
        if requirement not in left_out:
            raise DeployError(f"{requirement} is not among the requirements of the package: {name} cannot leave it out")
        unlisted = sorted(dist for dist in left_out if not distributions[dist].files)
        if unlisted:
            raise DeployError(f"{', '.join(unlisted)} list no files in their RECORD: cannot leave them out of {name}")
        files = {path for dist in left_out for path in distributions[dist].files}
        target = everything.with_name(name)
        with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as package:
            for path, (info, data) in contents.items():
                if path not in files:
                    package.writestr(copy.copy(info), data)  # writing sets offsets on the ZipInfo: one per zip
        written.append(target)
    return tuple(written)


def lint(template_path: Path) -> None:
    result = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), str(template_path)], capture_output=True, text=True
    )
    if result.returncode != 0:
        raise DeployError(f"cfn-lint found problems in {template_path}:\n{result.stdout}{result.stderr}")
