"""The Lambda package's wheels are the deploy lock's files, whatever the index serves today.

Packaging downloads exactly what infra/deploy-requirements.txt names for the Lambda package (pins
with hashes, no resolution); a newer release on the index changes nothing, and a missing file stops
packaging before anything is built.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import zipfile
from pathlib import Path

import pytest

from scripts.deploy import DeployError, packaging


@pytest.fixture(scope="session")
def lambda_wheels() -> Path:
    """The shared wheel cache, filled (from PyPI once) with the lock's Lambda wheels."""
    bundled, vendored = packaging.lambda_requirements()
    packaging.ensure_wheels(bundled, vendored)
    return packaging.WHEEL_CACHE


def fake_wheel(directory: Path, name: str, version: str) -> Path:
    """A small, valid, pure-Python wheel of `name` `version`: a release the lock has never seen."""
    dist_info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": b"NEWER = True\n",
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(
        f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}\n"
        for path, data in files.items()
    )
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
        archive.writestr(f"{dist_info}/RECORD", record + f"{dist_info}/RECORD,,\n")
    return wheel


def write_pages(simple: Path) -> None:
    """Each project's page of the index: a link to each of its files, as PyPI's simple API lists them."""
    for project in simple.iterdir():
        links = "".join(f'<a href="{wheel.name}">{wheel.name}</a>\n' for wheel in sorted(project.glob("*.whl")))
        (project / "index.html").write_text(f"<!DOCTYPE html>\n<html><body>\n{links}</body></html>\n")


@pytest.fixture
def local_index(lambda_wheels: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PEP 503 index on disk (file://) holding the lock's wheels and a newer idna than the lock's;
    pip is pointed at it alone (no config file, no find-links, no other index)."""
    simple = tmp_path / "simple"
    for wheel in lambda_wheels.glob("*.whl"):
        project = simple / packaging._normalise(wheel.name.split("-")[0])
        project.mkdir(parents=True, exist_ok=True)
        shutil.copy(wheel, project)
    fake_wheel(simple / "idna", "idna", "99.0")
    write_pages(simple)
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("PIP_INDEX_URL", simple.as_uri())
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
    monkeypatch.delenv("PIP_EXTRA_INDEX_URL", raising=False)
    monkeypatch.delenv("PIP_NO_INDEX", raising=False)
    return simple


def test_a_newer_release_on_the_index_still_ships_the_locks_file(local_index: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    packaging.ensure_wheels(*packaging.lambda_requirements(), cache=cache)
    locked = packaging.lock_entries()
    (idna,) = cache.glob("idna-*.whl")
    assert idna.name == f"idna-{locked['idna'].version}-py3-none-any.whl"
    assert hashlib.sha256(idna.read_bytes()).hexdigest() in locked["idna"].hashes
    shipped = {packaging._normalise(wheel.name.split("-")[0]) for wheel in cache.glob("*.whl")}
    assert shipped == {
        packaging._normalise(line.split("==")[0])
        for line in packaging.lambda_lock(*packaging.lambda_requirements()).splitlines()
    }


def test_an_index_without_the_locks_file_stops_packaging_before_anything_is_built(
    local_index: Path, tmp_path: Path
) -> None:
    for wheel in (local_index / "idna").glob("idna-3*.whl"):
        wheel.unlink()  # the index now offers only idna 99.0
    write_pages(local_index)
    build_root = tmp_path / "build"
    with pytest.raises(DeployError, match=r"pip download of the Lambda wheels deploy-requirements\.txt names"):
        packaging.package("prod", build_root=build_root, cache=tmp_path / "cache", quiet=True)
    assert list(build_root.rglob("*.zip")) == []
    assert list(build_root.rglob("sam.yaml")) == []
    assert list((tmp_path / "cache").glob("idna-*")) == []


def test_the_lambda_lock_is_the_requirements_and_what_the_lock_says_they_need(tmp_path: Path) -> None:
    lock = tmp_path / "lock.txt"
    lock.write_text(
        "app==1.0 \\\n    --hash=sha256:" + "a" * 64 + "\n    # via -r requirements.txt\n"
        "helper==2.0 \\\n    --hash=sha256:" + "b" * 64 + "\n    # via\n    #   app\n    #   tool\n"
        "deep==3.0 \\\n    --hash=sha256:" + "c" * 64 + "\n    # via helper\n"
        "tool==4.0 \\\n    --hash=sha256:" + "d" * 64 + "\n    # via -r deploy-requirements.in\n"
        "vendored==5.0 \\\n    --hash=sha256:" + "e" * 64 + "\n    # via -r requirements.txt\n"
        "runtime==6.0 \\\n    --hash=sha256:" + "f" * 64 + "\n    # via vendored\n"
    )
    assert packaging.lambda_lock(["app==1.0"], ["vendored==5.0"], lock) == (
        f"app==1.0 --hash=sha256:{'a' * 64}\n"
        f"deep==3.0 --hash=sha256:{'c' * 64}\n"
        f"helper==2.0 --hash=sha256:{'b' * 64}\n"
        f"vendored==5.0 --hash=sha256:{'e' * 64}\n"
    )
    with pytest.raises(DeployError, match=r"app==1\.1 is not the version lock\.txt names"):
        packaging.lambda_lock(["app==1.1"], [], lock)
    with pytest.raises(DeployError, match=r"lock\.txt does not name other"):
        packaging.lambda_lock(["app==1.0", "other==1.0"], [], lock)


def test_shipped_wheels_are_the_files_the_lock_names(lambda_wheels: Path, tmp_path: Path) -> None:
    """Packaging checks every cached wheel against the deploy lock's hashes before Chalice reads it."""
    packaging.check_wheels_against_lock(lambda_wheels)
    cache = tmp_path / "wheels"
    cache.mkdir()
    (original,) = lambda_wheels.glob("pynamodb-6.1.0-*.whl")
    shutil.copy(original, cache)
    packaging.check_wheels_against_lock(cache)
    with (cache / original.name).open("ab") as wheel:
        wheel.write(b"\0")  # one byte more: another file under the same name
    with pytest.raises(DeployError, match=r"pynamodb-6\.1\.0-.* is not in deploy-requirements\.txt"):
        packaging.check_wheels_against_lock(cache)
    (cache / original.name).unlink()
    stale = cache / original.name.replace("6.1.0", "6.0.9")
    shutil.copy(original, stale)
    packaging.check_wheels_against_lock(cache)  # an older pin's wheel is dropped, not shipped
    assert not stale.exists()
    unknown = cache / original.name.replace("pynamodb", "pynamodb_extras")
    shutil.copy(original, unknown)
    with pytest.raises(DeployError, match=r"pynamodb_extras-6\.1\.0-.* is not in deploy-requirements\.txt"):
        packaging.check_wheels_against_lock(cache)
