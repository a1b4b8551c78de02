"""The packaging tier's fixtures: the real package of the prod stage, once per session, and its template."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from scripts.deploy import REPO, packaging
from tests.packaging.infra import STAGE


@pytest.fixture(scope="session")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> packaging.Package:
    """The real packaging (scripts/deploy/packaging.py), once per session. It builds in .local/test-build, where
    Chalice caches the dependencies, and the results are copied out for this session."""
    return packaging.package(
        STAGE, build_root=REPO / ".local" / "test-build", copy_to=tmp_path_factory.mktemp("package"), quiet=True
    )


@pytest.fixture(scope="session")
def template(packaged: packaging.Package) -> dict[str, Any]:
    return yaml.safe_load(packaged.template.read_text())
